/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rn50-wino-bench [--repeat N] [--threads 1,2] [--batches 1,8] [--portable]:
 * times ResNet-50's four 3×3 stride-1 convolution shapes (56×56×64,
 * 28×28×128, 14×14×256, 7×7×512, bias + ReLU) with oneDNN's direct
 * convolution (format_tag any everywhere, as the engine builds it) and with
 * nn/winograd.c's F(2×2,3×3) and F(4×4,3×3), and prints one table row per
 * shape, batch and thread count: best-of-N milliseconds and GFLOP/s counted
 * with the direct convolution's 2·N·K·C·9·H·W FLOPs for all three, so the
 * columns compare wall time. The numbers behind rn50_winograd_choose(). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl-check.h"
#include "winograd.h"

typedef struct
{
  guint c, h;                   /* c = k, h = w */
} BenchShape;

static const BenchShape shapes[] = {
  {64, 56}, {128, 28}, {256, 14}, {512, 7},
};

static void
fill (float *x, gsize count, guint32 seed)
{
  guint32 s = seed * 2654435761u + 1;

  for (gsize i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    x[i] = 0.05f * ((float) (s >> 8) / (float) (1u << 23) - 1.0f);
  }
}

static void *
alloc64 (gsize bytes)
{
  void *p = g_aligned_alloc0 (bytes, 1, 64);
  return p;
}

/* One way of running the layer, ready to execute. */
typedef struct
{
  /* direct */
  dnnl_primitive_t conv;
  dnnl_memory_t mem[4];
  dnnl_exec_arg_t args[4];
  /* Winograd */
  Rn50Winograd *wg;
  Rn50WinogradBinding *binding;
  void *scratch;
  float *src, *dst;
  double best_ms;
} Candidate;

static void
candidate_clear (Candidate * cand)
{
  for (guint i = 0; i < 4; i++)
    if (cand->mem[i])
      dnnl_memory_destroy (cand->mem[i]);
  if (cand->conv)
    dnnl_primitive_destroy (cand->conv);
  rn50_winograd_binding_free (cand->binding);
  rn50_winograd_free (cand->wg);
  g_aligned_free (cand->scratch);
  g_aligned_free (cand->src);
  g_aligned_free (cand->dst);
  memset (cand, 0, sizeof (*cand));
}

/* oneDNN's direct convolution with format_tag any for activations and
 * weights, bias and a ReLU post-op (as the engine builds it); also tells
 * whether oneDNN picked nChw8c for the activations. */
static gboolean
prepare_direct (dnnl_engine_t engine, guint n, guint c, guint h,
    Candidate * cand, char **src_format, GError ** error)
{
  gboolean ok = FALSE;
  dnnl_memory_desc_t src_md, w_md, b_md, dst_md, nchw8c_md;
  dnnl_convolution_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t ops = NULL;
  dnnl_primitive_desc_t pd = NULL;
  const dnnl_memory_desc_t *q;
  dnnl_dims_t src_dims = { n, c, h, h }, w_dims = { c, c, 3, 3 };
  dnnl_dims_t b_dims = { c }, strides = { 1, 1 }, pad = { 1, 1 };
  const int kinds[4] = { DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS,
    DNNL_ARG_DST
  };
  const dnnl_query_t queries[4] = { dnnl_query_src_md, dnnl_query_weights_md,
    dnnl_query_weights_md, dnnl_query_dst_md
  };

  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 4, src_dims,
          dnnl_f32, dnnl_format_tag_any));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&w_md, 4, w_dims, dnnl_f32,
          dnnl_format_tag_any));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&b_md, 1, b_dims, dnnl_f32,
          dnnl_a));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst_md, 4, src_dims,
          dnnl_f32, dnnl_format_tag_any));
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&nchw8c_md, 4, src_dims,
          dnnl_f32, dnnl_nChw8c));
  RN50_DNNL_CHECK (dnnl_convolution_forward_desc_init (&desc,
          dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_md,
          &b_md, &dst_md, strides, pad, pad));
  RN50_DNNL_CHECK (dnnl_primitive_attr_create (&attr));
  RN50_DNNL_CHECK (dnnl_post_ops_create (&ops));
  RN50_DNNL_CHECK (dnnl_post_ops_append_eltwise (ops, 1.0f, dnnl_eltwise_relu,
          0.0f, 0.0f));
  RN50_DNNL_CHECK (dnnl_primitive_attr_set_post_ops (attr, ops));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, attr, engine,
          NULL));
  RN50_DNNL_CHECK (dnnl_primitive_create (&cand->conv, pd));
  q = dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0);
  *src_format = g_strdup (dnnl_memory_desc_equal (q, &nchw8c_md) ?
      "nChw8c" : "other");
  for (guint i = 0; i < 4; i++) {
    void *handle = NULL;
    q = i == 2 ? &b_md : dnnl_primitive_desc_query_md (pd, queries[i], 0);
    RN50_DNNL_CHECK (dnnl_memory_create (&cand->mem[i], q, engine,
            DNNL_MEMORY_ALLOCATE));
    RN50_DNNL_CHECK (dnnl_memory_get_data_handle (cand->mem[i], &handle));
    fill (handle, dnnl_memory_desc_get_size (q) / sizeof (float), i + 1);
    cand->args[i].arg = kinds[i];
    cand->args[i].memory = cand->mem[i];
  }
  ok = TRUE;

