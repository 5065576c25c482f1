/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fma-peak: measures this machine's FP32 fused-multiply-add peak, the
 * ceiling the benchmark divides the engine's GFLOP/s by. Each thread runs a
 * loop of FMAs of the widest vectors the CPU has (AVX-512: 16 lanes, else
 * AVX2: 8) on 12 independent accumulators: enough to keep both FMA pipes of
 * a Zen / Skylake-or-later core busy despite the 4–5 cycle latency, with no
 * memory traffic at all. One FMA instruction counts as lanes × 2 FLOP. The
 * widest ISA matters: oneDNN and ONNX Runtime both use AVX-512 where it
 * exists, so an AVX2 loop would understate the ceiling by up to 2×.
 *
 *   fma-peak [--threads N[,N...]] [--seconds S] [--repeat R] [--isa avx2]
 *
 * It prints the ISA used (`isa avx512f` or `isa avx2`), then per thread
 * count:
 *   threads N gflops G
 * where G is the best (least disturbed) of R timed runs of about S/R
 * seconds each, summed over the N threads. Exit status 1 on bad arguments
 * or a CPU without AVX2+FMA. */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCUMULATORS 12
#define MAX_THREADS 256

/* One of the loops below and the FLOP of one of its FMA instructions. */
typedef float (*FmaLoop) (uint64_t iterations);
static FmaLoop fma_loop;
static int flop_per_fma;

typedef struct
{
  uint64_t iterations;          /* inner loop trips, ACCUMULATORS FMAs each */
  pthread_barrier_t *start;
  double seconds;               /* wall time of this thread's loop */
  float sink;                   /* keeps the result alive */
} Worker;

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The loop the compiler must not shorten: the multiplier is close to 1 and
 * the addend tiny, so values stay finite and normal for any trip count. The
 * accumulators are named variables (not an array) so that they live in
 * registers at any optimization level. */
/* The same loop for each vector width: V is the vector type, P the
 * intrinsics' prefix (_mm256 or _mm512), LANES its floats. */
#define DEFINE_FMA_LOOP(name, isa, V, P, LANES) \
__attribute__((target (isa), noinline)) \
static float \
name (uint64_t iterations) \
{ \
  const V mul = P##_set1_ps (0.999999f), add = P##_set1_ps (1e-7f); \
  V a0 = P##_set1_ps (1.0f), a1 = P##_set1_ps (2.0f); \
  V a2 = P##_set1_ps (3.0f), a3 = P##_set1_ps (4.0f); \
  V a4 = P##_set1_ps (5.0f), a5 = P##_set1_ps (6.0f); \
  V a6 = P##_set1_ps (7.0f), a7 = P##_set1_ps (8.0f); \
  V a8 = P##_set1_ps (9.0f), a9 = P##_set1_ps (10.0f); \
  V a10 = P##_set1_ps (11.0f), a11 = P##_set1_ps (12.0f); \
  float lanes[LANES], sum = 0.0f; \
  uint64_t i; \
  int l; \
  \
  for (i = 0; i < iterations; i++) { \
    a0 = P##_fmadd_ps (a0, mul, add); a1 = P##_fmadd_ps (a1, mul, add); \
    a2 = P##_fmadd_ps (a2, mul, add); a3 = P##_fmadd_ps (a3, mul, add); \
    a4 = P##_fmadd_ps (a4, mul, add); a5 = P##_fmadd_ps (a5, mul, add); \
    a6 = P##_fmadd_ps (a6, mul, add); a7 = P##_fmadd_ps (a7, mul, add); \
    a8 = P##_fmadd_ps (a8, mul, add); a9 = P##_fmadd_ps (a9, mul, add); \
    a10 = P##_fmadd_ps (a10, mul, add); a11 = P##_fmadd_ps (a11, mul, add); \
    /* An empty asm that "reads" every accumulator: the compiler can \
     * neither drop the loop nor fold it into a closed form. */ \
    __asm__ volatile (""::"v" (a0), "v" (a1), "v" (a2), "v" (a3), \
        "v" (a4), "v" (a5), "v" (a6), "v" (a7), "v" (a8), "v" (a9), \
        "v" (a10), "v" (a11)); \
  } \
  a0 = P##_add_ps (P##_add_ps (P##_add_ps (a0, a1), P##_add_ps (a2, a3)), \
      P##_add_ps (P##_add_ps (a4, a5), P##_add_ps (a6, a7))); \
  a0 = P##_add_ps (a0, P##_add_ps (P##_add_ps (a8, a9), \
          P##_add_ps (a10, a11))); \
  P##_storeu_ps (lanes, a0); \
  for (l = 0; l < LANES; l++) \
    sum += lanes[l]; \
  return sum; \
}

