/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame → normalized NCHW tensor. The resampling reproduces PIL's
 * antialiased BILINEAR resize (what torchvision's Resize does on PIL
 * images); the YUV conversion reproduces GStreamer 1.22 videoconvert's 8-bit
 * arithmetic exactly, so a YUV frame gives the same tensor as the RGB frame
 * videoconvert would have made of it.
 *
 * Only the source rows and columns that the kept output (after cropping)
 * depends on are read. The work runs vertical pass first, because that is
 * the pass that reads contiguous memory: for each output row, the source
 * rows of its window (8-bit R, G, B: YUV rows converted once into a small
 * ring as planes, packed RGB rows read in place) are combined column by
 * column into one row of 16-bit values with 7 fractional bits; that row is
 * then filtered horizontally into the tensor row, normalizing as it
 * writes. Both passes use 14-bit fixed-point weights (each window's weights
 * sum to exactly 1), so a flat image stays exactly flat and the result is
 * within ~0.1 level of PIL's float coefficients (PIL itself rounds to 8
 * bits between its passes, ±0.5 level). The inner loops use SSE2 (every
 * x86-64 has it) with the same integer arithmetic in plain C for other
 * CPUs and for the ragged ends of rows, so both give the same tensor bit
 * for bit (tests/nn/test-preprocess-simd.c checks it). All tables and
 * scratch rows are built in rn50_preprocessor_new(); a run allocates
 * nothing and starts no thread. */
#include "preprocess.h"

#include <math.h>
#include <string.h>

#if defined(__SSE2__) && !defined(RN50_PREPROCESS_NO_SIMD)
#include <emmintrin.h>
#define RN50_SSE2 1
#else
#define RN50_SSE2 0
#endif

/* Largest tensor side accepted (RN50_MAX_FRAME_SIDE: preprocess.h). */
#define RN50_MAX_TENSOR_SIDE 8192

/* torchvision's ImageNet evaluation: Resize(256) then CenterCrop(224). */
#define RN50_CROP_RESIZE_NUM 256
#define RN50_CROP_RESIZE_DEN 224

/* Filter weights are integers in units of 2^-14: a weight of 1 fits a
 * signed 16-bit word, as SSE2's pmaddwd needs. */
#define RN50_WEIGHT_BITS 14
#define RN50_WEIGHT_ONE (1 << RN50_WEIGHT_BITS)
/* The vertical pass keeps 7 fractional bits of its 8-bit inputs:
 * 255 × 2^7 = 32640 still fits a signed 16-bit word, and the horizontal
 * sums, value × 2^(7 + 14) ≤ 255 × 2^21, fit 32 bits. */
#define RN50_VERTICAL_FRAC_BITS 7
#define RN50_VERTICAL_SHIFT (RN50_WEIGHT_BITS - RN50_VERTICAL_FRAC_BITS)
#define RN50_SUM_BITS (RN50_VERTICAL_FRAC_BITS + RN50_WEIGHT_BITS)

/* Scratch rows get this many elements of slack at their end, so that a
 * 16-wide SIMD block that starts inside a row stays inside the buffer. */
#define RN50_ROW_SLACK 16

/* One axis of the resampler, in PIL's terms: for output sample i (of the
 * kept range), source samples first[i] .. first[i] + count[i] - 1 weighted by
 * weights[i * ksize + k] (units of 2^-14, zero past count[i]). Indices are
 * absolute source indices. */
typedef struct
{
  guint n_out;
  guint ksize;                  /* stride of weights, ≥ every count */
  guint *first;
  guint *count;
  gint16 *weights;
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

/* How one row of chroma samples becomes one sample per luma column. */
typedef enum
{
  RN50_CHROMA_REPLICATE,        /* I420: c[x / 2] */
  RN50_CHROMA_CENTRED,          /* linear, samples between two columns */
  RN50_CHROMA_COSITED,          /* linear, samples on the even columns */
} Rn50ChromaFilter;

/* Converts YUV source row @y, columns [col_begin, h.src_end), into 8-bit
 * R, G and B planes at @dst, @dst + plane_stride, @dst + 2 plane_stride. */
typedef void (*Rn50RowConverter) (Rn50Preprocessor * pre,
    const Rn50ImageView * image, guint y, guint8 * dst);

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
   * swap places for BGR models) and its normalization, sum * mul + add
   * (mul includes the 2^-21 of the fixed-point sums). */
  guint plane_of[3];
  float mul[3];
  float add[3];

  /* Source columns read: [col_begin, h.src_end), n_cols of them. For YUV
   * col_begin is even, so that the row starts on a chroma sample. */
  guint col_begin;
  guint n_cols;
  /* Elements between the R, G and B planes of a ring row and of hrow:
   * n_cols rounded up to whole SIMD blocks. */
  gsize plane_stride;

  /* Packed RGB and GRAY8: bytes per pixel and the byte offset of R, G, B
   * in a pixel; the vertical pass reads the frame's rows in place. 0 for
   * YUV. */
  guint bpp;
  guint comp_offset[3];

  /* YUV: converted rows, a ring of ring_rows rows of 3 × plane_stride
   * bytes (each source row is converted once: windows only move down). */
  Rn50RowConverter convert_row;
  guint8 *ring;
  guint ring_rows;

  /* The source rows of the current vertical window (v.ksize + 1 pointers:
   * an odd window repeats its last row), and the vertical weights in
   * pairs, w[2p] | w[2p + 1] << 16 (the second 0 past the window), per
   * output row ((v.ksize + 1) / 2 per row), as pmaddwd takes them. */
  const guint8 **window;
  gint32 *v_pairs;
  /* Vertically filtered row: packed formats (n_cols × bpp values, then
   * split into planes), and the planes the horizontal pass reads
   * (3 × plane_stride + h.ksize values: windows read whole weight
   * blocks). */
  gint16 *vrow;
  gint16 *hrow;

  /* YUV → RGB: videoconvert's 16-bit matrix coefficients (Y, R from V,
   * G from U, G from V, B from U) and the same as per-sample terms for
   * the plain C path. */
  gint16 coef[5];
  gint32 tab_y[256];
  gint32 tab_rv[256];
  gint32 tab_gu[256];
  gint32 tab_gv[256];
  gint32 tab_bu[256];
  /* Chroma samples covering the converted columns: [chroma_begin,
   * chroma_end), de-interleaved for NV12 and YUY2 into chroma_u8[U or V]. */
  guint chroma_begin;
  guint chroma_end;
  guint8 *chroma_u8[2];
  /* YUY2: the row's luma samples, de-interleaved. */
  guint8 *yuy2_luma;
  /* NV12 vertical chroma taps, per source row; NULL for other formats. */
  Rn50ChromaTap *chroma_row;
  /* Chroma rows upsampled to one sample per converted column, cached by
   * chroma row index so that consecutive luma rows sharing a chroma row
   * do not redo the work. */
  gint16 *chroma_cache[2][2];   /* [slot][U or V] */
  gint chroma_cache_row[2];
  /* Chroma samples sit on the even luma columns (MPEG-2 siting) rather
   * than between two columns: see rn50_preprocessor_set_chroma_siting(). */
  gboolean chroma_h_cosited;
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
 * window ends are trimmed, which changes nothing but the work. The weights
 * are then rounded to 2^-14 through their running sum, so each window sums
 * to exactly 1 and no partial sum is off by more than half a unit. The
 * weight stride is a multiple of @align (zeros after each window). */
