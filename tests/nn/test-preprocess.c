/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nn/preprocess.c with hand-computed expectations: the
 * uniform-colour values of case 1 for every packed format and both presets,
 * GRAY8, solid YUV colours against values measured on GStreamer 1.22's
 * videoconvert and the textbook BT.601/BT.709 formulas, tiny and odd frame
 * sizes in every format, the resize geometry of case 4 (antialiased stripes,
 * crop/stretch/letterbox of a bordered frame) and invalid settings. Parity
 * with PIL/torchvision on real images is checked by preprocess-parity.py. */
#include <math.h>
#include <string.h>

#include "preprocess.h"

#define OUT 224

/* Case 1: R=32, G=64, B=128 with the torchvision preset:
 * (32/255 - 0.485) / 0.229 = -1.569910, (64/255 - 0.456) / 0.224 = -0.915266,
 * (128/255 - 0.406) / 0.225 = 0.426492. Caffe (B, G, R planes, 0–255 minus
 * mean): 128 - 103.939 = 24.061, 64 - 116.779 = -52.779, 32 - 123.68 =
 * -91.68. */
static const float case1_torchvision[3] = { -1.56991f, -0.91527f, 0.42649f };
static const float case1_caffe[3] = { 24.061f, -52.779f, -91.68f };

/* ------------------------------------------------------------------------ */
/* Frames written byte by byte from the format definitions (independent of
 * the converter under test), with row padding so strides are exercised. */

typedef struct
{
  Rn50PixelFormat format;
  const char *name;
  guint bpp;                    /* packed formats: bytes per pixel */
  gint r, g, b;                 /* byte offsets of R, G, B; -1 for YUV/GRAY */
} FormatInfo;

static const FormatInfo packed_formats[] = {
  {RN50_PIXEL_FORMAT_RGB, "RGB", 3, 0, 1, 2},
  {RN50_PIXEL_FORMAT_BGR, "BGR", 3, 2, 1, 0},
  {RN50_PIXEL_FORMAT_RGBX, "RGBx", 4, 0, 1, 2},
  {RN50_PIXEL_FORMAT_BGRX, "BGRx", 4, 2, 1, 0},
  {RN50_PIXEL_FORMAT_XRGB, "xRGB", 4, 1, 2, 3},
  {RN50_PIXEL_FORMAT_XBGR, "xBGR", 4, 3, 2, 1},
  {RN50_PIXEL_FORMAT_RGBA, "RGBA", 4, 0, 1, 2},
  {RN50_PIXEL_FORMAT_BGRA, "BGRA", 4, 2, 1, 0},
  {RN50_PIXEL_FORMAT_ARGB, "ARGB", 4, 1, 2, 3},
  {RN50_PIXEL_FORMAT_ABGR, "ABGR", 4, 3, 2, 1},
};

static const Rn50PixelFormat yuv_formats[] = {
  RN50_PIXEL_FORMAT_I420, RN50_PIXEL_FORMAT_NV12, RN50_PIXEL_FORMAT_YUY2,
};

typedef struct
{
  guint8 *data;
  Rn50ImageView view;
} TestFrame;

typedef void (*RgbFunc) (guint x, guint y, guint8 rgb[3], gpointer user);

#define ROW_PAD 13              /* odd on purpose: strides need no alignment */

static TestFrame *
test_frame_new (Rn50PixelFormat format, guint w, guint h)
{
  TestFrame *f = g_new0 (TestFrame, 1);
  gsize cw = (w + 1) / 2, ch = (h + 1) / 2;
  gsize size[3] = { 0, 0, 0 };
  guint i;

  f->view.format = format;
  f->view.width = w;
  f->view.height = h;
  switch (format) {
    case RN50_PIXEL_FORMAT_I420:
      f->view.strides[0] = w + ROW_PAD;
      f->view.strides[1] = f->view.strides[2] = cw + ROW_PAD;
      size[0] = f->view.strides[0] * h;
      size[1] = size[2] = f->view.strides[1] * ch;
      break;
    case RN50_PIXEL_FORMAT_NV12:
      f->view.strides[0] = w + ROW_PAD;
      f->view.strides[1] = 2 * cw + ROW_PAD;
      size[0] = f->view.strides[0] * h;
      size[1] = f->view.strides[1] * ch;
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      f->view.strides[0] = 4 * cw + ROW_PAD;
      size[0] = f->view.strides[0] * h;
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      f->view.strides[0] = w + ROW_PAD;
      size[0] = f->view.strides[0] * h;
      break;
    default:
      for (i = 0; i < G_N_ELEMENTS (packed_formats); i++)
        if (packed_formats[i].format == format)
          f->view.strides[0] = packed_formats[i].bpp * (gsize) w + ROW_PAD;
      size[0] = f->view.strides[0] * h;
      break;
  }
  /* One allocation per plane, exactly sized, so that AddressSanitizer
   * catches any read past a plane. Padding bytes hold garbage (0xAB). */
  for (i = 0; i < 3; i++) {
    if (size[i] == 0)
      continue;
    f->view.planes[i] = g_malloc (size[i]);
    memset ((guint8 *) f->view.planes[i], 0xab, size[i]);
  }
  f->data = (guint8 *) f->view.planes[0];
  return f;
}

