/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Winograd F(2×2,3×3) and F(4×4,3×3) convolution (Lavin & Gray, 2016) for
 * nChw8c activations. One layer runs in three steps:
 *   1. input transform (ours, OpenMP): every α×α input tile (α = m + 2,
 *      tiles overlap by 2, zero outside the image) of every 8-channel block
 *      becomes V = Bᵀ d B, stored as V[pos][P][C] (pos = α² tile positions,
 *      P = tiles of a block, C contiguous) so that one nChw8c vector of 8
 *      channels is one 32-byte load and one 32-byte store;
 *   2. α² independent products M[pos] = V[pos] · U[pos] ([P×C]·[C×K]) as one
 *      batched oneDNN matmul created in _new; U = G g Gᵀ is computed once in
 *      double precision and kept in the layout the matmul asked for;
 *   3. output transform (ours, OpenMP): Y = Aᵀ M A per tile and 8-channel
 *      block, plus bias and optional ReLU, written straight into nChw8c.
 * The three steps run per block of whole tile rows (possibly spanning
 * images) sized so that V and M stay in the last-level cache; ResNet-50's
 * batch-1 layers are one block each. Each step is one OpenMP parallel loop
 * (the matmul uses oneDNN's own OpenMP threading), with the calling
 * thread's omp_get_max_threads().
 * The transforms are compiled twice from one body: with AVX2+FMA (selected
 * at run time by __builtin_cpu_supports) and for the baseline ISA. GCC vector
 * extensions express 8 channels as one value, so neither copy needs
 * intrinsics. */
#include "winograd.h"

#include <string.h>

#include "dnnl-check.h"
#include "rn50-error.h"

/* Channel blocks handled by one OpenMP work item of the input transform:
 * 8 blocks = 64 channels = one 256-byte run of V per tile position, so two
 * threads never write the same cache line of V. */
#define RN50_WINO_CHANNEL_GROUP 8

/* Target bytes of V + M per block of tiles (see wino_block_rows()): a
 * quarter of the 32 MiB L3 of a Zen 3 CCX. Every block costs three more
 * OpenMP barriers, which measured ~5–30 ms each on this shared, heavily
 * oversubscribed 2-core machine, so blocks are only as small as the cache
 * needs (all of ResNet-50's batch-1 layers run as one block). */
#ifndef RN50_WINO_BLOCK_BYTES
#define RN50_WINO_BLOCK_BYTES (8u << 20)
#endif

/* Largest α (F(4,3)). */
#define RN50_WINO_MAX_ALPHA 6

/* Refuse layers whose buffers or indices would not fit comfortably
 * (ResNet-50's largest 3×3 layer at batch 64 is far below this). */
#define RN50_WINO_MAX_ELEMENTS (G_GUINT64_CONSTANT (1) << 34)

typedef struct _Rn50WinogradKernels Rn50WinogradKernels;

/* Transforms one row of tiles (global tile row @row = image × tiles_h +
 * tile row) for 8-channel blocks [b0, b1). In V / M the row's first tile is
 * tile @p0 of a block of @block_tiles tiles ([pos][block_tiles][C]). */
typedef void (*Rn50WinoInputRowFn) (const Rn50Winograd * wg, const float *src,
    float *v, guint row, gsize p0, gsize block_tiles, guint b0, guint b1);
typedef void (*Rn50WinoOutputRowFn) (const Rn50Winograd * wg, const float *mm,
    float *dst, guint row, gsize p0, gsize block_tiles, guint b0, guint b1);

/* One batched matmul for a block of tiles: the full block, or the shorter
 * last block. */
typedef struct
{
  guint rows;                   /* tile rows in the block */
  gsize tiles;                  /* rows × tiles_w */
  dnnl_primitive_t prim;
  dnnl_memory_desc_t v_md, m_md, scratchpad_md;
} Rn50WinoMatmul;

struct _Rn50Winograd
{
  Rn50WinogradVariant variant;
  guint m;                      /* output tile side: 2 or 4 */
  guint alpha;                  /* input tile side: m + 2 */
  guint n_pos;                  /* α² */
  guint n, c, k, h, w;
  guint tiles_h, tiles_w;
  guint n_rows;                 /* tile rows of the batch: n × tiles_h */
  gsize n_tiles;                /* P = n × tiles_h × tiles_w */
  gboolean relu;
  float *bias;                  /* k floats, zeros when the model has none */

  dnnl_engine_t engine;         /* not owned */
  /* Tiles go through transform → matmul → transform in blocks of tile
   * rows, so that V and M of a block stay in cache between the steps. */
  Rn50WinoMatmul block;
  Rn50WinoMatmul tail;          /* prim NULL when rows divide evenly */
  dnnl_memory_desc_t u_md;
  dnnl_memory_t u_mem;          /* transformed weights, in u_md's layout */
  char *matmul_impl;

  /* Scratch layout (bytes from the 64-aligned start). */
  gsize v_offset, m_offset, scratchpad_offset, scratch_bytes;

  gboolean avx2;
  Rn50WinoInputRowFn input_row;
  Rn50WinoOutputRowFn output_row;
};

struct _Rn50WinogradBinding
{
  float *v;                     /* [α²][block tiles][C] */
  float *mm;                    /* [α²][block tiles][K] */
  dnnl_memory_t u_mem;
  /* [0]: full block, [1]: last block (same buffers, other shapes). */
  dnnl_memory_t v_mem[2], m_mem[2], scratchpad_mem[2];
};

/* ------------------------------------------------------------------------ */
/* Transform kernels. */

/* 8 floats: one nChw8c pixel of one channel block. */
typedef float Rn50V8 __attribute__((vector_size (32)));
/* The same, for loads and stores at any 4-byte-aligned address. */
typedef float Rn50V8u __attribute__((vector_size (32), aligned (4),
        may_alias));
typedef gint32 Rn50I8 __attribute__((vector_size (32)));

#define RN50_WINO_INLINE static inline __attribute__((always_inline))
#define RN50_WINO_AVX2 __attribute__((target ("avx2,fma")))

RN50_WINO_INLINE void
wino_load (Rn50V8 * dst, const float *p)
{
  *dst = *(const Rn50V8u *) p;
}

RN50_WINO_INLINE void
wino_store (float *p, const Rn50V8 * x)
{
  *(Rn50V8u *) p = *x;
}

/* r = Bᵀ d for one line of α values (stride @s between them). */
RN50_WINO_INLINE void
wino_bt (Rn50V8 * r, gsize rs, const Rn50V8 * d, gsize s, const guint alpha)
{
  if (alpha == 4) {
    Rn50V8 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
    r[0] = d0 - d2;
    r[rs] = d1 + d2;
    r[2 * rs] = d2 - d1;
    r[3 * rs] = d1 - d3;
  } else {
    Rn50V8 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s],
        d5 = d[5 * s];
    Rn50V8 d42 = d4 - d2, d31 = d3 - d1;
    r[0] = d4 + 4.0f * d0 - 5.0f * d2;
    r[rs] = (d3 + d4) - 4.0f * (d1 + d2);
    r[2 * rs] = (d4 - d3) + 4.0f * (d1 - d2);
    r[3 * rs] = d42 + 2.0f * d31;
    r[4 * rs] = d42 - 2.0f * d31;
    r[5 * rs] = d5 + 4.0f * d1 - 5.0f * d3;
  }
}

