/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading an ONNX file: the ModelProto is decoded by protobuf-c (with the
 * schema Debian ships, compiled at build time), then checked before anything
 * trusts it: a graph must be present, the default-domain opset must be one we
 * know, and every tensor's size claims (dimensions, element counts, payload
 * lengths) must be consistent before any buffer is sized from them. Also the
 * typed accessors for node attributes and the host tensors (Rn50Tensor) that
 * initializers and Constant nodes decode into. graph.c walks the result. */
#pragma once

#include <glib.h>

#include "onnx.pb-c.h"
#include "rn50-error.h"

G_BEGIN_DECLS

/* Highest tensor rank we decode; ONNX itself has no limit, ResNet-50 needs 4
 * (convolution weights) and shape arithmetic needs 1. */
#define RN50_TENSOR_MAX_DIMS 8

/* Opsets whose semantics the graph builder implements for every op it
 * accepts (Unsqueeze/Squeeze axes moved to inputs at 13, Pad's pads at 11,
 * Softmax's axis meaning changed at 13, ...). */
#define RN50_ONNX_MIN_OPSET 7
#define RN50_ONNX_MAX_OPSET 17

typedef enum
{
  RN50_DTYPE_FLOAT,             /* float32, weights and activations */
  RN50_DTYPE_INT64,             /* shapes, axes, indices (int32 is widened) */
} Rn50DType;

/* A host tensor decoded from an initializer or a Constant node, or computed
 * by folding shape arithmetic at load. Row-major. A rank-0 tensor is a
 * scalar with n_elements 1. */
typedef struct
{
  Rn50DType dtype;
  guint ndims;
  gint64 dims[RN50_TENSOR_MAX_DIMS];
  gsize n_elements;
  gpointer data;                /* n_elements floats or gint64s */
} Rn50Tensor;

/* Allocates a zeroed tensor after checking that every dimension is positive
 * and that the byte size does not overflow. @what names the tensor in the
 * error message. */
Rn50Tensor *rn50_tensor_new (Rn50DType dtype, guint ndims, const gint64 * dims,
    const char *what, GError ** error);
Rn50Tensor *rn50_tensor_copy (const Rn50Tensor * tensor);
void rn50_tensor_free (Rn50Tensor * tensor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Tensor, rn50_tensor_free);

static inline float *
rn50_tensor_floats (const Rn50Tensor * tensor)
{
  return (float *) tensor->data;
}

static inline gint64 *
rn50_tensor_ints (const Rn50Tensor * tensor)
{
  return (gint64 *) tensor->data;
}

/* Formats dims as "1x3x224x224" ("scalar" for rank 0). Free with g_free. */
char *rn50_dims_to_string (guint ndims, const gint64 * dims);

typedef struct _Rn50Onnx Rn50Onnx;

/* Reads and decodes @path. Fails with RN50_ERROR_NOT_FOUND when the file
 * cannot be read, RN50_ERROR_PARSE when it is not a complete ModelProto
 * (truncated, corrupt, no graph, no opset) and RN50_ERROR_UNSUPPORTED for an
 * opset outside RN50_ONNX_MIN_OPSET..RN50_ONNX_MAX_OPSET. */
Rn50Onnx *rn50_onnx_load (const char *path, GError ** error);
void rn50_onnx_free (Rn50Onnx * onnx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Onnx, rn50_onnx_free);

const Onnx__GraphProto *rn50_onnx_get_graph (const Rn50Onnx * onnx);
/* Version of the default ("" / "ai.onnx") operator set. */
gint64 rn50_onnx_get_opset (const Rn50Onnx * onnx);
/* The graph's name if it is non-empty, else the file's basename. */
const char *rn50_onnx_get_name (const Rn50Onnx * onnx);

/* Decodes an initializer or Constant value: FLOAT stays float, INT64 and
 * INT32 become gint64. The payload (raw_data, little-endian, or the typed
 * repeated field) must hold exactly the element count the dims claim. */
Rn50Tensor *rn50_onnx_tensor_decode (const Onnx__TensorProto * proto,
    GError ** error);

/* "node 'name' (OpType)" for messages; unnamed nodes (common in model-zoo
 * files) are identified by their first output instead. Free with g_free. */
char *rn50_onnx_node_describe (const Onnx__NodeProto * node);

/* Attribute accessors. Each returns FALSE with RN50_ERROR_PARSE when the
 * attribute exists with the wrong type; an absent attribute yields the
 * default. */
const Onnx__AttributeProto *rn50_onnx_node_find_attr (const Onnx__NodeProto *
    node, const char *name);
gboolean rn50_onnx_node_get_int (const Onnx__NodeProto * node,
    const char *name, gint64 default_value, gint64 * value, GError ** error);
gboolean rn50_onnx_node_get_float (const Onnx__NodeProto * node,
    const char *name, float default_value, float *value, GError ** error);
/* Fills at most @max_count values; *count is 0 when the attribute is absent.
 * More than @max_count values is an RN50_ERROR_UNSUPPORTED error. */
gboolean rn50_onnx_node_get_ints (const Onnx__NodeProto * node,
    const char *name, gint64 * values, guint max_count, guint * count,
    GError ** error);
/* Returns a newly allocated string, or a copy of @default_value. */
gboolean rn50_onnx_node_get_string (const Onnx__NodeProto * node,
    const char *name, const char *default_value, char **value,
    GError ** error);

G_END_DECLS