static void
filter_axis_init (Rn50FilterAxis * axis, guint in_size, guint resized_size,
    guint crop_offset, guint n_out, guint align)
{
  double scale = (double) in_size / (double) resized_size;
  double filterscale = MAX (scale, 1.0);
  double support = 1.0 * filterscale;   /* the triangle's support is 1 */
  double ss = 1.0 / filterscale;
  guint max_taps = (guint) ceil (support) * 2 + 1;
  double *k;
  guint i;

  axis->n_out = n_out;
  axis->ksize = (max_taps + align - 1) / align * align;
  axis->first = g_new (guint, n_out);
  axis->count = g_new (guint, n_out);
  axis->weights = g_new0 (gint16, (gsize) n_out * axis->ksize);
  axis->src_begin = in_size;
  axis->src_end = 0;
  k = g_new (double, max_taps);

  for (i = 0; i < n_out; i++) {
    double center = ((double) (i + crop_offset) + 0.5) * scale;
    double ww = 0.0, running = 0.0;
    gint xmin, xmax, x, lo, hi, prev = 0;
    gint16 *w = axis->weights + (gsize) i * axis->ksize;

    /* PIL truncates with a C cast (towards zero), then clamps. */
    xmin = (gint) (center - support + 0.5);
    if (xmin < 0)
      xmin = 0;
    xmax = (gint) (center + support + 0.5);
    if (xmax > (gint) in_size)
      xmax = (gint) in_size;
    xmax -= xmin;
    if (xmax > (gint) max_taps) /* cannot happen; keeps k[] in bounds */
      xmax = (gint) max_taps;

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
      w[0] = RN50_WEIGHT_ONE;
    } else {
      axis->first[i] = (guint) (xmin + lo);
      axis->count[i] = (guint) (hi - lo);
      for (x = lo; x < hi; x++) {
        gint q;

        running += k[x] / ww;
        q = x + 1 == hi ? RN50_WEIGHT_ONE :
            (gint) floor (running * RN50_WEIGHT_ONE + 0.5);
        q = CLAMP (q, prev, RN50_WEIGHT_ONE);
        w[x - lo] = (gint16) (q - prev);
        prev = q;
      }
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

  filter_axis_init (&pre->h, w, resized_w, crop_x, pre->content_width, 8);
  filter_axis_init (&pre->v, h, resized_h, crop_y, pre->content_height,
      1);
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
  guint i;

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
    pre->coef[i] = (gint16) scaled;
  }

  for (i = 0; i < 256; i++) {
    pre->tab_y[i] = orc_mulhs_splat (i, icoef[0]);
    pre->tab_rv[i] = orc_mulhs_splat (i, icoef[1]);
    pre->tab_gu[i] = orc_mulhs_splat (i, icoef[2]);
    pre->tab_gv[i] = orc_mulhs_splat (i, icoef[3]);
    pre->tab_bu[i] = orc_mulhs_splat (i, icoef[4]);
  }

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

/* One upsampled chroma sample for luma column @x of a @w-wide frame, from
 * chroma row @c (indexed by chroma column). See the rules above. */
static inline gint16
chroma_at (const guint8 * c, guint x, guint w, Rn50ChromaFilter filter)
{
  guint k = x / 2;

  if (filter == RN50_CHROMA_REPLICATE)
    return c[k];
  if (x % 2 == 0) {
    if (filter == RN50_CHROMA_COSITED || x == 0)
      return c[k];
    return (gint16) ((c[k - 1] + 3 * c[k] + 2) >> 2);
  }
  /* the last column of an even width has no right neighbour */
  if (x + 1 >= w)
    return c[k];
  if (filter == RN50_CHROMA_COSITED)
    return (gint16) ((c[k] + c[k + 1] + 1) >> 1);
  return (gint16) ((3 * c[k] + c[k + 1] + 2) >> 2);
}

/* Upsamples chroma row @c (indexed by chroma column; valid over
 * [chroma_begin, chroma_end)) to one sample per converted column:
 * out[x - col_begin] for x in [col_begin, h.src_end). */
static void
chroma_row_upsample (const Rn50Preprocessor * pre, const guint8 * c,
    Rn50ChromaFilter filter, gint16 * out)
{
  guint x0 = pre->col_begin, x1 = pre->h.src_end, w = pre->width;
  guint x = x0;

#if RN50_SSE2
  {
    const __m128i zero = _mm_setzero_si128 ();
    guint k = MAX (x0 / 2, 1u);

    for (; x < 2 * k && x < x1; x++)
      out[x - x0] = chroma_at (c, x, w, filter);
    if (x == 2 * k) {
      /* Blocks of 8 chroma samples → 16 columns, while c[k - 1] ..
       * c[k + 8] exist (which also keeps away from the right edge). */
      for (; k + 8 < pre->chroma_end && 2 * k < x1; k += 8) {
        __m128i cur = _mm_unpacklo_epi8 (_mm_loadl_epi64 ((const __m128i *)
                (c + k)), zero);
        __m128i even, odd;
        gint16 *o = out + (2 * k - x0);

        if (filter == RN50_CHROMA_REPLICATE) {
          even = odd = cur;
        } else {
          __m128i next = _mm_unpacklo_epi8 (_mm_loadl_epi64 ((const __m128i *)
                  (c + k + 1)), zero);

          if (filter == RN50_CHROMA_COSITED) {
            even = cur;
            odd = _mm_avg_epu16 (cur, next);
          } else {
            __m128i prev = _mm_unpacklo_epi8 (_mm_loadl_epi64 ((const
                        __m128i *) (c + k - 1)), zero);
            __m128i cur3 = _mm_add_epi16 (_mm_add_epi16 (cur, cur), cur);
            __m128i two = _mm_set1_epi16 (2);

            even = _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (prev, cur3),
                    two), 2);
            odd = _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (cur3, next),
                    two), 2);
          }
        }
        _mm_storeu_si128 ((__m128i *) o, _mm_unpacklo_epi16 (even, odd));
        _mm_storeu_si128 ((__m128i *) (o + 8), _mm_unpackhi_epi16 (even, odd));
      }
      x = MAX (x, 2 * k);
    }
  }