/* o = Aᵀ t for one line of α values, m = α - 2 results. */
RN50_WINO_INLINE void
wino_at (Rn50V8 * o, gsize os, const Rn50V8 * t, gsize s, const guint alpha)
{
  if (alpha == 4) {
    Rn50V8 t0 = t[0], t1 = t[s], t2 = t[2 * s], t3 = t[3 * s];
    o[0] = t0 + t1 + t2;
    o[os] = t1 - t2 - t3;
  } else {
    Rn50V8 a = t[s] + t[2 * s], b = t[s] - t[2 * s];
    Rn50V8 c = t[3 * s] + t[4 * s], d = t[3 * s] - t[4 * s];
    o[0] = t[0] + a + c;
    o[os] = b + 2.0f * d;
    o[2 * os] = a + 4.0f * c;
    o[3 * os] = b + 8.0f * d + t[5 * s];
  }
}

RN50_WINO_INLINE void
wino_input_row_body (const Rn50Winograd * wg, const float *src, float *v,
    guint row, gsize p0, gsize block_tiles, guint b0, guint b1,
    const guint alpha)
{
  const guint m = alpha - 2;
  const gint H = wg->h, W = wg->w;
  const gsize C = wg->c;
  const gsize pos_stride = block_tiles * C;     /* floats between positions */
  const guint img = row / wg->tiles_h, ty = row % wg->tiles_h;
  const gsize plane = (gsize) H * W * 8;        /* one channel block */
  const gint y0 = (gint) (ty * m) - 1;
  const Rn50V8 zero = { 0 };

  for (guint tx = 0; tx < wg->tiles_w; tx++) {
    const gint x0 = (gint) (tx * m) - 1;
    const gsize p = p0 + tx;
    const gboolean interior = y0 >= 0 && x0 >= 0 && y0 + (gint) alpha <= H
        && x0 + (gint) alpha <= W;
    float *vp = v + p * C;

    for (guint b = b0; b < b1; b++) {
      const float *pl = src + ((gsize) img * (C / 8) + b) * plane;
      Rn50V8 d[RN50_WINO_MAX_ALPHA][RN50_WINO_MAX_ALPHA];
      Rn50V8 t[RN50_WINO_MAX_ALPHA][RN50_WINO_MAX_ALPHA];

      if (interior) {
        const float *base = pl + ((gsize) y0 * W + x0) * 8;
#pragma GCC unroll 6
        for (guint i = 0; i < alpha; i++)
#pragma GCC unroll 6
          for (guint j = 0; j < alpha; j++)
            wino_load (&d[i][j], base + ((gsize) i * W + j) * 8);
      } else {
        /* Border tile: the convolution's zero padding, and beyond the
         * image for the last (partial) tiles. */
#pragma GCC unroll 6
        for (guint i = 0; i < alpha; i++) {
          const gint y = y0 + (gint) i;
#pragma GCC unroll 6
          for (guint j = 0; j < alpha; j++) {
            const gint x = x0 + (gint) j;
            if (y >= 0 && y < H && x >= 0 && x < W)
              wino_load (&d[i][j], pl + ((gsize) y * W + x) * 8);
            else
              d[i][j] = zero;
          }
        }
      }
#pragma GCC unroll 6
      for (guint i = 0; i < alpha; i++) /* along x */
        wino_bt (&t[i][0], 1, &d[i][0], 1, alpha);
#pragma GCC unroll 6
      for (guint j = 0; j < alpha; j++) /* along y */
        wino_bt (&d[0][j], RN50_WINO_MAX_ALPHA, &t[0][j], RN50_WINO_MAX_ALPHA,
            alpha);
#pragma GCC unroll 6
      for (guint i = 0; i < alpha; i++)
#pragma GCC unroll 6
        for (guint j = 0; j < alpha; j++)
          wino_store (vp + (i * alpha + j) * pos_stride + b * 8, &d[i][j]);
    }
  }
}

