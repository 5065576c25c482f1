/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a run of the engine allocates, counted by interposing the C
 * allocator in this process (every library's malloc goes through these
 * definitions). The engine's own per-frame path allocates nothing; oneDNN's
 * dnnl_primitive_execute() builds a small argument map per call and its
 * GEMM driver a packing buffer, both freed before returning. So the test requires that, after the first run:
 *   - every run makes the same number of allocations (nothing grows with
 *     the frame count: no caches filling, no per-frame leaks),
 *   - every byte allocated during a run is freed during it,
 *   - no allocation is larger than 64 KiB (no tensor, scratchpad or
 *     primitive is created per frame),
 * and prints the per-run count, which the README quotes. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void *__libc_memalign (size_t alignment, size_t size);
extern void __libc_free (void *p);

static volatile gint counting;
static gint n_allocs;
static gint n_frees;
static gint64 largest;          /* bytes, largest single request */

static inline void
count (size_t size)
{
  if (g_atomic_int_get (&counting)) {
    gint64 old;
    g_atomic_int_inc (&n_allocs);
    do {
      old = largest;
    } while ((gint64) size > old &&
        !__atomic_compare_exchange_n (&largest, &old, (gint64) size, FALSE,
            __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  }
}

void *
malloc (size_t size)
{
  count (size);
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  count (n * size);
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
  count (size);
  if (p != NULL && g_atomic_int_get (&counting))
    g_atomic_int_inc (&n_frees);
  return __libc_realloc (p, size);
}

void *
memalign (size_t alignment, size_t size)
{
  count (size);
  return __libc_memalign (alignment, size);
}

void *
aligned_alloc (size_t alignment, size_t size)
{
  count (size);
  return __libc_memalign (alignment, size);
}

int
posix_memalign (void **out, size_t alignment, size_t size)
{
  void *p;

  count (size);
  p = __libc_memalign (alignment, size);
  if (p == NULL)
    return 12;                  /* ENOMEM */
  *out = p;
  return 0;
}

void
free (void *p)
{
  if (p != NULL && g_atomic_int_get (&counting))
    g_atomic_int_inc (&n_frees);
  __libc_free (p);
}

/* Largest allocation a run may make: oneDNN's per-call argument map nodes
 * are tens of bytes and its GEMM driver (the Winograd tile products) packs
 * panels into a 16 KiB buffer per call; the smallest activation of the
 * network is 392 KiB (2048×7×7 floats) and a primitive's JIT code and
 * descriptors are larger still, so none of those is made per run. */
#define MAX_RUN_ALLOCATION (64 * 1024)

static void
test_runs_allocate_the_same_small_amount (void)
{
  const char *path = g_getenv ("RN50_TEST_MODEL");
  Rn50ModelConfig config = { 1, 0, RN50_MODEL_FLAGS_NONE };
  GError *error = NULL;
  Rn50Model *model;
  gint per_run[5];
  guint r;

  g_assert_nonnull (path);
  model = rn50_model_new_with_config (path, &config, &error);
  g_assert_no_error (error);
  memset (rn50_model_get_input (model), 0, sizeof (float) * 3 * 224 * 224);
  /* The first run may set up lazily (OpenMP's thread pool). */
  g_assert_true (rn50_model_run (model, NULL));

  for (r = 0; r < G_N_ELEMENTS (per_run); r++) {
    n_allocs = n_frees = 0;
    largest = 0;
    g_atomic_int_set (&counting, 1);
    g_assert_true (rn50_model_run (model, NULL));
    g_atomic_int_set (&counting, 0);
    per_run[r] = n_allocs;
    g_assert_cmpint (n_frees, ==, n_allocs);
    g_assert_cmpint (largest, <=, MAX_RUN_ALLOCATION);
    if (r > 0)
      g_assert_cmpint (per_run[r], ==, per_run[0]);
  }
  g_print ("# a run makes %d allocations (largest %" G_GINT64_FORMAT
      " bytes), all freed within the run\n", per_run[0], largest);
  rn50_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/run/allocations",
      test_runs_allocate_the_same_small_amount);
  return g_test_run ();
}