static void
test_frame_free (TestFrame * f)
{
  guint i;

  for (i = 0; i < 3; i++)
    g_free ((gpointer) f->view.planes[i]);
  g_free (f);
}

static const FormatInfo *
packed_info (Rn50PixelFormat format)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (packed_formats); i++)
    if (packed_formats[i].format == format)
      return &packed_formats[i];
  return NULL;
}

/* Packed RGB (alpha/padding bytes 0x55) or GRAY8 (from the R value). */
static void
test_frame_fill_rgb (TestFrame * f, RgbFunc func, gpointer user)
{
  const FormatInfo *info = packed_info (f->view.format);
  guint x, y;

  for (y = 0; y < f->view.height; y++) {
    guint8 *row = (guint8 *) f->view.planes[0] + y * f->view.strides[0];

    for (x = 0; x < f->view.width; x++) {
      guint8 rgb[3];

      func (x, y, rgb, user);
      if (info == NULL) {
        row[x] = rgb[0];
        continue;
      }
      if (info->bpp == 4)
        memset (row + x * 4, 0x55, 4);
      row[x * info->bpp + info->r] = rgb[0];
      row[x * info->bpp + info->g] = rgb[1];
      row[x * info->bpp + info->b] = rgb[2];
    }
  }
}

static void
test_frame_fill_yuv (TestFrame * f, guint8 y_val, guint8 u_val, guint8 v_val)
{
  guint w = f->view.width, h = f->view.height;
  guint cw = (w + 1) / 2, ch = (h + 1) / 2;
  guint x, y;
  guint8 *row;

  switch (f->view.format) {
    case RN50_PIXEL_FORMAT_I420:
      for (y = 0; y < h; y++)
        memset ((guint8 *) f->view.planes[0] + y * f->view.strides[0], y_val,
            w);
      for (y = 0; y < ch; y++) {
        memset ((guint8 *) f->view.planes[1] + y * f->view.strides[1], u_val,
            cw);
        memset ((guint8 *) f->view.planes[2] + y * f->view.strides[2], v_val,
            cw);
      }
      break;
    case RN50_PIXEL_FORMAT_NV12:
      for (y = 0; y < h; y++)
        memset ((guint8 *) f->view.planes[0] + y * f->view.strides[0], y_val,
            w);
      for (y = 0; y < ch; y++) {
        row = (guint8 *) f->view.planes[1] + y * f->view.strides[1];
        for (x = 0; x < cw; x++) {
          row[2 * x] = u_val;
          row[2 * x + 1] = v_val;
        }
      }
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      for (y = 0; y < h; y++) {
        row = (guint8 *) f->view.planes[0] + y * f->view.strides[0];
        for (x = 0; x < cw; x++) {
          row[4 * x] = y_val;
          row[4 * x + 1] = u_val;
          row[4 * x + 2] = y_val;
          row[4 * x + 3] = v_val;
        }
      }
      break;
    default:
      g_assert_not_reached ();
  }
}

static void
solid_rgb (guint x, guint y, guint8 rgb[3], gpointer user)
{
  const guint8 *c = user;

  rgb[0] = c[0];
  rgb[1] = c[1];
  rgb[2] = c[2];
}

/* A config that leaves pixel values untouched (0–255, no normalization),
 * for geometry and colour checks. */
static void
config_init_raw (Rn50PreprocessConfig * config, Rn50ResizeMode mode)
{
  guint i;

  rn50_preprocess_config_init_torchvision (config, OUT, OUT);
  config->resize_mode = mode;
  config->scale = 1.0f;
  for (i = 0; i < 3; i++) {
    config->mean[i] = 0.0f;
    config->std[i] = 1.0f;
  }
}

static float *
run_preprocess (const Rn50PreprocessConfig * config, const TestFrame * f,
    const Rn50YuvMatrix * yuv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Preprocessor) pre = NULL;
  gsize n = 3 * (gsize) config->out_width * config->out_height;
  float *tensor = g_new (float, n);
  gsize i;

  /* NaN everywhere first: any value the preprocessor forgets to write
   * fails the checks below. */
  for (i = 0; i < n; i++)
    tensor[i] = NAN;
  pre = rn50_preprocessor_new (config, f->view.format, f->view.width,
      f->view.height, yuv, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pre);
  rn50_preprocessor_run (pre, &f->view, tensor);
  return tensor;
}