RN50_WINO_INLINE void
wino_output_row_body (const Rn50Winograd * wg, const float *mm, float *dst,
    guint row, gsize p0, gsize block_tiles, guint b0, guint b1,
    const guint alpha)
{
  const guint m = alpha - 2;
  const guint H = wg->h, W = wg->w;
  const gsize K = wg->k;
  const gsize pos_stride = block_tiles * K;
  const guint img = row / wg->tiles_h, ty = row % wg->tiles_h;
  const gsize plane = (gsize) H * W * 8;
  const guint oy = ty * m;
  const guint ny = MIN (m, H - oy);
  const gboolean relu = wg->relu;
  const Rn50V8 zero = { 0 };

  for (guint tx = 0; tx < wg->tiles_w; tx++) {
    const guint ox = tx * m;
    const guint nx = MIN (m, W - ox);
    const gsize p = p0 + tx;
    const float *mp = mm + p * K;

    for (guint b = b0; b < b1; b++) {
      Rn50V8 d[RN50_WINO_MAX_ALPHA][RN50_WINO_MAX_ALPHA];
      Rn50V8 t[RN50_WINO_MAX_ALPHA][RN50_WINO_MAX_ALPHA];
      Rn50V8 bias;
      float *pl = dst + ((gsize) img * (K / 8) + b) * plane;

#pragma GCC unroll 6
      for (guint i = 0; i < alpha; i++)
#pragma GCC unroll 6
        for (guint j = 0; j < alpha; j++)
          wino_load (&d[i][j], mp + (i * alpha + j) * pos_stride + b * 8);
#pragma GCC unroll 6
      for (guint i = 0; i < alpha; i++) /* along x: t[i][0..m) */
        wino_at (&t[i][0], 1, &d[i][0], 1, alpha);
#pragma GCC unroll 4
      for (guint j = 0; j < m; j++)     /* along y: d[0..m)[j] */
        wino_at (&d[0][j], RN50_WINO_MAX_ALPHA, &t[0][j], RN50_WINO_MAX_ALPHA,
            alpha);
      wino_load (&bias, wg->bias + b * 8);
#pragma GCC unroll 4
      for (guint i = 0; i < m; i++)
#pragma GCC unroll 4
        for (guint j = 0; j < m; j++) {
          d[i][j] += bias;
          if (relu)
            d[i][j] = (Rn50V8) ((Rn50I8) d[i][j] & (d[i][j] > zero));
        }
      if (ny == m && nx == m) {
#pragma GCC unroll 4
        for (guint i = 0; i < m; i++)
#pragma GCC unroll 4
          for (guint j = 0; j < m; j++)
            wino_store (pl + ((gsize) (oy + i) * W + ox + j) * 8, &d[i][j]);
      } else {
        for (guint i = 0; i < ny; i++)
          for (guint j = 0; j < nx; j++)
            wino_store (pl + ((gsize) (oy + i) * W + ox + j) * 8, &d[i][j]);
      }
    }
  }
}

