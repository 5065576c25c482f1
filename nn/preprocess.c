/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame → normalized NCHW tensor. The work is split so that nothing in the
 * per-pixel loops goes through a function pointer or a switch: a per-format
 * row converter turns one source row (only the columns the kept output
 * needs) into a row of float R, G, B pixels, a horizontal pass filters that
 * row into a small ring of rows, and a vertical pass combines ring rows
 * into the tensor planes, normalizing as it writes. Only the source rows
 * and columns that the kept output (after cropping) depends on are read. The resampling
 * reproduces PIL's antialiased BILINEAR resize (what torchvision's Resize does
 * on PIL images) in float; the YUV conversion reproduces GStreamer 1.22
 * videoconvert's 8-bit arithmetic exactly, so a YUV frame gives the same
 * tensor as the RGB frame videoconvert would have made of it. All tables and
 * scratch rows are built in rn50_preprocessor_new(); a run allocates
 * nothing. */
#include "preprocess.h"

#include <math.h>
#include <string.h>

/* Largest frame side and tensor side accepted. Keeps every index and
 * product of two sides inside 32 bits and the filter tables small
 * (8192×8192 frames must work; the limit leaves headroom). */
#define RN50_MAX_FRAME_SIDE 32768
#define RN50_MAX_TENSOR_SIDE 8192

/* torchvision's ImageNet evaluation: Resize(256) then CenterCrop(224). */
#define RN50_CROP_RESIZE_NUM 256
#define RN50_CROP_RESIZE_DEN 224

/* One pixel as floats: R, G, B and an unused lane. A GCC/Clang vector type,
 * so that the filters and the normalization handle the three channels in
 * one SIMD operation even at -O2, without intrinsics. */
typedef float Rn50Pixel __attribute__((vector_size (16)));

/* One axis of the resampler, in PIL's terms: for output sample i (of the
 * kept range), source samples first[i] .. first[i] + count[i] - 1 weighted by
 * weights[i * ksize + k]. Indices are absolute source indices. */
typedef struct
{
  guint n_out;
  guint ksize;                  /* stride of weights, ≥ every count */
  guint *first;
  guint *count;
  float *weights;
  guint src_begin;              /* union of all windows: [src_begin, src_end) */
  guint src_end;
} Rn50FilterAxis;

/* How a luma row gets its chroma from two chroma rows (NV12):
 * (wa * c[a] + (4 - wa) * c[b] + 2) >> 2, exactly the integer filter of
 * GStreamer's chroma resampler (wa = 4, a = b for a copied row). */
typedef struct
{
  guint a;
  guint b;
  gint wa;
} Rn50ChromaTap;

/* Converts source row @y, columns [h.src_begin, h.src_end), into @dst. */
typedef void (*Rn50RowConverter) (Rn50Preprocessor * pre,
    const Rn50ImageView * image, guint y, Rn50Pixel * dst);

struct _Rn50Preprocessor
{
  Rn50PreprocessConfig config;
  Rn50PixelFormat format;
  guint width;
  guint height;

  /* Where the resampled picture lands in the out_width × out_height plane
   * (letterbox leaves padding around it; the other modes fill it). */
  guint content_x;
  guint content_y;
  guint content_width;
  guint content_height;

  Rn50FilterAxis h;
  Rn50FilterAxis v;

  /* Per colour component R, G, B: the tensor plane it goes to (R and B
   * swap places for BGR models) and its normalization, value * mul + add. */
  guint plane_of[3];
  float mul[3];
  float add[3];

  Rn50RowConverter convert_row;

  /* YUV → RGB: videoconvert's fixed-point terms per 8-bit sample value. */
  gint32 tab_y[256];
  gint32 tab_rv[256];
  gint32 tab_gu[256];
  gint32 tab_gv[256];
  gint32 tab_bu[256];
  /* clip_lut[s] = clamp (s, -128, 127) + 128 as a float, for every sum s
   * the tables can produce (indexable from the smallest, negative, one). */
  float *clip_lut_mem;
  const float *clip_lut;
  /* NV12 vertical chroma taps, per source row; NULL for other formats. */
  Rn50ChromaTap *chroma_row;
  /* Horizontally upsampled chroma rows, cached by chroma row index so that
   * consecutive luma rows sharing a chroma row do not redo the work. */
  gint16 *chroma_cache[2][2];   /* [slot][U or V] */
  gint chroma_cache_row[2];
  /* Chroma samples sit on the even luma columns (MPEG-2 siting) rather
   * than between two columns: see rn50_preprocessor_set_chroma_siting(). */
  gboolean chroma_h_cosited;

  /* Scratch: one converted source row (h.src_end - h.src_begin pixels), a
   * ring of horizontally filtered rows (ring_rows × content_width pixels),
   * and the ring rows of the current vertical window (v.ksize pointers). */
  Rn50Pixel *src_row;
  Rn50Pixel *ring;
  guint ring_rows;
  const Rn50Pixel **window;
};

void
rn50_preprocess_config_init_torchvision (Rn50PreprocessConfig * config,
    guint out_width, guint out_height)
{
  g_return_if_fail (config != NULL);

  config->resize_mode = RN50_RESIZE_CENTER_CROP;
  config->bgr = FALSE;
  config->scale = 1.0f / 255.0f;
  config->mean[0] = 0.485f;
  config->mean[1] = 0.456f;
  config->mean[2] = 0.406f;
  config->std[0] = 0.229f;
  config->std[1] = 0.224f;
  config->std[2] = 0.225f;
  config->out_width = out_width;
  config->out_height = out_height;
}