/* Every value of plane @p within @tol of @expected. */
static void
assert_plane_uniform (const float *tensor, guint w, guint h, guint p,
    float expected, float tol)
{
  const float *plane = tensor + (gsize) p * w * h;
  gsize i;

  for (i = 0; i < (gsize) w * h; i++) {
    if (!(fabsf (plane[i] - expected) <= tol))
      g_error ("plane %u value %" G_GSIZE_FORMAT " (x %" G_GSIZE_FORMAT
          ", y %" G_GSIZE_FORMAT "): %.6f, expected %.6f ± %g", p, i, i % w,
          i / w, plane[i], expected, tol);
  }
}

/* ------------------------------------------------------------------------ */
/* Case 1 and 2: channel order and normalization */

static void
test_uniform_color_gives_case1_values_in_every_packed_format (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  g_autofree float *first = NULL;
  guint i, p;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  for (i = 0; i < G_N_ELEMENTS (packed_formats); i++) {
    TestFrame *f = test_frame_new (packed_formats[i].format, 64, 48);
    float *tensor;

    g_test_message ("format %s", packed_formats[i].name);
    test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
    tensor = run_preprocess (&config, f, NULL);
    for (p = 0; p < 3; p++)
      assert_plane_uniform (tensor, OUT, OUT, p, case1_torchvision[p], 1e-5f);
    /* identical tensors whatever the byte order of the input */
    if (first == NULL)
      first = tensor;
    else {
      g_assert_cmpmem (tensor, sizeof (float) * 3 * OUT * OUT, first,
          sizeof (float) * 3 * OUT * OUT);
      g_free (tensor);
    }
    test_frame_free (f);
  }
}

static void
test_caffe_preset_gives_bgr_planes_minus_means (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  guint i, p;

  rn50_preprocess_config_init_caffe (&config, OUT, OUT);
  g_assert_true (config.bgr);
  for (i = 0; i < G_N_ELEMENTS (packed_formats); i++) {
    TestFrame *f = test_frame_new (packed_formats[i].format, 64, 48);
    g_autofree float *tensor = NULL;

    g_test_message ("format %s", packed_formats[i].name);
    test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
    tensor = run_preprocess (&config, f, NULL);
    for (p = 0; p < 3; p++)
      assert_plane_uniform (tensor, OUT, OUT, p, case1_caffe[p], 1e-4f);
    test_frame_free (f);
  }
}

static void
test_mean_override_changes_only_plane_2 (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 64, 48);
  g_autofree float *tensor = NULL;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  config.mean[2] = 0.5f;        /* (128/255 - 0.5) / 0.225 = 0.0087146 */
  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  tensor = run_preprocess (&config, f, NULL);
  assert_plane_uniform (tensor, OUT, OUT, 0, case1_torchvision[0], 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 1, case1_torchvision[1], 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 2, 0.0087146f, 1e-5f);
  test_frame_free (f);
}

static void
test_std_override_divides_its_own_plane (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_BGRX, 64, 48);
  g_autofree float *tensor = NULL;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  config.std[0] = 0.5f;         /* (32/255 - 0.485) / 0.5 = -0.719020 */
  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  tensor = run_preprocess (&config, f, NULL);
  assert_plane_uniform (tensor, OUT, OUT, 0, -0.719020f, 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 1, case1_torchvision[1], 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 2, case1_torchvision[2], 1e-5f);
  test_frame_free (f);
}

static void
test_gray8_copies_luma_into_all_planes (void)
{
  static const guint8 color[3] = { 100, 0, 0 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_GRAY8, 50, 30);
  g_autofree float *raw = NULL, *tensor = NULL;
  guint p;

  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  config_init_raw (&config, RN50_RESIZE_CENTER_CROP);
  raw = run_preprocess (&config, f, NULL);
  for (p = 0; p < 3; p++)
    assert_plane_uniform (raw, OUT, OUT, p, 100.0f, 1e-4f);

  /* (100/255 - 0.485) / 0.229 = -0.405429, (100/255 - 0.456) / 0.224 =
   * -0.285014, (100/255 - 0.406) / 0.225 = -0.061525 */
  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  tensor = run_preprocess (&config, f, NULL);
  assert_plane_uniform (tensor, OUT, OUT, 0, -0.405429f, 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 1, -0.285014f, 1e-5f);
  assert_plane_uniform (tensor, OUT, OUT, 2, -0.061525f, 1e-5f);
  test_frame_free (f);
}

/* ------------------------------------------------------------------------ */
/* YUV */

typedef struct
{
  guint8 y, u, v;
  Rn50YuvMatrix matrix;
  const char *what;
  /* What GStreamer 1.22's videoconvert outputs for this solid frame
   * ("appsrc caps=...,colorimetry=bt601|bt709|1:4:0:0 ! videoconvert !
   * video/x-raw,format=RGB"), read off its buffers. */
  guint8 videoconvert[3];
  /* The textbook value, R'G'B' = M (Y' - offset), hand-computed with
   * Kr/Kb and 219/224 (limited) or 255 (full) scaling, clipped. */
  float textbook[3];
} YuvCase;