#define RN50_WINO_DEFINE_KERNELS(suffix, attr, alpha)                        \
  static void attr                                                          \
  wino_input_row_##suffix (const Rn50Winograd * wg, const float *src,       \
      float *v, guint row, gsize p0, gsize block_tiles, guint b0, guint b1) \
  {                                                                         \
    wino_input_row_body (wg, src, v, row, p0, block_tiles, b0, b1, alpha);  \
  }                                                                         \
  static void attr                                                          \
  wino_output_row_##suffix (const Rn50Winograd * wg, const float *mm,       \
      float *dst, guint row, gsize p0, gsize block_tiles, guint b0,         \
      guint b1)                                                             \
  {                                                                         \
    wino_output_row_body (wg, mm, dst, row, p0, block_tiles, b0, b1,        \
        alpha);                                                             \
  }

RN50_WINO_DEFINE_KERNELS (f2_avx2, RN50_WINO_AVX2, 4)
RN50_WINO_DEFINE_KERNELS (f4_avx2, RN50_WINO_AVX2, 6)
RN50_WINO_DEFINE_KERNELS (f2_generic,, 4)
RN50_WINO_DEFINE_KERNELS (f4_generic,, 6)

/* ------------------------------------------------------------------------ */
/* Weight transform: U[pos][ci][ko] = (G g Gᵀ)[pos] for g = weights[ko][ci]. */

static const double wino_g_f2[4][3] = {
  {1.0, 0.0, 0.0},
  {0.5, 0.5, 0.5},
  {0.5, -0.5, 0.5},
  {0.0, 0.0, 1.0},
};

static const double wino_g_f4[6][3] = {
  {1.0 / 4, 0.0, 0.0},
  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
  {1.0 / 24, 1.0 / 12, 1.0 / 6},
  {1.0 / 24, -1.0 / 12, 1.0 / 6},
  {0.0, 0.0, 1.0},
};

/* @u: α² × c × k floats, plain [pos][ci][ko]. */
static void
wino_transform_weights (const Rn50Winograd * wg, const float *weights,
    float *u)
{
  const guint alpha = wg->alpha, c = wg->c, k = wg->k;
  const double (*g_mat)[3] = alpha == 4 ? wino_g_f2 : wino_g_f4;

  for (guint ko = 0; ko < k; ko++)
    for (guint ci = 0; ci < c; ci++) {
      const float *g = weights + ((gsize) ko * c + ci) * 9;
      double tmp[RN50_WINO_MAX_ALPHA][3];       /* G g */

      for (guint a = 0; a < alpha; a++)
        for (guint s = 0; s < 3; s++)
          tmp[a][s] = g_mat[a][0] * g[s] + g_mat[a][1] * g[3 + s]
              + g_mat[a][2] * g[6 + s];
      for (guint a = 0; a < alpha; a++)
        for (guint bb = 0; bb < alpha; bb++) {
          double acc = tmp[a][0] * g_mat[bb][0] + tmp[a][1] * g_mat[bb][1]
              + tmp[a][2] * g_mat[bb][2];
          u[((gsize) (a * alpha + bb) * c + ci) * k + ko] = (float) acc;
        }
    }
}

/* ------------------------------------------------------------------------ */

static void
wino_select_kernels (Rn50Winograd * wg)
{
  if (wg->avx2) {
    wg->input_row = wg->m == 2 ? wino_input_row_f2_avx2 :
        wino_input_row_f4_avx2;
    wg->output_row = wg->m == 2 ? wino_output_row_f2_avx2 :
        wino_output_row_f4_avx2;
  } else {
    wg->input_row = wg->m == 2 ? wino_input_row_f2_generic :
        wino_input_row_f4_generic;
    wg->output_row = wg->m == 2 ? wino_output_row_f2_generic :
        wino_output_row_f4_generic;
  }
}

void
rn50_winograd_force_portable (Rn50Winograd * wg)
{
  g_return_if_fail (wg != NULL);
  wg->avx2 = FALSE;
  wino_select_kernels (wg);
}

static gsize
wino_align64 (gsize x)
{
  return (x + 63) & ~(gsize) 63;
}

/* Tile rows per block. V and M of one block (α² × tiles × (C + K) floats)
 * should stay in the last-level cache between the input transform, the
 * matmul and the output transform (measured: the whole-batch V of
 * 56×56×64 at batch 8 is 14.5 MB and the transforms then ran at DRAM
 * speed). A block is never smaller than what makes its V+M traffic at
 * least U's size, since every block streams all of U through the matmul
 * again. */
