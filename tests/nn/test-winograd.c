/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nn/winograd.c against an independent implementation:
 * oneDNN's own direct convolution on the same nChw8c input, weights, bias
 * and ReLU, for ResNet-50's four 3×3 stride-1 shapes and for odd ones
 * (partial tiles, a 1×1 image, batch 3), both variants, both the AVX2 and
 * the portable transforms. The error is reported as max |winograd − direct|
 * over max |direct|. Also: a hand-computed all-ones case, two threads
 * sharing one prepared convolution, and the refused settings. */
#include <math.h>
#include <string.h>

#include "dnnl-check.h"
#include "winograd.h"

/* Measured worst cases on this suite (AMD EPYC, AVX2) are printed by the
 * test; the bounds leave about 4× headroom. F(4,3) multiplies by up to 8
 * and 5 in its transforms, so it loses about one more decimal digit. */
#define F2_MAX_REL_ERROR 1e-5
#define F4_MAX_REL_ERROR 1e-4

typedef struct
{
  guint n, c, k, h, w;
} Shape;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

/* Deterministic uniform floats in [-1, 1) (xorshift32; no dependency on
 * GLib's generator, whose sequence may change between versions). */
static void
fill_random (float *x, gsize count, guint32 seed, float scale)
{
  guint32 s = seed * 2654435761u + 1;

  for (gsize i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    x[i] = scale * ((float) (s >> 8) / (float) (1u << 23) - 1.0f);
  }
}

static gsize
size_of (const Shape * s, guint channels)
{
  return (gsize) s->n * channels * s->h * s->w;
}

/* The reference: oneDNN's direct convolution with src/dst fixed to nChw8c
 * and weights reordered from OIHW into whatever oneDNN prefers. Returns
 * FALSE with @error set when oneDNN refuses. */
static gboolean
direct_conv (const Shape * s, const float *src, const float *weights,
    const float *bias, gboolean relu, float *dst, GError ** error)
{
  gboolean ok = FALSE;
  dnnl_memory_desc_t src_md, w_any_md, w_plain_md, b_md, dst_md;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t ops = NULL;
  dnnl_primitive_desc_t pd = NULL, rpd = NULL;
  dnnl_primitive_t conv = NULL, reorder = NULL;
  dnnl_memory_t src_mem = NULL, w_plain = NULL, w_mem = NULL, b_mem = NULL,
      dst_mem = NULL;
  float *zero_bias = g_new0 (float, s->k);
  dnnl_dims_t src_dims = { s->n, s->c, s->h, s->w };
  dnnl_dims_t w_dims = { s->k, s->c, 3, 3 };
  dnnl_dims_t b_dims = { s->k };
  dnnl_dims_t dst_dims = { s->n, s->k, s->h, s->w };
  dnnl_dims_t strides = { 1, 1 }, pad = { 1, 1 };
  dnnl_exec_arg_t args[4];

  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 4, src_dims,
          dnnl_f32, dnnl_nChw8c));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&w_any_md, 4, w_dims,
          dnnl_f32, dnnl_format_tag_any));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&w_plain_md, 4, w_dims,
          dnnl_f32, dnnl_oihw));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&b_md, 1, b_dims, dnnl_f32,
          dnnl_a));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst_md, 4, dst_dims,
          dnnl_f32, dnnl_nChw8c));
  RN50_DNNL_CHECK (dnnl_convolution_forward_desc_init (&desc,
          dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_any_md,
          &b_md, &dst_md, strides, pad, pad));
  RN50_DNNL_CHECK (dnnl_primitive_attr_create (&attr));
  if (relu) {
    RN50_DNNL_CHECK (dnnl_post_ops_create (&ops));
    RN50_DNNL_CHECK (dnnl_post_ops_append_eltwise (ops, 1.0f,
            dnnl_eltwise_relu, 0.0f, 0.0f));
    RN50_DNNL_CHECK (dnnl_primitive_attr_set_post_ops (attr, ops));
  }
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, attr, engine,
          NULL));
  RN50_DNNL_CHECK (dnnl_primitive_create (&conv, pd));

  RN50_DNNL_CHECK (dnnl_memory_create (&w_plain, &w_plain_md, engine,
          (void *) weights));
  RN50_DNNL_CHECK (dnnl_memory_create (&w_mem,
          dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), engine,
          DNNL_MEMORY_ALLOCATE));
  RN50_DNNL_CHECK (dnnl_reorder_primitive_desc_create (&rpd, &w_plain_md,
          engine, dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0),
          engine, NULL));
  RN50_DNNL_CHECK (dnnl_primitive_create (&reorder, rpd));
  args[0].arg = DNNL_ARG_FROM;
  args[0].memory = w_plain;
  args[1].arg = DNNL_ARG_TO;
  args[1].memory = w_mem;
  RN50_DNNL_CHECK (dnnl_primitive_execute (reorder, stream, 2, args));

  RN50_DNNL_CHECK (dnnl_memory_create (&src_mem, &src_md, engine,
          (void *) src));
  RN50_DNNL_CHECK (dnnl_memory_create (&b_mem, &b_md, engine,
          bias != NULL ? (void *) bias : zero_bias));
  RN50_DNNL_CHECK (dnnl_memory_create (&dst_mem, &dst_md, engine, dst));
  args[0].arg = DNNL_ARG_SRC;
  args[0].memory = src_mem;
  args[1].arg = DNNL_ARG_WEIGHTS;
  args[1].memory = w_mem;
  args[2].arg = DNNL_ARG_BIAS;
  args[2].memory = b_mem;
  args[3].arg = DNNL_ARG_DST;
  args[3].memory = dst_mem;
  RN50_DNNL_CHECK (dnnl_primitive_execute (conv, stream, 4, args));
  RN50_DNNL_CHECK (dnnl_stream_wait (stream));
  ok = TRUE;