void
rn50_preprocess_config_init_caffe (Rn50PreprocessConfig * config,
    guint out_width, guint out_height)
{
  g_return_if_fail (config != NULL);

  /* Planes are B, G, R: the means are listed in that order. */
  config->resize_mode = RN50_RESIZE_CENTER_CROP;
  config->bgr = TRUE;
  config->scale = 1.0f;
  config->mean[0] = 103.939f;
  config->mean[1] = 116.779f;
  config->mean[2] = 123.68f;
  config->std[0] = 1.0f;
  config->std[1] = 1.0f;
  config->std[2] = 1.0f;
  config->out_width = out_width;
  config->out_height = out_height;
}

/* ------------------------------------------------------------------------ */
/* Geometry */

/* Python 3's round() of d / 2 for d ≥ 0: halves go to the even neighbour.
 * torchvision's CenterCrop computes int(round((h - 224) / 2.0)). */
static guint
half_round_even (guint d)
{
  guint k = d / 2;

  if (d % 2 == 0)
    return k;
  return (k % 2 == 0) ? k : k + 1;
}

static double
triangle (double x)
{
  if (x < 0.0)
    x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

static void
filter_axis_clear (Rn50FilterAxis * axis)
{
  g_free (axis->first);
  g_free (axis->count);
  g_free (axis->weights);
  memset (axis, 0, sizeof (*axis));
}

/* PIL's precompute_coeffs() for BILINEAR on the box [0, in_size) resized to
 * resized_size, keeping only outputs crop_offset .. crop_offset + n_out - 1.
 * When shrinking the triangle is stretched by the scale (support = scale),
 * which is the antialiasing; window bounds and weights are computed as PIL
 * does (same rounding, weights normalized to sum 1). Zero weights at the
 * window ends are trimmed, which changes nothing but the work. */
static void
filter_axis_init (Rn50FilterAxis * axis, guint in_size, guint resized_size,
    guint crop_offset, guint n_out)
{
  double scale = (double) in_size / (double) resized_size;
  double filterscale = MAX (scale, 1.0);
  double support = 1.0 * filterscale;   /* the triangle's support is 1 */
  double ss = 1.0 / filterscale;
  double *k;
  guint i;

  axis->n_out = n_out;
  axis->ksize = (guint) ceil (support) * 2 + 1;
  axis->first = g_new (guint, n_out);
  axis->count = g_new (guint, n_out);
  axis->weights = g_new0 (float, (gsize) n_out * axis->ksize);
  axis->src_begin = in_size;
  axis->src_end = 0;
  k = g_new (double, axis->ksize);

  for (i = 0; i < n_out; i++) {
    double center = ((double) (i + crop_offset) + 0.5) * scale;
    double ww = 0.0;
    gint xmin, xmax, x, lo, hi;
    float *w = axis->weights + (gsize) i * axis->ksize;

    /* PIL truncates with a C cast (towards zero), then clamps. */
    xmin = (gint) (center - support + 0.5);
    if (xmin < 0)
      xmin = 0;
    xmax = (gint) (center + support + 0.5);
    if (xmax > (gint) in_size)
      xmax = (gint) in_size;
    xmax -= xmin;
    if (xmax > (gint) axis->ksize)      /* cannot happen; keeps k[] in bounds */
      xmax = (gint) axis->ksize;

    for (x = 0; x < xmax; x++) {
      k[x] = triangle ((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }

    lo = 0;
    hi = xmax;
    while (lo < hi && k[lo] == 0.0)
      lo++;
    while (hi > lo && k[hi - 1] == 0.0)
      hi--;

    if (lo == hi || ww == 0.0) {
      /* No positive weight (not reachable with support ≥ 1): take the
       * nearest sample rather than produce a hole. */
      gint c = CLAMP ((gint) center, 0, (gint) in_size - 1);
      axis->first[i] = (guint) c;
      axis->count[i] = 1;
      w[0] = 1.0f;
    } else {
      axis->first[i] = (guint) (xmin + lo);
      axis->count[i] = (guint) (hi - lo);
      for (x = lo; x < hi; x++)
        w[x - lo] = (float) (k[x] / ww);
    }

    axis->src_begin = MIN (axis->src_begin, axis->first[i]);
    axis->src_end = MAX (axis->src_end, axis->first[i] + axis->count[i]);
  }

  g_free (k);
}

/* Chooses the resized size, the kept part of it and where it goes in the
 * tensor, then builds both filter axes. */
static void
setup_geometry (Rn50Preprocessor * pre)
{
  const Rn50PreprocessConfig *c = &pre->config;
  guint w = pre->width, h = pre->height;
  guint out_w = c->out_width, out_h = c->out_height;
  guint resized_w, resized_h, crop_x = 0, crop_y = 0;

  switch (c->resize_mode) {
    case RN50_RESIZE_CENTER_CROP:{
      /* Shorter side to 256 for a 224 output (scaled for other sizes, using
       * the larger output side so both sides stay covered), longer side
       * int(short_target * long / short) as torchvision computes it; then
       * the centred crop with Python's round-half-even offsets. */
      guint out_max = MAX (out_w, out_h);
      guint target = (guint) ((guint64) out_max * RN50_CROP_RESIZE_NUM * 2 +
          RN50_CROP_RESIZE_DEN) / (2 * RN50_CROP_RESIZE_DEN);

      if (w <= h) {
        resized_w = target;
        resized_h = (guint) ((double) ((guint64) target * h) / (double) w);
      } else {
        resized_h = target;
        resized_w = (guint) ((double) ((guint64) target * w) / (double) h);
      }
      crop_x = half_round_even (resized_w - out_w);
      crop_y = half_round_even (resized_h - out_h);
      pre->content_x = 0;
      pre->content_y = 0;
      pre->content_width = out_w;
      pre->content_height = out_h;
      break;
    }
    case RN50_RESIZE_LETTERBOX:
      /* Fit inside, keep the aspect ratio, centre; the limiting side fills
       * the output and the other is rounded to the nearest pixel (640×480
       * → 224×168 with 28 rows above and below). The padding is the
       * per-channel mean, i.e. 0 after normalization (see fill_padding). */
      if ((guint64) w * out_h >= (guint64) h * out_w) {
        resized_w = out_w;
        resized_h = (guint) floor ((double) h * out_w / w + 0.5);
      } else {
        resized_h = out_h;
        resized_w = (guint) floor ((double) w * out_h / h + 0.5);
      }
      resized_w = CLAMP (resized_w, 1, out_w);
      resized_h = CLAMP (resized_h, 1, out_h);
      pre->content_x = (out_w - resized_w) / 2;
      pre->content_y = (out_h - resized_h) / 2;
      pre->content_width = resized_w;
      pre->content_height = resized_h;
      break;
    case RN50_RESIZE_STRETCH:
    default:
      resized_w = out_w;
      resized_h = out_h;
      pre->content_x = 0;
      pre->content_y = 0;
      pre->content_width = out_w;
      pre->content_height = out_h;
      break;
  }

  filter_axis_init (&pre->h, w, resized_w, crop_x, pre->content_width);
  filter_axis_init (&pre->v, h, resized_h, crop_y, pre->content_height);
}

/* ------------------------------------------------------------------------ */
/* Colour conversion */

/* videoconvert (GStreamer 1.22) converts 8-bit YUV to RGB with
 * video_orc_convert_AYUV_ARGB (also behind its I420 fast path): samples are
 * centred on 128, each term is (splat16 (s - 128) * coef) >> 16 with the
 * matrix coefficient scaled by 256 and rounded, and the sum is saturated to
 * a signed byte and re-centred. The matrix's offset column is not used, so
 * limited-range luma is expanded around 128 rather than 16: mid-grey Y=128
 * gives 128 where the textbook BT.601 formula gives 130.4. With the floors
 * this makes saturated colours up to ~6 levels darker than the textbook
 * (BT.601 green Y=145 U=54 V=34: G 250, not 255); full range stays within
 * ~2 levels. We reproduce that arithmetic bit for bit (measured: 0
 * differing values on random I420/NV12/YUY2 frames, BT.601/709/2020,
 * limited and full range), so that a frame gives the same tensor whether
 * videoconvert converts it to RGB first or we read the YUV: the
 * element's result must not depend on which format was negotiated. (orc's
 * 16-bit saturating adds never saturate with the coefficients of real
 * matrices, so plain int sums are the same.) */
static gint32
orc_mulhs_splat (guint sample, gint coef)
{
  gint32 s = (gint32) sample - 128;
  /* splatbw of the signed byte: (byte << 8) | byte as a signed 16-bit word */
  gint32 splat = s * 256 + (s & 0xff);
  gint32 product = splat * coef;

  /* mulhsw: arithmetic shift of the 32-bit product (floor) */
  return product >= 0 ? product >> 16 : -((-product + 65535) >> 16);
}

static gboolean
setup_yuv_tables (Rn50Preprocessor * pre, const Rn50YuvMatrix * yuv,
    GError ** error)
{
  double kr = yuv->kr, kb = yuv->kb, kg = 1.0 - kr - kb;
  double y_scale = yuv->full_range ? 1.0 : 255.0 / 219.0;
  double c_scale = yuv->full_range ? 1.0 : 255.0 / 224.0;
  double coef[5];
  gint icoef[5];
  gint32 lo, hi, s;
  guint i, j, k;

  if (!(kr > 0.0 && kb > 0.0 && kg > 0.0 && kr < 1.0 && kb < 1.0)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "invalid YUV matrix: Kr=%g and Kb=%g must be positive with "
        "Kr + Kb < 1", kr, kb);
    return FALSE;
  }

  coef[0] = y_scale;
  coef[1] = 2.0 * (1.0 - kr) * c_scale; /* R from V */
  coef[2] = -2.0 * kb * (1.0 - kb) / kg * c_scale;      /* G from U */
  coef[3] = -2.0 * kr * (1.0 - kr) / kg * c_scale;      /* G from V */
  coef[4] = 2.0 * (1.0 - kb) * c_scale; /* B from U */
  for (i = 0; i < 5; i++) {
    double scaled = rint (coef[i] * 256.0);
    /* videoconvert keeps the coefficients in 16-bit words */
    if (!(fabs (scaled) < 32768.0)) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
          "invalid YUV matrix: Kr=%g, Kb=%g give a coefficient out of range",
          kr, kb);
      return FALSE;
    }
    icoef[i] = (gint) scaled;
  }

  for (i = 0; i < 256; i++) {
    pre->tab_y[i] = orc_mulhs_splat (i, icoef[0]);
    pre->tab_rv[i] = orc_mulhs_splat (i, icoef[1]);
    pre->tab_gu[i] = orc_mulhs_splat (i, icoef[2]);
    pre->tab_gv[i] = orc_mulhs_splat (i, icoef[3]);
    pre->tab_bu[i] = orc_mulhs_splat (i, icoef[4]);
  }

  /* Each table is monotonic, so the extreme sums come from samples 0 and
   * 255; the bound covers R, G (three terms) and B at once. */
  lo = hi = 0;
  for (i = 0; i < 256; i += 255) {
    gint32 y = pre->tab_y[i];
    for (j = 0; j < 256; j += 255) {
      gint32 r = y + pre->tab_rv[j], b = y + pre->tab_bu[j];
      for (k = 0; k < 256; k += 255) {
        gint32 g = y + pre->tab_gu[j] + pre->tab_gv[k];
        lo = MIN (lo, MIN (MIN (r, b), g));
        hi = MAX (hi, MAX (MAX (r, b), g));
      }
    }
  }
  pre->clip_lut_mem = g_new (float, hi - lo + 1);
  for (s = lo; s <= hi; s++)
    pre->clip_lut_mem[s - lo] = (float) (CLAMP (s, -128, 127) + 128);
  pre->clip_lut = pre->clip_lut_mem - lo;
  return TRUE;
}