static guint
wino_block_rows (const Rn50Winograd * wg)
{
  const gsize row_bytes = (gsize) wg->tiles_w * wg->n_pos * (wg->c + wg->k)
      * sizeof (float);
  const gsize u_bytes = (gsize) wg->n_pos * wg->c * wg->k * sizeof (float);
  const gsize budget = MAX ((gsize) RN50_WINO_BLOCK_BYTES, u_bytes);
  const gsize rows = MAX (budget / row_bytes, 1);

  return (guint) MIN (rows, (gsize) wg->n_rows);
}

/* The batched matmul of one block: V [α²][tiles][C] · U [α²][C][K] →
 * M [α²][tiles][K]. The weights' layout is left to oneDNN; the scratchpad
 * is ours so that each binding (one per executing thread) has its own. */
static gboolean
wino_create_matmul (Rn50Winograd * wg, guint rows, Rn50WinoMatmul * mm,
    dnnl_memory_desc_t * u_md, char **impl_name, GError ** error)
{
  gboolean ok = FALSE;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_matmul_desc_t desc;
  dnnl_memory_desc_t u_any_md;
  const char *impl = NULL;

  mm->rows = rows;
  mm->tiles = (gsize) rows * wg->tiles_w;
  {
    dnnl_dims_t v_dims = { wg->n_pos, (dnnl_dim_t) mm->tiles, wg->c };
    dnnl_dims_t u_dims = { wg->n_pos, wg->c, wg->k };
    dnnl_dims_t m_dims = { wg->n_pos, (dnnl_dim_t) mm->tiles, wg->k };

    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&mm->v_md, 3, v_dims,
            dnnl_f32, dnnl_abc));
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&u_any_md, 3, u_dims,
            dnnl_f32, dnnl_format_tag_any));
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&mm->m_md, 3, m_dims,
            dnnl_f32, dnnl_abc));
  }
  RN50_DNNL_CHECK (dnnl_matmul_desc_init (&desc, &mm->v_md, &u_any_md, NULL,
          &mm->m_md));
  RN50_DNNL_CHECK (dnnl_primitive_attr_create (&attr));
  RN50_DNNL_CHECK (dnnl_primitive_attr_set_scratchpad_mode (attr,
          dnnl_scratchpad_mode_user));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, attr, wg->engine,
          NULL));
  *u_md = *dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
  mm->scratchpad_md = *dnnl_primitive_desc_query_md (pd,
      dnnl_query_scratchpad_md, 0);
  if (impl_name != NULL) {
    RN50_DNNL_CHECK (dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str,
            0, &impl));
    *impl_name = g_strdup (impl);
  }
  RN50_DNNL_CHECK (dnnl_primitive_create (&mm->prim, pd));
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
  return ok;
}

