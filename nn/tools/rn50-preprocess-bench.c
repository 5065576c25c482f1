/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rn50-preprocess-bench FORMAT WIDTH HEIGHT [--repeat N]: times the nn/
 * preprocessor on one synthetic frame (torchvision preset, the default
 * center-crop to 224×224) on the calling thread, and prints one
 * machine-readable line:
 *   preprocess NV12 1920x1080 median_ms=1.23 best_ms=1.10
 *     cpu_median_ms=1.20 cpu_best_ms=1.09 runs=200   (on one line)
 * where median/best are wall-clock times per frame and cpu_* the thread's
 * CPU time per frame.
 * The frame is filled with a fixed pseudo-random pattern (smooth gradients
 * plus noise, so that YUV conversion sees in- and out-of-gamut values); the
 * preprocessor is built once, as the element does per caps, so the figures
 * are the per-frame cost only. The machines are shared: the best time is
 * the one to compare between builds, the median says how noisy it was. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

/* GstVideoInfo rounds these strides up to 4 bytes. */
#define BENCH_ROUND_UP_4(n) (((n) + 3) & ~(gsize) 3)

typedef struct
{
  const char *name;
  Rn50PixelFormat format;
} BenchFormat;

static const BenchFormat bench_formats[] = {
  {"RGB", RN50_PIXEL_FORMAT_RGB}, {"BGR", RN50_PIXEL_FORMAT_BGR},
  {"RGBx", RN50_PIXEL_FORMAT_RGBX}, {"BGRx", RN50_PIXEL_FORMAT_BGRX},
  {"xRGB", RN50_PIXEL_FORMAT_XRGB}, {"xBGR", RN50_PIXEL_FORMAT_XBGR},
  {"RGBA", RN50_PIXEL_FORMAT_RGBA}, {"BGRA", RN50_PIXEL_FORMAT_BGRA},
  {"ARGB", RN50_PIXEL_FORMAT_ARGB}, {"ABGR", RN50_PIXEL_FORMAT_ABGR},
  {"I420", RN50_PIXEL_FORMAT_I420}, {"NV12", RN50_PIXEL_FORMAT_NV12},
  {"YUY2", RN50_PIXEL_FORMAT_YUY2}, {"GRAY8", RN50_PIXEL_FORMAT_GRAY8},
};

/* Lays out a tightly packed frame of @view's format and size in a new
 * buffer (plane sizes as GStreamer's for these formats, strides rounded up
 * to 4 bytes as GstVideoInfo does) and fills it. Returns the buffer. */
static guint8 *
bench_frame_new (Rn50ImageView * view)
{
  gsize w = view->width, h = view->height;
  gsize cw = (w + 1) / 2, ch = (h + 1) / 2;
  gsize plane_rows[3] = { h, 0, 0 };
  gsize size = 0, i;
  guint32 seed = 0x9e3779b9u;
  guint8 *data;

  memset (view->planes, 0, sizeof (view->planes));
  memset (view->strides, 0, sizeof (view->strides));
  switch (view->format) {
    case RN50_PIXEL_FORMAT_RGB:
    case RN50_PIXEL_FORMAT_BGR:
      view->strides[0] = BENCH_ROUND_UP_4 (3 * w);
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      view->strides[0] = BENCH_ROUND_UP_4 (w);
      break;
    case RN50_PIXEL_FORMAT_I420:
      view->strides[0] = BENCH_ROUND_UP_4 (w);
      view->strides[1] = view->strides[2] = BENCH_ROUND_UP_4 (cw);
      plane_rows[1] = plane_rows[2] = ch;
      break;
    case RN50_PIXEL_FORMAT_NV12:
      view->strides[0] = BENCH_ROUND_UP_4 (w);
      view->strides[1] = BENCH_ROUND_UP_4 (2 * cw);
      plane_rows[1] = ch;
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      view->strides[0] = 4 * cw;
      break;
    default:
      view->strides[0] = 4 * w;
      break;
  }
  for (i = 0; i < 3; i++)
    size += view->strides[i] * plane_rows[i];

  data = g_malloc (size);
  /* xorshift noise over a diagonal ramp: deterministic, not compressible
   * into a constant, and covering the whole 0-255 range. */
  for (i = 0; i < size; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    data[i] = (guint8) ((i / 7 + i / 3001) + (seed >> 27));
  }
  size = 0;
  for (i = 0; i < 3; i++) {
    if (view->strides[i] == 0)
      continue;
    view->planes[i] = data + size;
    size += view->strides[i] * plane_rows[i];
  }
  return data;
}

