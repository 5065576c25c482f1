/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helper: runs the nn/ preprocessor on one raw frame read from a file
 * and writes the resulting tensor (3 × H × W little-endian float32, NCHW)
 * to another file, so that Python scripts can compare it with
 * PIL/torchvision and videoconvert. The raw frame is tightly packed: rows
 * of width × bytes-per-pixel with no padding, planes one after another
 * (I420: Y, U, V with chroma ceil(w/2) × ceil(h/2); NV12: Y, interleaved
 * UV; YUY2: rows of ceil(w/2) × 4 bytes). With --bench N it also times N
 * runs on the same frame and prints the mean per frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

typedef struct
{
  const char *name;
  Rn50PixelFormat format;
} FormatName;

static const FormatName formats[] = {
  {"RGB", RN50_PIXEL_FORMAT_RGB}, {"BGR", RN50_PIXEL_FORMAT_BGR},
  {"RGBx", RN50_PIXEL_FORMAT_RGBX}, {"BGRx", RN50_PIXEL_FORMAT_BGRX},
  {"xRGB", RN50_PIXEL_FORMAT_XRGB}, {"xBGR", RN50_PIXEL_FORMAT_XBGR},
  {"RGBA", RN50_PIXEL_FORMAT_RGBA}, {"BGRA", RN50_PIXEL_FORMAT_BGRA},
  {"ARGB", RN50_PIXEL_FORMAT_ARGB}, {"ABGR", RN50_PIXEL_FORMAT_ABGR},
  {"I420", RN50_PIXEL_FORMAT_I420}, {"NV12", RN50_PIXEL_FORMAT_NV12},
  {"YUY2", RN50_PIXEL_FORMAT_YUY2}, {"GRAY8", RN50_PIXEL_FORMAT_GRAY8},
};

/* Fills the view's planes and strides for a tightly packed frame and
 * returns its size in bytes. */