Rn50Winograd *
rn50_winograd_new (dnnl_engine_t engine, Rn50WinogradVariant variant,
    guint n, guint c, guint k, guint h, guint w, const float *weights,
    const float *bias, gboolean relu, GError ** error)
{
  Rn50Winograd *wg = NULL, *ret = NULL;
  dnnl_primitive_desc_t reorder_pd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t plain_u = NULL;
  dnnl_stream_t stream = NULL;
  dnnl_memory_desc_t plain_u_md;
  float *u = NULL;
  guint tail_rows;

  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (variant != RN50_WINOGRAD_F2x2_3x3 && variant != RN50_WINOGRAD_F4x4_3x3) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "Unknown Winograd variant %d", (int) variant);
    goto out;
  }
  if (n == 0 || c == 0 || k == 0 || h == 0 || w == 0 || c % 8 != 0
      || k % 8 != 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "Winograd convolution needs non-empty shapes and channel counts that "
        "are multiples of 8 (nChw8c), got n=%u c=%u k=%u h=%u w=%u",
        n, c, k, h, w);
    goto out;
  }

  wg = g_new0 (Rn50Winograd, 1);
  wg->variant = variant;
  wg->m = variant == RN50_WINOGRAD_F2x2_3x3 ? 2 : 4;
  wg->alpha = wg->m + 2;
  wg->n_pos = wg->alpha * wg->alpha;
  wg->n = n;
  wg->c = c;
  wg->k = k;
  wg->h = h;
  wg->w = w;
  wg->tiles_h = (h + wg->m - 1) / wg->m;
  wg->tiles_w = (w + wg->m - 1) / wg->m;
  wg->n_rows = n * wg->tiles_h;
  wg->n_tiles = (gsize) wg->n_rows * wg->tiles_w;
  wg->relu = relu;
  wg->engine = engine;

  if ((guint64) wg->n_pos * wg->n_tiles * MAX (c, k) > RN50_WINO_MAX_ELEMENTS
      || (guint64) n * MAX (c, k) * h * w > RN50_WINO_MAX_ELEMENTS
      || (guint64) wg->n_pos * c * k > RN50_WINO_MAX_ELEMENTS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "Winograd convolution too large: n=%u c=%u k=%u h=%u w=%u",
        n, c, k, h, w);
    goto out;
  }

  wg->bias = g_new0 (float, k);
  if (bias != NULL)
    memcpy (wg->bias, bias, k * sizeof (float));

  wg->avx2 = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  wino_select_kernels (wg);

  if (!wino_create_matmul (wg, wino_block_rows (wg), &wg->block, &wg->u_md,
          &wg->matmul_impl, error))
    goto out;
  tail_rows = wg->n_rows % wg->block.rows;
  if (tail_rows != 0) {
    dnnl_memory_desc_t tail_u_md;

    if (!wino_create_matmul (wg, tail_rows, &wg->tail, &tail_u_md, NULL,
            error))
      goto out;
    if (!dnnl_memory_desc_equal (&tail_u_md, &wg->u_md)) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_ENGINE,
          "oneDNN chose different weight layouts for the Winograd matmuls "
          "of %u and %u tile rows", wg->block.rows, tail_rows);
      goto out;
    }
  }

  /* U, transformed in plain [pos][C][K] and reordered once into the
   * matmul's layout when that differs. */
  {
    dnnl_dims_t u_dims = { wg->n_pos, c, k };
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&plain_u_md, 3, u_dims,
            dnnl_f32, dnnl_abc));
  }
  u = g_new (float, (gsize) wg->n_pos * c * k);
  wino_transform_weights (wg, weights, u);
  RN50_DNNL_CHECK (dnnl_memory_create (&wg->u_mem, &wg->u_md, engine,
          DNNL_MEMORY_ALLOCATE));
  if (dnnl_memory_desc_equal (&wg->u_md, &plain_u_md)) {
    void *handle = NULL;
    RN50_DNNL_CHECK (dnnl_memory_get_data_handle (wg->u_mem, &handle));
    memcpy (handle, u, dnnl_memory_desc_get_size (&plain_u_md));
  } else {
    dnnl_exec_arg_t args[2];

    RN50_DNNL_CHECK (dnnl_memory_create (&plain_u, &plain_u_md, engine, u));
    RN50_DNNL_CHECK (dnnl_reorder_primitive_desc_create (&reorder_pd,
            &plain_u_md, engine, &wg->u_md, engine, NULL));
    RN50_DNNL_CHECK (dnnl_primitive_create (&reorder, reorder_pd));
    RN50_DNNL_CHECK (dnnl_stream_create (&stream, engine,
            dnnl_stream_default_flags));
    args[0].arg = DNNL_ARG_FROM;
    args[0].memory = plain_u;
    args[1].arg = DNNL_ARG_TO;
    args[1].memory = wg->u_mem;
    RN50_DNNL_CHECK (dnnl_primitive_execute (reorder, stream, 2, args));
    RN50_DNNL_CHECK (dnnl_stream_wait (stream));
  }

  /* Scratch: V and M of the full block (the tail block is smaller), and
   * the larger of the two matmuls' scratchpads. */
  wg->v_offset = 0;
  wg->m_offset = wino_align64 (dnnl_memory_desc_get_size (&wg->block.v_md));
  wg->scratchpad_offset = wg->m_offset
      + wino_align64 (dnnl_memory_desc_get_size (&wg->block.m_md));
  wg->scratch_bytes = wg->scratchpad_offset
      + wino_align64 (MAX (dnnl_memory_desc_get_size (&wg->block.scratchpad_md),
          wg->tail.prim != NULL ?
          dnnl_memory_desc_get_size (&wg->tail.scratchpad_md) : 0));

  ret = g_steal_pointer (&wg);

out:
  if (stream != NULL)
    dnnl_stream_destroy (stream);
  if (reorder != NULL)
    dnnl_primitive_destroy (reorder);
  if (reorder_pd != NULL)
    dnnl_primitive_desc_destroy (reorder_pd);
  if (plain_u != NULL)
    dnnl_memory_destroy (plain_u);
  g_free (u);
  rn50_winograd_free (wg);
  return ret;
}

void
rn50_winograd_free (Rn50Winograd * wg)
{
  if (wg == NULL)
    return;
  if (wg->block.prim != NULL)
    dnnl_primitive_destroy (wg->block.prim);
  if (wg->tail.prim != NULL)
    dnnl_primitive_destroy (wg->tail.prim);
  if (wg->u_mem != NULL)
    dnnl_memory_destroy (wg->u_mem);
  g_free (wg->matmul_impl);
  g_free (wg->bias);
  g_free (wg);
}

gsize
rn50_winograd_get_scratch_bytes (const Rn50Winograd * wg)
{
  g_return_val_if_fail (wg != NULL, 0);
  return wg->scratch_bytes;
}