/* Chroma upsampling, also as videoconvert 1.22 does it with its default
 * settings, which differ by format:
 * - I420 → RGB takes a fast path that replicates each chroma sample over
 *   its 2×2 block (no interpolation), at every size;
 * - NV12 and YUY2 go through the generic path ("no fastpath found"), whose
 *   chroma resampler (default method "linear") works first horizontally
 *   (rounded to 8 bits) then vertically (rounded again), as the siting
 *   the converter is given says (see rn50_preprocessor_set_chroma_siting()).
 *   Horizontally centred, it interpolates 3/4 + 1/4 between neighbouring
 *   samples; horizontally cosited (MPEG-2, the HD default), even columns
 *   copy their sample and odd columns average the two neighbours,
 *   (a + b + 1) >> 1. Vertically centred, rows interpolate 3/4 + 1/4;
 *   vertically cosited, 1.22 simply repeats each chroma row over its two
 *   luma rows (measured). The first row/column, and the last one when the
 *   luma size is even and has no right/lower neighbour, copy the nearest
 *   sample.
 * Following each exactly keeps I420/NV12 input within rounding of
 * "videoconvert ! video/x-raw,format=RGB" (the reference of the parity
 * test), and replicating is also the cheapest choice for I420. */

/* Vertical taps for luma row @y of a frame @height rows high (linear;
 * repeated rows when vertically cosited). */