static const YuvCase yuv_cases[] = {
  /* BT.601 limited: 1.16438 (Y-16) + 1.59603 (V-128), etc. */
  {81, 90, 240, {0.299, 0.114, FALSE}, "BT.601 limited red", {253, 0, 0},
      {254.4f, 0.0f, 0.0f}},
  {145, 54, 34, {0.299, 0.114, FALSE}, "BT.601 limited green", {0, 250, 0},
      {0.2f, 255.0f, 0.9f}},
  {41, 240, 110, {0.299, 0.114, FALSE}, "BT.601 limited blue", {0, 0, 253},
      {0.4f, 0.0f, 255.0f}},
  {128, 100, 150, {0.299, 0.114, FALSE}, "BT.601 limited brown",
      {163, 120, 73}, {165.5f, 123.5f, 73.9f}},
  /* mid-grey: videoconvert expands limited luma around 128, not 16 */
  {128, 128, 128, {0.299, 0.114, FALSE}, "BT.601 limited grey",
      {128, 128, 128}, {130.4f, 130.4f, 130.4f}},
  /* BT.709 limited: 1.16438 (Y-16) + 1.79274 (V-128), ... */
  {81, 90, 240, {0.2126, 0.0722, FALSE}, "BT.709 limited", {255, 21, 0},
      {255.0f, 24.1f, 0.0f}},
  {145, 54, 34, {0.2126, 0.0722, FALSE}, "BT.709 limited", {0, 211, 0},
      {0.0f, 216.1f, 0.0f}},
  {128, 100, 150, {0.2126, 0.0722, FALSE}, "BT.709 limited",
      {167, 121, 70}, {169.9f, 124.7f, 71.3f}},
  /* BT.601 full range: Y + 1.402 (V-128), ... */
  {81, 90, 240, {0.299, 0.114, TRUE}, "BT.601 full", {238, 12, 15},
      {238.0f, 14.1f, 13.7f}},
  {41, 240, 110, {0.299, 0.114, TRUE}, "BT.601 full", {17, 14, 240},
      {15.8f, 15.3f, 239.5f}},
  {128, 100, 150, {0.299, 0.114, TRUE}, "BT.601 full", {158, 121, 79},
      {158.8f, 121.9f, 78.4f}},
};

static void
test_yuv_solid_colors_match_videoconvert_and_textbook (void)
{
  Rn50PreprocessConfig config;
  guint c, i, p;

  config_init_raw (&config, RN50_RESIZE_CENTER_CROP);
  for (c = 0; c < G_N_ELEMENTS (yuv_cases); c++) {
    const YuvCase *yc = &yuv_cases[c];

    for (i = 0; i < G_N_ELEMENTS (yuv_formats); i++) {
      TestFrame *f = test_frame_new (yuv_formats[i], 64, 48);
      g_autofree float *tensor = NULL;

      g_test_message ("%s Y=%u U=%u V=%u, format %d", yc->what, yc->y, yc->u,
          yc->v, yuv_formats[i]);
      test_frame_fill_yuv (f, yc->y, yc->u, yc->v);
      tensor = run_preprocess (&config, f, &yc->matrix);
      for (p = 0; p < 3; p++) {
        /* exactly videoconvert's 8-bit result */
        assert_plane_uniform (tensor, OUT, OUT, p, yc->videoconvert[p], 1e-3f);
        /* and the textbook formula up to videoconvert's fixed-point
         * shortcuts (dropped luma offset, 8-bit coefficients, floors):
         * measured up to 5.6 levels on saturated colours */
        assert_plane_uniform (tensor, OUT, OUT, p, yc->textbook[p], 6.0f);
      }
      test_frame_free (f);
    }
  }
}

static void
test_yuv_without_matrix_defaults_to_bt601_limited (void)
{
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_NV12, 20, 10);
  g_autofree float *tensor = NULL;

  config_init_raw (&config, RN50_RESIZE_STRETCH);
  test_frame_fill_yuv (f, 128, 100, 150);
  tensor = run_preprocess (&config, f, NULL);
  assert_plane_uniform (tensor, OUT, OUT, 0, 163.0f, 1e-3f);
  assert_plane_uniform (tensor, OUT, OUT, 1, 120.0f, 1e-3f);
  assert_plane_uniform (tensor, OUT, OUT, 2, 73.0f, 1e-3f);
  test_frame_free (f);
}

/* ------------------------------------------------------------------------ */
/* Sizes */