#endif
  for (; x < x1; x++)
    out[x - x0] = chroma_at (c, x, w, filter);
}

/* Splits interleaved chroma pairs (NV12: U V, stride 2) into chroma_u8. */
static void
chroma_split_nv12 (Rn50Preprocessor * pre, const guint8 * uv)
{
  guint k = pre->chroma_begin, end = pre->chroma_end;
  guint8 *u = pre->chroma_u8[0] - pre->chroma_begin;
  guint8 *v = pre->chroma_u8[1] - pre->chroma_begin;

#if RN50_SSE2
  {
    const __m128i low = _mm_set1_epi16 (0xff);

    for (; k + 8 <= end; k += 8) {
      __m128i p = _mm_loadu_si128 ((const __m128i *) (uv + 2 * k));

      _mm_storel_epi64 ((__m128i *) (u + k),
          _mm_packus_epi16 (_mm_and_si128 (p, low), p));
      _mm_storel_epi64 ((__m128i *) (v + k),
          _mm_packus_epi16 (_mm_srli_epi16 (p, 8), p));
    }
  }
#endif
  for (; k < end; k++) {
    u[k] = uv[2 * k];
    v[k] = uv[2 * k + 1];
  }
}

/* YUY2 (Y0 U Y1 V): luma of the converted columns into yuy2_luma, chroma
 * into chroma_u8. */
static void
split_yuy2 (Rn50Preprocessor * pre, const guint8 * row)
{
  guint x = pre->col_begin, x1 = pre->h.src_end;
  guint k = pre->chroma_begin, end = pre->chroma_end;
  guint8 *luma = pre->yuy2_luma - pre->col_begin;
  guint8 *u = pre->chroma_u8[0] - pre->chroma_begin;
  guint8 *v = pre->chroma_u8[1] - pre->chroma_begin;

#if RN50_SSE2
  {
    const __m128i low = _mm_set1_epi16 (0xff);
    const __m128i low32 = _mm_set1_epi32 (0xffff);

    /* x is even: 16 columns are 32 bytes from byte 2x */
    for (; x + 16 <= x1; x += 16) {
      __m128i a = _mm_loadu_si128 ((const __m128i *) (row + 2 * x));
      __m128i b = _mm_loadu_si128 ((const __m128i *) (row + 2 * x + 16));

      _mm_storeu_si128 ((__m128i *) (luma + x),
          _mm_packus_epi16 (_mm_and_si128 (a, low), _mm_and_si128 (b, low)));
    }
    for (; k + 8 <= end; k += 8) {
      /* words U0 V0 U1 V1 …, then U in the low and V in the high half of
       * each 32-bit lane */
      __m128i a = _mm_srli_epi16 (_mm_loadu_si128 ((const __m128i *)
              (row + 4 * k)), 8);
      __m128i b = _mm_srli_epi16 (_mm_loadu_si128 ((const __m128i *)
              (row + 4 * k + 16)), 8);
      __m128i us = _mm_packs_epi32 (_mm_and_si128 (a, low32),
          _mm_and_si128 (b, low32));
      __m128i vs = _mm_packs_epi32 (_mm_srli_epi32 (a, 16),
          _mm_srli_epi32 (b, 16));

      _mm_storel_epi64 ((__m128i *) (u + k), _mm_packus_epi16 (us, us));
      _mm_storel_epi64 ((__m128i *) (v + k), _mm_packus_epi16 (vs, vs));
    }
  }
#endif
  for (; x < x1; x++)
    luma[x] = row[2 * x];
  for (; k < end; k++) {
    u[k] = row[4 * k + 1];
    v[k] = row[4 * k + 3];
  }
}