out:
  if (pd)
    dnnl_primitive_desc_destroy (pd);
  if (ops)
    dnnl_post_ops_destroy (ops);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  return ok;
}

static gboolean
prepare_winograd (dnnl_engine_t engine, Rn50WinogradVariant variant,
    gboolean portable, guint n, guint c, guint h, Candidate * cand,
    GError ** error)
{
  const gsize act = (gsize) n * c * h * h;
  g_autofree float *weights = g_new (float, (gsize) c * c * 9);
  g_autofree float *bias = g_new (float, c);

  fill (weights, (gsize) c * c * 9, 2);
  fill (bias, c, 3);
  cand->src = alloc64 (act * sizeof (float));
  cand->dst = alloc64 (act * sizeof (float));
  fill (cand->src, act, 1);
  cand->wg = rn50_winograd_new (engine, variant, n, c, c, h, h, weights, bias,
      TRUE, error);
  if (cand->wg == NULL)
    return FALSE;
  if (portable)
    rn50_winograd_force_portable (cand->wg);
  cand->scratch = alloc64 (rn50_winograd_get_scratch_bytes (cand->wg));
  cand->binding = rn50_winograd_bind (cand->wg, cand->scratch, error);
  return cand->binding != NULL;
}

static gboolean
run_once (Candidate * cand, dnnl_stream_t stream, gboolean timed,
    GError ** error)
{
  gboolean ok = FALSE;
  gint64 t0 = g_get_monotonic_time ();

  if (cand->wg != NULL) {
    if (!rn50_winograd_execute (cand->wg, cand->binding, stream, cand->src,
            cand->dst, error))
      return FALSE;
  } else {
    RN50_DNNL_CHECK (dnnl_primitive_execute (cand->conv, stream, 4,
            cand->args));
    RN50_DNNL_CHECK (dnnl_stream_wait (stream));
  }
  if (timed)
    cand->best_ms = MIN (cand->best_ms,
        (g_get_monotonic_time () - t0) / 1000.0);
  ok = TRUE;

out:
  return ok;
}

static guint *
parse_list (const char *s, guint * count)
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  guint *v = g_new0 (guint, g_strv_length (parts) + 1);

  *count = 0;
  for (guint i = 0; parts[i] != NULL; i++) {
    guint64 x;
    if (!g_ascii_string_to_unsigned (parts[i], 10, 1, 1024, &x, NULL)) {
      g_free (v);
      return NULL;
    }
    v[(*count)++] = (guint) x;
  }
  return v;
}