static void
test_tiny_and_odd_sizes_work_in_every_format (void)
{
  static const guint sizes[][2] = {
    {1, 1}, {2, 1}, {1, 2}, {3, 3}, {2, 2}, {321, 241}, {241, 321}, {224, 224},
    {225, 223}, {7, 5}, {1, 500}, {500, 1},
  };
  static const guint8 color[3] = { 32, 64, 128 };
  static const Rn50ResizeMode modes[] = {
    RN50_RESIZE_CENTER_CROP, RN50_RESIZE_STRETCH, RN50_RESIZE_LETTERBOX,
  };
  Rn50PreprocessConfig config;
  guint s, i, m, p;

  for (s = 0; s < G_N_ELEMENTS (sizes); s++) {
    guint w = sizes[s][0], h = sizes[s][1];

    for (m = 0; m < G_N_ELEMENTS (modes); m++) {
      rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
      config.resize_mode = modes[m];

      for (i = 0; i < G_N_ELEMENTS (packed_formats); i++) {
        TestFrame *f = test_frame_new (packed_formats[i].format, w, h);
        g_autofree float *tensor = NULL;

        test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
        tensor = run_preprocess (&config, f, NULL);
        if (modes[m] != RN50_RESIZE_LETTERBOX)
          for (p = 0; p < 3; p++)
            assert_plane_uniform (tensor, OUT, OUT, p, case1_torchvision[p],
                1e-5f);
        else
          for (p = 0; p < 3 * OUT * OUT; p++)
            g_assert_true (isfinite (tensor[p]));
        test_frame_free (f);
      }

      for (i = 0; i < G_N_ELEMENTS (yuv_formats); i++) {
        TestFrame *f = test_frame_new (yuv_formats[i], w, h);
        g_autofree float *tensor = NULL;
        Rn50PreprocessConfig raw;

        config_init_raw (&raw, modes[m]);
        test_frame_fill_yuv (f, 128, 100, 150);
        tensor = run_preprocess (&raw, f, NULL);
        if (modes[m] != RN50_RESIZE_LETTERBOX) {
          assert_plane_uniform (tensor, OUT, OUT, 0, 163.0f, 1e-3f);
          assert_plane_uniform (tensor, OUT, OUT, 1, 120.0f, 1e-3f);
          assert_plane_uniform (tensor, OUT, OUT, 2, 73.0f, 1e-3f);
        } else {
          for (p = 0; p < 3 * OUT * OUT; p++)
            g_assert_true (isfinite (tensor[p]));
        }
        test_frame_free (f);
      }

      {
        static const guint8 grey[3] = { 77, 0, 0 };
        TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_GRAY8, w, h);
        g_autofree float *tensor = NULL;
        Rn50PreprocessConfig raw;

        config_init_raw (&raw, modes[m]);
        test_frame_fill_rgb (f, solid_rgb, (gpointer) grey);
        tensor = run_preprocess (&raw, f, NULL);
        if (modes[m] != RN50_RESIZE_LETTERBOX)
          for (p = 0; p < 3; p++)
            assert_plane_uniform (tensor, OUT, OUT, p, 77.0f, 1e-3f);
        test_frame_free (f);
      }
    }
  }
}

static void
test_large_frame_8192_is_accepted (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_GRAY8, 8192, 8192);
  g_autofree float *tensor = NULL;
  guint p;

  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  config_init_raw (&config, RN50_RESIZE_CENTER_CROP);
  tensor = run_preprocess (&config, f, NULL);
  for (p = 0; p < 3; p++)
    assert_plane_uniform (tensor, OUT, OUT, p, 32.0f, 1e-3f);
  test_frame_free (f);
}

static void
test_non_square_output_is_filled (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 640, 480);
  g_autofree float *tensor = NULL;
  guint p;

  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  rn50_preprocess_config_init_torchvision (&config, 300, 200);
  tensor = run_preprocess (&config, f, NULL);
  for (p = 0; p < 3; p++)
    assert_plane_uniform (tensor, 300, 200, p, case1_torchvision[p], 1e-5f);
  test_frame_free (f);
}

/* ------------------------------------------------------------------------ */
/* Case 4: geometry */

static void
stripes (guint x, guint y, guint8 rgb[3], gpointer user)
{
  rgb[0] = rgb[1] = rgb[2] = (x % 2) ? 255 : 0;
}

/* Case 4 (a): 1-px black/white stripes must average out when shrinking
 * (an unfiltered bilinear would pick mostly black or mostly white). Where a
 * window is cut by the frame edge PIL renormalizes the remaining weights:
 * for stretch and letterbox the outermost columns come out at 123 and 132
 * (measured with PIL 9.4, Image.resize (BILINEAR)), 4.5 levels off; we
 * match PIL there and hold the interior to ±3. Center-crop never reaches
 * the frame edge. */