DEFINE_FMA_LOOP (fma_loop_avx2, "avx2,fma", __m256, _mm256, 8)
DEFINE_FMA_LOOP (fma_loop_avx512, "avx512f", __m512, _mm512, 16)

static void *
worker_run (void *data)
{
  Worker *w = data;
  double t0;

  pthread_barrier_wait (w->start);
  t0 = now_seconds ();
  w->sink = fma_loop (w->iterations);
  w->seconds = now_seconds () - t0;
  return NULL;
}

/* Runs N threads of `iterations` trips each; returns GFLOP/s over the
 * slowest thread's time (all threads must finish for the work to count),
 * or a negative value if a thread could not be created. */
static double
measure (int threads, uint64_t iterations)
{
  pthread_t tid[MAX_THREADS];
  Worker w[MAX_THREADS];
  pthread_barrier_t start;
  double slowest = 0.0, flop;
  int t, created = 0;

  pthread_barrier_init (&start, NULL, threads);
  for (t = 0; t < threads; t++) {
    w[t].iterations = iterations;
    w[t].start = &start;
    w[t].seconds = 0.0;
    if (pthread_create (&tid[t], NULL, worker_run, &w[t]) != 0)
      break;
    created++;
  }
  if (created != threads) {
    /* The barrier would never open: give up (only at start-up, so the
     * created threads are still waiting; exit kills them). */
    fprintf (stderr, "fma-peak: cannot create %d threads\n", threads);
    return -1.0;
  }
  for (t = 0; t < threads; t++) {
    pthread_join (tid[t], NULL);
    if (w[t].seconds > slowest)
      slowest = w[t].seconds;
  }
  pthread_barrier_destroy (&start);
  flop = (double) threads * iterations * ACCUMULATORS * flop_per_fma;
  return flop / slowest / 1e9;
}

int
main (int argc, char **argv)
{
  char thread_list[256] = "1,2";
  double seconds = 2.0, best, g, t0, per_run;
  uint64_t iterations;
  int repeat = 5, i, r, threads;
  char *tok, *save = NULL;
  const char *isa = NULL;

  for (i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      snprintf (thread_list, sizeof thread_list, "%s", argv[++i]);
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = atoi (argv[++i]);
    else if (strcmp (argv[i], "--isa") == 0 && i + 1 < argc
        && strcmp (argv[i + 1], "avx2") == 0)
      isa = argv[++i];
    else {
      fprintf (stderr, "usage: fma-peak [--threads N[,N...]] [--seconds S] "
          "[--repeat R] [--isa avx2]\n");
      return 1;
    }
  }
  if (seconds <= 0.0 || repeat < 1) {
    fprintf (stderr, "fma-peak: --seconds and --repeat must be positive\n");
    return 1;
  }
  __builtin_cpu_init ();
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma")) {
    fprintf (stderr, "fma-peak: this CPU has no AVX2+FMA\n");
    return 1;
  }
  if (isa == NULL && __builtin_cpu_supports ("avx512f")) {
    isa = "avx512f";
    fma_loop = fma_loop_avx512;
    flop_per_fma = 16 * 2;
  } else {
    isa = "avx2";
    fma_loop = fma_loop_avx2;
    flop_per_fma = 8 * 2;
  }
  printf ("isa %s\n", isa);

  /* Calibrate the trip count so one run takes about seconds/repeat. */
  per_run = seconds / repeat;
  iterations = 1u << 20;
  for (;;) {
    t0 = now_seconds ();
    fma_loop (iterations);
    if (now_seconds () - t0 > 0.05 || iterations > (1ull << 40))
      break;
    iterations *= 2;
  }
  iterations = (uint64_t) (iterations * per_run / (now_seconds () - t0 + 1e-9));
  if (iterations < 1024)
    iterations = 1024;

  for (tok = strtok_r (thread_list, ",", &save); tok != NULL;
      tok = strtok_r (NULL, ",", &save)) {
    threads = atoi (tok);
    if (threads < 1 || threads > MAX_THREADS) {
      fprintf (stderr, "fma-peak: bad thread count '%s'\n", tok);
      return 1;
    }
    best = 0.0;
    for (r = 0; r < repeat; r++) {
      g = measure (threads, iterations);
      if (g < 0.0)
        return 1;
      if (g > best)
        best = g;
    }
    printf ("threads %d gflops %.1f\n", threads, best);
    fflush (stdout);
  }
  return 0;
}