static Rn50ChromaTap
chroma_tap_linear (guint y, guint height, gboolean v_cosited)
{
  Rn50ChromaTap t;

  if (v_cosited || y == 0 || (y % 2 == 1 && y + 1 >= height)) {
    t.a = t.b = y / 2;
    t.wa = 4;
  } else if (y % 2 == 1) {
    t.a = y / 2;
    t.b = y / 2 + 1;
    t.wa = 3;
  } else {
    t.a = y / 2 - 1;
    t.b = y / 2;
    t.wa = 1;
  }
  return t;
}

/* One chroma row upsampled horizontally (linear, see above) over the
 * converted columns [h.src_begin, h.src_end). @c points at the row's first
 * sample, @step is the byte distance between samples of this component
 * (1 planar, 2 NV12, 4 YUY2). Odd and even columns use fixed 3:1 / 1:3
 * pairs, so each runs as its own simple loop. */
static void
chroma_row_upsample (const Rn50Preprocessor * pre, const guint8 * c,
    guint step, gint16 * out)
{
  guint x0 = pre->h.src_begin, x1 = pre->h.src_end, w = pre->width;
  guint x;

  if (pre->chroma_h_cosited) {
    /* even x: c[x/2] */
    for (x = (x0 + 1) & ~1u; x < x1; x += 2)
      out[x - x0] = c[(x / 2) * step];
    /* odd x < w - 1: (c[x/2] + c[x/2 + 1] + 1) >> 1 */
    for (x = x0 | 1; x < x1 && x + 1 < w; x += 2) {
      guint k = x / 2;
      out[x - x0] = (gint16) ((c[k * step] + c[(k + 1) * step] + 1) >> 1);
    }
    /* the last column of an even width has no right neighbour */
    if (w % 2 == 0 && x1 == w)
      out[w - 1 - x0] = c[((w - 1) / 2) * step];
    return;
  }

  /* odd x < w - 1: (3 c[x/2] + c[x/2 + 1] + 2) >> 2 */
  for (x = x0 | 1; x < x1 && x + 1 < w; x += 2) {
    guint k = x / 2;
    out[x - x0] = (gint16) ((3 * c[k * step] + c[(k + 1) * step] + 2) >> 2);
  }
  /* even x ≥ 2: (c[x/2 - 1] + 3 c[x/2] + 2) >> 2 */
  for (x = MAX (2, (x0 + 1) & ~1u); x < x1; x += 2) {
    guint k = x / 2;
    out[x - x0] = (gint16) ((c[(k - 1) * step] + 3 * c[k * step] + 2) >> 2);
  }
  /* edges copy their sample */
  if (x0 == 0)
    out[0] = c[0];
  if (w % 2 == 0 && x1 == w)
    out[w - 1 - x0] = c[((w - 1) / 2) * step];
}