static void
test_stripes_downscale_to_flat_grey (void)
{
  static const Rn50ResizeMode modes[] = {
    RN50_RESIZE_CENTER_CROP, RN50_RESIZE_STRETCH, RN50_RESIZE_LETTERBOX,
  };
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 1920, 1080);
  guint m, p;

  test_frame_fill_rgb (f, stripes, NULL);
  for (m = 0; m < G_N_ELEMENTS (modes); m++) {
    Rn50PreprocessConfig config;
    g_autofree float *tensor = NULL;

    config_init_raw (&config, modes[m]);
    tensor = run_preprocess (&config, f, NULL);
    for (p = 0; p < 3; p++) {
      /* 1920×1080 letterboxed is 224×126 at rows 49..174 */
      guint y0 = modes[m] == RN50_RESIZE_LETTERBOX ? 49 : 0;
      guint y1 = modes[m] == RN50_RESIZE_LETTERBOX ? 175 : OUT;
      guint x, y;

      for (y = y0; y < y1; y++)
        for (x = 0; x < OUT; x++) {
          float v = tensor[(p * OUT + y) * OUT + x];
          float expected = 127.5f, tol = 3.0f;

          if (modes[m] != RN50_RESIZE_CENTER_CROP && (x == 0 || x == OUT - 1)) {
            expected = x == 0 ? 123.0f : 132.0f;
            tol = 1.0f;
          }
          if (!(fabsf (v - expected) <= tol))
            g_error ("mode %d plane %u (%u, %u): %f, expected %f ± %f",
                modes[m], p, x, y, v, expected, tol);
        }
    }
  }
  test_frame_free (f);
}

/* 640×480 mid-grey, a 4-px red border, a 100×100 green square in the
 * centre (x and y 270..369 / 190..289). */
static void
bordered_frame (guint x, guint y, guint8 rgb[3], gpointer user)
{
  if (x < 4 || y < 4 || x >= 636 || y >= 476) {
    rgb[0] = 255;
    rgb[1] = rgb[2] = 0;
  } else if (x >= 270 && x < 370 && y >= 190 && y < 290) {
    rgb[1] = 255;
    rgb[0] = rgb[2] = 0;
  } else {
    rgb[0] = rgb[1] = rgb[2] = 128;
  }
}

static float
px (const float *t, guint p, guint x, guint y)
{
  return t[((gsize) p * OUT + y) * OUT + x];
}

static gboolean
is_red (const float *t, guint x, guint y)
{
  return px (t, 0, x, y) > px (t, 1, x, y) + 40.0f
      && px (t, 0, x, y) > px (t, 2, x, y) + 40.0f;
}

static gboolean
is_green (const float *t, guint x, guint y)
{
  return px (t, 1, x, y) > px (t, 0, x, y) + 40.0f
      && px (t, 1, x, y) > px (t, 2, x, y) + 40.0f;
}

static void
test_center_crop_drops_border_and_centres_square (void)
{
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 640, 480);
  g_autofree float *t = NULL;
  double sx = 0, sy = 0, n = 0;
  guint x, y;

  test_frame_fill_rgb (f, bordered_frame, NULL);
  config_init_raw (&config, RN50_RESIZE_CENTER_CROP);
  t = run_preprocess (&config, f, NULL);
  for (y = 0; y < OUT; y++)
    for (x = 0; x < OUT; x++) {
      g_assert_false (is_red (t, x, y));
      if (is_green (t, x, y)) {
        sx += x;
        sy += y;
        n++;
      }
    }
  /* 480 → 256: the square is 53.3 px wide, about 2840 px */
  g_assert_cmpfloat (n, >, 2500);
  g_assert_cmpfloat (n, <, 3200);
  /* The tensor's centre is at (111.5, 111.5). The resized frame is 341
   * wide (int (256 × 640 / 480)); the crop starts at round (58.5) = 58, so
   * the square's centre (320 in the frame) lands at 320 × 341/640 - 58 -
   * 0.5 = 112.0 horizontally, 240 × 256/480 - 16 - 0.5 = 111.5 vertically. */
  g_assert_cmpfloat (fabs (sx / n - 111.5), <=, 1.0);
  g_assert_cmpfloat (fabs (sy / n - 111.5), <=, 1.0);
  test_frame_free (f);
}

static void
test_stretch_keeps_the_border_on_all_sides (void)
{
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 640, 480);
  g_autofree float *t = NULL;
  guint i;

  test_frame_fill_rgb (f, bordered_frame, NULL);
  config_init_raw (&config, RN50_RESIZE_STRETCH);
  t = run_preprocess (&config, f, NULL);
  for (i = 0; i < OUT; i++) {
    g_assert_true (is_red (t, i, 0));
    g_assert_true (is_red (t, i, OUT - 1));
    g_assert_true (is_red (t, 0, i));
    g_assert_true (is_red (t, OUT - 1, i));
  }
  /* the square is still in the middle */
  g_assert_true (is_green (t, 111, 111));
  test_frame_free (f);
}

