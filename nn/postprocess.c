/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Softmax and top-k over the network's output vector. The softmax subtracts
 * the largest logit before exponentiating so that large logits cannot
 * overflow, and sums in double so a 1000-class sum does not lose the small
 * terms. Top-k keeps a small sorted list (k is a handful) instead of sorting
 * all classes, and never allocates. */
#include "postprocess.h"

#include <math.h>

void
rn50_softmax (const float *logits, float *probs, guint n)
{
  float max;
  double sum = 0.0;
  guint i;

  g_return_if_fail (n == 0 || (logits != NULL && probs != NULL));

  if (n == 0)
    return;

  max = logits[0];
  for (i = 1; i < n; i++)
    if (logits[i] > max)
      max = logits[i];

  /* exp (x - max) ≤ 1, and the largest term is exactly 1, so the sum is in
   * [1, n]: no overflow, no division by zero. Written in place when @probs
   * aliases @logits, which is fine since logits[i] is read before
   * probs[i] is written. */
  for (i = 0; i < n; i++) {
    float e = expf (logits[i] - max);
    probs[i] = e;
    sum += e;
  }
  for (i = 0; i < n; i++)
    probs[i] = (float) (probs[i] / sum);
}

guint
rn50_top_k (const float *scores, guint n, guint k, float threshold,
    guint * out_indices)
{
  guint found = 0;
  guint i, j;

  g_return_val_if_fail (n == 0 || scores != NULL, 0);
  g_return_val_if_fail (k == 0 || out_indices != NULL, 0);

  if (k > n)
    k = n;
  if (k == 0)
    return 0;

  for (i = 0; i < n; i++) {
    float s = scores[i];

    /* NaN compares false with everything: never a result. */
    if (!(s >= threshold))
      continue;
    /* Scanning in index order and inserting only before strictly smaller
     * scores keeps ties in increasing index order. */
    if (found == k && !(s > scores[out_indices[k - 1]]))
      continue;

    j = (found < k) ? found++ : k - 1;
    while (j > 0 && s > scores[out_indices[j - 1]]) {
      out_indices[j] = out_indices[j - 1];
      j--;
    }
    out_indices[j] = i;
  }
  return found;
}
