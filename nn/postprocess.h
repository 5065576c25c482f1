/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* From raw network outputs to ranked classes: numerically stable softmax
 * (max subtracted before exp) and top-k selection with a probability
 * threshold. Works on caller-provided buffers; allocates nothing. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* probs[i] = exp(logits[i] - max) / sum. @probs may alias @logits. */
void rn50_softmax (const float *logits, float *probs, guint n);

/* Writes the indices of the @k largest @scores, best first (ties: lower index
 * first), skipping scores below @threshold. Returns how many were written
 * (≤ k, ≤ n). */
guint rn50_top_k (const float *scores, guint n, guint k, float threshold,
    guint * out_indices);

G_END_DECLS