int
main (int argc, char **argv)
{
  gint repeat = 20;
  gchar *threads_arg = NULL, *batches_arg = NULL;
  gboolean portable = FALSE;
  GOptionEntry entries[] = {
    {"repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
        "Timed runs per measurement (best is kept)", "N"},
    {"threads", 't', 0, G_OPTION_ARG_STRING, &threads_arg,
        "Comma-separated OpenMP thread counts (default 1,2)", "LIST"},
    {"batches", 'b', 0, G_OPTION_ARG_STRING, &batches_arg,
        "Comma-separated batch sizes (default 1,8)", "LIST"},
    {"portable", 0, 0, G_OPTION_ARG_NONE, &portable,
        "Time the portable transforms instead of AVX2+FMA", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("");
  g_autoptr (GError) err = NULL;
  GError **error = &err;
  dnnl_engine_t engine = NULL;
  guint n_threads = 0, n_batches = 0;
  g_autofree guint *threads = NULL, *batches = NULL;
  int ret = 1;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || repeat < 1) {
    g_printerr ("%s\n", err ? err->message : "--repeat must be ≥ 1");
    return 2;
  }
  threads = parse_list (threads_arg ? threads_arg : "1,2", &n_threads);
  batches = parse_list (batches_arg ? batches_arg : "1,8", &n_batches);
  if (threads == NULL || batches == NULL) {
    g_printerr ("--threads and --batches take lists like 1,2\n");
    return 2;
  }

  RN50_DNNL_CHECK (dnnl_engine_create (&engine, dnnl_cpu, 0));
  g_print ("best of %d runs; GFLOP/s = direct FLOPs (2*N*K*C*9*H*W) / time;"
      " transforms: %s\n", repeat, portable ? "portable" :
      __builtin_cpu_supports ("avx2")
      && __builtin_cpu_supports ("fma") ? "AVX2+FMA" : "portable");
  g_print ("%-14s %2s %3s | %9s %6s | %9s %6s | %9s %6s | %s\n", "shape", "N",
      "thr", "direct ms", "GF/s", "F2 ms", "GF/s", "F4 ms", "GF/s", "best");
  for (guint ti = 0; ti < n_threads; ti++) {
    dnnl_stream_t stream = NULL;

    /* oneDNN sizes its kernels for omp_get_max_threads() at primitive
     * creation, and the primitive cache key includes the thread count, so
     * setting it before creating anything is the same as OMP_NUM_THREADS. */
    omp_set_num_threads (threads[ti]);
    RN50_DNNL_CHECK (dnnl_stream_create (&stream, engine,
            dnnl_stream_default_flags));
    for (guint bi = 0; bi < n_batches; bi++)
      for (guint si = 0; si < G_N_ELEMENTS (shapes); si++) {
        const guint n = batches[bi], c = shapes[si].c, h = shapes[si].h;
        const double gflop = 2.0 * n * c * c * 9 * h * h / 1e9;
        Candidate cands[3] = { {0}, {0}, {0} };
        g_autofree char *fmt = NULL;
        g_autofree char *label = g_strdup_printf ("%ux%ux%u", h, h, c);
        const char *names[3] = { "direct", "F2", "F4" };
        const char *impl;
        guint best = 0;
        gboolean ok;

        ok = prepare_direct (engine, n, c, h, &cands[0], &fmt, error)
            && prepare_winograd (engine, RN50_WINOGRAD_F2x2_3x3, portable, n,
            c, h, &cands[1], error)
            && prepare_winograd (engine, RN50_WINOGRAD_F4x4_3x3, portable, n,
            c, h, &cands[2], error);
        /* Round robin, so that load from other processes on this shared
         * machine hits the three alike; two warm-up rounds. */
        for (guint i = 0; i < 3; i++)
          cands[i].best_ms = G_MAXDOUBLE;
        for (gint r = 0; ok && r < repeat + 2; r++)
          for (guint i = 0; ok && i < 3; i++)
            ok = run_once (&cands[i], stream, r >= 2, error);
        if (!ok) {
          for (guint i = 0; i < 3; i++)
            candidate_clear (&cands[i]);
          dnnl_stream_destroy (stream);
          goto out;
        }
        for (guint i = 1; i < 3; i++)
          if (cands[i].best_ms < cands[best].best_ms)
            best = i;
        impl = rn50_winograd_get_matmul_impl (cands[2].wg);
        g_print ("%-14s %2u %3u | %9.3f %6.1f | %9.3f %6.1f | %9.3f %6.1f |"
            " %-6s (src %s, matmul %s)\n", label, n, threads[ti],
            cands[0].best_ms, gflop / cands[0].best_ms * 1e3,
            cands[1].best_ms, gflop / cands[1].best_ms * 1e3,
            cands[2].best_ms, gflop / cands[2].best_ms * 1e3, names[best],
            fmt, impl);
        for (guint i = 0; i < 3; i++)
          candidate_clear (&cands[i]);
      }
    dnnl_stream_destroy (stream);
  }
  ret = 0;

out:
  if (err != NULL)
    g_printerr ("rn50-wino-bench: %s\n", err->message);
  if (engine)
    dnnl_engine_destroy (engine);
  g_free (threads_arg);
  g_free (batches_arg);
  return ret;
}