/* videoconvert's saturation of a sum to a signed byte, re-centred. */
static inline guint8
yuv_clip (gint32 s)
{
  return (guint8) (CLAMP (s, -128, 127) + 128);
}

#if RN50_SSE2
/* Eight pixels of orc's AYUV → ARGB: luma term @yw (already multiplied),
 * chroma samples @u and @v as 16-bit values 0-255; 16-bit R, G, B sums
 * before saturation. */
static inline __attribute__((always_inline))
void
yuv8_sse2 (const __m128i coef[5], __m128i yw, __m128i u, __m128i v,
    __m128i * r, __m128i * g, __m128i * b)
{
  const __m128i bias16 = _mm_set1_epi16 (0x80);

  /* splat: (s ^ 0x80) in both bytes of the word */
  u = _mm_xor_si128 (u, bias16);
  u = _mm_or_si128 (u, _mm_slli_epi16 (u, 8));
  v = _mm_xor_si128 (v, bias16);
  v = _mm_or_si128 (v, _mm_slli_epi16 (v, 8));
  *r = _mm_adds_epi16 (yw, _mm_mulhi_epi16 (v, coef[1]));
  *g = _mm_adds_epi16 (_mm_adds_epi16 (yw, _mm_mulhi_epi16 (u, coef[2])),
      _mm_mulhi_epi16 (v, coef[3]));
  *b = _mm_adds_epi16 (yw, _mm_mulhi_epi16 (u, coef[4]));
}

/* (wa * a + wb * b + 2) >> 2 on 16-bit lanes */
static inline __attribute__((always_inline))
__m128i
chroma_blend_sse2 (__m128i a, __m128i b, __m128i wa, __m128i wb)
{
  return _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (_mm_mullo_epi16 (a,
                  wa), _mm_mullo_epi16 (b, wb)), _mm_set1_epi16 (2)), 2);
}

/* yuv_row_to_rgb() for n_cols ≥ 16; @blend is a constant at each call so
 * that the loop has no test in it. */
static inline __attribute__((always_inline))
void
yuv_row_to_rgb_sse2 (const Rn50Preprocessor * pre, const guint8 * luma,
    const gint16 * ua, const gint16 * va, const gint16 * ub,
    const gint16 * vb, gint wa, gboolean blend, guint8 * r, guint8 * g,
    guint8 * b)
{
  const __m128i bias8 = _mm_set1_epi8 ((char) 0x80);
  const __m128i vwa = _mm_set1_epi16 ((gint16) wa);
  const __m128i vwb = _mm_set1_epi16 ((gint16) (4 - wa));
  __m128i coef[5];
  guint n = pre->n_cols, x, i;

  for (i = 0; i < 5; i++)
    coef[i] = _mm_set1_epi16 (pre->coef[i]);

  for (x = 0;; x += 16) {
    __m128i yb, ylo, yhi, u0, v0, u1, v1, r0, g0, b0, r1, g1, b1;

    /* the last block overlaps the one before rather than run past n */
    if (x + 16 > n)
      x = n - 16;
    yb = _mm_xor_si128 (_mm_loadu_si128 ((const __m128i *) (luma + x)),
        bias8);
    ylo = _mm_mulhi_epi16 (_mm_unpacklo_epi8 (yb, yb), coef[0]);
    yhi = _mm_mulhi_epi16 (_mm_unpackhi_epi8 (yb, yb), coef[0]);
    u0 = _mm_loadu_si128 ((const __m128i *) (ua + x));
    v0 = _mm_loadu_si128 ((const __m128i *) (va + x));
    u1 = _mm_loadu_si128 ((const __m128i *) (ua + x + 8));
    v1 = _mm_loadu_si128 ((const __m128i *) (va + x + 8));
    if (blend) {
      u0 = chroma_blend_sse2 (u0, _mm_loadu_si128 ((const __m128i *) (ub +
                  x)), vwa, vwb);
      v0 = chroma_blend_sse2 (v0, _mm_loadu_si128 ((const __m128i *) (vb +
                  x)), vwa, vwb);
      u1 = chroma_blend_sse2 (u1, _mm_loadu_si128 ((const __m128i *) (ub +
                  x + 8)), vwa, vwb);
      v1 = chroma_blend_sse2 (v1, _mm_loadu_si128 ((const __m128i *) (vb +
                  x + 8)), vwa, vwb);
    }
    yuv8_sse2 (coef, ylo, u0, v0, &r0, &g0, &b0);
    yuv8_sse2 (coef, yhi, u1, v1, &r1, &g1, &b1);
    _mm_storeu_si128 ((__m128i *) (r + x),
        _mm_xor_si128 (_mm_packs_epi16 (r0, r1), bias8));
    _mm_storeu_si128 ((__m128i *) (g + x),
        _mm_xor_si128 (_mm_packs_epi16 (g0, g1), bias8));
    _mm_storeu_si128 ((__m128i *) (b + x),
        _mm_xor_si128 (_mm_packs_epi16 (b0, b1), bias8));
    if (x + 16 >= n)
      return;
  }
}
#endif

/* videoconvert's per-pixel arithmetic on one converted row: luma @luma,
 * chroma (wa * ua + (4 - wa) * ub + 2) >> 2 (and the same for V), into the
 * R, G, B planes at @dst. In SSE2 this is orc's own sequence: each sample
 * minus 128 splatted to a 16-bit word, pmulhw by the coefficient,
 * saturating adds, saturation to a signed byte. */