const char *
rn50_winograd_get_matmul_impl (const Rn50Winograd * wg)
{
  g_return_val_if_fail (wg != NULL, NULL);
  return wg->matmul_impl;
}

gboolean
rn50_winograd_uses_avx2 (const Rn50Winograd * wg)
{
  g_return_val_if_fail (wg != NULL, FALSE);
  return wg->avx2;
}

Rn50WinogradBinding *
rn50_winograd_bind (const Rn50Winograd * wg, void *scratch, GError ** error)
{
  Rn50WinogradBinding *b = NULL, *ret = NULL;
  char *base = scratch;
  void *u_handle = NULL;

  g_return_val_if_fail (wg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (scratch == NULL || ((guintptr) scratch & 63) != 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "Winograd scratch buffer %p is not 64-byte aligned", scratch);
    goto out;
  }

  b = g_new0 (Rn50WinogradBinding, 1);
  b->v = (float *) (base + wg->v_offset);
  b->mm = (float *) (base + wg->m_offset);
  for (guint i = 0; i < 2; i++) {
    const Rn50WinoMatmul *mm = i == 0 ? &wg->block : &wg->tail;

    if (mm->prim == NULL)
      continue;
    RN50_DNNL_CHECK (dnnl_memory_create (&b->v_mem[i], &mm->v_md, wg->engine,
            b->v));
    RN50_DNNL_CHECK (dnnl_memory_create (&b->m_mem[i], &mm->m_md, wg->engine,
            b->mm));
    RN50_DNNL_CHECK (dnnl_memory_create (&b->scratchpad_mem[i],
            &mm->scratchpad_md, wg->engine, base + wg->scratchpad_offset));
  }
  /* Our own memory object over the shared U, so that no dnnl_memory_t is
   * used by two threads. */
  RN50_DNNL_CHECK (dnnl_memory_get_data_handle (wg->u_mem, &u_handle));
  RN50_DNNL_CHECK (dnnl_memory_create (&b->u_mem, &wg->u_md, wg->engine,
          u_handle));
  ret = g_steal_pointer (&b);

out:
  rn50_winograd_binding_free (b);
  return ret;
}

void
rn50_winograd_binding_free (Rn50WinogradBinding * b)
{
  if (b == NULL)
    return;
  for (guint i = 0; i < 2; i++) {
    if (b->v_mem[i] != NULL)
      dnnl_memory_destroy (b->v_mem[i]);
    if (b->m_mem[i] != NULL)
      dnnl_memory_destroy (b->m_mem[i]);
    if (b->scratchpad_mem[i] != NULL)
      dnnl_memory_destroy (b->scratchpad_mem[i]);
  }
  if (b->u_mem != NULL)
    dnnl_memory_destroy (b->u_mem);
  g_free (b);
}

gboolean
rn50_winograd_execute (const Rn50Winograd * wg, Rn50WinogradBinding * b,
    dnnl_stream_t stream, const float *src, float *dst, GError ** error)
{
  gboolean ok = FALSE;
  const guint c8 = wg->c / 8, k8 = wg->k / 8;
  const guint c_groups = (c8 + RN50_WINO_CHANNEL_GROUP - 1)
      / RN50_WINO_CHANNEL_GROUP;
  const guint k_groups = (k8 + RN50_WINO_CHANNEL_GROUP - 1)
      / RN50_WINO_CHANNEL_GROUP;

  g_return_val_if_fail (wg != NULL && b != NULL && stream != NULL, FALSE);
  g_return_val_if_fail (src != NULL && dst != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint row0 = 0; row0 < wg->n_rows; row0 += wg->block.rows) {
    const guint which = row0 + wg->block.rows <= wg->n_rows ? 0 : 1;
    const Rn50WinoMatmul *mm = which == 0 ? &wg->block : &wg->tail;
    const gint items_in = (gint) (mm->rows * c_groups);
    const gint items_out = (gint) (mm->rows * k_groups);
    dnnl_exec_arg_t args[4];

    /* Work items: (tile row, group of 8 channel blocks). A static
     * schedule keeps each thread on a contiguous run of V. */
#pragma omp parallel for schedule (static)
    for (gint it = 0; it < items_in; it++) {
      const guint g = (guint) it % c_groups, r = (guint) it / c_groups;
      wg->input_row (wg, src, b->v, row0 + r, (gsize) r * wg->tiles_w,
          mm->tiles, g * RN50_WINO_CHANNEL_GROUP,
          MIN (c8, (g + 1) * RN50_WINO_CHANNEL_GROUP));
    }

    args[0].arg = DNNL_ARG_SRC;
    args[0].memory = b->v_mem[which];
    args[1].arg = DNNL_ARG_WEIGHTS;
    args[1].memory = b->u_mem;
    args[2].arg = DNNL_ARG_DST;
    args[2].memory = b->m_mem[which];
    args[3].arg = DNNL_ARG_SCRATCHPAD;
    args[3].memory = b->scratchpad_mem[which];
    RN50_DNNL_CHECK (dnnl_primitive_execute (mm->prim, stream, 4, args));
    RN50_DNNL_CHECK (dnnl_stream_wait (stream));

#pragma omp parallel for schedule (static)
    for (gint it = 0; it < items_out; it++) {
      const guint g = (guint) it % k_groups, r = (guint) it / k_groups;
      wg->output_row (wg, b->mm, dst, row0 + r, (gsize) r * wg->tiles_w,
          mm->tiles, g * RN50_WINO_CHANNEL_GROUP,
          MIN (k8, (g + 1) * RN50_WINO_CHANNEL_GROUP));
    }
  }
  ok = TRUE;

out:
  return ok;
}

