/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nn/preprocess.c has SSE2 inner loops and the same integer arithmetic in
 * plain C (for other CPUs and for the ends of rows). This test builds the
 * plain C path a second time, here, under other names, and checks that
 * both give the same tensor bit for bit on random frames of every format,
 * at sizes that put the crop window, the chroma edges and the SIMD block
 * ends in different places, in every resize mode, chroma siting and
 * preset. It also checks that rn50_preprocessor_run() allocates nothing,
 * by counting the calls to malloc() and friends that reach the C library
 * while it runs. The parity tests compare either path with torchvision and
 * videoconvert; this one makes sure a result that passed there for one
 * path holds for the other. */
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

/* The plain C copy: same source, no SIMD, public functions renamed (and
 * declared first, as the header declares the originals). */
void scalar_config_init_torchvision (Rn50PreprocessConfig * config,
    guint out_width, guint out_height);
void scalar_config_init_caffe (Rn50PreprocessConfig * config,
    guint out_width, guint out_height);
Rn50Preprocessor *scalar_preprocessor_new (const Rn50PreprocessConfig *
    config, Rn50PixelFormat format, guint width, guint height,
    const Rn50YuvMatrix * yuv, GError ** error);
void scalar_preprocessor_set_chroma_siting (Rn50Preprocessor * pre,
    gboolean h_cosited, gboolean v_cosited);
void scalar_preprocessor_free (Rn50Preprocessor * pre);
void scalar_preprocessor_run (Rn50Preprocessor * pre,
    const Rn50ImageView * image, float *tensor);

#define RN50_PREPROCESS_NO_SIMD 1
#define rn50_preprocess_config_init_torchvision scalar_config_init_torchvision
#define rn50_preprocess_config_init_caffe scalar_config_init_caffe
#define rn50_preprocessor_new scalar_preprocessor_new
#define rn50_preprocessor_set_chroma_siting scalar_preprocessor_set_chroma_siting
#define rn50_preprocessor_free scalar_preprocessor_free
#define rn50_preprocessor_run scalar_preprocessor_run
#include "preprocess.c"
#undef rn50_preprocess_config_init_torchvision
#undef rn50_preprocess_config_init_caffe
#undef rn50_preprocessor_new
#undef rn50_preprocessor_set_chroma_siting
#undef rn50_preprocessor_free
#undef rn50_preprocessor_run

/* ------------------------------------------------------------------------ */
/* Allocation counter: these definitions take the place of the C library's
 * for the whole process (GLib's g_malloc() included) and forward to it.
 * Not with AddressSanitizer, which has its own; that build leaves the
 * allocation test out. */
#if !defined(__SANITIZE_ADDRESS__)
#define RN50_TEST_COUNT_ALLOCATIONS 1

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void __libc_free (void *p);

static volatile gint n_allocations;

void *
malloc (size_t size)
{
  n_allocations++;
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  n_allocations++;
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
  n_allocations++;
  return __libc_realloc (p, size);
}

void
free (void *p)
{
  __libc_free (p);
}
#endif

/* ------------------------------------------------------------------------ */

static const Rn50PixelFormat all_formats[] = {
  RN50_PIXEL_FORMAT_RGB, RN50_PIXEL_FORMAT_BGR, RN50_PIXEL_FORMAT_RGBX,
  RN50_PIXEL_FORMAT_BGRX, RN50_PIXEL_FORMAT_XRGB, RN50_PIXEL_FORMAT_XBGR,
  RN50_PIXEL_FORMAT_RGBA, RN50_PIXEL_FORMAT_BGRA, RN50_PIXEL_FORMAT_ARGB,
  RN50_PIXEL_FORMAT_ABGR, RN50_PIXEL_FORMAT_I420, RN50_PIXEL_FORMAT_NV12,
  RN50_PIXEL_FORMAT_YUY2, RN50_PIXEL_FORMAT_GRAY8,
};

/* A frame with random bytes and strides a little longer than a row (so
 * that reading the wrong row shows), planes in one block. */
typedef struct
{
  Rn50ImageView view;
  guint8 *data;
} RandomFrame;