static void
yuv_row_to_rgb (const Rn50Preprocessor * pre, const guint8 * luma,
    const gint16 * ua, const gint16 * va, const gint16 * ub,
    const gint16 * vb, gint wa, guint8 * dst)
{
  guint n = pre->n_cols, x = 0;
  guint8 *r = dst, *g = dst + pre->plane_stride, *b = g + pre->plane_stride;
  gint wb = 4 - wa;

#if RN50_SSE2
  if (n >= 16) {
    if (wa != 4)
      yuv_row_to_rgb_sse2 (pre, luma, ua, va, ub, vb, wa, TRUE, r, g, b);
    else
      yuv_row_to_rgb_sse2 (pre, luma, ua, va, ua, va, 4, FALSE, r, g, b);
    return;
  }
#endif
  for (; x < n; x++) {
    gint cu = (wa * ua[x] + wb * ub[x] + 2) >> 2;
    gint cv = (wa * va[x] + wb * vb[x] + 2) >> 2;
    gint32 ly = pre->tab_y[luma[x]];

    r[x] = yuv_clip (ly + pre->tab_rv[cv]);
    g[x] = yuv_clip (ly + pre->tab_gu[cu] + pre->tab_gv[cv]);
    b[x] = yuv_clip (ly + pre->tab_bu[cu]);
  }
}

static Rn50ChromaFilter
chroma_filter_linear (const Rn50Preprocessor * pre)
{
  return pre->chroma_h_cosited ? RN50_CHROMA_COSITED : RN50_CHROMA_CENTRED;
}

/* Returns the upsampled U and V of chroma row @k (cached, see above). */
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
    /* Rows are visited in increasing order: evict the older slot. */
    slot = pre->chroma_cache_row[0] < pre->chroma_cache_row[1] ? 0 : 1;
    if (pre->format == RN50_PIXEL_FORMAT_NV12) {
      Rn50ChromaFilter filter = chroma_filter_linear (pre);

      chroma_split_nv12 (pre, image->planes[1] + k * image->strides[1]);
      chroma_row_upsample (pre, pre->chroma_u8[0] - pre->chroma_begin,
          filter, pre->chroma_cache[slot][0]);
      chroma_row_upsample (pre, pre->chroma_u8[1] - pre->chroma_begin,
          filter, pre->chroma_cache[slot][1]);
    } else {
      /* I420 */
      chroma_row_upsample (pre, image->planes[1] + k * image->strides[1],
          RN50_CHROMA_REPLICATE, pre->chroma_cache[slot][0]);
      chroma_row_upsample (pre, image->planes[2] + k * image->strides[2],
          RN50_CHROMA_REPLICATE, pre->chroma_cache[slot][1]);
    }
    pre->chroma_cache_row[slot] = (gint) k;
  }
  *u = pre->chroma_cache[slot][0];
  *v = pre->chroma_cache[slot][1];
}

static void
convert_row_i420 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, guint8 * dst)
{
  const guint8 *luma = image->planes[0] + y * image->strides[0] +
      pre->col_begin;
  const gint16 *u, *v;

  chroma_row_get (pre, image, y / 2, &u, &v);
  yuv_row_to_rgb (pre, luma, u, v, u, v, 4, dst);
}

static void
convert_row_nv12 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, guint8 * dst)
{
  const Rn50ChromaTap *rt = &pre->chroma_row[y];
  const guint8 *luma = image->planes[0] + y * image->strides[0] +
      pre->col_begin;
  const gint16 *ua, *va, *ub, *vb;

  chroma_row_get (pre, image, rt->a, &ua, &va);
  chroma_row_get (pre, image, rt->b, &ub, &vb);
  yuv_row_to_rgb (pre, luma, ua, va, ub, vb, rt->wa, dst);
}

static void
convert_row_yuy2 (Rn50Preprocessor * pre, const Rn50ImageView * image,
    guint y, guint8 * dst)
{
  Rn50ChromaFilter filter = chroma_filter_linear (pre);
  gint16 *u = pre->chroma_cache[0][0], *v = pre->chroma_cache[0][1];

  split_yuy2 (pre, image->planes[0] + y * image->strides[0]);
  chroma_row_upsample (pre, pre->chroma_u8[0] - pre->chroma_begin, filter, u);
  chroma_row_upsample (pre, pre->chroma_u8[1] - pre->chroma_begin, filter, v);
  yuv_row_to_rgb (pre, pre->yuy2_luma, u, v, u, v, 4, dst);
}

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

/* Packed formats: bytes per pixel and where R, G and B are in a pixel. */
static void
set_packed_layout (Rn50Preprocessor * pre, guint bpp, guint ro, guint go,
    guint bo)
{
  pre->bpp = bpp;
  pre->comp_offset[0] = ro;
  pre->comp_offset[1] = go;
  pre->comp_offset[2] = bo;
}

