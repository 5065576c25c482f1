/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A loaded image classifier: an ONNX ResNet-50 parsed, checked and lowered to
 * oneDNN primitives once, at load. Running it executes the prebuilt primitives
 * on the model's own preallocated input and output buffers, so the per-frame
 * path allocates nothing and creates nothing.
 *
 * One Rn50Model is driven by one thread at a time; models that share a
 * network (see rn50_model_new_with_config()) may run concurrently.
 *
 * Runs set flush-to-zero and denormals-are-zero for their duration on the
 * calling thread (restored after) and on the OpenMP worker threads. */
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

typedef enum
{
  RN50_MODEL_FLAGS_NONE = 0,
  /* Accept any fixed input shape of rank 2 to 4 instead of requiring
   * N×3×224×224, so that tests can run tiny graphs (one Gemm, one
   * BatchNormalization) through the same loader and engine. */
  RN50_MODEL_FLAG_ANY_INPUT_SHAPE = 1 << 0,
  /* Run every convolution as a direct convolution. By default 3×3 stride-1
   * convolutions use Winograd where oneDNN implements it (~15 % faster per
   * image, results within ~1e-6 relative of direct). */
  RN50_MODEL_FLAG_DIRECT_CONVOLUTION = 1 << 1,
  /* Load on a short-lived thread, so that the calling thread keeps no idle
   * OpenMP worker pool from the load. libgomp lets workers busy-wait
   * between parallel regions only while the threads it manages do not
   * outnumber the cores, and every pool counts: without this flag, a model
   * loaded on one thread and run on another (an element's application and
   * streaming threads) makes workers sleep after a short spin. Spinning is
   * faster on a machine of its own (batch 1, 2 threads, 2 cores: 28 vs
   * 34 ms per image) and many times slower when another process competes
   * for the cores (a descheduled worker stalls every barrier): so this is
   * a choice for dedicated machines, not the default. Not part of the
   * sharing key: it changes where a network is built, not the network. */
  RN50_MODEL_FLAG_SPIN_WAIT = 1 << 2,
} Rn50ModelFlags;

/* Like rn50_model_new_from_file(), for @batch_size images per run: the
 * input tensor is then batch_size×C×H×W and the output batch_size×classes.
 * A graph that fixes its batch (a static input dimension 0, or a Reshape to
 * a constant batch) fails with RN50_ERROR_SHAPE naming the input or node. */
Rn50Model *rn50_model_new_full (const char *path, guint batch_size,
    Rn50ModelFlags flags, GError ** error);

/* Everything a load depends on besides the file. */
typedef struct
{
  guint batch_size;             /* images per run, >= 1 */
  guint threads;                /* OpenMP threads per run, 0 = default */
  Rn50ModelFlags flags;
} Rn50ModelConfig;

/* Like rn50_model_new_full(), with a thread count. Models loaded in one
 * process from the same file (same inode, size and modification time) with
 * the same config share one network: the weights and primitives are in
 * memory once, and each model only owns its input, output, activations and
 * scratchpad. Every model may run on its own thread concurrently with the
 * others. */
Rn50Model *rn50_model_new_with_config (const char *path,
    const Rn50ModelConfig * config, GError ** error);

/* The thread count a config of 0 threads means: OMP_NUM_THREADS if set,
 * else the cores OpenMP sees. */
guint rn50_model_default_threads (void);

/* Threads this model's runs use. */
guint rn50_model_get_threads (const Rn50Model * model);

/* TRUE when @a and @b run the same loaded network (one copy of the
 * weights). */
gboolean rn50_model_shares_weights (const Rn50Model * a, const Rn50Model * b);

/* Images per run (1 for rn50_model_new_from_file()). */
guint rn50_model_get_batch_size (const Rn50Model * model);

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

/* The preallocated input tensor: 1×C×H×W float32 (batch_size×C×H×W for
 * rn50_model_new_full()), plain NCHW, owned by the
 * model. Fill it, then call rn50_model_run(). */
float *rn50_model_get_input (Rn50Model * model);

/* Runs the network on the input tensor. On success the scores (logits, or
 * probabilities when rn50_model_outputs_probabilities()) are in the buffer
 * returned by rn50_model_get_output(), num_classes floats (per image, images
 * one after the other). */
gboolean rn50_model_run (Rn50Model * model, GError ** error);
const float *rn50_model_get_output (const Rn50Model * model);

G_END_DECLS

/* ---- Keras HDF5 weight files (keras-h5.c) ------------------------------ */

/* Keras HDF5 weight files (the DL4J zoo ResNet50) load through the same
 * functions: any file that starts with the HDF5 signature is read by
 * keras-h5.c, which knows the topology. Its output is the fc1000 softmax:
 * probabilities. */

/* TRUE when @path is an HDF5 file (Keras weights). Such models expect the
 * caffe preprocessing (BGR, 0..255, ImageNet means subtracted, Keras'
 * preprocess_input for ResNet50), so callers default to it for them. */
gboolean rn50_model_file_is_keras_h5 (const char *path);