out:
  if (conv)
    dnnl_primitive_destroy (conv);
  if (reorder)
    dnnl_primitive_destroy (reorder);
  if (pd)
    dnnl_primitive_desc_destroy (pd);
  if (rpd)
    dnnl_primitive_desc_destroy (rpd);
  if (ops)
    dnnl_post_ops_destroy (ops);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (src_mem)
    dnnl_memory_destroy (src_mem);
  if (w_plain)
    dnnl_memory_destroy (w_plain);
  if (w_mem)
    dnnl_memory_destroy (w_mem);
  if (b_mem)
    dnnl_memory_destroy (b_mem);
  if (dst_mem)
    dnnl_memory_destroy (dst_mem);
  g_free (zero_bias);
  return ok;
}

/* Runs the Winograd convolution into @dst and, when @dst_portable is not
 * NULL, again with the portable transforms into @dst_portable (one
 * prepared convolution for both: the weight transform is the slow part). */
static void
winograd_conv (Rn50WinogradVariant variant, const Shape * s, const float *src,
    const float *weights, const float *bias, gboolean relu, float *dst,
    float *dst_portable)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Winograd) wg = NULL;
  g_autoptr (Rn50WinogradBinding) binding = NULL;
  void *scratch;

  wg = rn50_winograd_new (engine, variant, s->n, s->c, s->k, s->h, s->w,
      weights, bias, relu, &error);
  g_assert_no_error (error);
  g_assert_nonnull (wg);
  g_assert_cmpint (rn50_winograd_get_scratch_bytes (wg), >, 0);
  scratch = g_aligned_alloc (rn50_winograd_get_scratch_bytes (wg), 1, 64);
  binding = rn50_winograd_bind (wg, scratch, &error);
  g_assert_no_error (error);
  g_assert_true (rn50_winograd_execute (wg, binding, stream, src, dst,
          &error));
  g_assert_no_error (error);
  if (dst_portable != NULL) {
    rn50_winograd_force_portable (wg);
    g_assert_false (rn50_winograd_uses_avx2 (wg));
    g_assert_true (rn50_winograd_execute (wg, binding, stream, src,
            dst_portable, &error));
    g_assert_no_error (error);
  }
  g_clear_pointer (&binding, rn50_winograd_binding_free);
  g_aligned_free (scratch);
}

/* max |a - b| / max |b| */
static double
relative_error (const float *a, const float *b, gsize count)
{
  double max_diff = 0.0, max_ref = 0.0;

  for (gsize i = 0; i < count; i++) {
    double d = fabs ((double) a[i] - b[i]);
    if (!(d <= max_diff))       /* also catches NaN */
      max_diff = d;
    max_ref = MAX (max_ref, fabs ((double) b[i]));
  }
  g_assert_cmpfloat (max_ref, >, 0.0);
  return max_diff / max_ref;
}

