/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The network as the engine runs it, independent of oneDNN: built by walking
 * an ONNX graph's nodes in topological order, with shapes inferred as it
 * goes, shape arithmetic (Shape, Gather, Unsqueeze, Concat, ...) folded to
 * constants, Flatten/Reshape turned into views, and then simplified at load:
 * zero Pad folded into Conv padding, BatchNormalization folded into the
 * preceding Conv's weights and bias, constant bias Adds folded into Conv or
 * Gemm/MatMul, the residual Add turned into a sum post-op of one of its
 * producing convolutions, and Relu turned into an eltwise post-op. model.c
 * lowers the resulting layer list onto oneDNN primitives. */
#pragma once

#include <glib.h>

#include "onnx-loader.h"

G_BEGIN_DECLS

/* Runtime tensors (activations) have rank 1 to 4, dimension 0 is the batch. */
#define RN50_VALUE_MAX_DIMS 4

typedef enum
{
  RN50_LAYER_CONV,
  RN50_LAYER_BATCH_NORM,        /* one that could not be folded into a Conv */
  RN50_LAYER_RELU,              /* one that could not become a post-op */
  RN50_LAYER_ADD,               /* elementwise, or with a broadcast constant */
  RN50_LAYER_MAX_POOL,
  RN50_LAYER_AVG_POOL,
  RN50_LAYER_INNER_PRODUCT,     /* Gemm, or MatMul by a constant */
  RN50_LAYER_SOFTMAX,
  RN50_LAYER_PAD,               /* exists only until folded into its Conv */
} Rn50LayerKind;

typedef struct
{
  char *name;                   /* the ONNX tensor name, for messages */
  guint ndims;
  gint64 dims[RN50_VALUE_MAX_DIMS];     /* N×C×H×W (images), N×K (features) */
  /* When >= 0, this value is a reshaped view of that one's bytes in
   * row-major order (Flatten, Reshape, Squeeze, Unsqueeze, Identity). */
  gint view_of;
} Rn50Value;

typedef struct
{
  Rn50LayerKind kind;
  char *label;                  /* "node 'X' (Conv)" of the first fused node */
  gint src;                     /* value ids */
  gint src1;                    /* ADD: second runtime operand, or -1 */
  gint dst;

  /* CONV, pools and PAD: 2-D geometry in ONNX terms (dilation 1 = dense),
   * padding in pixels before (top, left) and after (bottom, right). */
  gint64 kernel[2];
  gint64 strides[2];
  gint64 dilations[2];
  gint64 pads_begin[2];
  gint64 pads_end[2];
  gint64 groups;                /* CONV */
  gboolean count_include_pad;   /* AVG_POOL */

  /* CONV: OC × IC/groups × KH × KW. INNER_PRODUCT: OC × K, K in the row-major
   * order of the source's trailing dimensions. */
  Rn50Tensor *weights;
  Rn50Tensor *bias;             /* OC values, or NULL */

  /* BATCH_NORM: per-channel statistics (C values each) and epsilon, passed
   * to oneDNN as they are so it computes γ(x−μ)/√(σ²+ε)+β itself. */
  Rn50Tensor *scale, *shift, *mean, *var;
  float epsilon;

  /* ADD with a constant operand, broadcast to dst's shape (right-aligned). */
  Rn50Tensor *constant;

  gint axis;                    /* SOFTMAX, non-negative */

  /* Post-ops, in this order: dst += value sum_src (computed in place in
   * sum_src's buffer), then ReLU. */
  gint sum_src;
  gboolean relu;
} Rn50Layer;

typedef struct
{
  GArray *values;               /* Rn50Value */
  GPtrArray *layers;            /* Rn50Layer *, in execution order */
  gint input;                   /* value id of the image input */
  gint output;                  /* value id of the single graph output */
  guint batch;
  gboolean outputs_probabilities;       /* the output comes from Softmax */
} Rn50Graph;

typedef struct
{
  guint batch;                  /* images per run, dimension 0 of the input */
  /* Expected per-image input shape C×H×W; the input must be N×C×H×W. When
   * 0, any static input of rank 2 to 4 is accepted (tests with tiny graphs). */
  guint channels, height, width;
} Rn50GraphOptions;

Rn50Graph *rn50_graph_new_from_onnx (const Rn50Onnx * onnx,
    const Rn50GraphOptions * options, GError ** error);
void rn50_graph_free (Rn50Graph * graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Graph, rn50_graph_free);

static inline Rn50Value *
rn50_graph_value (const Rn50Graph * graph, gint id)
{
  return &g_array_index (graph->values, Rn50Value, id);
}

static inline Rn50Layer *
rn50_graph_layer (const Rn50Graph * graph, guint index)
{
  return (Rn50Layer *) g_ptr_array_index (graph->layers, index);
}

/* Product of dims[1..]: elements per image. */
gsize rn50_value_per_image (const Rn50Value * value);

G_END_DECLS

/* ---- building a graph without ONNX (keras-h5.c) ------------------------ */

/* An empty graph for @batch images per run, its input and output unset (-1). */
Rn50Graph *rn50_graph_new_empty (guint batch);

/* Appends an activation; returns its id. @view_of as in Rn50Value. */
gint rn50_graph_add_value (Rn50Graph * graph, const char *name, guint ndims,
    const gint64 * dims, gint view_of);

/* Appends a layer with the defaults the ONNX builder uses (stride and
 * dilation 1, one group, no second source, no post-ops); @label names it in
 * messages. The graph owns it. */
Rn50Layer *rn50_graph_add_layer (Rn50Graph * graph, Rn50LayerKind kind,
    gint src, gint dst, const char *label);

/* The load-time simplifications rn50_graph_new_from_onnx() applies (Pad,
 * BatchNormalization and bias folding, residual sum and ReLU post-ops), for
 * a graph built with the functions above, one layer per source layer. Also
 * sets outputs_probabilities. */
gboolean rn50_graph_simplify (Rn50Graph * graph, GError ** error);