/* Returns the horizontally upsampled U and V of NV12 chroma row @k. */
static void
chroma_row_get (Rn50Preprocessor * pre, const Rn50ImageView * image, guint k,
    const gint16 ** u, const gint16 ** v)
{
  gint slot;

  if (pre->chroma_cache_row[0] == (gint) k)
    slot = 0;
  else if (pre->chroma_cache_row[1] == (gint) k)
    slot = 1;
  else {
    const guint8 *uv = image->planes[1] + k * image->strides[1];

    /* Rows are visited in increasing order: evict the older slot. */
    slot = pre->chroma_cache_row[0] < pre->chroma_cache_row[1] ? 0 : 1;
    chroma_row_upsample (pre, uv, 2, pre->chroma_cache[slot][0]);
    chroma_row_upsample (pre, uv + 1, 2, pre->chroma_cache[slot][1]);
    pre->chroma_cache_row[slot] = (gint) k;
  }
  *u = pre->chroma_cache[slot][0];
  *v = pre->chroma_cache[slot][1];
}

/* videoconvert's per-pixel arithmetic, through the tables. (Tried: the
 * same in 4 × 32-bit GCC vector lanes is no faster without SSE4.1's
 * pmulld; the exact 16-bit form, as orc runs it with pmulhw, needs
 * intrinsics.) */
#define YUV_PIXEL(pre, l, cu, cv)                                       \
  ((Rn50Pixel) {                                                        \
    (pre)->clip_lut[(l) + (pre)->tab_rv[cv]],                           \
    (pre)->clip_lut[(l) + (pre)->tab_gu[cu] + (pre)->tab_gv[cv]],       \
    (pre)->clip_lut[(l) + (pre)->tab_bu[cu]], 0.0f })

static void
convert_row_i420 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, Rn50Pixel * dst)
{
  guint x0 = pre->h.src_begin, n = pre->h.src_end - x0;
  const guint8 *luma = image->planes[0] + y * image->strides[0] + x0;
  const guint8 *u = image->planes[1] + (y / 2) * image->strides[1];
  const guint8 *v = image->planes[2] + (y / 2) * image->strides[2];
  guint i;

  for (i = 0; i < n; i++) {
    guint k = (x0 + i) / 2;

    dst[i] = YUV_PIXEL (pre, pre->tab_y[luma[i]], u[k], v[k]);
  }
}

static void
convert_row_nv12 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, Rn50Pixel * dst)
{
  guint x0 = pre->h.src_begin, n = pre->h.src_end - x0;
  const Rn50ChromaTap *rt = &pre->chroma_row[y];
  const guint8 *luma = image->planes[0] + y * image->strides[0] + x0;
  const gint16 *ua, *va, *ub, *vb;
  gint wa = rt->wa, wb = 4 - rt->wa;
  guint i;

  chroma_row_get (pre, image, rt->a, &ua, &va);
  chroma_row_get (pre, image, rt->b, &ub, &vb);
  for (i = 0; i < n; i++) {
    gint cu = (wa * ua[i] + wb * ub[i] + 2) >> 2;
    gint cv = (wa * va[i] + wb * vb[i] + 2) >> 2;

    dst[i] = YUV_PIXEL (pre, pre->tab_y[luma[i]], cu, cv);
  }
}

static void
convert_row_yuy2 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, Rn50Pixel * dst)
{
  guint x0 = pre->h.src_begin, n = pre->h.src_end - x0;
  const guint8 *row = image->planes[0] + y * image->strides[0];
  const guint8 *luma = row + 2 * x0;
  const gint16 *u = pre->chroma_cache[0][0], *v = pre->chroma_cache[0][1];
  guint i;

  /* Y0 U Y1 V: U of pair k at byte 4k + 1, V at 4k + 3. */
  chroma_row_upsample (pre, row + 1, 4, pre->chroma_cache[0][0]);
  chroma_row_upsample (pre, row + 3, 4, pre->chroma_cache[0][1]);
  for (i = 0; i < n; i++)
    dst[i] = YUV_PIXEL (pre, pre->tab_y[luma[2 * i]], u[i], v[i]);
}

static void
convert_row_gray8 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, Rn50Pixel * dst)
{
  guint x0 = pre->h.src_begin, n = pre->h.src_end - x0;
  const guint8 *s = image->planes[0] + y * image->strides[0] + x0;
  guint i;

  for (i = 0; i < n; i++) {
    float l = (float) s[i];
    Rn50Pixel p = { l, l, l, 0.0f };

    dst[i] = p;
  }
}

/* Packed RGB: byte offsets of R, G and B inside a pixel of @bpp bytes. The
 * wrappers below pass constants, so each format gets its own loop. */
static inline void
convert_packed (const Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, Rn50Pixel * dst, guint bpp, guint ro, guint go, guint bo)
{
  guint x0 = pre->h.src_begin, n = pre->h.src_end - x0;
  const guint8 *s = image->planes[0] + y * image->strides[0] + x0 * bpp;
  guint i;

  for (i = 0; i < n; i++, s += bpp) {
    Rn50Pixel p = { s[ro], s[go], s[bo], 0.0f };

    dst[i] = p;
  }
}