static void
test_letterbox_fits_224x168_with_28_rows_of_mean_padding (void)
{
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 640, 480);
  g_autofree float *raw = NULL, *t = NULL;
  guint x, y, p;

  test_frame_fill_rgb (f, bordered_frame, NULL);

  /* Normalized: the padding is the mean, so exactly 0 in every plane. */
  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  config.resize_mode = RN50_RESIZE_LETTERBOX;
  t = run_preprocess (&config, f, NULL);
  for (p = 0; p < 3; p++)
    for (y = 0; y < OUT; y++)
      for (x = 0; x < OUT; x++) {
        float v = t[((gsize) p * OUT + y) * OUT + x];
        if (y < 28 || y >= 196)
          g_assert_cmpfloat (v, ==, 0.0f);
        else
          g_assert_cmpfloat (v, !=, 0.0f);
      }

  /* Raw values: the red border shows on the four sides of the content. */
  config_init_raw (&config, RN50_RESIZE_LETTERBOX);
  raw = run_preprocess (&config, f, NULL);
  for (x = 0; x < OUT; x++) {
    g_assert_true (is_red (raw, x, 28));
    g_assert_true (is_red (raw, x, 195));
  }
  for (y = 28; y < 196; y++) {
    g_assert_true (is_red (raw, 0, y));
    g_assert_true (is_red (raw, OUT - 1, y));
  }
  g_assert_true (is_green (raw, 111, 111));
  /* the padding of a raw tensor is 0 too (mean 0) */
  g_assert_cmpfloat (px (raw, 0, 5, 5), ==, 0.0f);
  test_frame_free (f);
}

static void
test_letterbox_pads_left_and_right_for_portrait_frames (void)
{
  static const guint8 white[3] = { 255, 255, 255 };
  Rn50PreprocessConfig config;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 480, 640);
  g_autofree float *t = NULL;
  guint x, y;

  test_frame_fill_rgb (f, solid_rgb, (gpointer) white);
  config_init_raw (&config, RN50_RESIZE_LETTERBOX);
  t = run_preprocess (&config, f, NULL);
  /* 480×640 fits as 168×224: 28 padding columns on each side */
  for (y = 0; y < OUT; y++)
    for (x = 0; x < OUT; x++) {
      if (x < 28 || x >= 196)
        g_assert_cmpfloat (px (t, 1, x, y), ==, 0.0f);
      else
        g_assert_cmpfloat (fabsf (px (t, 1, x, y) - 255.0f), <, 1e-3f);
    }
  test_frame_free (f);
}

/* ------------------------------------------------------------------------ */
/* Invalid settings */

static void
assert_settings_error (const Rn50PreprocessConfig * config,
    Rn50PixelFormat format, guint w, guint h, const Rn50YuvMatrix * yuv,
    const char *message_part)
{
  g_autoptr (GError) error = NULL;
  Rn50Preprocessor *pre;

  pre = rn50_preprocessor_new (config, format, w, h, yuv, &error);
  g_assert_null (pre);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SETTINGS);
  g_test_message ("error: %s", error->message);
  g_assert_nonnull (strstr (error->message, message_part));
}

static void
test_zero_std_is_a_settings_error (void)
{
  Rn50PreprocessConfig config;
  guint p;

  for (p = 0; p < 3; p++) {
    rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
    config.std[p] = 0.0f;
    assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL, "std");
    config.std[p] = -0.2f;
    assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL, "std");
    config.std[p] = NAN;
    assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL, "std");
  }
}

static void
test_non_finite_mean_or_scale_is_a_settings_error (void)
{
  Rn50PreprocessConfig config;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  config.mean[1] = INFINITY;
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL, "mean");
  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  config.scale = 0.0f;
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL, "scale");
}

static void
test_zero_size_is_a_settings_error (void)
{
  Rn50PreprocessConfig config;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 0, 48, NULL, "size");
  assert_settings_error (&config, RN50_PIXEL_FORMAT_I420, 64, 0, NULL, "size");
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 40000, 48, NULL,
      "size");
  config.out_width = 0;
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL,
      "input size");
  rn50_preprocess_config_init_torchvision (&config, OUT, 0);
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL,
      "input size");
}

static void
test_unknown_format_or_mode_is_a_settings_error (void)
{
  Rn50PreprocessConfig config;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  assert_settings_error (&config, (Rn50PixelFormat) 99, 64, 48, NULL, "format");
  config.resize_mode = (Rn50ResizeMode) 7;
  assert_settings_error (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL,
      "resize mode");
}

static void
test_invalid_yuv_matrix_is_a_settings_error (void)
{
  static const Rn50YuvMatrix bad[] = {
    {0.0, 0.114, FALSE}, {0.299, -0.1, FALSE}, {0.6, 0.4, FALSE},
    {0.5, 0.499999, TRUE},      /* Kg ≈ 0: coefficients overflow */
  };
  Rn50PreprocessConfig config;
  guint i;

  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_settings_error (&config, RN50_PIXEL_FORMAT_NV12, 64, 48, &bad[i],
        "YUV matrix");
}