static gboolean
setup_converter (Rn50Preprocessor * pre, const Rn50YuvMatrix * yuv,
    GError ** error)
{
  /* BT.601 limited range: what GStreamer assumes for SD YUV without
   * colorimetry, and the documented default of the API. */
  static const Rn50YuvMatrix bt601 = { 0.299, 0.114, FALSE };
  gsize cw = ((gsize) pre->width + 1) / 2;
  gsize n;
  guint i;

  switch (pre->format) {
    case RN50_PIXEL_FORMAT_RGB:
      set_packed_layout (pre, 3, 0, 1, 2);
      break;
    case RN50_PIXEL_FORMAT_BGR:
      set_packed_layout (pre, 3, 2, 1, 0);
      break;
    case RN50_PIXEL_FORMAT_RGBX:
    case RN50_PIXEL_FORMAT_RGBA:
      set_packed_layout (pre, 4, 0, 1, 2);
      break;
    case RN50_PIXEL_FORMAT_BGRX:
    case RN50_PIXEL_FORMAT_BGRA:
      set_packed_layout (pre, 4, 2, 1, 0);
      break;
    case RN50_PIXEL_FORMAT_XRGB:
    case RN50_PIXEL_FORMAT_ARGB:
      set_packed_layout (pre, 4, 1, 2, 3);
      break;
    case RN50_PIXEL_FORMAT_XBGR:
    case RN50_PIXEL_FORMAT_ABGR:
      set_packed_layout (pre, 4, 3, 2, 1);
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      set_packed_layout (pre, 1, 0, 0, 0);
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

  if (pre->bpp != 0) {
    pre->col_begin = pre->h.src_begin;
    pre->n_cols = pre->h.src_end - pre->col_begin;
    return TRUE;
  }

  if (!setup_yuv_tables (pre, yuv != NULL ? yuv : &bt601, error))
    return FALSE;

  /* Start on a chroma sample; the chroma filters read one sample beyond
   * each end of the converted columns. */
  pre->col_begin = pre->h.src_begin & ~1u;
  pre->n_cols = pre->h.src_end - pre->col_begin;
  pre->chroma_begin = pre->col_begin / 2 > 0 ? pre->col_begin / 2 - 1 : 0;
  pre->chroma_end = MIN ((pre->h.src_end + 1) / 2 + 1, cw);
  n = pre->n_cols + RN50_ROW_SLACK;
  for (i = 0; i < 2; i++) {
    pre->chroma_cache[i][0] = g_new0 (gint16, n);
    pre->chroma_cache[i][1] = g_new0 (gint16, n);
    pre->chroma_u8[i] = g_new0 (guint8, pre->chroma_end - pre->chroma_begin
        + RN50_ROW_SLACK);
  }
  if (pre->format == RN50_PIXEL_FORMAT_YUY2)
    pre->yuy2_luma = g_new0 (guint8, n);
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
  guint i, n_pairs;

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

    /* (v * scale - mean) / std, folded into one multiply-add; v comes as
     * a fixed-point sum, v × 2^21 */
    pre->mul[i] = (float) ((double) config->scale / config->std[p] /
        (double) (1 << RN50_SUM_BITS));
    pre->add[i] = (float) (-(double) config->mean[p] / config->std[p]);
  }

  setup_geometry (pre);

  if (!setup_converter (pre, yuv, error))
    goto fail;

  pre->plane_stride = ((gsize) pre->n_cols + 15) / 16 * 16;
  pre->window = g_new (const guint8 *, pre->v.ksize + 1);
  n_pairs = (pre->v.ksize + 1) / 2;
  pre->v_pairs = g_new0 (gint32, (gsize) pre->v.n_out * n_pairs);
  for (i = 0; i < pre->v.n_out; i++) {
    const gint16 *w = pre->v.weights + (gsize) i * pre->v.ksize;
    guint k;

    for (k = 0; k < pre->v.count[i]; k++)
      pre->v_pairs[(gsize) i * n_pairs + k / 2] |=
          (gint32) ((guint32) (guint16) w[k] << (16 * (k % 2)));
  }
  /* zeroed: the horizontal pass reads (at weight 0) past n_cols */
  pre->hrow = g_new0 (gint16, 3 * pre->plane_stride + pre->h.ksize);
  if (pre->bpp != 0) {
    pre->vrow = g_new (gint16, (gsize) pre->n_cols * pre->bpp);
  } else {
    /* Each output row needs at most v.ksize consecutive source rows, and
     * windows only move forward: a ring of that many rows is enough.
     * Zeroed: the vertical pass also filters the padding of each plane. */
    pre->ring_rows = pre->v.ksize;
    pre->ring = g_new0 (guint8, (gsize) pre->ring_rows * 3 *
        pre->plane_stride);
  }

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
    g_free (pre->chroma_u8[i]);
  }
  g_free (pre->yuy2_luma);
  g_free (pre->ring);
  g_free (pre->window);
  g_free (pre->v_pairs);
  g_free (pre->vrow);
  g_free (pre->hrow);
  g_free (pre);
}

/* ------------------------------------------------------------------------ */
/* Running */

/* out[x] = (Σ_k w[k] rows[k][x] + 2^6) >> 7 for x < @n: 8-bit samples to
 * 16-bit values with 7 fractional bits. SSE2: pmaddwd on (row k, row
 * k + 1) sample pairs, 16 columns per block, with @pairs the weights of
 * each pair in one 32-bit word; an odd count has its last row repeated in
 * rows[count] at weight 0. */