#define DEFINE_PACKED_CONVERTER(name, bpp, ro, go, bo)                  \
static void                                                             \
convert_row_##name (Rn50Preprocessor * pre, const Rn50ImageView * image, \
    guint y, Rn50Pixel * dst)                                           \
{                                                                       \
  convert_packed (pre, image, y, dst, bpp, ro, go, bo);                 \
}

DEFINE_PACKED_CONVERTER (rgb, 3, 0, 1, 2);
DEFINE_PACKED_CONVERTER (bgr, 3, 2, 1, 0);
DEFINE_PACKED_CONVERTER (rgbx, 4, 0, 1, 2);
DEFINE_PACKED_CONVERTER (bgrx, 4, 2, 1, 0);
DEFINE_PACKED_CONVERTER (xrgb, 4, 1, 2, 3);
DEFINE_PACKED_CONVERTER (xbgr, 4, 3, 2, 1);

/* Bytes per row a format needs for @width pixels, per plane; 0 = unused. */
static void
format_row_bytes (Rn50PixelFormat format, guint width, gsize row_bytes[3])
{
  gsize cw = ((gsize) width + 1) / 2;

  row_bytes[0] = row_bytes[1] = row_bytes[2] = 0;
  switch (format) {
    case RN50_PIXEL_FORMAT_RGB:
    case RN50_PIXEL_FORMAT_BGR:
      row_bytes[0] = 3 * (gsize) width;
      break;
    case RN50_PIXEL_FORMAT_RGBX:
    case RN50_PIXEL_FORMAT_BGRX:
    case RN50_PIXEL_FORMAT_XRGB:
    case RN50_PIXEL_FORMAT_XBGR:
    case RN50_PIXEL_FORMAT_RGBA:
    case RN50_PIXEL_FORMAT_BGRA:
    case RN50_PIXEL_FORMAT_ARGB:
    case RN50_PIXEL_FORMAT_ABGR:
      row_bytes[0] = 4 * (gsize) width;
      break;
    case RN50_PIXEL_FORMAT_I420:
      row_bytes[0] = width;
      row_bytes[1] = row_bytes[2] = cw;
      break;
    case RN50_PIXEL_FORMAT_NV12:
      row_bytes[0] = width;
      row_bytes[1] = cw * 2;
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      row_bytes[0] = cw * 4;
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      row_bytes[0] = width;
      break;
  }
}

static gboolean
format_is_yuv (Rn50PixelFormat format)
{
  return format == RN50_PIXEL_FORMAT_I420 || format == RN50_PIXEL_FORMAT_NV12
      || format == RN50_PIXEL_FORMAT_YUY2;
}

static gboolean
setup_converter (Rn50Preprocessor * pre, const Rn50YuvMatrix * yuv,
    GError ** error)
{
  /* BT.601 limited range: what GStreamer assumes for SD YUV without
   * colorimetry, and the documented default of the API. */
  static const Rn50YuvMatrix bt601 = { 0.299, 0.114, FALSE };
  guint n = pre->h.src_end - pre->h.src_begin;
  guint i;

  switch (pre->format) {
    case RN50_PIXEL_FORMAT_RGB:
      pre->convert_row = convert_row_rgb;
      break;
    case RN50_PIXEL_FORMAT_BGR:
      pre->convert_row = convert_row_bgr;
      break;
    case RN50_PIXEL_FORMAT_RGBX:
    case RN50_PIXEL_FORMAT_RGBA:
      pre->convert_row = convert_row_rgbx;
      break;
    case RN50_PIXEL_FORMAT_BGRX:
    case RN50_PIXEL_FORMAT_BGRA:
      pre->convert_row = convert_row_bgrx;
      break;
    case RN50_PIXEL_FORMAT_XRGB:
    case RN50_PIXEL_FORMAT_ARGB:
      pre->convert_row = convert_row_xrgb;
      break;
    case RN50_PIXEL_FORMAT_XBGR:
    case RN50_PIXEL_FORMAT_ABGR:
      pre->convert_row = convert_row_xbgr;
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      pre->convert_row = convert_row_gray8;
      break;
    case RN50_PIXEL_FORMAT_I420:
      pre->convert_row = convert_row_i420;
      break;
    case RN50_PIXEL_FORMAT_NV12:
      pre->convert_row = convert_row_nv12;
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      pre->convert_row = convert_row_yuy2;
      break;
    default:
      g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
          "unknown pixel format %d", (gint) pre->format);
      return FALSE;
  }

  if (!format_is_yuv (pre->format))
    return TRUE;

  if (!setup_yuv_tables (pre, yuv != NULL ? yuv : &bt601, error))
    return FALSE;

  if (pre->format == RN50_PIXEL_FORMAT_I420)
    return TRUE;

  /* NV12 and YUY2 interpolate chroma: rows of upsampled U and V (two for
   * NV12, whose rows are mixed vertically; YUY2 uses the first). */
  for (i = 0; i < 2; i++) {
    pre->chroma_cache[i][0] = g_new (gint16, n);
    pre->chroma_cache[i][1] = g_new (gint16, n);
  }
  if (pre->format == RN50_PIXEL_FORMAT_NV12) {
    pre->chroma_row = g_new (Rn50ChromaTap, pre->height);
    for (i = 0; i < pre->height; i++)
      pre->chroma_row[i] = chroma_tap_linear (i, pre->height, FALSE);
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Construction */

static gboolean
check_config (const Rn50PreprocessConfig * config, Rn50PixelFormat format,
    guint width, guint height, GError ** error)
{
  guint i;

  if (width == 0 || height == 0 || width > RN50_MAX_FRAME_SIDE
      || height > RN50_MAX_FRAME_SIDE) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "unsupported frame size %u×%u (each side must be 1 to %u)", width,
        height, RN50_MAX_FRAME_SIDE);
    return FALSE;
  }
  if (config->out_width == 0 || config->out_height == 0
      || config->out_width > RN50_MAX_TENSOR_SIDE
      || config->out_height > RN50_MAX_TENSOR_SIDE) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "unsupported network input size %u×%u (each side must be 1 to %u)",
        config->out_width, config->out_height, RN50_MAX_TENSOR_SIDE);
    return FALSE;
  }
  if ((guint) format > RN50_PIXEL_FORMAT_GRAY8) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "unknown pixel format %d", (gint) format);
    return FALSE;
  }
  if ((guint) config->resize_mode > RN50_RESIZE_LETTERBOX) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "unknown resize mode %d", (gint) config->resize_mode);
    return FALSE;
  }
  if (!isfinite (config->scale) || config->scale <= 0.0f) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "invalid pixel scale %g: must be a positive number", config->scale);
    return FALSE;
  }
  for (i = 0; i < 3; i++) {
    if (!isfinite (config->std[i]) || config->std[i] <= 0.0f) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
          "invalid std[%u] = %g: every std must be a positive number", i,
          config->std[i]);
      return FALSE;
    }
    if (!isfinite (config->mean[i])) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
          "invalid mean[%u] = %g: must be a finite number", i, config->mean[i]);
      return FALSE;
    }
  }
  return TRUE;
}