/* CPU time of the calling thread, in ms: unlike the wall clock it does not
 * count the time other processes of a shared machine ran instead. */
static gdouble
thread_cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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
  gint repeat = 200;
  GOptionEntry entries[] = {
    {"repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
        "Number of timed runs (default 200)", "N"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Preprocessor) pre = NULL;
  g_autofree guint8 *frame = NULL;
  g_autofree float *tensor = NULL;
  g_autofree gdouble *ms = NULL;
  g_autofree gdouble *cpu_ms = NULL;
  Rn50PreprocessConfig config;
  Rn50ImageView view;
  const BenchFormat *format = NULL;
  gchar *end = NULL;
  guint64 width, height;
  gint i;

  context = g_option_context_new ("FORMAT WIDTH HEIGHT");
  g_option_context_set_summary (context,
      "Times the preprocessing of one frame (torchvision preset, "
      "center-crop to 224x224) on the calling thread.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (argc != 4 || repeat <= 0) {
    g_printerr ("usage: %s FORMAT WIDTH HEIGHT [--repeat N]\n",
        g_get_prgname ());
    return 2;
  }
  for (i = 0; i < (gint) G_N_ELEMENTS (bench_formats); i++) {
    if (g_ascii_strcasecmp (bench_formats[i].name, argv[1]) == 0)
      format = &bench_formats[i];
  }
  if (format == NULL) {
    g_printerr ("unknown format %s (RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, "
        "BGRA, ARGB, ABGR, I420, NV12, YUY2, GRAY8)\n", argv[1]);
    return 2;
  }
  width = g_ascii_strtoull (argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || width == 0 || width > 32768) {
    g_printerr ("invalid width %s\n", argv[2]);
    return 2;
  }
  height = g_ascii_strtoull (argv[3], &end, 10);
  if (end == argv[3] || *end != '\0' || height == 0 || height > 32768) {
    g_printerr ("invalid height %s\n", argv[3]);
    return 2;
  }

  memset (&view, 0, sizeof (view));
  view.format = format->format;
  view.width = (guint) width;
  view.height = (guint) height;
  frame = bench_frame_new (&view);

  rn50_preprocess_config_init_torchvision (&config, 224, 224);
  pre = rn50_preprocessor_new (&config, view.format, view.width, view.height,
      NULL, &error);
  if (pre == NULL) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  tensor = g_new (float, 3 * 224 * 224);
  ms = g_new (gdouble, repeat);
  cpu_ms = g_new (gdouble, repeat);

  /* One untimed run: page faults of the tensor and first touches of the
   * frame are not per-frame costs. */
  rn50_preprocessor_run (pre, &view, tensor);
  for (i = 0; i < repeat; i++) {
    gint64 start = g_get_monotonic_time ();
    gdouble cpu_start = thread_cpu_ms ();

    rn50_preprocessor_run (pre, &view, tensor);
    cpu_ms[i] = thread_cpu_ms () - cpu_start;
    ms[i] = (g_get_monotonic_time () - start) / 1000.0;
  }
  qsort (ms, repeat, sizeof (gdouble), compare_doubles);
  qsort (cpu_ms, repeat, sizeof (gdouble), compare_doubles);
  g_print ("preprocess %s %ux%u median_ms=%.3f best_ms=%.3f "
      "cpu_median_ms=%.3f cpu_best_ms=%.3f runs=%d\n", format->name,
      view.width, view.height, ms[repeat / 2], ms[0], cpu_ms[repeat / 2],
      cpu_ms[0], repeat);
  return 0;
}