static void
check_shape (const Shape * s, guint32 seed)
{
  const gsize n_src = size_of (s, s->c), n_dst = size_of (s, s->k);
  float *src = g_new (float, n_src);
  float *weights = g_new (float, (gsize) s->k * s->c * 9);
  float *bias = g_new (float, s->k);
  float *ref = g_new (float, n_dst);
  float *out = g_new (float, n_dst);
  float *out_portable = g_new (float, n_dst);
  static const char *names[] = { "F(2x2,3x3)", "F(4x4,3x3)" };
  double worst[2] = { 0.0, 0.0 };

  fill_random (src, n_src, seed, 1.0f);
  /* He-like scale, so outputs stay O(1) whatever c is. */
  fill_random (weights, (gsize) s->k * s->c * 9, seed + 1,
      (float) sqrt (3.0 / (9.0 * s->c)));
  fill_random (bias, s->k, seed + 2, 0.5f);

  for (guint with_bias_relu = 0; with_bias_relu < 2; with_bias_relu++) {
    const float *b = with_bias_relu ? bias : NULL;
    g_autoptr (GError) error = NULL;

    g_assert_true (direct_conv (s, src, weights, b, with_bias_relu, ref,
            &error));
    g_assert_no_error (error);
    for (guint v = 0; v < 2; v++) {
      const double bound = v == RN50_WINOGRAD_F2x2_3x3 ? F2_MAX_REL_ERROR :
          F4_MAX_REL_ERROR;
      double e;

      /* Poison the outputs (NaN): every element must be written. */
      memset (out, 0xff, n_dst * sizeof (float));
      memset (out_portable, 0xff, n_dst * sizeof (float));
      winograd_conv (v, s, src, weights, b, with_bias_relu, out,
          out_portable);
      e = relative_error (out, ref, n_dst);
      worst[v] = MAX (worst[v], e);
      g_assert_cmpfloat (e, <=, bound);
      e = relative_error (out_portable, ref, n_dst);
      worst[v] = MAX (worst[v], e);
      g_assert_cmpfloat (e, <=, bound);
    }
  }
  for (guint v = 0; v < 2; v++)
    g_test_message ("n=%u c=%u k=%u %ux%u %s: max |error| / max |output| "
        "= %.2e", s->n, s->c, s->k, s->h, s->w, names[v], worst[v]);
  g_free (src);
  g_free (weights);
  g_free (bias);
  g_free (ref);
  g_free (out);
  g_free (out_portable);
}

static void
test_resnet50_shapes_match_direct_convolution (void)
{
  static const Shape shapes[] = {
    {1, 64, 64, 56, 56},
    {1, 128, 128, 28, 28},
    {1, 256, 256, 14, 14},
    {1, 512, 512, 7, 7},
  };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    check_shape (&shapes[i], 100 + i);
}

static void
test_odd_shapes_match_direct_convolution (void)
{
  static const Shape shapes[] = {
    {3, 16, 24, 5, 9},          /* partial tiles in both directions, batch 3 */
    {1, 8, 8, 1, 1},            /* one pixel: only the centre tap counts */
    {2, 8, 16, 1, 7},
    {1, 24, 8, 6, 2},
    {2, 32, 64, 13, 11},
    {3, 64, 64, 28, 28},        /* blocks of tile rows span images, short last block */
  };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    check_shape (&shapes[i], 200 + i);
}

/* All-ones 3×3 image of 8 channels, all-ones weights, one output channel
 * block: each output is 8 × (number of in-image taps): 4 at the corners, 6
 * on the edges, 9 in the centre → 32, 48, 72 (hand-computed, no reference
 * implementation involved). */
static void
test_all_ones_gives_hand_computed_tap_counts (void)
{
  static const float expect[3][3] = {
    {32, 48, 32},
    {48, 72, 48},
    {32, 48, 32},
  };
  const Shape s = { 1, 8, 8, 3, 3 };
  float src[8 * 9], weights[8 * 8 * 9], out[8 * 9];

  for (guint i = 0; i < G_N_ELEMENTS (src); i++)
    src[i] = 1.0f;
  for (guint i = 0; i < G_N_ELEMENTS (weights); i++)
    weights[i] = 1.0f;
  for (guint v = 0; v < 2; v++) {
    winograd_conv (v, &s, src, weights, NULL, FALSE, out, NULL);
    for (guint y = 0; y < 3; y++)
      for (guint x = 0; x < 3; x++)
        for (guint ch = 0; ch < 8; ch++)
          g_assert_cmpfloat_with_epsilon (out[(y * 3 + x) * 8 + ch],
              expect[y][x], 1e-4);
  }
}

/* Bias −100 with ReLU clamps everything to exactly 0; bias +100 without
 * ReLU shifts the all-ones result by exactly 100. */