Rn50Preprocessor *
rn50_preprocessor_new (const Rn50PreprocessConfig * config,
    Rn50PixelFormat format, guint width, guint height,
    const Rn50YuvMatrix * yuv, GError ** error)
{
  Rn50Preprocessor *pre = NULL;
  guint i, n_cols;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_config (config, format, width, height, error))
    goto fail;

  pre = g_new0 (Rn50Preprocessor, 1);
  pre->config = *config;
  pre->format = format;
  pre->width = width;
  pre->height = height;
  pre->chroma_cache_row[0] = pre->chroma_cache_row[1] = -1;

  pre->plane_of[0] = config->bgr ? 2 : 0;
  pre->plane_of[1] = 1;
  pre->plane_of[2] = config->bgr ? 0 : 2;
  for (i = 0; i < 3; i++) {
    guint p = pre->plane_of[i];

    /* (v * scale - mean) / std, folded into one multiply-add */
    pre->mul[i] = (float) ((double) config->scale / config->std[p]);
    pre->add[i] = (float) (-(double) config->mean[p] / config->std[p]);
  }

  setup_geometry (pre);

  if (!setup_converter (pre, yuv, error))
    goto fail;

  n_cols = pre->h.src_end - pre->h.src_begin;
  pre->src_row = g_new (Rn50Pixel, n_cols);
  /* Each output row needs at most v.ksize consecutive source rows, and
   * windows only move forward: a ring of that many rows is enough. */
  pre->ring_rows = pre->v.ksize;
  pre->ring = g_new (Rn50Pixel, (gsize) pre->ring_rows * pre->content_width);
  pre->window = g_new (const Rn50Pixel *, pre->v.ksize);

  return pre;

fail:
  rn50_preprocessor_free (pre);
  return NULL;
}

/* The siting videoconvert 1.22 uses is the chroma_site of the
 * GstVideoInfo that gst_video_info_from_caps() makes of the caps, and that
 * is not simply the caps' chroma-site: when the caps carry no colorimetry
 * (raw sources such as videotestsrc, plain capsfilters), the default
 * colorimetry 1.22 then applies also overwrites chroma_site with the
 * default for the size, horizontally cosited above 576 rows (with BT.709)
 * and centred ("jpeg") up to 576 rows (with BT.601); caps with colorimetry
 * keep their chroma-site, and a missing one stays "unknown", which the
 * resampler treats as centred. Only the element has the caps, so it passes
 * the H_COSITED and V_COSITED bits of that field here. Measured against
 * videoconvert: NV12 and YUY2 without colorimetry at 1920×1080, 1281×721
 * and 1280×577, and with colorimetry and chroma-site=mpeg2 at any size
 * (7×5 to 1920×1080), match the horizontally cosited filter exactly (0
 * differing values); without colorimetry at 1280×576 and smaller, and
 * with colorimetry but no chroma-site at any size, the centred one; NV12
 * with chroma-site=v-cosited or cosited, the repeated rows. The default
 * is centred on both axes. I420 ignores the setting (its fast path
 * replicates chroma at every size), YUY2 has no vertical subsampling. */
void
rn50_preprocessor_set_chroma_siting (Rn50Preprocessor * pre,
    gboolean h_cosited, gboolean v_cosited)
{
  guint i;

  g_return_if_fail (pre != NULL);

  pre->chroma_h_cosited = h_cosited;
  if (pre->chroma_row != NULL) {
    for (i = 0; i < pre->height; i++)
      pre->chroma_row[i] = chroma_tap_linear (i, pre->height, v_cosited);
  }
  /* cached chroma rows may have been upsampled with the other filter */
  pre->chroma_cache_row[0] = pre->chroma_cache_row[1] = -1;
}

