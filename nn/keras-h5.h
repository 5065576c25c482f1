/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keras ResNet50 weight files (HDF5, the layout of Keras' save_weights() and
 * of resnet50_weights_tf_dim_ordering_tf_kernels.h5, which Deeplearning4j's
 * model zoo ResNet50 was imported from). Such a file holds weights only, no
 * graph: one group per layer, named as in the DL4J summary, whose attribute
 * weight_names lists its datasets in Keras order (Conv2D: HWIO kernel, bias;
 * BatchNormalization: gamma, beta, moving_mean, moving_variance; Dense:
 * (in, out) kernel, bias). The topology is the known Keras ResNet50, listed
 * here once; it is built as a graph.c layer list with the weights converted
 * to the engine's layouts (OIHW, OC×K), so that the same simplifications and
 * the same oneDNN lowering run as for ONNX files. */
#pragma once

#include <glib.h>

#include "graph.h"

G_BEGIN_DECLS

typedef enum
{
  RN50_KERAS_CONV,              /* Conv2D with bias, square kernel */
  RN50_KERAS_BATCH_NORM,
  RN50_KERAS_RELU,              /* Activation('relu') */
  RN50_KERAS_MAX_POOL,          /* 3×3, stride 2, 'valid' */
  RN50_KERAS_ADD,
  RN50_KERAS_AVG_POOL,          /* 7×7, 'valid' */
  RN50_KERAS_FLATTEN,
  RN50_KERAS_DENSE,             /* with softmax activation */
} Rn50KerasKind;

typedef struct
{
  char *name;                   /* Keras layer = DL4J vertex name */
  Rn50KerasKind kind;
  char *inputs[2];              /* the second only for ADD; "input_1" = image */
  guint in_channels, out_channels;      /* CONV, BATCH_NORM (equal), DENSE */
  guint kernel, stride, pad;    /* CONV (pad: zeros on every side) */
} Rn50KerasLayer;

/* The Keras ResNet50 layers (Rn50KerasLayer *) in the order of the DL4J
 * summary, which is a topological order. Free with g_ptr_array_unref. */
GPtrArray *rn50_keras_resnet50_layers_new (void);

/* Weight tensors a layer of @kind holds in a Keras file (2 or 4), 0 if none. */
guint rn50_keras_kind_n_weights (Rn50KerasKind kind);

/* TRUE when @path starts with the HDF5 signature (\211HDF\r\n\032\n). */
gboolean rn50_keras_h5_is_hdf5 (const char *path);

/* Reads the weights of the Keras ResNet50 from @path and builds its graph
 * for @batch images per run (simplified: BN folded, post-ops fused), its
 * output the fc1000 softmax. Fails with RN50_ERROR_NOT_FOUND when the file
 * cannot be opened, RN50_ERROR_PARSE when it is not HDF5 or a layer lacks
 * its weights (naming the layer), RN50_ERROR_SHAPE when a weight has the
 * wrong shape (naming the layer, the weight and both shapes). */
Rn50Graph *rn50_keras_graph_new_from_h5 (const char *path, guint batch,
    GError ** error);

G_END_DECLS