static void
test_bias_and_relu_are_applied_after_the_transform (void)
{
  const Shape s = { 1, 8, 8, 3, 3 };
  float src[8 * 9], weights[8 * 8 * 9], bias[8], out[8 * 9];

  for (guint i = 0; i < G_N_ELEMENTS (src); i++)
    src[i] = 1.0f;
  for (guint i = 0; i < G_N_ELEMENTS (weights); i++)
    weights[i] = 1.0f;
  for (guint v = 0; v < 2; v++) {
    for (guint i = 0; i < 8; i++)
      bias[i] = -100.0f;
    winograd_conv (v, &s, src, weights, bias, TRUE, out, NULL);
    for (guint i = 0; i < G_N_ELEMENTS (out); i++)
      g_assert_cmpfloat (out[i], ==, 0.0f);
    for (guint i = 0; i < 8; i++)
      bias[i] = 100.0f;
    winograd_conv (v, &s, src, weights, bias, FALSE, out, NULL);
    g_assert_cmpfloat_with_epsilon (out[4 * 8], 172.0f, 1e-3);
    g_assert_cmpfloat_with_epsilon (out[0], 132.0f, 1e-3);
  }
}

typedef struct
{
  const Rn50Winograd *wg;
  const float *src;
  float *dst;
  guint repeats;
  gboolean ok;
} ThreadJob;

static gpointer
run_thread (gpointer data)
{
  ThreadJob *job = data;
  dnnl_stream_t s = NULL;
  Rn50WinogradBinding *binding = NULL;
  void *scratch = g_aligned_alloc (rn50_winograd_get_scratch_bytes (job->wg),
      1, 64);

  job->ok = dnnl_stream_create (&s, engine, dnnl_stream_default_flags)
      == dnnl_success;
  binding = job->ok ? rn50_winograd_bind (job->wg, scratch, NULL) : NULL;
  job->ok = job->ok && binding != NULL;
  for (guint r = 0; job->ok && r < job->repeats; r++)
    job->ok = rn50_winograd_execute (job->wg, binding, s, job->src, job->dst,
        NULL);
  rn50_winograd_binding_free (binding);
  if (s)
    dnnl_stream_destroy (s);
  g_aligned_free (scratch);
  return NULL;
}

/* One prepared convolution, two threads with their own bindings and
 * streams, different inputs, at the same time: each gets the result a
 * single-threaded run gives for its input. */
static void
test_two_threads_share_one_prepared_convolution (void)
{
  const Shape s = { 1, 64, 64, 28, 28 };
  const gsize n_src = size_of (&s, s.c), n_dst = size_of (&s, s.k);
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Winograd) wg = NULL;
  float *weights = g_new (float, (gsize) s.k * s.c * 9);
  float *src[2], *dst[2], *ref[2];
  ThreadJob jobs[2];
  GThread *threads[2];

  fill_random (weights, (gsize) s.k * s.c * 9, 7, 0.1f);
  wg = rn50_winograd_new (engine, RN50_WINOGRAD_F4x4_3x3, s.n, s.c, s.k, s.h,
      s.w, weights, NULL, TRUE, &error);
  g_assert_no_error (error);
  for (guint t = 0; t < 2; t++) {
    src[t] = g_new (float, n_src);
    dst[t] = g_new0 (float, n_dst);
    ref[t] = g_new0 (float, n_dst);
    fill_random (src[t], n_src, 11 + t, 1.0f);
    winograd_conv (RN50_WINOGRAD_F4x4_3x3, &s, src[t], weights, NULL, TRUE,
        ref[t], NULL);
    jobs[t] = (ThreadJob) {
    wg, src[t], dst[t], 20, FALSE};
  }
  for (guint t = 0; t < 2; t++)
    threads[t] = g_thread_new ("winograd", run_thread, &jobs[t]);
  for (guint t = 0; t < 2; t++) {
    g_thread_join (threads[t]);
    g_assert_true (jobs[t].ok);
    g_assert_cmpmem (dst[t], n_dst * sizeof (float), ref[t],
        n_dst * sizeof (float));
    g_free (src[t]);
    g_free (dst[t]);
    g_free (ref[t]);
  }
  g_free (weights);
}

static void
test_channels_not_multiple_of_8_are_refused (void)
{
  g_autoptr (GError) error = NULL;
  float weights[12 * 8 * 9] = { 0 };
  Rn50Winograd *wg;

  wg = rn50_winograd_new (engine, RN50_WINOGRAD_F2x2_3x3, 1, 12, 8, 8, 8,
      weights, NULL, FALSE, &error);
  g_assert_null (wg);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SHAPE);
  g_clear_error (&error);
  wg = rn50_winograd_new (engine, RN50_WINOGRAD_F4x4_3x3, 1, 8, 12, 8, 8,
      weights, NULL, FALSE, &error);
  g_assert_null (wg);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SHAPE);
}