static gsize
packed_layout (Rn50ImageView * view, const guint8 * data)
{
  gsize w = view->width, h = view->height;
  gsize cw = (w + 1) / 2, ch = (h + 1) / 2;

  memset (view->planes, 0, sizeof (view->planes));
  memset (view->strides, 0, sizeof (view->strides));
  view->planes[0] = data;
  switch (view->format) {
    case RN50_PIXEL_FORMAT_RGB:
    case RN50_PIXEL_FORMAT_BGR:
      view->strides[0] = w * 3;
      return w * 3 * h;
    case RN50_PIXEL_FORMAT_GRAY8:
      view->strides[0] = w;
      return w * h;
    case RN50_PIXEL_FORMAT_I420:
      view->strides[0] = w;
      view->strides[1] = view->strides[2] = cw;
      view->planes[1] = data + w * h;
      view->planes[2] = data + w * h + cw * ch;
      return w * h + 2 * cw * ch;
    case RN50_PIXEL_FORMAT_NV12:
      view->strides[0] = w;
      view->strides[1] = 2 * cw;
      view->planes[1] = data + w * h;
      return w * h + 2 * cw * ch;
    case RN50_PIXEL_FORMAT_YUY2:
      view->strides[0] = 4 * cw;
      return 4 * cw * h;
    default:
      view->strides[0] = w * 4;
      return w * 4 * h;
  }
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  gchar *format_name = NULL, *mode = NULL, *preset = NULL, *matrix = NULL;
  gint width = 0, height = 0, out_size = 224, bench = 0;
  gboolean full_range = FALSE;
  gboolean h_cosited = FALSE;
  gboolean v_cosited = FALSE;
  GOptionEntry entries[] = {
    {"format", 'f', 0, G_OPTION_ARG_STRING, &format_name,
        "Pixel format (RGB, BGR, RGBx, …, I420, NV12, YUY2, GRAY8)", "FMT"},
    {"width", 'W', 0, G_OPTION_ARG_INT, &width, "Frame width", "W"},
    {"height", 'H', 0, G_OPTION_ARG_INT, &height, "Frame height", "H"},
    {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
        "center-crop (default), stretch or letterbox", "MODE"},
    {"preset", 'p', 0, G_OPTION_ARG_STRING, &preset,
          "torchvision (default), caffe, or raw (0-255, no normalization)",
        "PRESET"},
    {"matrix", 0, 0, G_OPTION_ARG_STRING, &matrix,
        "YUV matrix: bt601 (default), bt709 or bt2020", "M"},
    {"full-range", 0, 0, G_OPTION_ARG_NONE, &full_range,
        "YUV samples use the full 0-255 range", NULL},
    {"h-cosited", 0, 0, G_OPTION_ARG_NONE, &h_cosited,
        "NV12/YUY2 chroma is horizontally cosited (chroma-site mpeg2)", NULL},
    {"v-cosited", 0, 0, G_OPTION_ARG_NONE, &v_cosited,
        "NV12 chroma is vertically cosited (chroma-site v-cosited)", NULL},
    {"size", 's', 0, G_OPTION_ARG_INT, &out_size, "Tensor side (224)", "N"},
    {"bench", 'b', 0, G_OPTION_ARG_INT, &bench,
        "Also time N runs and print ms per frame", "N"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Preprocessor) pre = NULL;
  g_autofree gchar *data = NULL;
  g_autofree float *tensor = NULL;
  Rn50PreprocessConfig config;
  Rn50YuvMatrix yuv = { 0.299, 0.114, FALSE };
  Rn50ImageView view;
  gsize length, needed, tensor_bytes;
  gboolean found = FALSE;
  int ret = 1;
  guint i;

  context = g_option_context_new ("INPUT.raw OUTPUT.f32");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto out;
  if (argc != 3 || format_name == NULL || width <= 0 || height <= 0
      || out_size <= 0) {
    g_printerr ("usage: %s --format FMT --width W --height H [options] "
        "INPUT OUTPUT\n", g_get_prgname ());
    goto out;
  }

  memset (&view, 0, sizeof (view));
  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    if (g_ascii_strcasecmp (formats[i].name, format_name) == 0) {
      view.format = formats[i].format;
      found = TRUE;
    }
  }
  if (!found) {
    g_printerr ("unknown format %s\n", format_name);
    goto out;
  }
  view.width = (guint) width;
  view.height = (guint) height;

  if (preset == NULL || g_str_equal (preset, "torchvision")) {
    rn50_preprocess_config_init_torchvision (&config, out_size, out_size);
  } else if (g_str_equal (preset, "caffe")) {
    rn50_preprocess_config_init_caffe (&config, out_size, out_size);
  } else if (g_str_equal (preset, "raw")) {
    rn50_preprocess_config_init_torchvision (&config, out_size, out_size);
    config.scale = 1.0f;
    for (i = 0; i < 3; i++) {
      config.mean[i] = 0.0f;
      config.std[i] = 1.0f;
    }
  } else {
    g_printerr ("unknown preset %s\n", preset);
    goto out;
  }

  if (mode == NULL || g_str_equal (mode, "center-crop"))
    config.resize_mode = RN50_RESIZE_CENTER_CROP;
  else if (g_str_equal (mode, "stretch"))
    config.resize_mode = RN50_RESIZE_STRETCH;
  else if (g_str_equal (mode, "letterbox"))
    config.resize_mode = RN50_RESIZE_LETTERBOX;
  else {
    g_printerr ("unknown mode %s\n", mode);
    goto out;
  }

  if (matrix == NULL || g_str_equal (matrix, "bt601")) {
    yuv.kr = 0.299;
    yuv.kb = 0.114;
  } else if (g_str_equal (matrix, "bt709")) {
    yuv.kr = 0.2126;
    yuv.kb = 0.0722;
  } else if (g_str_equal (matrix, "bt2020")) {
    yuv.kr = 0.2627;
    yuv.kb = 0.0593;
  } else {
    g_printerr ("unknown matrix %s\n", matrix);
    goto out;
  }
  yuv.full_range = full_range;

  if (!g_file_get_contents (argv[1], &data, &length, &error))
    goto out;
  needed = packed_layout (&view, (const guint8 *) data);
  if (length != needed) {
    g_printerr ("%s: %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT
        " for %s %d×%d\n", argv[1], length, needed, format_name, width,
        height);
    goto out;
  }

  pre = rn50_preprocessor_new (&config, view.format, view.width, view.height,
      &yuv, &error);
  if (pre == NULL)
    goto out;
  rn50_preprocessor_set_chroma_siting (pre, h_cosited, v_cosited);

  tensor_bytes = sizeof (float) * 3 * out_size * (gsize) out_size;
  tensor = g_malloc (tensor_bytes);
  rn50_preprocessor_run (pre, &view, tensor);

  if (bench > 0) {
    /* The minimum is the figure to compare: the test machines are shared,
     * and other work only ever adds time. */
    gdouble *ms = g_new (gdouble, bench);
    gint b;

    for (b = 0; b < bench; b++) {
      gint64 start = g_get_monotonic_time ();

      rn50_preprocessor_run (pre, &view, tensor);
      ms[b] = (g_get_monotonic_time () - start) / 1000.0;
    }
    qsort (ms, bench, sizeof (gdouble), compare_doubles);
    g_print ("%s %dx%d %s: min %.3f ms, median %.3f ms per frame "
        "(%d runs)\n", format_name, width, height,
        mode != NULL ? mode : "center-crop", ms[0], ms[bench / 2], bench);
    g_free (ms);
  }

  /* The test machines are little-endian, as the Python side assumes. */
  if (!g_file_set_contents (argv[2], (const gchar *) tensor, tensor_bytes,
          &error))
    goto out;
  ret = 0;

out:
  if (error != NULL)
    g_printerr ("%s\n", error->message);
  g_free (format_name);
  g_free (mode);
  g_free (preset);
  g_free (matrix);
  return ret;
}