static void
random_frame_init (RandomFrame * f, Rn50PixelFormat format, guint w, guint h,
    GRand * rand)
{
  gsize cw = (w + 1) / 2, ch = (h + 1) / 2;
  gsize row[3] = { 0, 0, 0 }, rows[3] = { h, 0, 0 }, size = 0, i;

  switch (format) {
    case RN50_PIXEL_FORMAT_RGB:
    case RN50_PIXEL_FORMAT_BGR:
      row[0] = 3 * (gsize) w;
      break;
    case RN50_PIXEL_FORMAT_GRAY8:
      row[0] = w;
      break;
    case RN50_PIXEL_FORMAT_I420:
      row[0] = w;
      row[1] = row[2] = cw;
      rows[1] = rows[2] = ch;
      break;
    case RN50_PIXEL_FORMAT_NV12:
      row[0] = w;
      row[1] = 2 * cw;
      rows[1] = ch;
      break;
    case RN50_PIXEL_FORMAT_YUY2:
      row[0] = 4 * cw;
      break;
    default:
      row[0] = 4 * (gsize) w;
      break;
  }
  memset (&f->view, 0, sizeof (f->view));
  f->view.format = format;
  f->view.width = w;
  f->view.height = h;
  for (i = 0; i < 3; i++) {
    if (row[i] != 0)
      f->view.strides[i] = row[i] + g_rand_int_range (rand, 0, 9);
    size += f->view.strides[i] * rows[i];
  }
  f->data = g_malloc (size);
  for (i = 0; i < size; i++)
    f->data[i] = (guint8) g_rand_int (rand);
  size = 0;
  for (i = 0; i < 3; i++) {
    if (row[i] == 0)
      continue;
    f->view.planes[i] = f->data + size;
    size += f->view.strides[i] * rows[i];
  }
}

/* Runs both paths on @f; returns the number of differing floats. */
static guint
compare_paths (const RandomFrame * f, const Rn50PreprocessConfig * config,
    const Rn50YuvMatrix * yuv, gboolean h_cosited, gboolean v_cosited)
{
  g_autoptr (GError) error = NULL;
  Rn50Preprocessor *simd, *plain;
  gsize n = 3 * (gsize) config->out_width * config->out_height, i;
  float *a = g_new (float, n), *b = g_new (float, n);
  guint differ = 0;

  simd = rn50_preprocessor_new (config, f->view.format, f->view.width,
      f->view.height, yuv, &error);
  g_assert_no_error (error);
  plain = scalar_preprocessor_new (config, f->view.format, f->view.width,
      f->view.height, yuv, &error);
  g_assert_no_error (error);
  rn50_preprocessor_set_chroma_siting (simd, h_cosited, v_cosited);
  scalar_preprocessor_set_chroma_siting (plain, h_cosited, v_cosited);

  /* poison: every value must be written */
  memset (a, 0xff, n * sizeof (float));
  memset (b, 0x7f, n * sizeof (float));
  rn50_preprocessor_run (simd, &f->view, a);
  scalar_preprocessor_run (plain, &f->view, b);
  for (i = 0; i < n; i++) {
    if (memcmp (&a[i], &b[i], sizeof (float)) != 0) {
      if (differ == 0)
        g_printerr ("format %d %ux%u: value %" G_GSIZE_FORMAT
            " SIMD %.9g plain C %.9g\n", f->view.format, f->view.width,
            f->view.height, i, a[i], b[i]);
      differ++;
    }
  }
  rn50_preprocessor_free (simd);
  scalar_preprocessor_free (plain);
  g_free (a);
  g_free (b);
  return differ;
}