static void
test_empty_image_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  float weights[8 * 8 * 9] = { 0 };

  g_assert_null (rn50_winograd_new (engine, RN50_WINOGRAD_F2x2_3x3, 1, 8, 8,
          0, 8, weights, NULL, FALSE, &error));
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SHAPE);
}

static void
test_unknown_variant_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  float weights[8 * 8 * 9] = { 0 };

  g_assert_null (rn50_winograd_new (engine, (Rn50WinogradVariant) 7, 1, 8, 8,
          8, 8, weights, NULL, FALSE, &error));
  g_assert_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED);
}

static void
test_unaligned_scratch_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Winograd) wg = NULL;
  float weights[8 * 8 * 9] = { 0 };
  char *scratch;

  wg = rn50_winograd_new (engine, RN50_WINOGRAD_F2x2_3x3, 1, 8, 8, 4, 4,
      weights, NULL, FALSE, &error);
  g_assert_no_error (error);
  scratch = g_aligned_alloc (rn50_winograd_get_scratch_bytes (wg) + 64, 1,
      64);
  g_assert_null (rn50_winograd_bind (wg, scratch + 4, &error));
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SETTINGS);
  g_aligned_free (scratch);
}

/* The rule must give the picks its measured table (nn/winograd.c) states
 * for ResNet-50's layers, and never pick Winograd for what it cannot run. */
static void
test_choice_rule_follows_its_measured_table (void)
{
  static const struct
  {
    guint n, c, h;
    gboolean winograd;
    Rn50WinogradVariant variant;
  } rows[] = {
    {1, 64, 56, TRUE, RN50_WINOGRAD_F4x4_3x3},
    {1, 128, 28, TRUE, RN50_WINOGRAD_F4x4_3x3},
    {1, 256, 14, TRUE, RN50_WINOGRAD_F2x2_3x3},
    {1, 512, 7, FALSE, 0},
    {8, 64, 56, TRUE, RN50_WINOGRAD_F4x4_3x3},
    {8, 128, 28, TRUE, RN50_WINOGRAD_F4x4_3x3},
    {8, 256, 14, TRUE, RN50_WINOGRAD_F4x4_3x3},
    {8, 512, 7, TRUE, RN50_WINOGRAD_F4x4_3x3},
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    for (guint threads = 1; threads <= 2; threads++) {
      Rn50WinogradVariant v = 99;
      gboolean w = rn50_winograd_choose (rows[i].n, rows[i].c, rows[i].c,
          rows[i].h, rows[i].h, threads, &v);

      g_assert_cmpint (w, ==, rows[i].winograd);
      if (w)
        g_assert_cmpint (v, ==, rows[i].variant);
    }
  g_assert_false (rn50_winograd_choose (8, 12, 64, 56, 56, 2, NULL));
  g_assert_false (rn50_winograd_choose (8, 64, 60, 56, 56, 2, NULL));
  g_assert_false (rn50_winograd_choose (0, 64, 64, 56, 56, 2, NULL));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (dnnl_engine_create (&engine, dnnl_cpu, 0) != dnnl_success
      || dnnl_stream_create (&stream, engine, dnnl_stream_default_flags)
      != dnnl_success)
    g_error ("cannot create a oneDNN CPU engine and stream");

  g_test_add_func ("/winograd/resnet50-shapes-match-direct-convolution",
      test_resnet50_shapes_match_direct_convolution);
  g_test_add_func ("/winograd/odd-shapes-match-direct-convolution",
      test_odd_shapes_match_direct_convolution);
  g_test_add_func ("/winograd/all-ones-gives-hand-computed-tap-counts",
      test_all_ones_gives_hand_computed_tap_counts);
  g_test_add_func ("/winograd/bias-and-relu-are-applied-after-the-transform",
      test_bias_and_relu_are_applied_after_the_transform);
  g_test_add_func ("/winograd/two-threads-share-one-prepared-convolution",
      test_two_threads_share_one_prepared_convolution);
  g_test_add_func ("/winograd/channels-not-multiple-of-8-are-refused",
      test_channels_not_multiple_of_8_are_refused);
  g_test_add_func ("/winograd/empty-image-is-refused",
      test_empty_image_is_refused);
  g_test_add_func ("/winograd/unknown-variant-is-refused",
      test_unknown_variant_is_refused);
  g_test_add_func ("/winograd/unaligned-scratch-is-refused",
      test_unaligned_scratch_is_refused);
  g_test_add_func ("/winograd/choice-rule-follows-its-measured-table",
      test_choice_rule_follows_its_measured_table);
  ret = g_test_run ();
  dnnl_stream_destroy (stream);
  dnnl_engine_destroy (engine);
  return ret;
}