static void
vertical_pass (const guint8 * const *rows, const gint16 * w,
    const gint32 * pairs, guint count, guint n, gint16 * out)
{
  const gint32 round = 1 << (RN50_VERTICAL_SHIFT - 1);
  guint x = 0, k;

#if RN50_SSE2
  {
    const __m128i zero = _mm_setzero_si128 ();
    const __m128i vround = _mm_set1_epi32 (round);
    guint n_pairs = (count + 1) / 2;

    for (; x + 16 <= n; x += 16) {
      __m128i a0 = vround, a1 = vround, a2 = vround, a3 = vround;

      for (k = 0; k < n_pairs; k++) {
        __m128i p = _mm_loadu_si128 ((const __m128i *) (rows[2 * k] + x));
        __m128i q = _mm_loadu_si128 ((const __m128i *) (rows[2 * k + 1] + x));
        __m128i wk = _mm_set1_epi32 (pairs[k]);
        __m128i lo = _mm_unpacklo_epi8 (p, q), hi = _mm_unpackhi_epi8 (p, q);

        a0 = _mm_add_epi32 (a0, _mm_madd_epi16 (_mm_unpacklo_epi8 (lo, zero),
                wk));
        a1 = _mm_add_epi32 (a1, _mm_madd_epi16 (_mm_unpackhi_epi8 (lo, zero),
                wk));
        a2 = _mm_add_epi32 (a2, _mm_madd_epi16 (_mm_unpacklo_epi8 (hi, zero),
                wk));
        a3 = _mm_add_epi32 (a3, _mm_madd_epi16 (_mm_unpackhi_epi8 (hi, zero),
                wk));
      }
      a0 = _mm_srai_epi32 (a0, RN50_VERTICAL_SHIFT);
      a1 = _mm_srai_epi32 (a1, RN50_VERTICAL_SHIFT);
      a2 = _mm_srai_epi32 (a2, RN50_VERTICAL_SHIFT);
      a3 = _mm_srai_epi32 (a3, RN50_VERTICAL_SHIFT);
      _mm_storeu_si128 ((__m128i *) (out + x), _mm_packs_epi32 (a0, a1));
      _mm_storeu_si128 ((__m128i *) (out + x + 8), _mm_packs_epi32 (a2, a3));
    }
  }
#else
  (void) pairs;
#endif
  for (; x < n; x++) {
    gint32 acc = round;

    for (k = 0; k < count; k++)
      acc += w[k] * rows[k][x];
    out[x] = (gint16) (acc >> RN50_VERTICAL_SHIFT);
  }
}

/* Packed formats: the vertically filtered row (n_cols pixels of bpp
 * values) into the R, G and B planes of hrow. Constant @bpp and offsets
 * (the callers below) give one tight loop per layout. */
static inline __attribute__((always_inline))
void
split_planes (const Rn50Preprocessor * pre, guint bpp, guint ro, guint go,
    guint bo)
{
  const gint16 *s = pre->vrow;
  gint16 *r = pre->hrow, *g = r + pre->plane_stride, *b = g +
      pre->plane_stride;
  guint n = pre->n_cols, x = 0;

#if RN50_SSE2
  if (bpp == 4) {
    /* 8 pixels: two rounds of 16-bit unpacks turn (c0 c1 c2 c3) × 8 into
     * one vector per byte position */
    for (; x + 8 <= n; x += 8, s += 32) {
      __m128i p0 = _mm_loadu_si128 ((const __m128i *) s);
      __m128i p1 = _mm_loadu_si128 ((const __m128i *) (s + 8));
      __m128i p2 = _mm_loadu_si128 ((const __m128i *) (s + 16));
      __m128i p3 = _mm_loadu_si128 ((const __m128i *) (s + 24));
      /* (pixel 0 2 | 1 3) then (4 6 | 5 7), position-major */
      __m128i a0 = _mm_unpacklo_epi16 (p0, p1), a1 = _mm_unpackhi_epi16 (p0,
          p1);
      __m128i a2 = _mm_unpacklo_epi16 (p2, p3), a3 = _mm_unpackhi_epi16 (p2,
          p3);
      /* c0 c1 of pixels 0-3 / c2 c3 of pixels 0-3, and of 4-7 */
      __m128i b0 = _mm_unpacklo_epi16 (a0, a1), b1 = _mm_unpackhi_epi16 (a0,
          a1);
      __m128i b2 = _mm_unpacklo_epi16 (a2, a3), b3 = _mm_unpackhi_epi16 (a2,
          a3);
      __m128i c[4];

      c[0] = _mm_unpacklo_epi64 (b0, b2);
      c[1] = _mm_unpackhi_epi64 (b0, b2);
      c[2] = _mm_unpacklo_epi64 (b1, b3);
      c[3] = _mm_unpackhi_epi64 (b1, b3);
      _mm_storeu_si128 ((__m128i *) (r + x), c[ro]);
      _mm_storeu_si128 ((__m128i *) (g + x), c[go]);
      _mm_storeu_si128 ((__m128i *) (b + x), c[bo]);
    }
  }
#endif
  for (; x < n; x++, s += bpp) {
    r[x] = s[ro];
    g[x] = s[go];
    b[x] = s[bo];
  }
}

static void
split_packed_row (const Rn50Preprocessor * pre)
{
  const guint *o = pre->comp_offset;

  switch (pre->bpp) {
    case 1:
      split_planes (pre, 1, 0, 0, 0);
      break;
    case 3:
      if (o[0] == 0)
        split_planes (pre, 3, 0, 1, 2);
      else
        split_planes (pre, 3, 2, 1, 0);
      break;
    default:
      if (o[0] == 0 && o[2] == 2)
        split_planes (pre, 4, 0, 1, 2);
      else if (o[0] == 2)
        split_planes (pre, 4, 2, 1, 0);
      else if (o[0] == 1)
        split_planes (pre, 4, 1, 2, 3);
      else
        split_planes (pre, 4, 3, 2, 1);
      break;
  }
}

#if RN50_SSE2
/* Four outputs of the horizontal pass: lane j of the result is
 * Σ_k w[(i + j) ksize + k] src[first[i + j] + k], @ksize taps (a multiple
 * of 8: a constant at the calls below, so the tap loop unrolls). */