static void
test_simd_and_plain_c_paths_give_identical_tensors (void)
{
  /* 1920×1080 and 640×480 (the usual), odd sizes around the 16-column
   * SIMD blocks, tiny frames, extreme aspect ratios, an upscale */
  static const guint sizes[][2] = {
    {1920, 1080}, {640, 480}, {33, 17}, {47, 31}, {7, 5}, {1, 1}, {3, 2},
    {2000, 300}, {300, 2001}, {257, 256}, {1281, 721}, {100, 90},
  };
  static const Rn50ResizeMode modes[] = {
    RN50_RESIZE_CENTER_CROP, RN50_RESIZE_STRETCH, RN50_RESIZE_LETTERBOX,
  };
  static const Rn50YuvMatrix matrices[] = {
    {0.299, 0.114, FALSE}, {0.2126, 0.0722, FALSE}, {0.2627, 0.0593, TRUE},
  };
  GRand *rand = g_rand_new_with_seed (20240611);
  guint fi, si, mi, cases = 0;

  for (fi = 0; fi < G_N_ELEMENTS (all_formats); fi++) {
    for (si = 0; si < G_N_ELEMENTS (sizes); si++) {
      RandomFrame f;

      random_frame_init (&f, all_formats[fi], sizes[si][0], sizes[si][1],
          rand);
      for (mi = 0; mi < G_N_ELEMENTS (modes); mi++) {
        Rn50PreprocessConfig config;
        guint site;

        /* caffe (BGR planes, no scaling) on every other case */
        if ((si + mi) % 2 == 0)
          rn50_preprocess_config_init_torchvision (&config, 224, 224);
        else
          rn50_preprocess_config_init_caffe (&config, 224, 224);
        config.resize_mode = modes[mi];
        for (site = 0; site < 4; site++) {
          if (site > 0 && all_formats[fi] != RN50_PIXEL_FORMAT_NV12 &&
              all_formats[fi] != RN50_PIXEL_FORMAT_YUY2)
            break;
          g_assert_cmpuint (compare_paths (&f, &config,
                  &matrices[(si + site) % G_N_ELEMENTS (matrices)],
                  site & 1, (site & 2) != 0), ==, 0);
          cases++;
        }
      }
      g_free (f.data);
    }
  }
  g_test_message ("%u cases identical", cases);
  g_rand_free (rand);
}

/* Other tensor sizes: 299×299 (Inception) and a non-square 320×192, whose
 * rows end in the middle of SIMD blocks. */
static void
test_simd_and_plain_c_agree_for_other_tensor_sizes (void)
{
  static const guint outs[][2] = { {299, 299}, {320, 192}, {1, 1} };
  GRand *rand = g_rand_new_with_seed (7);
  guint oi, fi;

  for (oi = 0; oi < G_N_ELEMENTS (outs); oi++) {
    for (fi = 0; fi < G_N_ELEMENTS (all_formats); fi++) {
      Rn50PreprocessConfig config;
      RandomFrame f;

      random_frame_init (&f, all_formats[fi], 1280, 720, rand);
      rn50_preprocess_config_init_torchvision (&config, outs[oi][0],
          outs[oi][1]);
      g_assert_cmpuint (compare_paths (&f, &config, NULL, FALSE, FALSE), ==,
          0);
      config.resize_mode = RN50_RESIZE_LETTERBOX;
      g_assert_cmpuint (compare_paths (&f, &config, NULL, TRUE, FALSE), ==,
          0);
      g_free (f.data);
    }
  }
  g_rand_free (rand);
}

#ifdef RN50_TEST_COUNT_ALLOCATIONS
static void
test_run_allocates_nothing (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  float *tensor = g_new (float, 3 * 224 * 224);
  guint fi;

  for (fi = 0; fi < G_N_ELEMENTS (all_formats); fi++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (Rn50Preprocessor) pre = NULL;
    Rn50PreprocessConfig config;
    RandomFrame f;
    gint before;

    random_frame_init (&f, all_formats[fi], 1920, 1080, rand);
    rn50_preprocess_config_init_torchvision (&config, 224, 224);
    /* the counter must see the allocations of building one */
    before = n_allocations;
    pre = rn50_preprocessor_new (&config, f.view.format, 1920, 1080, NULL,
        &error);
    g_assert_no_error (error);
    g_assert_cmpint (n_allocations, >, before);

    before = n_allocations;
    rn50_preprocessor_run (pre, &f.view, tensor);
    rn50_preprocessor_run (pre, &f.view, tensor);
    g_assert_cmpint (n_allocations - before, ==, 0);
    g_free (f.data);
  }
  g_free (tensor);
  g_rand_free (rand);
}
#endif

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/preprocess-simd/simd-and-plain-c-paths-give-identical-"
      "tensors", test_simd_and_plain_c_paths_give_identical_tensors);
  g_test_add_func ("/preprocess-simd/simd-and-plain-c-agree-for-other-"
      "tensor-sizes", test_simd_and_plain_c_agree_for_other_tensor_sizes);
#ifdef RN50_TEST_COUNT_ALLOCATIONS
  g_test_add_func ("/preprocess-simd/run-allocates-nothing",
      test_run_allocates_nothing);
#endif
  return g_test_run ();
}
