/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nn/postprocess.c: softmax values computed by hand,
 * numerical stability with huge logits, top-k order, ties, threshold, and
 * the degenerate inputs (k = 0, n = 0, NaN scores). */
#include <math.h>

#include "postprocess.h"

/* softmax (1, 2, 3): e^1, e^2, e^3 = 2.718282, 7.389056, 20.085537, sum
 * 30.192875 → 0.0900306, 0.2447285, 0.6652410 */
static const float softmax_123[3] = { 0.0900306f, 0.2447285f, 0.6652410f };

static void
test_softmax_matches_hand_computed_values (void)
{
  const float logits[3] = { 1.0f, 2.0f, 3.0f };
  float probs[3];
  guint i;

  rn50_softmax (logits, probs, 3);
  for (i = 0; i < 3; i++)
    g_assert_cmpfloat_with_epsilon (probs[i], softmax_123[i], 1e-6);
}

static void
test_softmax_is_stable_for_huge_logits (void)
{
  /* exp (1000) overflows a float (and a double): only a max-subtracting
   * softmax gets the same result as for (1, 2, 3). */
  const float big[3] = { 1000.0f, 1001.0f, 1002.0f };
  const float small[3] = { -1002.0f, -1001.0f, -1000.0f };
  float probs[3];
  guint i;

  rn50_softmax (big, probs, 3);
  for (i = 0; i < 3; i++)
    g_assert_cmpfloat_with_epsilon (probs[i], softmax_123[i], 1e-6);
  rn50_softmax (small, probs, 3);
  for (i = 0; i < 3; i++)
    g_assert_cmpfloat_with_epsilon (probs[i], softmax_123[i], 1e-6);
}

static void
test_softmax_of_1000_equal_logits_is_uniform_and_sums_to_1 (void)
{
  float logits[1000], probs[1000];
  double sum = 0.0;
  guint i;

  for (i = 0; i < 1000; i++)
    logits[i] = 7.5f;
  rn50_softmax (logits, probs, 1000);
  for (i = 0; i < 1000; i++) {
    g_assert_cmpfloat_with_epsilon (probs[i], 0.001, 1e-9);
    sum += probs[i];
  }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
}

static void
test_softmax_works_in_place (void)
{
  float v[3] = { 3.0f, 1.0f, 2.0f };

  rn50_softmax (v, v, 3);
  g_assert_cmpfloat_with_epsilon (v[0], softmax_123[2], 1e-6);
  g_assert_cmpfloat_with_epsilon (v[1], softmax_123[0], 1e-6);
  g_assert_cmpfloat_with_epsilon (v[2], softmax_123[1], 1e-6);
}

static void
test_softmax_of_nothing_does_nothing (void)
{
  rn50_softmax (NULL, NULL, 0);
}

static const float scores[6] = { 0.10f, 0.50f, 0.20f, 0.90f, 0.30f, 0.05f };

static void
test_top_k_orders_best_first (void)
{
  guint idx[3] = { 99, 99, 99 };

  g_assert_cmpuint (rn50_top_k (scores, 6, 3, 0.0f, idx), ==, 3);
  g_assert_cmpuint (idx[0], ==, 3);
  g_assert_cmpuint (idx[1], ==, 1);
  g_assert_cmpuint (idx[2], ==, 4);
}

static void
test_top_k_puts_lower_index_first_on_ties (void)
{
  const float tied[6] = { 0.2f, 0.5f, 0.1f, 0.5f, 0.7f, 0.5f };
  guint idx[4];

  g_assert_cmpuint (rn50_top_k (tied, 6, 4, 0.0f, idx), ==, 4);
  g_assert_cmpuint (idx[0], ==, 4);
  g_assert_cmpuint (idx[1], ==, 1);
  g_assert_cmpuint (idx[2], ==, 3);
  g_assert_cmpuint (idx[3], ==, 5);
  /* a tie at the cut keeps the lower index */
  g_assert_cmpuint (rn50_top_k (tied, 6, 2, 0.0f, idx), ==, 2);
  g_assert_cmpuint (idx[0], ==, 4);
  g_assert_cmpuint (idx[1], ==, 1);
}

static void
test_top_k_threshold_drops_lower_scores (void)
{
  guint idx[6];

  /* 0.3 is kept (≥ threshold), 0.2, 0.1 and 0.05 are not */
  g_assert_cmpuint (rn50_top_k (scores, 6, 6, 0.3f, idx), ==, 3);
  g_assert_cmpuint (idx[0], ==, 3);
  g_assert_cmpuint (idx[1], ==, 1);
  g_assert_cmpuint (idx[2], ==, 4);
}

static void
test_top_k_larger_than_n_returns_n (void)
{
  guint idx[10];

  g_assert_cmpuint (rn50_top_k (scores, 6, 10, 0.0f, idx), ==, 6);
  g_assert_cmpuint (idx[0], ==, 3);
  g_assert_cmpuint (idx[5], ==, 5);
}

static void
test_top_k_of_zero_returns_nothing (void)
{
  guint idx[1] = { 42 };

  g_assert_cmpuint (rn50_top_k (scores, 6, 0, 0.0f, NULL), ==, 0);
  g_assert_cmpuint (rn50_top_k (NULL, 0, 5, 0.0f, idx), ==, 0);
  g_assert_cmpuint (idx[0], ==, 42);
}

static void
test_top_k_threshold_above_every_score_returns_nothing (void)
{
  guint idx[3];

  g_assert_cmpuint (rn50_top_k (scores, 6, 3, 0.95f, idx), ==, 0);
}

static void
test_top_k_never_returns_nan_scores (void)
{
  const float with_nan[4] = { NAN, 0.2f, NAN, 0.1f };
  guint idx[4];

  g_assert_cmpuint (rn50_top_k (with_nan, 4, 4, -1.0f, idx), ==, 2);
  g_assert_cmpuint (idx[0], ==, 1);
  g_assert_cmpuint (idx[1], ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/postprocess/softmax-matches-hand-computed-values",
      test_softmax_matches_hand_computed_values);
  g_test_add_func ("/postprocess/softmax-is-stable-for-huge-logits",
      test_softmax_is_stable_for_huge_logits);
  g_test_add_func ("/postprocess/softmax-of-1000-equal-logits-is-uniform-"
      "and-sums-to-1",
      test_softmax_of_1000_equal_logits_is_uniform_and_sums_to_1);
  g_test_add_func ("/postprocess/softmax-works-in-place",
      test_softmax_works_in_place);
  g_test_add_func ("/postprocess/softmax-of-nothing-does-nothing",
      test_softmax_of_nothing_does_nothing);
  g_test_add_func ("/postprocess/top-k-orders-best-first",
      test_top_k_orders_best_first);
  g_test_add_func ("/postprocess/top-k-puts-lower-index-first-on-ties",
      test_top_k_puts_lower_index_first_on_ties);
  g_test_add_func ("/postprocess/top-k-threshold-drops-lower-scores",
      test_top_k_threshold_drops_lower_scores);
  g_test_add_func ("/postprocess/top-k-larger-than-n-returns-n",
      test_top_k_larger_than_n_returns_n);
  g_test_add_func ("/postprocess/top-k-of-zero-returns-nothing",
      test_top_k_of_zero_returns_nothing);
  g_test_add_func ("/postprocess/top-k-threshold-above-every-score-returns-"
      "nothing", test_top_k_threshold_above_every_score_returns_nothing);
  g_test_add_func ("/postprocess/top-k-never-returns-nan-scores",
      test_top_k_never_returns_nan_scores);

  return g_test_run ();
}