static inline __attribute__((always_inline))
__m128i
horizontal4_sse2 (const gint16 * base, const guint * first,
    const gint16 * weights, guint ksize)
{
  __m128i acc[4], s01, s23;
  guint j, k;

  for (j = 0; j < 4; j++) {
    const gint16 *s = base + first[j];
    const gint16 *w = weights + j * ksize;
    __m128i a = _mm_madd_epi16 (_mm_loadu_si128 ((const __m128i *) s),
        _mm_load_si128 ((const __m128i *) w));

    for (k = 8; k < ksize; k += 8)
      a = _mm_add_epi32 (a, _mm_madd_epi16 (_mm_loadu_si128 ((const __m128i *)
                  (s + k)), _mm_load_si128 ((const __m128i *) (w + k))));
    acc[j] = a;
  }
  /* transpose-add: lane j of the sum = the four lanes of acc[j] added */
  s01 = _mm_add_epi32 (_mm_unpacklo_epi32 (acc[0], acc[1]),
      _mm_unpackhi_epi32 (acc[0], acc[1]));
  s23 = _mm_add_epi32 (_mm_unpacklo_epi32 (acc[2], acc[3]),
      _mm_unpackhi_epi32 (acc[2], acc[3]));
  return _mm_add_epi32 (_mm_unpacklo_epi64 (s01, s23),
      _mm_unpackhi_epi64 (s01, s23));
}
#endif

/* One tensor row of one component: out[i] = (Σ_k w_ik src[first_i + k]) ×
 * mul + add. The weight blocks are whole (h.ksize, a multiple of 8, zero
 * past each window), so SSE2 runs 8 taps per pmaddwd and sums 4 outputs
 * at once; 8 and 16 taps (downscaling by up to 2 and up to 6) get their
 * own unrolled loops. */
static void
horizontal_pass (const Rn50Preprocessor * pre, const gint16 * src, float mul,
    float add, float *out)
{
  const Rn50FilterAxis *h = &pre->h;
  const gint16 *base = src - pre->col_begin;
  guint n_out = pre->content_width, ksize = h->ksize, i = 0, k;

#if RN50_SSE2
  {
    const __m128 vmul = _mm_set1_ps (mul), vadd = _mm_set1_ps (add);

#define RN50_HORIZONTAL_LOOP(taps)                                      \
    for (; i + 4 <= n_out; i += 4) {                                    \
      __m128i sum = horizontal4_sse2 (base, h->first + i,               \
          h->weights + (gsize) i * (taps), (taps));                     \
      _mm_storeu_ps (out + i, _mm_add_ps (_mm_mul_ps                    \
              (_mm_cvtepi32_ps (sum), vmul), vadd));                    \
    }
    if (ksize == 8) {
      RN50_HORIZONTAL_LOOP (8);
    } else if (ksize == 16) {
      RN50_HORIZONTAL_LOOP (16);
    } else {
      RN50_HORIZONTAL_LOOP (ksize);
    }
#undef RN50_HORIZONTAL_LOOP
  }
#endif
  for (; i < n_out; i++) {
    const gint16 *s = base + h->first[i];
    const gint16 *w = h->weights + (gsize) i * ksize;
    gint32 acc = 0;

    for (k = 0; k < h->count[i]; k++)
      acc += w[k] * s[k];
    out[i] = (float) acc * mul + add;
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
  guint out_w, next_row, oy, k, c;
  gsize plane_size, ring_row_bytes;

  g_return_if_fail (pre != NULL);
  g_return_if_fail (image != NULL);
  g_return_if_fail (tensor != NULL);
  g_return_if_fail (image_matches (pre, image));

  v = &pre->v;
  out_w = pre->config.out_width;
  plane_size = out_w * (gsize) pre->config.out_height;
  ring_row_bytes = 3 * pre->plane_stride;
  pre->chroma_cache_row[0] = pre->chroma_cache_row[1] = -1;

  fill_padding (pre, tensor);

  next_row = v->src_begin;
  for (oy = 0; oy < pre->content_height; oy++) {
    guint first = v->first[oy], count = v->count[oy];
    const gint16 *w = v->weights + (gsize) oy * v->ksize;
    const gint32 *pairs = pre->v_pairs + (gsize) oy * ((v->ksize + 1) / 2);
    gsize row_offset = (gsize) (oy + pre->content_y) * out_w + pre->content_x;

    if (pre->bpp != 0) {
      /* Packed: filter the frame's own rows, then split the components. */
      const guint8 *row0 = image->planes[0] + pre->col_begin * pre->bpp;

      for (k = 0; k < count; k++)
        pre->window[k] = row0 + (gsize) (first + k) * image->strides[0];
      pre->window[count] = pre->window[count - 1];
      vertical_pass (pre->window, w, pairs, count, pre->n_cols * pre->bpp,
          pre->vrow);
      split_packed_row (pre);
    } else {
      /* YUV: convert the rows of this window not converted yet (windows
       * never move backwards, so each source row is converted once), then
       * filter the three planes of the ring rows as one row. */
      if (next_row < first)
        next_row = first;
      for (; next_row < first + count; next_row++)
        pre->convert_row (pre, image, next_row, pre->ring +
            (gsize) (next_row % pre->ring_rows) * ring_row_bytes);
      for (k = 0; k < count; k++)
        pre->window[k] = pre->ring + (gsize) ((first + k) % pre->ring_rows)
            * ring_row_bytes;
      pre->window[count] = pre->window[count - 1];
      vertical_pass (pre->window, w, pairs, count, (guint) ring_row_bytes,
          pre->hrow);
    }

    for (c = 0; c < 3; c++)
      horizontal_pass (pre, pre->hrow + c * pre->plane_stride, pre->mul[c],
          pre->add[c], tensor + pre->plane_of[c] * plane_size + row_offset);
  }
}
