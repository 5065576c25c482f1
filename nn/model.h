/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A loaded image classifier: an ONNX ResNet-50 parsed, checked and lowered to
 * oneDNN primitives once, at load. Running it executes the prebuilt primitives
 * on the model's own preallocated input and output buffers, so the per-frame
 * path allocates nothing and creates nothing.
 *
 * Not thread-safe: one Rn50Model is driven by one thread at a time. */
#pragma once

#include <glib.h>
#include "rn50-error.h"

G_BEGIN_DECLS

typedef struct _Rn50Model Rn50Model;

/* Parses @path (an ONNX ModelProto), validates it and builds the oneDNN
 * network. Fails with RN50_ERROR_NOT_FOUND, _PARSE, _UNSUPPORTED (naming the
 * op type and node), _SHAPE (naming what was expected) or _ENGINE. */
Rn50Model *rn50_model_new_from_file (const char *path, GError ** error);
void rn50_model_free (Rn50Model * model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Model, rn50_model_free);

/* The graph's name if it has one, else the file's basename. */
const char *rn50_model_get_name (const Rn50Model * model);

/* Number of scores the network produces per image (1000 for ImageNet). */
guint rn50_model_get_num_classes (const Rn50Model * model);

/* TRUE when the graph itself ends in Softmax: its outputs are probabilities
 * already and must not go through softmax again. */
gboolean rn50_model_outputs_probabilities (const Rn50Model * model);

/* Input geometry the network expects (channels, height, width), e.g. 3×224×224. */
void rn50_model_get_input_size (const Rn50Model * model, guint * channels,
    guint * height, guint * width);

/* The preallocated input tensor: 1×C×H×W float32, plain NCHW, owned by the
 * model. Fill it, then call rn50_model_run(). */
float *rn50_model_get_input (Rn50Model * model);

/* Runs the network on the input tensor. On success the scores (logits, or
 * probabilities when rn50_model_outputs_probabilities()) are in the buffer
 * returned by rn50_model_get_output(), num_classes floats. */
gboolean rn50_model_run (Rn50Model * model, GError ** error);
const float *rn50_model_get_output (const Rn50Model * model);

G_END_DECLS
