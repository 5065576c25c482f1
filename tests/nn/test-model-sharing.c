/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Models loaded in one process from the same file with the same settings
 * share one network (the weights once in memory), other settings get their
 * own, and models that share a network run concurrently on their own
 * threads with exactly the results of running one at a time. Also checks
 * that a run leaves the caller's OpenMP team size and MXCSR as they were. */
#include <string.h>

#include <omp.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "model.h"

#define N_THREADS 4
#define RUNS_PER_THREAD 3

static const char *
model_path (void)
{
  const char *path = g_getenv ("RN50_TEST_MODEL");

  g_assert_nonnull (path);
  return path;
}

static Rn50Model *
load_with_flags (guint batch, guint threads, Rn50ModelFlags flags)
{
  Rn50ModelConfig config = { batch, threads, flags };
  GError *error = NULL;
  Rn50Model *model = rn50_model_new_with_config (model_path (), &config,
      &error);

  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static Rn50Model *
load (guint batch, guint threads)
{
  return load_with_flags (batch, threads, RN50_MODEL_FLAGS_NONE);
}

/* Input @seed: a deterministic pattern, different per seed. */
static void
fill_input (Rn50Model * model, guint seed)
{
  float *in = rn50_model_get_input (model);
  guint c, h, w;
  gsize i, n;

  rn50_model_get_input_size (model, &c, &h, &w);
  n = (gsize) c * h * w * rn50_model_get_batch_size (model);
  for (i = 0; i < n; i++)
    in[i] = (float) ((i * (seed + 7) + seed * 131) % 255) / 64.0f - 2.0f;
}

static void
test_same_settings_share_a_network (void)
{
  Rn50Model *a = load (1, 2), *b = load (1, 2), *c = load (1, 1);
  Rn50Model *d;

  g_assert_true (rn50_model_shares_weights (a, b));
  g_assert_false (rn50_model_shares_weights (a, c));
  g_assert_cmpuint (rn50_model_get_threads (a), ==, 2);
  g_assert_cmpuint (rn50_model_get_threads (c), ==, 1);
  /* Separate buffers even when shared. */
  g_assert_true (rn50_model_get_input (a) != rn50_model_get_input (b));
  g_assert_true (rn50_model_get_output (a) != rn50_model_get_output (b));

  /* The network outlives the model that loaded it... */
  rn50_model_free (a);
  d = load (1, 2);
  g_assert_true (rn50_model_shares_weights (b, d));
  rn50_model_free (b);
  rn50_model_free (d);
  /* ...and a load after the last user is gone works from scratch. */
  a = load (1, 2);
  fill_input (a, 1);
  g_assert_true (rn50_model_run (a, NULL));
  rn50_model_free (a);
  rn50_model_free (c);
}

typedef struct
{
  Rn50Model *model;
  guint seed;
  float *outputs;               /* RUNS_PER_THREAD × classes */
  gboolean ok;
} Worker;

static gpointer
worker_run (gpointer data)
{
  Worker *w = data;
  guint classes = rn50_model_get_num_classes (w->model), r;

  w->ok = TRUE;
  for (r = 0; r < RUNS_PER_THREAD; r++) {
    fill_input (w->model, w->seed + r);
    if (!rn50_model_run (w->model, NULL)) {
      w->ok = FALSE;
      break;
    }
    memcpy (w->outputs + (gsize) r * classes, rn50_model_get_output (w->model),
        classes * sizeof (float));
  }
  return NULL;
}

static void
test_shared_models_run_concurrently (void)
{
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  Rn50Model *single = load (1, 1);
  guint classes = rn50_model_get_num_classes (single), i, r;
  float *expected = g_new (float, classes);

  for (i = 0; i < N_THREADS; i++) {
    workers[i].model = load (1, 1);
    workers[i].seed = 10 * i;
    workers[i].outputs = g_new0 (float, (gsize) RUNS_PER_THREAD * classes);
    g_assert_true (rn50_model_shares_weights (single, workers[i].model));
  }
  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("sharing", worker_run, &workers[i]);
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  /* Each concurrent result equals the same input run alone. */
  for (i = 0; i < N_THREADS; i++) {
    g_assert_true (workers[i].ok);
    for (r = 0; r < RUNS_PER_THREAD; r++) {
      fill_input (single, workers[i].seed + r);
      g_assert_true (rn50_model_run (single, NULL));
      memcpy (expected, rn50_model_get_output (single),
          classes * sizeof (float));
      g_assert_cmpmem (workers[i].outputs + (gsize) r * classes,
          classes * sizeof (float), expected, classes * sizeof (float));
    }
    /* Different inputs gave different outputs (the check can fail). */
    if (i > 0)
      g_assert_true (memcmp (workers[i].outputs, workers[0].outputs,
              classes * sizeof (float)) != 0);
  }
  /* Freed only now: every worker's outputs are compared with worker 0's. */
  for (i = 0; i < N_THREADS; i++) {
    rn50_model_free (workers[i].model);
    g_free (workers[i].outputs);
  }
  rn50_model_free (single);
  g_free (expected);
}

/* RN50_MODEL_FLAG_SPIN_WAIT only moves the load to a thread of its own:
 * loaded first with it (so that thread builds the network), a model shares
 * its network with one loaded without it and computes the same outputs. */
static void
test_spin_wait_loads_the_same_shared_network (void)
{
  Rn50Model *spin = load_with_flags (1, 2, RN50_MODEL_FLAG_SPIN_WAIT);
  Rn50Model *plain = load (1, 2);
  guint classes = rn50_model_get_num_classes (spin);
  float *expected = g_new (float, classes);

  g_assert_true (rn50_model_shares_weights (spin, plain));
  fill_input (plain, 3);
  g_assert_true (rn50_model_run (plain, NULL));
  memcpy (expected, rn50_model_get_output (plain), classes * sizeof (float));
  fill_input (spin, 3);
  g_assert_true (rn50_model_run (spin, NULL));
  g_assert_cmpmem (rn50_model_get_output (spin), classes * sizeof (float),
      expected, classes * sizeof (float));
  rn50_model_free (spin);
  rn50_model_free (plain);
  g_free (expected);
}

static void
test_run_restores_caller_threads_and_mxcsr (void)
{
  Rn50Model *model = load (1, 1);
#if defined(__SSE2__)
  guint csr;
#endif

  omp_set_num_threads (3);
#if defined(__SSE2__)
  _mm_setcsr (_mm_getcsr () & ~0x8040u);
  csr = _mm_getcsr ();
#endif
  fill_input (model, 5);
  g_assert_true (rn50_model_run (model, NULL));
  g_assert_cmpint (omp_get_max_threads (), ==, 3);
#if defined(__SSE2__)
  g_assert_cmphex (_mm_getcsr (), ==, csr);
#endif
  rn50_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/sharing/same-settings",
      test_same_settings_share_a_network);
  g_test_add_func ("/model/sharing/concurrent-runs",
      test_shared_models_run_concurrently);
  g_test_add_func ("/model/sharing/spin-wait",
      test_spin_wait_loads_the_same_shared_network);
  g_test_add_func ("/model/run-restores-caller-state",
      test_run_restores_caller_threads_and_mxcsr);
  return g_test_run ();
}
