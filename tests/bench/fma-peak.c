/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fma-peak: measures this machine's FP32 fused-multiply-add peak, the
 * ceiling the benchmark divides the engine's GFLOP/s by. Each thread runs a
 * loop of 8-wide AVX2 FMAs on 12 independent accumulators: enough to keep
 * both FMA pipes of a Zen 3 / Skylake core busy despite the 4–5 cycle
 * latency, with no memory traffic at all. One FMA instruction counts as
 * 8 lanes × 2 FLOP = 16 FLOP.
 *
 *   fma-peak [--threads N[,N...]] [--seconds S] [--repeat R]
 *
 * For each thread count it prints one line per measurement set:
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
#define FLOP_PER_FMA 16         /* 8 float lanes × (multiply + add) */
#define MAX_THREADS 256

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
#define FMA12(m, c) \
  a0 = _mm256_fmadd_ps (a0, m, c); a1 = _mm256_fmadd_ps (a1, m, c); \
  a2 = _mm256_fmadd_ps (a2, m, c); a3 = _mm256_fmadd_ps (a3, m, c); \
  a4 = _mm256_fmadd_ps (a4, m, c); a5 = _mm256_fmadd_ps (a5, m, c); \
  a6 = _mm256_fmadd_ps (a6, m, c); a7 = _mm256_fmadd_ps (a7, m, c); \
  a8 = _mm256_fmadd_ps (a8, m, c); a9 = _mm256_fmadd_ps (a9, m, c); \
  a10 = _mm256_fmadd_ps (a10, m, c); a11 = _mm256_fmadd_ps (a11, m, c)

__attribute__((target ("avx2,fma"), noinline))
static float
fma_loop (uint64_t iterations)
{
  const __m256 mul = _mm256_set1_ps (0.999999f);
  const __m256 add = _mm256_set1_ps (1e-7f);
  __m256 a0 = _mm256_set1_ps (1.0f), a1 = _mm256_set1_ps (2.0f);
  __m256 a2 = _mm256_set1_ps (3.0f), a3 = _mm256_set1_ps (4.0f);
  __m256 a4 = _mm256_set1_ps (5.0f), a5 = _mm256_set1_ps (6.0f);
  __m256 a6 = _mm256_set1_ps (7.0f), a7 = _mm256_set1_ps (8.0f);
  __m256 a8 = _mm256_set1_ps (9.0f), a9 = _mm256_set1_ps (10.0f);
  __m256 a10 = _mm256_set1_ps (11.0f), a11 = _mm256_set1_ps (12.0f);
  __m256 total;
  float lanes[8], sum = 0.0f;
  uint64_t i;
  int l;

  for (i = 0; i < iterations; i++) {
    FMA12 (mul, add);
    /* An empty asm that "reads" every accumulator: the compiler can neither
     * drop the loop nor fold it into a closed form. */
    __asm__ volatile (""::"x" (a0), "x" (a1), "x" (a2), "x" (a3), "x" (a4),
        "x" (a5), "x" (a6), "x" (a7), "x" (a8), "x" (a9), "x" (a10),
        "x" (a11));
  }
  total = _mm256_add_ps (_mm256_add_ps (_mm256_add_ps (a0, a1),
          _mm256_add_ps (a2, a3)), _mm256_add_ps (_mm256_add_ps (a4, a5),
          _mm256_add_ps (a6, a7)));
  total = _mm256_add_ps (total, _mm256_add_ps (_mm256_add_ps (a8, a9),
          _mm256_add_ps (a10, a11)));
  _mm256_storeu_ps (lanes, total);
  for (l = 0; l < 8; l++)
    sum += lanes[l];
  return sum;
}

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
  flop = (double) threads * iterations * ACCUMULATORS * FLOP_PER_FMA;
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

  for (i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      snprintf (thread_list, sizeof thread_list, "%s", argv[++i]);
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = atoi (argv[++i]);
    else {
      fprintf (stderr, "usage: fma-peak [--threads N[,N...]] [--seconds S] "
          "[--repeat R]\n");
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