/* ------------------------------------------------------------------------ */

/* Measured with nn/tools/rn50-wino-bench (interleaved round robin of the
 * three, best of 20, per cell the best of 3 runs, OMP_WAIT_POLICY=active;
 * AMD EPYC Zen 3, 2 vCPUs shared with ~6 other jobs, load average 7–10;
 * direct = oneDNN 2.6.3 jit:avx2 with format_tag any, bias + ReLU;
 * Winograd GFLOP/s counted with the direct FLOPs):
 *
 *   shape        N thr | direct ms  GF/s |  F2 ms  GF/s |  F4 ms  GF/s | pick
 *   56x56x64     1  1  |   2.395   96.5  |  1.784  130  |  1.258  184  | F4 1.90x
 *   28x28x128    1  1  |   2.461   94.0  |  1.375  168  |  0.953  243  | F4 2.58x
 *   14x14x256    1  1  |   2.544   90.9  |  1.433  161  |  1.482  156  | F2 1.78x
 *   7x7x512      1  1  |   3.028   76.4  |  2.668   87  |  3.906   59  | direct
 *   56x56x64     8  1  |  20.157   91.8  | 15.551  119  | 11.134  166  | F4 1.81x
 *   28x28x128    8  1  |  21.415   86.4  | 12.654  146  |  8.402  220  | F4 2.55x
 *   14x14x256    8  1  |  26.479   69.9  | 13.181  140  | 10.179  182  | F4 2.60x
 *   7x7x512      8  1  |  22.138   83.6  | 18.488  100  | 11.609  159  | F4 1.91x
 *   56x56x64     1  2  |   1.244  186    |  0.994  233  |  0.685  338  | F4 1.82x
 *   28x28x128    1  2  |   1.238  187    |  0.737  314  |  0.500  462  | F4 2.48x
 *   14x14x256    1  2  |   1.282  180    |  0.759  305  |  0.779  297  | F2 1.69x
 *   7x7x512      1  2  |   1.816  127    |  1.703  136  |  2.496   93  | direct
 *   56x56x64     8  2  |  40.694   45.5  | 72.512   26  | 35.790   52  | F4 1.14x
 *   28x28x128    8  2  |  41.511   44.6  | 24.779   75  | 13.987  132  | F4 2.97x
 *   14x14x256    8  2  |  45.152   41.0  | 28.582   65  | 24.474   76  | F4 1.84x
 *   7x7x512      8  2  |  31.394   58.9  | 24.285   76  | 18.122  102  | F4 1.73x
 *
 * (The batch-8 two-thread rows are depressed for all three by the machine's
 * load; their order held in each run.) 7×7×512 at batch 1: F2 was only
 * 7–13 % faster and lost in some runs (its U is 16.8 MB against the direct
 * convolution's 9.4 MB of weights, read once per image), F4 slower
 * (37.7 MB of U for 4 tiles): not reliably faster, so direct.
 * 14×14×256 at batch 1: F2 and F4 within 3 %; F2 is 5× more accurate.
 * The rule generalises by output pixels per batch N·H·W, the number that
 * sets how many tiles share each U: below 98 (7×7 at batch 1) direct,
 * below 392 F2, else F4. Thread count: the same picks for 1 and 2 threads;
 * larger counts were not measured and use the same rule. */
gboolean
rn50_winograd_choose (guint n, guint c, guint k, guint h, guint w,
    guint threads, Rn50WinogradVariant * variant)
{
  const guint64 pixels = (guint64) n * h * w;

  if (c == 0 || k == 0 || c % 8 != 0 || k % 8 != 0 || pixels == 0)
    return FALSE;
  if (pixels < 98)
    return FALSE;
  if (variant != NULL)
    *variant = pixels < 392 ? RN50_WINOGRAD_F2x2_3x3 : RN50_WINOGRAD_F4x4_3x3;
  return TRUE;
}