static void
test_run_refuses_a_frame_of_another_geometry (void)
{
  static const guint8 color[3] = { 32, 64, 128 };
  Rn50PreprocessConfig config;
  g_autoptr (Rn50Preprocessor) pre = NULL;
  TestFrame *f = test_frame_new (RN50_PIXEL_FORMAT_RGB, 64, 48);
  g_autofree float *tensor = g_new0 (float, 3 * OUT * OUT);
  Rn50ImageView view;

  test_frame_fill_rgb (f, solid_rgb, (gpointer) color);
  rn50_preprocess_config_init_torchvision (&config, OUT, OUT);
  pre = rn50_preprocessor_new (&config, RN50_PIXEL_FORMAT_RGB, 64, 48, NULL,
      NULL);
  g_assert_nonnull (pre);

  /* a programming error: refused with a critical, tensor left alone */
  view = f->view;
  view.width = 65;
  g_test_expect_message ("rn50", G_LOG_LEVEL_CRITICAL, "*image_matches*");
  rn50_preprocessor_run (pre, &view, tensor);
  g_test_assert_expected_messages ();
  view = f->view;
  view.strides[0] = 10;
  g_test_expect_message ("rn50", G_LOG_LEVEL_CRITICAL, "*image_matches*");
  rn50_preprocessor_run (pre, &view, tensor);
  g_test_assert_expected_messages ();
  view = f->view;
  view.format = RN50_PIXEL_FORMAT_BGR;
  g_test_expect_message ("rn50", G_LOG_LEVEL_CRITICAL, "*image_matches*");
  rn50_preprocessor_run (pre, &view, tensor);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (tensor[0], ==, 0.0f);

  /* the same preprocessor still works afterwards */
  rn50_preprocessor_run (pre, &f->view, tensor);
  assert_plane_uniform (tensor, OUT, OUT, 0, case1_torchvision[0], 1e-5f);
  test_frame_free (f);
}

static void
test_free_accepts_null (void)
{
  rn50_preprocessor_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/preprocess/uniform-color-gives-case1-values-in-every-"
      "packed-format",
      test_uniform_color_gives_case1_values_in_every_packed_format);
  g_test_add_func ("/preprocess/caffe-preset-gives-bgr-planes-minus-means",
      test_caffe_preset_gives_bgr_planes_minus_means);
  g_test_add_func ("/preprocess/mean-override-changes-only-plane-2",
      test_mean_override_changes_only_plane_2);
  g_test_add_func ("/preprocess/std-override-divides-its-own-plane",
      test_std_override_divides_its_own_plane);
  g_test_add_func ("/preprocess/gray8-copies-luma-into-all-planes",
      test_gray8_copies_luma_into_all_planes);
  g_test_add_func ("/preprocess/yuv-solid-colors-match-videoconvert-and-"
      "textbook", test_yuv_solid_colors_match_videoconvert_and_textbook);
  g_test_add_func ("/preprocess/yuv-without-matrix-defaults-to-bt601-limited",
      test_yuv_without_matrix_defaults_to_bt601_limited);
  g_test_add_func ("/preprocess/tiny-and-odd-sizes-work-in-every-format",
      test_tiny_and_odd_sizes_work_in_every_format);
  g_test_add_func ("/preprocess/large-frame-8192-is-accepted",
      test_large_frame_8192_is_accepted);
  g_test_add_func ("/preprocess/non-square-output-is-filled",
      test_non_square_output_is_filled);
  g_test_add_func ("/preprocess/stripes-downscale-to-flat-grey",
      test_stripes_downscale_to_flat_grey);
  g_test_add_func ("/preprocess/center-crop-drops-border-and-centres-square",
      test_center_crop_drops_border_and_centres_square);
  g_test_add_func ("/preprocess/stretch-keeps-the-border-on-all-sides",
      test_stretch_keeps_the_border_on_all_sides);
  g_test_add_func ("/preprocess/letterbox-fits-224x168-with-28-rows-of-mean-"
      "padding", test_letterbox_fits_224x168_with_28_rows_of_mean_padding);
  g_test_add_func ("/preprocess/letterbox-pads-left-and-right-for-portrait-"
      "frames", test_letterbox_pads_left_and_right_for_portrait_frames);
  g_test_add_func ("/preprocess/zero-std-is-a-settings-error",
      test_zero_std_is_a_settings_error);
  g_test_add_func ("/preprocess/non-finite-mean-or-scale-is-a-settings-error",
      test_non_finite_mean_or_scale_is_a_settings_error);
  g_test_add_func ("/preprocess/zero-size-is-a-settings-error",
      test_zero_size_is_a_settings_error);
  g_test_add_func ("/preprocess/unknown-format-or-mode-is-a-settings-error",
      test_unknown_format_or_mode_is_a_settings_error);
  g_test_add_func ("/preprocess/invalid-yuv-matrix-is-a-settings-error",
      test_invalid_yuv_matrix_is_a_settings_error);
  g_test_add_func ("/preprocess/run-refuses-a-frame-of-another-geometry",
      test_run_refuses_a_frame_of_another_geometry);
  g_test_add_func ("/preprocess/free-accepts-null", test_free_accepts_null);

  return g_test_run ();
}