void
rn50_preprocessor_free (Rn50Preprocessor * pre)
{
  guint i;

  if (pre == NULL)
    return;

  filter_axis_clear (&pre->h);
  filter_axis_clear (&pre->v);
  g_free (pre->chroma_row);
  for (i = 0; i < 2; i++) {
    g_free (pre->chroma_cache[i][0]);
    g_free (pre->chroma_cache[i][1]);
  }
  g_free (pre->clip_lut_mem);
  g_free (pre->src_row);
  g_free (pre->ring);
  g_free (pre->window);
  g_free (pre);
}

/* ------------------------------------------------------------------------ */
/* Running */

/* Filters the converted source row into ring row @dst. */
static void
horizontal_pass (const Rn50Preprocessor * pre, Rn50Pixel * dst)
{
  const Rn50FilterAxis *h = &pre->h;
  const Rn50Pixel *src = pre->src_row - h->src_begin;
  guint n_out = pre->content_width;
  guint i, k;

  for (i = 0; i < n_out; i++) {
    const float *w = h->weights + (gsize) i * h->ksize;
    const Rn50Pixel *s = src + h->first[i];
    guint count = h->count[i];
    Rn50Pixel acc = s[0] * w[0];

    for (k = 1; k < count; k++)
      acc += s[k] * w[k];
    dst[i] = acc;
  }
}

static void
fill_padding (const Rn50Preprocessor * pre, float *tensor)
{
  guint out_w = pre->config.out_width, out_h = pre->config.out_height;
  guint x_end = pre->content_x + pre->content_width;
  guint y_end = pre->content_y + pre->content_height;
  guint c, y, x;

  if (pre->content_width == out_w && pre->content_height == out_h)
    return;

  /* The padding stands for the per-channel mean: 0 once normalized. */
  for (c = 0; c < 3; c++) {
    float *plane = tensor + (gsize) c * out_w * out_h;

    for (y = 0; y < out_h; y++) {
      float *row = plane + (gsize) y * out_w;

      if (y < pre->content_y || y >= y_end) {
        memset (row, 0, sizeof (float) * out_w);
        continue;
      }
      for (x = 0; x < pre->content_x; x++)
        row[x] = 0.0f;
      for (x = x_end; x < out_w; x++)
        row[x] = 0.0f;
    }
  }
}

static gboolean
image_matches (const Rn50Preprocessor * pre, const Rn50ImageView * image)
{
  gsize row_bytes[3];
  guint i;

  if (image->format != pre->format || image->width != pre->width
      || image->height != pre->height)
    return FALSE;
  format_row_bytes (pre->format, pre->width, row_bytes);
  for (i = 0; i < 3; i++) {
    if (row_bytes[i] == 0)
      continue;
    if (image->planes[i] == NULL || image->strides[i] < row_bytes[i])
      return FALSE;
  }
  return TRUE;
}

void
rn50_preprocessor_run (Rn50Preprocessor * pre, const Rn50ImageView * image,
    float *tensor)
{
  const Rn50FilterAxis *v;
  guint out_w, n_out, next_row, oy, k, i;
  gsize plane_size;

  g_return_if_fail (pre != NULL);
  g_return_if_fail (image != NULL);
  g_return_if_fail (tensor != NULL);
  g_return_if_fail (image_matches (pre, image));

  v = &pre->v;
  out_w = pre->config.out_width;
  plane_size = out_w * (gsize) pre->config.out_height;
  n_out = pre->content_width;
  pre->chroma_cache_row[0] = pre->chroma_cache_row[1] = -1;

  fill_padding (pre, tensor);

  next_row = v->src_begin;
  for (oy = 0; oy < pre->content_height; oy++) {
    guint first = v->first[oy], count = v->count[oy];
    const float *w = v->weights + (gsize) oy * v->ksize;
    const Rn50Pixel **window = pre->window;
    gsize row_offset = (gsize) (oy + pre->content_y) * out_w + pre->content_x;
    float *out_r = tensor + pre->plane_of[0] * plane_size + row_offset;
    float *out_g = tensor + pre->plane_of[1] * plane_size + row_offset;
    float *out_b = tensor + pre->plane_of[2] * plane_size + row_offset;
    Rn50Pixel mul = { pre->mul[0], pre->mul[1], pre->mul[2], 0.0f };
    Rn50Pixel add = { pre->add[0], pre->add[1], pre->add[2], 0.0f };

    /* Bring the rows of this window into the ring (windows never move
     * backwards, so each source row is converted and filtered once). */
    if (next_row < first)
      next_row = first;
    for (; next_row < first + count; next_row++) {
      pre->convert_row (pre, image, next_row, pre->src_row);
      horizontal_pass (pre, pre->ring + (gsize) (next_row % pre->ring_rows)
          * n_out);
    }
    for (k = 0; k < count; k++)
      window[k] = pre->ring + (gsize) ((first + k) % pre->ring_rows) * n_out;

    for (i = 0; i < n_out; i++) {
      Rn50Pixel acc = window[0][i] * w[0];

      for (k = 1; k < count; k++)
        acc += window[k][i] * w[k];
      acc = acc * mul + add;
      out_r[i] = acc[0];
      out_g[i] = acc[1];
      out_b[i] = acc[2];
    }
  }
}
