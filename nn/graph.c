/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* From ONNX nodes to the engine's layer list. The builder walks the graph in
 * topological order; every node either folds to a constant (shape
 * arithmetic, Constant, Identity of an initializer), becomes a view of an
 * existing value (Flatten, Reshape, ...), or adds a layer whose output shape
 * is inferred on the spot, so shape errors name the node that causes them.
 * Then a few rewrites make the list cheap to run: Pad into Conv padding,
 * BatchNormalization into Conv weights, constant Add into a bias, residual
 * Add into a sum post-op, Relu into an eltwise post-op. Nothing here knows
 * about oneDNN. */
#include "graph.h"

#include <math.h>
#include <string.h>

typedef struct
{
  const Onnx__GraphProto *proto;
  const Rn50GraphOptions *options;
  gint64 opset;
  Rn50Graph *graph;

  /* Tensor name → Onnx__TensorProto * (initializers, decoded on first use,
   * so unused ones never cost memory) or → Rn50Tensor * (owned). */
  GHashTable *initializers;
  GHashTable *consts;
  /* Tensor name → number of node inputs still to read it; lets a node take
   * over a constant's buffer instead of copying it when it is the last. */
  GHashTable *pending_uses;
  /* Tensor name → value id + 1, for activations. */
  GHashTable *runtime;

  /* The node being translated and its description for messages. */
  const Onnx__NodeProto *node;
  char *desc;

  /* Elements per image of every activation so far (views excluded), held
   * against RN50_GRAPH_MAX_TOTAL_PER_IMAGE. */
  guint64 activation_elements;
} Builder;

/* What a model may make the engine allocate for activations, per image of
 * the batch (the batch size is the user's choice, not the file's). Shapes
 * come from the file: a Pad of 10^6 pixels or a 1×1 Conv to 10^5 channels
 * costs a few bytes of ONNX but terabytes of activations, which malloc()
 * may even grant (overcommit) until the first run touches them. ResNet-50's
 * largest activation is 64×112×112 = 0.8 M floats and all of them together
 * ~11 M per image, so these limits (512 MiB per activation, 2 GiB in all,
 * per image) refuse only hostile or broken files. */
#define RN50_GRAPH_MAX_VALUE_PER_IMAGE (G_GUINT64_CONSTANT (1) << 27)
#define RN50_GRAPH_MAX_TOTAL_PER_IMAGE (G_GUINT64_CONSTANT (1) << 29)

gsize
rn50_value_per_image (const Rn50Value * value)
{
  gsize n = 1;
  guint i;

  for (i = 1; i < value->ndims; i++)
    n *= (gsize) value->dims[i];
  return n;
}

static void
layer_free (Rn50Layer * layer)
{
  if (layer == NULL)
    return;
  g_free (layer->label);
  rn50_tensor_free (layer->weights);
  rn50_tensor_free (layer->bias);
  rn50_tensor_free (layer->scale);
  rn50_tensor_free (layer->shift);
  rn50_tensor_free (layer->mean);
  rn50_tensor_free (layer->var);
  rn50_tensor_free (layer->constant);
  g_free (layer);
}

static void
value_clear (gpointer data)
{
  Rn50Value *value = data;

  g_free (value->name);
}

void
rn50_graph_free (Rn50Graph * graph)
{
  if (graph == NULL)
    return;
  g_array_unref (graph->values);
  g_ptr_array_unref (graph->layers);
  g_free (graph);
}

/* ---- messages ---------------------------------------------------------- */

/* *INDENT-OFF* */
static gboolean node_fail (Builder * b, GError ** error, Rn50Error code,
    const char *format, ...) G_GNUC_PRINTF (4, 5);
/* *INDENT-ON* */

/* Sets "<node description>: <message>" and returns FALSE. */
static gboolean
node_fail (Builder * b, GError ** error, Rn50Error code, const char *format,
    ...)
{
  va_list args;
  char *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RN50_ERROR, code, "%s: %s", b->desc, msg);
  g_free (msg);
  return FALSE;
}

/* ---- values, constants and node inputs --------------------------------- */

static gint
add_value (Builder * b, const char *name, guint ndims, const gint64 * dims,
    gint view_of)
{
  Rn50Value value = { 0, };

  value.name = g_strdup (name);
  value.ndims = ndims;
  memcpy (value.dims, dims, ndims * sizeof (gint64));
  value.view_of = view_of;
  g_array_append_val (b->graph->values, value);
  return b->graph->values->len - 1;
}

static Rn50Layer *
add_layer (Builder * b, Rn50LayerKind kind, gint src)
{
  Rn50Layer *layer = g_new0 (Rn50Layer, 1);

  layer->kind = kind;
  layer->label = g_strdup (b->desc);
  layer->src = src;
  layer->src1 = -1;
  layer->dst = -1;
  layer->sum_src = -1;
  layer->groups = 1;
  layer->strides[0] = layer->strides[1] = 1;
  layer->dilations[0] = layer->dilations[1] = 1;
  g_ptr_array_add (b->graph->layers, layer);
  return layer;
}

/* Name of input @i, or NULL when it is absent or the empty optional name. */
static const char *
node_input (Builder * b, guint i)
{
  if (i >= b->node->n_input || b->node->input[i] == NULL
      || b->node->input[i][0] == '\0')
    return NULL;
  return b->node->input[i];
}

static const char *
node_output (Builder * b, guint i)
{
  if (i >= b->node->n_output || b->node->output[i] == NULL
      || b->node->output[i][0] == '\0')
    return NULL;
  return b->node->output[i];
}

static gboolean
check_arity (Builder * b, guint min_inputs, guint max_inputs, GError ** error)
{
  if (b->node->n_input < min_inputs || b->node->n_input > max_inputs)
    return node_fail (b, error, RN50_ERROR_PARSE,
        "has %" G_GSIZE_FORMAT " inputs, expected %u to %u", b->node->n_input,
        min_inputs, max_inputs);
  if (node_output (b, 0) == NULL)
    return node_fail (b, error, RN50_ERROR_PARSE, "has no output");
  return TRUE;
}

/* Outputs other than the first (BatchNormalization's running statistics in
 * training mode, MaxPool's indices, Dropout's mask) have no meaning at
 * inference; a graph that reads them cannot be run. */
static gboolean
check_single_output (Builder * b, GError ** error)
{
  guint i;

  for (i = 1; i < b->node->n_output; i++) {
    const char *name = node_output (b, i);
    if (name != NULL && g_hash_table_contains (b->pending_uses, name))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "its output %u ('%s') is used, which inference does not support",
          i, name);
  }
  return TRUE;
}

static gboolean
is_const (Builder * b, const char *name)
{
  return name != NULL && (g_hash_table_contains (b->consts, name)
      || g_hash_table_contains (b->initializers, name));
}

/* The constant named @name, decoding an initializer on first use. */
static const Rn50Tensor *
lookup_const (Builder * b, const char *name, GError ** error)
{
  const Onnx__TensorProto *proto;
  Rn50Tensor *tensor = g_hash_table_lookup (b->consts, name);

  if (tensor != NULL)
    return tensor;
  proto = g_hash_table_lookup (b->initializers, name);
  if (proto == NULL)
    return NULL;
  tensor = rn50_onnx_tensor_decode (proto, error);
  if (tensor == NULL)
    return NULL;
  g_hash_table_insert (b->consts, g_strdup (name), tensor);
  g_hash_table_remove (b->initializers, name);
  return tensor;
}

/* Input @i as a constant (initializer, Constant output or folded shape
 * arithmetic). Nodes whose weights are computed at run time are not
 * supported: the engine needs them at load to fold and reorder them. */
static const Rn50Tensor *
input_const (Builder * b, guint i, Rn50DType dtype, GError ** error)
{
  const char *name = node_input (b, i);
  const Rn50Tensor *tensor;

  if (name == NULL) {
    node_fail (b, error, RN50_ERROR_PARSE, "input %u is missing", i);
    return NULL;
  }
  if (!is_const (b, name)) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "input %u ('%s') must be a constant (an initializer), but it is "
        "computed at run time", i, name);
    return NULL;
  }
  tensor = lookup_const (b, name, error);
  if (tensor == NULL)
    return NULL;
  if (tensor->dtype != dtype) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "input %u ('%s') has type %s, expected %s", i, name,
        tensor->dtype == RN50_DTYPE_FLOAT ? "float" : "integer",
        dtype == RN50_DTYPE_FLOAT ? "float" : "integer");
    return NULL;
  }
  return tensor;
}

/* Like input_const, but returns a tensor the caller owns: the constant's own
 * buffer when no later node reads it (the common case for weights, so a
 * ResNet-50 is not held twice in memory), a copy otherwise. */
static Rn50Tensor *
take_const (Builder * b, guint i, GError ** error)
{
  const char *name = node_input (b, i);
  const Rn50Tensor *tensor = input_const (b, i, RN50_DTYPE_FLOAT, error);
  gpointer key, uses;

  if (tensor == NULL)
    return NULL;
  if (g_hash_table_lookup_extended (b->pending_uses, name, NULL, &uses)
      && GPOINTER_TO_UINT (uses) <= 1
      && g_hash_table_steal_extended (b->consts, name, &key, NULL)) {
    g_free (key);
    return (Rn50Tensor *) tensor;
  }
  return rn50_tensor_copy (tensor);
}

/* Input @i as an activation; its id is stored in *id. */
static gboolean
input_runtime (Builder * b, guint i, gint * id, GError ** error)
{
  const char *name = node_input (b, i);
  gpointer found;

  if (name == NULL)
    return node_fail (b, error, RN50_ERROR_PARSE, "input %u is missing", i);
  found = g_hash_table_lookup (b->runtime, name);
  if (found == NULL) {
    if (is_const (b, name))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "input %u ('%s') is a constant, but only a computed tensor is "
          "supported there", i, name);
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "input %u ('%s') is not produced by any supported node", i, name);
  }
  *id = GPOINTER_TO_INT (found) - 1;
  return TRUE;
}

static Rn50Value *
value_of (Builder * b, gint id)
{
  return rn50_graph_value (b->graph, id);
}

static gboolean
define_name (Builder * b, const char *name, GError ** error)
{
  if (g_hash_table_contains (b->runtime, name) || is_const (b, name))
    return node_fail (b, error, RN50_ERROR_PARSE,
        "output '%s' is already defined elsewhere in the graph", name);
  return TRUE;
}

static gboolean
set_runtime_output (Builder * b, gint id, GError ** error)
{
  const char *name = node_output (b, 0);

  if (!define_name (b, name, error))
    return FALSE;
  g_hash_table_insert (b->runtime, g_strdup (name), GINT_TO_POINTER (id + 1));
  return TRUE;
}

/* Takes ownership of @tensor. */
static gboolean
set_const_output (Builder * b, Rn50Tensor * tensor, GError ** error)
{
  const char *name = node_output (b, 0);

  if (!define_name (b, name, error)) {
    rn50_tensor_free (tensor);
    return FALSE;
  }
  g_hash_table_insert (b->consts, g_strdup (name), tensor);
  return TRUE;
}

/* Elements per image of an activation of shape @dims (dimension 0 is the
 * batch), or G_MAXUINT64 when a dimension is not positive or the product
 * exceeds RN50_GRAPH_MAX_VALUE_PER_IMAGE (checked before each multiply, so
 * nothing overflows whatever the file claims). */
static guint64
activation_per_image (guint ndims, const gint64 * dims)
{
  guint64 n = 1;
  guint i;

  for (i = 1; i < ndims; i++) {
    if (dims[i] <= 0
        || (guint64) dims[i] > RN50_GRAPH_MAX_VALUE_PER_IMAGE / n)
      return G_MAXUINT64;
    n *= (guint64) dims[i];
  }
  return n;
}

/* A new activation produced by the current node's first output. */
static gboolean
new_runtime_output (Builder * b, guint ndims, const gint64 * dims,
    gint view_of, gint * id, GError ** error)
{
  guint64 n = activation_per_image (ndims, dims);

  if (n == G_MAXUINT64 || (ndims > 0 && dims[0] <= 0)) {
    g_autofree char *shape = rn50_dims_to_string (ndims, dims);
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "its output would have shape %s: a dimension is not positive or "
        "the activation exceeds %" G_GUINT64_FORMAT " elements per image",
        shape, RN50_GRAPH_MAX_VALUE_PER_IMAGE);
  }
  if (view_of < 0) {
    b->activation_elements += n;
    if (b->activation_elements > RN50_GRAPH_MAX_TOTAL_PER_IMAGE)
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "the activations up to this node exceed %" G_GUINT64_FORMAT
          " elements per image; refusing a model this large",
          RN50_GRAPH_MAX_TOTAL_PER_IMAGE);
  }
  *id = add_value (b, node_output (b, 0), ndims, dims, view_of);
  return set_runtime_output (b, *id, error);
}

static char *
value_shape (Builder * b, gint id)
{
  Rn50Value *v = value_of (b, id);

  return rn50_dims_to_string (v->ndims, v->dims);
}

/* ---- constant folding: shape arithmetic ---------------------------------- */

static gboolean
handle_constant (Builder * b, GError ** error)
{
  const Onnx__AttributeProto *attr;
  Rn50Tensor *tensor = NULL;
  gint64 dims[1];

  if (b->node->n_attribute != 1)
    return node_fail (b, error, RN50_ERROR_PARSE,
        "must have exactly one value attribute");
  attr = b->node->attribute[0];
  if (g_strcmp0 (attr->name, "value") == 0 && attr->t != NULL) {
    tensor = rn50_onnx_tensor_decode (attr->t, error);
  } else if (g_strcmp0 (attr->name, "value_float") == 0) {
    tensor = rn50_tensor_new (RN50_DTYPE_FLOAT, 0, dims, b->desc, error);
    if (tensor)
      rn50_tensor_floats (tensor)[0] = attr->f;
  } else if (g_strcmp0 (attr->name, "value_int") == 0) {
    tensor = rn50_tensor_new (RN50_DTYPE_INT64, 0, dims, b->desc, error);
    if (tensor)
      rn50_tensor_ints (tensor)[0] = attr->i;
  } else if (g_strcmp0 (attr->name, "value_floats") == 0 && attr->n_floats) {
    dims[0] = attr->n_floats;
    tensor = rn50_tensor_new (RN50_DTYPE_FLOAT, 1, dims, b->desc, error);
    if (tensor)
      memcpy (tensor->data, attr->floats, attr->n_floats * sizeof (float));
  } else if (g_strcmp0 (attr->name, "value_ints") == 0 && attr->n_ints) {
    dims[0] = attr->n_ints;
    tensor = rn50_tensor_new (RN50_DTYPE_INT64, 1, dims, b->desc, error);
    if (tensor)
      memcpy (tensor->data, attr->ints, attr->n_ints * sizeof (gint64));
  } else {
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "value attribute '%s' is not supported", attr->name);
  }
  if (tensor == NULL) {
    g_prefix_error (error, "%s: ", b->desc);
    return FALSE;
  }
  return set_const_output (b, tensor, error);
}

/* Identity, inference-mode Dropout, Cast to float of a float: the output is
 * the input under another name. */
static gboolean
handle_identity (Builder * b, GError ** error)
{
  const char *name = node_input (b, 0);
  gint id;

  if (is_const (b, name)) {
    const Rn50Tensor *t = lookup_const (b, name, error);
    if (t == NULL)
      return FALSE;
    return set_const_output (b, rn50_tensor_copy (t), error);
  }
  if (!input_runtime (b, 0, &id, error))
    return FALSE;
  return set_runtime_output (b, id, error);
}

static gboolean
handle_dropout (Builder * b, GError ** error)
{
  const char *mode = node_input (b, 2);

  /* Opset 12 moved training_mode to an input; dropout only acts when it is
   * true, which a runtime cannot honour deterministically. */
  if (mode != NULL) {
    const Rn50Tensor *t;
    const char *name = node_input (b, 2);
    if (!is_const (b, name))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "training_mode must be a constant");
    t = lookup_const (b, name, error);
    if (t == NULL)
      return FALSE;
    if (t->n_elements != 1
        || (t->dtype == RN50_DTYPE_INT64 ? rn50_tensor_ints (t)[0] != 0 :
            rn50_tensor_floats (t)[0] != 0))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "training_mode is true; only inference is supported");
  }
  if (!check_single_output (b, error))
    return FALSE;
  return handle_identity (b, error);
}

static gboolean
handle_cast (Builder * b, GError ** error)
{
  const char *name = node_input (b, 0);
  const Rn50Tensor *src;
  Rn50Tensor *dst;
  gint64 to;
  Rn50DType dtype;
  gsize i;

  if (!rn50_onnx_node_get_int (b->node, "to", 0, &to, error))
    return FALSE;
  if (to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    dtype = RN50_DTYPE_FLOAT;
  else if (to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64
      || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
    dtype = RN50_DTYPE_INT64;
  else
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "cast to data type %" G_GINT64_FORMAT " is not supported", to);

  if (!is_const (b, name)) {
    /* Activations are float; only a no-op cast can be run. */
    if (dtype != RN50_DTYPE_FLOAT)
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "casting a computed tensor to integers is not supported");
    return handle_identity (b, error);
  }
  src = lookup_const (b, name, error);
  if (src == NULL)
    return FALSE;
  dst = rn50_tensor_new (dtype, src->ndims, src->dims, b->desc, error);
  if (dst == NULL)
    return FALSE;
  for (i = 0; i < src->n_elements; i++) {
    if (dtype == RN50_DTYPE_FLOAT)
      rn50_tensor_floats (dst)[i] = src->dtype == RN50_DTYPE_FLOAT ?
          rn50_tensor_floats (src)[i] : (float) rn50_tensor_ints (src)[i];
    else
      rn50_tensor_ints (dst)[i] = src->dtype == RN50_DTYPE_INT64 ?
          rn50_tensor_ints (src)[i] : (gint64) rn50_tensor_floats (src)[i];
  }
  return set_const_output (b, dst, error);
}

/* Shape of an activation (batch included) or of a constant, as int64. */
static gboolean
handle_shape (Builder * b, GError ** error)
{
  const char *name = node_input (b, 0);
  const gint64 *dims;
  guint ndims;
  gint64 start, end, n;
  Rn50Tensor *out;
  gint id;

  if (is_const (b, name)) {
    const Rn50Tensor *t = lookup_const (b, name, error);
    if (t == NULL)
      return FALSE;
    dims = t->dims;
    ndims = t->ndims;
  } else {
    if (!input_runtime (b, 0, &id, error))
      return FALSE;
    dims = value_of (b, id)->dims;
    ndims = value_of (b, id)->ndims;
  }
  /* Opset 15 start/end slice the shape; defaults cover older opsets. */
  if (!rn50_onnx_node_get_int (b->node, "start", 0, &start, error)
      || !rn50_onnx_node_get_int (b->node, "end", ndims, &end, error))
    return FALSE;
  if (start < 0)
    start += ndims;
  if (end < 0)
    end += ndims;
  start = CLAMP (start, 0, (gint64) ndims);
  end = CLAMP (end, 0, (gint64) ndims);
  n = MAX (end - start, 0);
  if (n == 0)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "an empty shape slice is not supported");
  out = rn50_tensor_new (RN50_DTYPE_INT64, 1, &n, b->desc, error);
  if (out == NULL)
    return FALSE;
  memcpy (out->data, dims + start, n * sizeof (gint64));
  return set_const_output (b, out, error);
}

/* Gather on 1-D constant data: the "take dimension 0 of the shape" step of
 * the Shape→Gather→Unsqueeze→Concat→Reshape flatten that PyTorch exports. */
static gboolean
handle_gather (Builder * b, GError ** error)
{
  const char *name = node_input (b, 0);
  const Rn50Tensor *data, *indices;
  g_autoptr (Rn50Tensor) out = NULL;
  gint64 axis;
  gsize i, esize;

  if (!is_const (b, name))
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "Gather is supported only on constant data (shape arithmetic)");
  data = lookup_const (b, name, error);
  if (data == NULL)
    return FALSE;
  indices = input_const (b, 1, RN50_DTYPE_INT64, error);
  if (indices == NULL)
    return FALSE;
  if (!rn50_onnx_node_get_int (b->node, "axis", 0, &axis, error))
    return FALSE;
  if (data->ndims != 1 || (axis != 0 && axis != -1))
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "Gather is supported only along axis 0 of 1-D data, not axis %"
        G_GINT64_FORMAT " of %u-D data", axis, data->ndims);
  out = rn50_tensor_new (data->dtype, indices->ndims, indices->dims, b->desc,
      error);
  if (out == NULL)
    return FALSE;
  esize = data->dtype == RN50_DTYPE_FLOAT ? sizeof (float) : sizeof (gint64);
  for (i = 0; i < indices->n_elements; i++) {
    gint64 k = rn50_tensor_ints (indices)[i];
    if (k < 0)
      k += data->dims[0];
    if (k < 0 || k >= data->dims[0]) {
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "index %" G_GINT64_FORMAT " is out of range for %" G_GINT64_FORMAT
          " elements", rn50_tensor_ints (indices)[i], data->dims[0]);
    }
    memcpy ((guint8 *) out->data + i * esize,
        (const guint8 *) data->data + k * esize, esize);
  }
  return set_const_output (b, g_steal_pointer (&out), error);
}

/* Constant Concat of 1-D tensors: [N] ++ [-1] in the PyTorch flatten. */
static gboolean
handle_concat (Builder * b, GError ** error)
{
  const Rn50Tensor *parts[16];
  Rn50Tensor *out;
  gint64 total = 0, axis;
  guint i, n = b->node->n_input;
  gsize offset = 0, esize;

  if (n < 1 || n > G_N_ELEMENTS (parts))
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "Concat of %u inputs is not supported", n);
  if (!rn50_onnx_node_get_int (b->node, "axis", 0, &axis, error))
    return FALSE;
  for (i = 0; i < n; i++) {
    const char *name = node_input (b, i);
    if (!is_const (b, name))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "Concat is supported only on constants (shape arithmetic); input "
          "%u ('%s') is computed at run time", i, name ? name : "");
    parts[i] = lookup_const (b, name, error);
    if (parts[i] == NULL)
      return FALSE;
    if (parts[i]->ndims != 1 || parts[i]->dtype != parts[0]->dtype)
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "Concat is supported only on 1-D constants of one type");
    total += parts[i]->dims[0];
  }
  if (axis != 0 && axis != -1)
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "axis %" G_GINT64_FORMAT " is out of range for 1-D inputs", axis);
  out = rn50_tensor_new (parts[0]->dtype, 1, &total, b->desc, error);
  if (out == NULL)
    return FALSE;
  esize = parts[0]->dtype == RN50_DTYPE_FLOAT ? sizeof (float) :
      sizeof (gint64);
  for (i = 0; i < n; i++) {
    memcpy ((guint8 *) out->data + offset, parts[i]->data,
        parts[i]->n_elements * esize);
    offset += parts[i]->n_elements * esize;
  }
  return set_const_output (b, out, error);
}

/* Makes the output of a shape-only op: a constant with new dims, or a view
 * of the activation (dimension 0, the batch, must be kept so that each image
 * stays separate). */
static gboolean
reshape_output (Builder * b, guint ndims, const gint64 * dims, GError ** error)
{
  const char *name = node_input (b, 0);
  gint id, out;
  Rn50Value *src;

  if (is_const (b, name)) {
    const Rn50Tensor *t = lookup_const (b, name, error);
    Rn50Tensor *copy;
    if (t == NULL)
      return FALSE;
    if (ndims > RN50_TENSOR_MAX_DIMS)
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED, "rank %u is too "
          "large", ndims);
    copy = rn50_tensor_copy (t);
    copy->ndims = ndims;
    memcpy (copy->dims, dims, ndims * sizeof (gint64));
    return set_const_output (b, copy, error);
  }

  if (!input_runtime (b, 0, &id, error))
    return FALSE;
  src = value_of (b, id);
  if (ndims < 1 || ndims > RN50_VALUE_MAX_DIMS)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "a rank %u activation is not supported (ranks 1 to %d are)", ndims,
        RN50_VALUE_MAX_DIMS);
  if (dims[0] != src->dims[0]) {
    g_autofree char *from = value_shape (b, id);
    g_autofree char *to = rn50_dims_to_string (ndims, dims);
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "reshapes %s into %s, which mixes the %" G_GINT64_FORMAT
        " images of a batch; the graph fixes the batch size at %"
        G_GINT64_FORMAT, from, to, src->dims[0], dims[0]);
  }
  /* A view of a view is a view of the root: one level to resolve later. */
  if (src->view_of >= 0)
    id = src->view_of;
  return new_runtime_output (b, ndims, dims, id, &out, error);
}

static gboolean
input_dims (Builder * b, guint i, guint * ndims, gint64 * dims, GError ** error)
{
  const char *name = node_input (b, i);
  gint id;

  if (is_const (b, name)) {
    const Rn50Tensor *t = lookup_const (b, name, error);
    if (t == NULL)
      return FALSE;
    *ndims = t->ndims;
    memcpy (dims, t->dims, t->ndims * sizeof (gint64));
    return TRUE;
  }
  if (!input_runtime (b, i, &id, error))
    return FALSE;
  *ndims = value_of (b, id)->ndims;
  memcpy (dims, value_of (b, id)->dims, *ndims * sizeof (gint64));
  return TRUE;
}

static gboolean
handle_reshape (Builder * b, GError ** error)
{
  gint64 in_dims[RN50_TENSOR_MAX_DIMS], out_dims[RN50_TENSOR_MAX_DIMS];
  const Rn50Tensor *shape;
  guint in_ndims, n, i;
  gint64 allowzero, known = 1, in_count = 1;
  gint infer = -1;
  gboolean ok;

  if (!input_dims (b, 0, &in_ndims, in_dims, error))
    return FALSE;
  shape = input_const (b, 1, RN50_DTYPE_INT64, error);
  if (shape == NULL)
    return FALSE;
  if (!rn50_onnx_node_get_int (b->node, "allowzero", 0, &allowzero, error))
    return FALSE;
  if (shape->ndims != 1 || shape->n_elements > RN50_TENSOR_MAX_DIMS)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "the target shape must be a 1-D tensor of at most %d values",
        RN50_TENSOR_MAX_DIMS);
  n = shape->n_elements;
  for (i = 0; i < in_ndims; i++)
    in_count *= in_dims[i];
  for (i = 0; i < n; i++) {
    gint64 d = rn50_tensor_ints (shape)[i];
    if (d == 0 && !allowzero) {
      if (i >= in_ndims)
        return node_fail (b, error, RN50_ERROR_SHAPE,
            "target dimension %u is 0 (copy), but the input has rank %u", i,
            in_ndims);
      d = in_dims[i];
    } else if (d == -1) {
      if (infer >= 0)
        return node_fail (b, error, RN50_ERROR_SHAPE,
            "more than one target dimension is -1");
      infer = i;
      d = 1;
    } else if (d <= 0) {
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "target dimension %u is %" G_GINT64_FORMAT, i, d);
    }
    out_dims[i] = d;
    if (known > G_MAXINT64 / d)
      return node_fail (b, error, RN50_ERROR_SHAPE, "target shape overflows");
    known *= d;
  }
  if (infer >= 0 && in_count % known == 0)
    out_dims[infer] = in_count / known;
  ok = infer >= 0 ? in_count % known == 0 : known == in_count;
  if (!ok) {
    g_autofree char *from = rn50_dims_to_string (in_ndims, in_dims);
    g_autofree char *to = rn50_dims_to_string (n, rn50_tensor_ints (shape));
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "cannot reshape %s (%" G_GINT64_FORMAT " elements) to %s%s", from,
        in_count, to, b->options->batch > 1 && !is_const (b, node_input (b, 0))
        && rn50_tensor_ints (shape)[0] > 0 ? " (the target shape fixes the "
        "batch dimension; the model cannot run several images at once)" : "");
  }
  return reshape_output (b, n, out_dims, error);
}

static gboolean
handle_flatten (Builder * b, GError ** error)
{
  gint64 dims[RN50_TENSOR_MAX_DIMS], out[2] = { 1, 1 };
  guint ndims, i;
  gint64 axis;

  if (!input_dims (b, 0, &ndims, dims, error))
    return FALSE;
  if (!rn50_onnx_node_get_int (b->node, "axis", 1, &axis, error))
    return FALSE;
  if (axis < 0)
    axis += ndims;
  if (axis < 0 || axis > (gint64) ndims)
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "axis is out of range for rank %u", ndims);
  for (i = 0; i < ndims; i++)
    out[(gint64) i < axis ? 0 : 1] *= dims[i];
  return reshape_output (b, 2, out, error);
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input since. */
static gboolean
get_axes (Builder * b, gint64 * axes, guint * n_axes, GError ** error)
{
  const Rn50Tensor *t;

  *n_axes = 0;
  if (b->opset < 13)
    return rn50_onnx_node_get_ints (b->node, "axes", axes,
        RN50_TENSOR_MAX_DIMS, n_axes, error);
  if (node_input (b, 1) == NULL)
    return TRUE;
  t = input_const (b, 1, RN50_DTYPE_INT64, error);
  if (t == NULL)
    return FALSE;
  if (t->n_elements > RN50_TENSOR_MAX_DIMS)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED, "too many axes");
  memcpy (axes, t->data, t->n_elements * sizeof (gint64));
  *n_axes = t->n_elements;
  return TRUE;
}

static gboolean
handle_unsqueeze (Builder * b, GError ** error)
{
  gint64 dims[RN50_TENSOR_MAX_DIMS], out[RN50_TENSOR_MAX_DIMS];
  gint64 axes[RN50_TENSOR_MAX_DIMS];
  gboolean is_new[RN50_TENSOR_MAX_DIMS] = { FALSE, };
  guint ndims, n_axes, out_ndims, i, j;

  if (!input_dims (b, 0, &ndims, dims, error)
      || !get_axes (b, axes, &n_axes, error))
    return FALSE;
  out_ndims = ndims + n_axes;
  if (n_axes == 0 || out_ndims > RN50_TENSOR_MAX_DIMS)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "needs 1 to %u axes", RN50_TENSOR_MAX_DIMS - ndims);
  for (i = 0; i < n_axes; i++) {
    gint64 a = axes[i] < 0 ? axes[i] + out_ndims : axes[i];
    if (a < 0 || a >= (gint64) out_ndims || is_new[a])
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "axis %" G_GINT64_FORMAT " is invalid for output rank %u", axes[i],
          out_ndims);
    is_new[a] = TRUE;
  }
  for (i = 0, j = 0; i < out_ndims; i++)
    out[i] = is_new[i] ? 1 : dims[j++];
  return reshape_output (b, out_ndims, out, error);
}

static gboolean
handle_squeeze (Builder * b, GError ** error)
{
  gint64 dims[RN50_TENSOR_MAX_DIMS], out[RN50_TENSOR_MAX_DIMS];
  gint64 axes[RN50_TENSOR_MAX_DIMS];
  gboolean drop[RN50_TENSOR_MAX_DIMS] = { FALSE, };
  guint ndims, n_axes, out_ndims = 0, i;

  if (!input_dims (b, 0, &ndims, dims, error)
      || !get_axes (b, axes, &n_axes, error))
    return FALSE;
  for (i = 0; i < n_axes; i++) {
    gint64 a = axes[i] < 0 ? axes[i] + ndims : axes[i];
    if (a < 0 || a >= (gint64) ndims || dims[a] != 1)
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "axis %" G_GINT64_FORMAT " does not name a dimension of size 1",
          axes[i]);
    drop[a] = TRUE;
  }
  for (i = 0; i < ndims; i++) {
    if (n_axes == 0 ? dims[i] == 1 : drop[i])
      continue;
    out[out_ndims++] = dims[i];
  }
  return reshape_output (b, out_ndims, out, error);
}

/* ---- layers -------------------------------------------------------------- */

/* Spatial geometry shared by Conv and the pools: kernel, strides, dilations,
 * explicit pads or auto_pad, and the output size. With @ceil_mode the output
 * is rounded up as PyTorch and ONNX Runtime do (a window that would start
 * beyond the input and its begin padding is dropped) and the end padding is
 * grown to make oneDNN's floor formula give the same size. */
static gboolean
spatial_geometry (Builder * b, Rn50Layer * layer, const gint64 * in_hw,
    gboolean ceil_mode, gint64 * out_hw, GError ** error)
{
  gint64 pads[4], values[4];
  guint n, i;
  char *auto_pad = NULL;
  gboolean ok = FALSE;

  if (!rn50_onnx_node_get_ints (b->node, "strides", values, 2, &n, error))
    goto out;
  if (n != 0 && n != 2) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED, "only 2-D strides are "
        "supported");
    goto out;
  }
  for (i = 0; i < n; i++)
    layer->strides[i] = values[i];
  if (!rn50_onnx_node_get_ints (b->node, "dilations", values, 2, &n, error))
    goto out;
  if (n != 0 && n != 2) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED, "only 2-D dilations are "
        "supported");
    goto out;
  }
  for (i = 0; i < n; i++)
    layer->dilations[i] = values[i];
  if (!rn50_onnx_node_get_ints (b->node, "pads", pads, 4, &n, error))
    goto out;
  if (n != 0 && n != 4) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED, "only 2-D pads are "
        "supported");
    goto out;
  }
  if (n == 0)
    memset (pads, 0, sizeof (pads));
  if (!rn50_onnx_node_get_string (b->node, "auto_pad", "NOTSET", &auto_pad,
          error))
    goto out;

  for (i = 0; i < 2; i++) {
    gint64 k = layer->kernel[i], s = layer->strides[i], d = layer->dilations[i];
    gint64 extent, span, out_size;

    if (k <= 0 || s <= 0 || d <= 0 || k > 4096 || s > 4096 || d > 4096) {
      node_fail (b, error, RN50_ERROR_SHAPE, "kernel %" G_GINT64_FORMAT
          ", stride %" G_GINT64_FORMAT " and dilation %" G_GINT64_FORMAT
          " must be positive", k, s, d);
      goto out;
    }
    extent = (k - 1) * d + 1;
    if (g_str_equal (auto_pad, "NOTSET")) {
      layer->pads_begin[i] = pads[i];
      layer->pads_end[i] = pads[i + 2];
    } else if (g_str_equal (auto_pad, "VALID")) {
      layer->pads_begin[i] = layer->pads_end[i] = 0;
    } else if (g_str_equal (auto_pad, "SAME_UPPER")
        || g_str_equal (auto_pad, "SAME_LOWER")) {
      gint64 want = (in_hw[i] + s - 1) / s;
      gint64 total = MAX ((want - 1) * s + extent - in_hw[i], 0);
      gboolean upper = g_str_equal (auto_pad, "SAME_UPPER");
      layer->pads_begin[i] = upper ? total / 2 : total - total / 2;
      layer->pads_end[i] = total - layer->pads_begin[i];
    } else {
      node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "auto_pad '%s' is not supported", auto_pad);
      goto out;
    }
    if (layer->pads_begin[i] < 0 || layer->pads_end[i] < 0
        || layer->pads_begin[i] > 4096 || layer->pads_end[i] > 4096) {
      node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "pads must be between 0 and 4096");
      goto out;
    }
    span = in_hw[i] + layer->pads_begin[i] + layer->pads_end[i] - extent;
    if (span < 0) {
      node_fail (b, error, RN50_ERROR_SHAPE,
          "kernel extent %" G_GINT64_FORMAT " is larger than the padded "
          "input (%" G_GINT64_FORMAT " + %" G_GINT64_FORMAT " + %"
          G_GINT64_FORMAT ")", extent, in_hw[i], layer->pads_begin[i],
          layer->pads_end[i]);
      goto out;
    }
    out_size = span / s + 1;
    if (ceil_mode) {
      gint64 needed;
      out_size = (span + s - 1) / s + 1;
      if ((out_size - 1) * s >= in_hw[i] + layer->pads_begin[i])
        out_size--;
      needed = (out_size - 1) * s + extent - in_hw[i] - layer->pads_begin[i];
      /* The grown padding would enter the divisor of an include-padding
       * average, which ONNX does not count. */
      if (needed > layer->pads_end[i] && layer->kind == RN50_LAYER_AVG_POOL
          && layer->count_include_pad) {
        node_fail (b, error, RN50_ERROR_UNSUPPORTED,
            "count_include_pad=1 with ceil_mode=1 rounding the output up is "
            "not supported");
        goto out;
      }
      layer->pads_end[i] = MAX (layer->pads_end[i], needed);
    }
    out_hw[i] = out_size;
  }
  ok = TRUE;

out:
  g_free (auto_pad);
  return ok;
}

static gboolean
input_image (Builder * b, guint i, gint * id, GError ** error)
{
  if (!input_runtime (b, i, id, error))
    return FALSE;
  if (value_of (b, *id)->ndims != 4) {
    g_autofree char *shape = value_shape (b, *id);
    return node_fail (b, error, RN50_ERROR_SHAPE,
        "input '%s' has shape %s, expected 4-D N×C×H×W", node_input (b, i),
        shape);
  }
  return TRUE;
}

static gboolean
handle_conv (Builder * b, GError ** error)
{
  Rn50Layer *layer;
  Rn50Value *x;
  Rn50Tensor *w = NULL, *bias = NULL;
  gint64 kernel[2], out_hw[2], dims[4], oc, groups;
  guint n_kernel;
  gint src, dst;
  char *wshape = NULL;
  gboolean ok = FALSE;

  if (!check_arity (b, 2, 3, error) || !input_image (b, 0, &src, error))
    goto out;
  x = value_of (b, src);
  w = take_const (b, 1, error);
  if (w == NULL)
    goto out;
  wshape = rn50_dims_to_string (w->ndims, w->dims);
  if (!rn50_onnx_node_get_int (b->node, "group", 1, &groups, error)
      || !rn50_onnx_node_get_ints (b->node, "kernel_shape", kernel, 2,
          &n_kernel, error))
    goto out;
  if (w->ndims != 4) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "weights have shape %s; only 2-D convolutions (4-D weights) are "
        "supported", wshape);
    goto out;
  }
  oc = w->dims[0];
  if (groups < 1 || x->dims[1] % groups != 0 || oc % groups != 0
      || w->dims[1] * groups != x->dims[1]) {
    g_autofree char *xs = value_shape (b, src);
    node_fail (b, error, RN50_ERROR_SHAPE,
        "weights %s with group=%" G_GINT64_FORMAT " do not fit input '%s' "
        "of shape %s", wshape, groups, node_input (b, 0), xs);
    goto out;
  }
  if (n_kernel == 2 && (kernel[0] != w->dims[2] || kernel[1] != w->dims[3])) {
    node_fail (b, error, RN50_ERROR_SHAPE,
        "kernel_shape %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " disagrees "
        "with weights %s", kernel[0], kernel[1], wshape);
    goto out;
  }
  if (node_input (b, 2) != NULL) {
    bias = take_const (b, 2, error);
    if (bias == NULL)
      goto out;
    if (bias->n_elements != (gsize) oc || bias->ndims != 1) {
      node_fail (b, error, RN50_ERROR_SHAPE,
          "bias has %" G_GSIZE_FORMAT " values, expected %" G_GINT64_FORMAT,
          bias->n_elements, oc);
      goto out;
    }
  }

  layer = add_layer (b, RN50_LAYER_CONV, src);
  layer->groups = groups;
  layer->kernel[0] = w->dims[2];
  layer->kernel[1] = w->dims[3];
  layer->weights = g_steal_pointer (&w);
  layer->bias = g_steal_pointer (&bias);
  if (!spatial_geometry (b, layer, x->dims + 2, FALSE, out_hw, error))
    goto out;
  dims[0] = x->dims[0];
  dims[1] = oc;
  dims[2] = out_hw[0];
  dims[3] = out_hw[1];
  if (!new_runtime_output (b, 4, dims, -1, &dst, error))
    goto out;
  layer->dst = dst;
  ok = TRUE;

out:
  rn50_tensor_free (w);
  rn50_tensor_free (bias);
  g_free (wshape);
  return ok;
}

static gboolean
handle_batch_norm (Builder * b, GError ** error)
{
  Rn50Layer *layer;
  Rn50Tensor *params[4] = { NULL, };
  static const char *const param_names[4] = { "scale", "B", "mean", "var" };
  gint64 spatial, training;
  float epsilon;
  gint src, dst;
  Rn50Value *x;
  guint i;
  gboolean ok = FALSE;

  if (!check_arity (b, 5, 5, error) || !check_single_output (b, error)
      || !input_runtime (b, 0, &src, error))
    goto out;
  x = value_of (b, src);
  if (x->ndims < 2) {
    node_fail (b, error, RN50_ERROR_SHAPE, "input must have a channel axis");
    goto out;
  }
  /* The ONNX default epsilon is 1e-5 (PyTorch's too; Keras uses 1e-3 and
   * writes it explicitly), read per node. */
  if (!rn50_onnx_node_get_float (b->node, "epsilon", 1e-5f, &epsilon, error)
      || !rn50_onnx_node_get_int (b->node, "spatial", 1, &spatial, error)
      || !rn50_onnx_node_get_int (b->node, "training_mode", 0, &training,
          error))
    goto out;
  if (spatial != 1 || training != 0) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "only inference-mode, spatial BatchNormalization is supported");
    goto out;
  }
  if (!(epsilon >= 0.0f) || !isfinite (epsilon)) {
    node_fail (b, error, RN50_ERROR_PARSE, "epsilon %g is invalid", epsilon);
    goto out;
  }
  for (i = 0; i < 4; i++) {
    params[i] = take_const (b, i + 1, error);
    if (params[i] == NULL)
      goto out;
    if (params[i]->n_elements != (gsize) x->dims[1]) {
      node_fail (b, error, RN50_ERROR_SHAPE,
          "%s has %" G_GSIZE_FORMAT " values, but input '%s' has %"
          G_GINT64_FORMAT " channels", param_names[i], params[i]->n_elements,
          node_input (b, 0), x->dims[1]);
      goto out;
    }
  }
  layer = add_layer (b, RN50_LAYER_BATCH_NORM, src);
  layer->scale = g_steal_pointer (&params[0]);
  layer->shift = g_steal_pointer (&params[1]);
  layer->mean = g_steal_pointer (&params[2]);
  layer->var = g_steal_pointer (&params[3]);
  layer->epsilon = epsilon;
  if (!new_runtime_output (b, x->ndims, x->dims, -1, &dst, error))
    goto out;
  layer->dst = dst;
  ok = TRUE;

out:
  for (i = 0; i < 4; i++)
    rn50_tensor_free (params[i]);
  return ok;
}

static gboolean
handle_relu (Builder * b, GError ** error)
{
  Rn50Layer *layer;
  gint src, dst;

  if (!check_arity (b, 1, 1, error) || !input_runtime (b, 0, &src, error))
    return FALSE;
  layer = add_layer (b, RN50_LAYER_RELU, src);
  if (!new_runtime_output (b, value_of (b, src)->ndims,
          value_of (b, src)->dims, -1, &dst, error))
    return FALSE;
  layer->dst = dst;
  return TRUE;
}

/* Add (and two-input Sum): two activations of one shape (the residual), or
 * an activation and a constant that broadcasts to it (a bias). */
static gboolean
handle_add (Builder * b, GError ** error)
{
  const char *a = node_input (b, 0), *c = node_input (b, 1);
  g_autoptr (Rn50Tensor) constant = NULL;
  Rn50Layer *layer;
  Rn50Value *x;
  gint src, src1 = -1, dst;
  guint const_input, i;

  if (g_str_equal (b->node->op_type, "Sum") && b->node->n_input == 1)
    return handle_identity (b, error);
  if (b->node->n_input > 2)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "adding %" G_GSIZE_FORMAT " tensors at once is not supported",
        b->node->n_input);
  if (!check_arity (b, 2, 2, error))
    return FALSE;
  if (is_const (b, a) && is_const (b, c))
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "adding two constants is not supported");

  if (!is_const (b, a) && !is_const (b, c)) {
    if (!input_runtime (b, 0, &src, error)
        || !input_runtime (b, 1, &src1, error))
      return FALSE;
    x = value_of (b, src);
    if (x->ndims != value_of (b, src1)->ndims
        || memcmp (x->dims, value_of (b, src1)->dims,
            x->ndims * sizeof (gint64)) != 0) {
      g_autofree char *s0 = value_shape (b, src);
      g_autofree char *s1 = value_shape (b, src1);
      return node_fail (b, error, RN50_ERROR_SHAPE,
          "operands have shapes %s and %s; broadcasting between computed "
          "tensors is not supported", s0, s1);
    }
  } else {
    const_input = is_const (b, a) ? 0 : 1;
    if (!input_runtime (b, 1 - const_input, &src, error))
      return FALSE;
    constant = take_const (b, const_input, error);
    if (constant == NULL)
      return FALSE;
    x = value_of (b, src);
    /* Unidirectional broadcast, right-aligned: the result keeps x's shape. */
    for (i = 0; i < constant->ndims; i++) {
      gint64 cd = constant->dims[constant->ndims - 1 - i];
      if (i >= x->ndims || (cd != 1 && cd != x->dims[x->ndims - 1 - i])) {
        g_autofree char *s0 = value_shape (b, src);
        g_autofree char *s1 = rn50_dims_to_string (constant->ndims,
            constant->dims);
        return node_fail (b, error, RN50_ERROR_SHAPE,
            "constant of shape %s does not broadcast to %s", s1, s0);
      }
    }
  }
  layer = add_layer (b, RN50_LAYER_ADD, src);
  layer->src1 = src1;
  layer->constant = g_steal_pointer (&constant);
  if (!new_runtime_output (b, x->ndims, x->dims, -1, &dst, error))
    return FALSE;
  layer->dst = dst;
  return TRUE;
}

static gboolean
handle_pool (Builder * b, GError ** error)
{
  const char *op = b->node->op_type;
  gboolean global = g_str_has_prefix (op, "Global");
  gboolean is_max = g_str_has_suffix (op, "MaxPool");
  Rn50Layer *layer;
  Rn50Value *x;
  gint64 kernel[2], out_hw[2], dims[4], ceil_mode = 0, include_pad = 0;
  gint64 storage_order = 0;
  guint n_kernel;
  gint src, dst;

  if (!check_arity (b, 1, 1, error) || !check_single_output (b, error)
      || !input_image (b, 0, &src, error))
    return FALSE;
  x = value_of (b, src);
  layer = add_layer (b, is_max ? RN50_LAYER_MAX_POOL : RN50_LAYER_AVG_POOL,
      src);
  if (global) {
    layer->kernel[0] = x->dims[2];
    layer->kernel[1] = x->dims[3];
    out_hw[0] = out_hw[1] = 1;
  } else {
    if (!rn50_onnx_node_get_ints (b->node, "kernel_shape", kernel, 2,
            &n_kernel, error)
        || !rn50_onnx_node_get_int (b->node, "ceil_mode", 0, &ceil_mode, error)
        || !rn50_onnx_node_get_int (b->node, "count_include_pad", 0,
            &include_pad, error)
        || !rn50_onnx_node_get_int (b->node, "storage_order", 0,
            &storage_order, error))
      return FALSE;
    if (n_kernel != 2)
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "only 2-D pooling with a kernel_shape is supported");
    layer->kernel[0] = kernel[0];
    layer->kernel[1] = kernel[1];
    layer->count_include_pad = include_pad != 0;
    if (!spatial_geometry (b, layer, x->dims + 2, ceil_mode != 0, out_hw,
            error))
      return FALSE;
    if (!is_max && (layer->dilations[0] != 1 || layer->dilations[1] != 1))
      return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "dilated average pooling is not supported");
  }
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  dims[2] = out_hw[0];
  dims[3] = out_hw[1];
  if (!new_runtime_output (b, 4, dims, -1, &dst, error))
    return FALSE;
  layer->dst = dst;
  return TRUE;
}

/* Gemm: Y = alpha·A·op(B) + beta·C, with A the activations (N×K) and B, C
 * constants. Folded at load into one inner product with weights
 * W[oc][k] = alpha·op(B)[k][oc] and bias beta·C. MatMul is the same with
 * alpha = 1 and no C (a following Add becomes the bias). */
static gboolean
handle_gemm (Builder * b, GError ** error)
{
  gboolean is_matmul = g_str_equal (b->node->op_type, "MatMul");
  const Rn50Tensor *bm, *cm = NULL;
  Rn50Tensor *w = NULL, *bias = NULL;
  Rn50Layer *layer;
  Rn50Value *a;
  gint64 trans_a = 0, trans_b = 0, k, oc, wdims[2], dims[2];
  float alpha = 1.0f, beta = 1.0f;
  gint src, dst;
  gsize i, j;
  char *as = NULL, *bs = NULL;
  gboolean ok = FALSE;

  if (!check_arity (b, 2, is_matmul ? 2 : 3, error)
      || !input_runtime (b, 0, &src, error))
    goto out;
  a = value_of (b, src);
  as = value_shape (b, src);
  if (!is_matmul
      && (!rn50_onnx_node_get_int (b->node, "transA", 0, &trans_a, error)
          || !rn50_onnx_node_get_int (b->node, "transB", 0, &trans_b, error)
          || !rn50_onnx_node_get_float (b->node, "alpha", 1.0f, &alpha, error)
          || !rn50_onnx_node_get_float (b->node, "beta", 1.0f, &beta, error)))
    goto out;
  if (trans_a != 0) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "transA=1 is not supported (the activations must be A, N×K)");
    goto out;
  }
  if (a->ndims != 2) {
    node_fail (b, error, RN50_ERROR_SHAPE,
        "input '%s' has shape %s, expected 2-D N×K (add a Flatten)",
        node_input (b, 0), as);
    goto out;
  }
  bm = input_const (b, 1, RN50_DTYPE_FLOAT, error);
  if (bm == NULL)
    goto out;
  bs = rn50_dims_to_string (bm->ndims, bm->dims);
  if (bm->ndims != 2) {
    node_fail (b, error, RN50_ERROR_SHAPE, "weight B has shape %s, expected "
        "2-D", bs);
    goto out;
  }
  k = trans_b ? bm->dims[1] : bm->dims[0];
  oc = trans_b ? bm->dims[0] : bm->dims[1];
  if (k != a->dims[1]) {
    node_fail (b, error, RN50_ERROR_SHAPE,
        "weight B has shape %s (transB=%" G_GINT64_FORMAT "), which expects %"
        G_GINT64_FORMAT " input features, but input '%s' has shape %s (%"
        G_GINT64_FORMAT " features)", bs, trans_b, k, node_input (b, 0), as,
        a->dims[1]);
    goto out;
  }

  wdims[0] = oc;
  wdims[1] = k;
  w = rn50_tensor_new (RN50_DTYPE_FLOAT, 2, wdims, b->desc, error);
  if (w == NULL)
    goto out;
  for (i = 0; i < (gsize) oc; i++)
    for (j = 0; j < (gsize) k; j++)
      rn50_tensor_floats (w)[i * k + j] = alpha *
          rn50_tensor_floats (bm)[trans_b ? i * k + j : j * oc + i];

  if (node_input (b, 2) != NULL) {
    cm = input_const (b, 2, RN50_DTYPE_FLOAT, error);
    if (cm == NULL)
      goto out;
    /* C broadcasts to N×OC; a C that differs between rows would make each
     * image's result depend on its position in the batch. */
    if (cm->ndims > 2
        || (cm->ndims >= 1 && cm->dims[cm->ndims - 1] != oc
            && cm->dims[cm->ndims - 1] != 1)
        || (cm->ndims == 2 && cm->dims[0] != 1)) {
      g_autofree char *cs = rn50_dims_to_string (cm->ndims, cm->dims);
      node_fail (b, error, RN50_ERROR_SHAPE,
          "bias C has shape %s; expected a scalar, %" G_GINT64_FORMAT " or 1x%"
          G_GINT64_FORMAT, cs, oc, oc);
      goto out;
    }
    bias = rn50_tensor_new (RN50_DTYPE_FLOAT, 1, &oc, b->desc, error);
    if (bias == NULL)
      goto out;
    for (i = 0; i < (gsize) oc; i++)
      rn50_tensor_floats (bias)[i] = beta *
          rn50_tensor_floats (cm)[cm->n_elements == 1 ? 0 : i];
  }

  layer = add_layer (b, RN50_LAYER_INNER_PRODUCT, src);
  layer->weights = g_steal_pointer (&w);
  layer->bias = g_steal_pointer (&bias);
  dims[0] = a->dims[0];
  dims[1] = oc;
  if (!new_runtime_output (b, 2, dims, -1, &dst, error))
    goto out;
  layer->dst = dst;
  ok = TRUE;

out:
  rn50_tensor_free (w);
  rn50_tensor_free (bias);
  g_free (as);
  g_free (bs);
  return ok;
}

static gboolean
handle_softmax (Builder * b, GError ** error)
{
  Rn50Layer *layer;
  Rn50Value *x;
  gint64 axis;
  gint src, dst;
  guint i;

  if (!check_arity (b, 1, 1, error) || !input_runtime (b, 0, &src, error))
    return FALSE;
  x = value_of (b, src);
  /* The default axis and its meaning changed in opset 13: before, the input
   * was coerced to 2-D at axis (softmax over all trailing dims together). */
  if (!rn50_onnx_node_get_int (b->node, "axis", b->opset < 13 ? 1 : -1,
          &axis, error))
    return FALSE;
  if (axis < 0)
    axis += x->ndims;
  if (axis < 1 || axis >= (gint64) x->ndims)
    return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "softmax over axis %" G_GINT64_FORMAT " of a rank %u tensor is not "
        "supported (axis 0 would mix the images of a batch)", axis, x->ndims);
  if (b->opset < 13)
    for (i = axis + 1; i < x->ndims; i++)
      if (x->dims[i] != 1)
        return node_fail (b, error, RN50_ERROR_UNSUPPORTED,
            "softmax over several dimensions (opset < 13 semantics) is not "
            "supported");
  layer = add_layer (b, RN50_LAYER_SOFTMAX, src);
  layer->axis = axis;
  if (!new_runtime_output (b, x->ndims, x->dims, -1, &dst, error))
    return FALSE;
  layer->dst = dst;
  return TRUE;
}

/* Zero padding of H and W, which the rewrite below folds into the Conv that
 * reads it (TensorFlow-converted ResNets pad explicitly before conv1). */
static gboolean
handle_pad (Builder * b, GError ** error)
{
  gint64 pads[8], dims[4];
  guint n = 0, i;
  float value = 0.0f;
  char *mode = NULL;
  Rn50Layer *layer;
  Rn50Value *x;
  gint src, dst;
  gboolean ok = FALSE;

  if (!check_arity (b, 1, b->opset < 11 ? 1 : 4, error)
      || !input_image (b, 0, &src, error))
    goto out;
  x = value_of (b, src);
  if (!rn50_onnx_node_get_string (b->node, "mode", "constant", &mode, error))
    goto out;
  if (b->opset < 11) {
    if (!rn50_onnx_node_get_ints (b->node, "pads", pads, 8, &n, error)
        || !rn50_onnx_node_get_float (b->node, "value", 0.0f, &value, error))
      goto out;
  } else {
    const Rn50Tensor *t = input_const (b, 1, RN50_DTYPE_INT64, error);
    if (t == NULL)
      goto out;
    if (t->n_elements <= 8) {
      n = t->n_elements;
      memcpy (pads, t->data, n * sizeof (gint64));
    }
    if (node_input (b, 2) != NULL) {
      const Rn50Tensor *v = input_const (b, 2, RN50_DTYPE_FLOAT, error);
      if (v == NULL)
        goto out;
      value = v->n_elements == 1 ? rn50_tensor_floats (v)[0] : NAN;
    }
    if (node_input (b, 3) != NULL) {
      node_fail (b, error, RN50_ERROR_UNSUPPORTED, "the axes input is not "
          "supported");
      goto out;
    }
  }
  if (n != 8 || pads[0] || pads[1] || pads[4] || pads[5]) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "only padding of H and W of a 4-D tensor is supported");
    goto out;
  }
  if (!g_str_equal (mode, "constant") || value != 0.0f) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "only zero padding (mode 'constant', value 0) is supported");
    goto out;
  }
  for (i = 0; i < 8; i++)
    if (pads[i] < 0 || pads[i] > 4096) {
      node_fail (b, error, RN50_ERROR_UNSUPPORTED,
          "pads must be between 0 and 4096");
      goto out;
    }
  layer = add_layer (b, RN50_LAYER_PAD, src);
  layer->pads_begin[0] = pads[2];
  layer->pads_begin[1] = pads[3];
  layer->pads_end[0] = pads[6];
  layer->pads_end[1] = pads[7];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  dims[2] = x->dims[2] + pads[2] + pads[6];
  dims[3] = x->dims[3] + pads[3] + pads[7];
  if (!new_runtime_output (b, 4, dims, -1, &dst, error))
    goto out;
  layer->dst = dst;
  ok = TRUE;

out:
  g_free (mode);
  return ok;
}

typedef gboolean (*NodeHandler) (Builder * b, GError ** error);

static const struct
{
  const char *op_type;
  NodeHandler handler;
} node_handlers[] = {
  {"Conv", handle_conv},
  {"BatchNormalization", handle_batch_norm},
  {"Relu", handle_relu},
  {"Add", handle_add},
  {"Sum", handle_add},
  {"MaxPool", handle_pool},
  {"AveragePool", handle_pool},
  {"GlobalAveragePool", handle_pool},
  {"GlobalMaxPool", handle_pool},
  {"Gemm", handle_gemm},
  {"MatMul", handle_gemm},
  {"Softmax", handle_softmax},
  {"Pad", handle_pad},
  {"Flatten", handle_flatten},
  {"Reshape", handle_reshape},
  {"Squeeze", handle_squeeze},
  {"Unsqueeze", handle_unsqueeze},
  {"Identity", handle_identity},
  {"Dropout", handle_dropout},
  {"Cast", handle_cast},
  {"Constant", handle_constant},
  {"Shape", handle_shape},
  {"Gather", handle_gather},
  {"Concat", handle_concat},
};

static gboolean
handle_node (Builder * b, const Onnx__NodeProto * node, GError ** error)
{
  const char *domain = node->domain ? node->domain : "";
  gboolean ok = FALSE;
  guint i;

  b->node = node;
  b->desc = rn50_onnx_node_describe (node);

  if (node->op_type == NULL || node->op_type[0] == '\0') {
    node_fail (b, error, RN50_ERROR_PARSE, "has no op type");
    goto out;
  }
  if (domain[0] != '\0' && !g_str_equal (domain, "ai.onnx")) {
    node_fail (b, error, RN50_ERROR_UNSUPPORTED,
        "unsupported op type %s from domain '%s'", node->op_type, domain);
    goto out;
  }
  for (i = 0; i < G_N_ELEMENTS (node_handlers); i++) {
    if (g_str_equal (node->op_type, node_handlers[i].op_type)) {
      if (node->n_output == 0 || node_output (b, 0) == NULL) {
        node_fail (b, error, RN50_ERROR_PARSE, "has no output");
        goto out;
      }
      ok = node_handlers[i].handler (b, error);
      goto out;
    }
  }
  node_fail (b, error, RN50_ERROR_UNSUPPORTED,
      "unsupported op type %s (opset %" G_GINT64_FORMAT ")", node->op_type,
      b->opset);

out:
  /* This node has read its inputs: constants it was the last reader of are
   * no longer needed. */
  for (i = 0; i < node->n_input; i++) {
    const char *name = node->input[i];
    gpointer uses;
    if (name == NULL || name[0] == '\0'
        || !g_hash_table_lookup_extended (b->pending_uses, name, NULL, &uses))
      continue;
    if (GPOINTER_TO_UINT (uses) <= 1) {
      g_hash_table_remove (b->pending_uses, name);
      if (ok) {
        g_hash_table_remove (b->consts, name);
        g_hash_table_remove (b->initializers, name);
      }
    } else {
      g_hash_table_insert (b->pending_uses, g_strdup (name),
          GUINT_TO_POINTER (GPOINTER_TO_UINT (uses) - 1));
    }
  }
  g_clear_pointer (&b->desc, g_free);
  b->node = NULL;
  return ok;
}

/* ---- graph input and output ---------------------------------------------- */

static gboolean
value_info_dims (const Onnx__ValueInfoProto * info, guint * ndims,
    gint64 * dims, const char **params, GError ** error)
{
  const Onnx__TypeProto *type = info->type;
  const Onnx__TensorShapeProto *shape;
  guint i;

  if (type == NULL || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || type->tensor_type == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "model input '%s' is not a tensor", info->name);
    return FALSE;
  }
  if (type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "model input '%s' has element type %d, expected FLOAT (1)",
        info->name, type->tensor_type->elem_type);
    return FALSE;
  }
  shape = type->tensor_type->shape;
  if (shape == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model input '%s' has no declared shape", info->name);
    return FALSE;
  }
  if (shape->n_dim < 1 || shape->n_dim > RN50_VALUE_MAX_DIMS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model input '%s' has rank %" G_GSIZE_FORMAT ", expected 4 "
        "(N×C×H×W)", info->name, shape->n_dim);
    return FALSE;
  }
  *ndims = shape->n_dim;
  for (i = 0; i < shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = shape->dim[i];
    params[i] = NULL;
    dims[i] = -1;               /* symbolic */
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      dims[i] = d->dim_value;
      if (dims[i] <= 0) {
        g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
            "model input '%s' has dimension %u = %" G_GINT64_FORMAT,
            info->name, i, dims[i]);
        return FALSE;
      }
    } else if (d->value_case ==
        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
      params[i] = d->dim_param;
    }
  }
  return TRUE;
}

static gboolean
setup_input (Builder * b, GError ** error)
{
  const Onnx__ValueInfoProto *info = NULL;
  const Rn50GraphOptions *opt = b->options;
  gint64 dims[RN50_VALUE_MAX_DIMS];
  const char *params[RN50_VALUE_MAX_DIMS];
  guint expect[3] = { opt->channels, opt->height, opt->width };
  gboolean strict = opt->channels > 0;
  guint ndims, i, n_inputs = 0;
  gint64 count;
  GString *shape;
  gboolean ok = FALSE;

  /* Before IR version 4 initializers were listed as inputs too; the image is
   * the one input that no initializer provides. */
  for (i = 0; i < b->proto->n_input; i++) {
    const Onnx__ValueInfoProto *in = b->proto->input[i];
    if (in->name == NULL || g_hash_table_contains (b->initializers, in->name))
      continue;
    if (n_inputs++ == 0)
      info = in;
  }
  if (n_inputs != 1) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "model has %u inputs besides its initializers; exactly one image "
        "input is supported", n_inputs);
    return FALSE;
  }
  if (!value_info_dims (info, &ndims, dims, params, error))
    return FALSE;

  shape = g_string_new (NULL);
  for (i = 0; i < ndims; i++) {
    if (dims[i] > 0)
      g_string_append_printf (shape, "%s%" G_GINT64_FORMAT, i ? "x" : "",
          dims[i]);
    else
      g_string_append_printf (shape, "%s%s", i ? "x" : "",
          params[i] && params[i][0] ? params[i] : "?");
  }

  if (strict) {
    if (ndims != 4) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
          "model input '%s' has shape %s, expected Nx%ux%ux%u", info->name,
          shape->str, expect[0], expect[1], expect[2]);
      goto out;
    }
    for (i = 1; i < 4; i++) {
      /* A symbolic C, H or W can take the size we feed. */
      if (dims[i] < 0)
        dims[i] = expect[i - 1];
      if (dims[i] != expect[i - 1]) {
        g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
            "model input '%s' has shape %s, expected Nx%ux%ux%u", info->name,
            shape->str, expect[0], expect[1], expect[2]);
        goto out;
      }
    }
  } else {
    for (i = 1; i < ndims; i++)
      if (dims[i] < 0) {
        g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
            "model input '%s' has shape %s; dimension %u must be fixed",
            info->name, shape->str, i);
        goto out;
      }
  }
  if (dims[0] > 0 && dims[0] != opt->batch) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model input '%s' has shape %s: its dimension 0 = %" G_GINT64_FORMAT
        " fixes the batch size, but %u images per run were requested",
        info->name, shape->str, dims[0], opt->batch);
    goto out;
  }
  dims[0] = opt->batch;
  /* Every activation is sized from these; keep their product sane. */
  for (i = 0, count = 1; i < ndims; i++) {
    if (dims[i] > G_MAXINT32 / count) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
          "model input '%s' has shape %s: too many elements", info->name,
          shape->str);
      goto out;
    }
    count *= dims[i];
  }
  b->activation_elements = activation_per_image (ndims, dims);
  if (b->activation_elements == G_MAXUINT64) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model input '%s' has shape %s: more than %" G_GUINT64_FORMAT
        " elements per image", info->name, shape->str,
        RN50_GRAPH_MAX_VALUE_PER_IMAGE);
    goto out;
  }
  b->graph->input = add_value (b, info->name, ndims, dims, -1);
  g_hash_table_insert (b->runtime, g_strdup (info->name),
      GINT_TO_POINTER (b->graph->input + 1));
  ok = TRUE;

out:
  g_string_free (shape, TRUE);
  return ok;
}

static gboolean
setup_output (Builder * b, GError ** error)
{
  const Onnx__ValueInfoProto *info;
  const Onnx__TensorShapeProto *shape = NULL;
  gpointer found;
  Rn50Value *v;
  guint i;

  if (b->proto->n_output != 1) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "model has %" G_GSIZE_FORMAT " outputs; exactly one (the class "
        "scores) is supported", b->proto->n_output);
    return FALSE;
  }
  info = b->proto->output[0];
  found = info->name ? g_hash_table_lookup (b->runtime, info->name) : NULL;
  if (found == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "model output '%s' is not computed from the input",
        info->name ? info->name : "");
    return FALSE;
  }
  b->graph->output = GPOINTER_TO_INT (found) - 1;
  v = rn50_graph_value (b->graph, b->graph->output);

  /* A declared static shape must agree with what we inferred. */
  if (info->type && info->type->value_case ==
      ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && info->type->tensor_type)
    shape = info->type->tensor_type->shape;
  if (shape != NULL) {
    gboolean agree = shape->n_dim == v->ndims;
    for (i = 1; agree && i < shape->n_dim; i++)
      if (shape->dim[i]->value_case ==
          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
          && shape->dim[i]->dim_value != v->dims[i])
        agree = FALSE;
    if (!agree) {
      g_autofree char *s = rn50_dims_to_string (v->ndims, v->dims);
      g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
          "model output '%s' is declared with rank %" G_GSIZE_FORMAT
          " dimensions that disagree with the computed shape %s", info->name,
          shape->n_dim, s);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- ordering ------------------------------------------------------------ */

/* ONNX requires nodes in topological order, and exporters write them so; a
 * file that is not is sorted (Kahn) rather than refused. Every node input
 * must come from an initializer, the graph input or another node. */
static GPtrArray *
sort_nodes (Builder * b, GError ** error)
{
  const Onnx__GraphProto *g = b->proto;
  GPtrArray *order = g_ptr_array_new ();
  GHashTable *available = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTable *producer = g_hash_table_new (g_str_hash, g_str_equal);
  guint *missing = NULL;
  GQueue ready = G_QUEUE_INIT;
  gboolean sorted = TRUE, ok = FALSE;
  gsize i, j;

  for (i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name)
      g_hash_table_add (available, g->initializer[i]->name);
  for (i = 0; i < g->n_input; i++)
    if (g->input[i]->name)
      g_hash_table_add (available, g->input[i]->name);

  for (i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *node = g->node[i];
    for (j = 0; j < node->n_output; j++)
      if (node->output[j] && node->output[j][0])
        g_hash_table_insert (producer, node->output[j], GSIZE_TO_POINTER (i));
  }

  /* Fast path: already in order. */
  for (i = 0; i < g->n_node && sorted; i++) {
    const Onnx__NodeProto *node = g->node[i];
    for (j = 0; j < node->n_input; j++) {
      const char *in = node->input[j];
      if (in == NULL || in[0] == '\0' || g_hash_table_contains (available, in))
        continue;
      if (!g_hash_table_contains (producer, in)) {
        char *desc = rn50_onnx_node_describe (node);
        g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
            "%s reads '%s', which no node, initializer or graph input "
            "defines", desc, in);
        g_free (desc);
        goto out;
      }
      sorted = FALSE;
    }
    for (j = 0; j < node->n_output; j++)
      if (node->output[j] && node->output[j][0])
        g_hash_table_add (available, node->output[j]);
    g_ptr_array_add (order, (gpointer) node);
  }
  if (sorted) {
    ok = TRUE;
    goto out;
  }

  /* Kahn's algorithm on the "reads an output of" relation. */
  g_ptr_array_set_size (order, 0);
  g_hash_table_remove_all (available);
  for (i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name)
      g_hash_table_add (available, g->initializer[i]->name);
  for (i = 0; i < g->n_input; i++)
    if (g->input[i]->name)
      g_hash_table_add (available, g->input[i]->name);
  missing = g_new0 (guint, g->n_node);
  for (i = 0; i < g->n_node; i++) {
    for (j = 0; j < g->node[i]->n_input; j++) {
      const char *in = g->node[i]->input[j];
      if (in && in[0] && !g_hash_table_contains (available, in))
        missing[i]++;
    }
    if (missing[i] == 0)
      g_queue_push_tail (&ready, GSIZE_TO_POINTER (i));
  }
  while (!g_queue_is_empty (&ready)) {
    const Onnx__NodeProto *node = g->node[GPOINTER_TO_SIZE (g_queue_pop_head
            (&ready))];
    g_ptr_array_add (order, (gpointer) node);
    for (j = 0; j < node->n_output; j++) {
      const char *out = node->output[j];
      gsize k, m;
      if (out == NULL || out[0] == '\0')
        continue;
      /* Wake readers; O(nodes) per output, but only for unsorted files. */
      for (k = 0; k < g->n_node; k++)
        for (m = 0; m < g->node[k]->n_input; m++)
          if (g->node[k]->input[m]
              && g_str_equal (g->node[k]->input[m], out)
              && !g_hash_table_contains (available, out)
              && --missing[k] == 0)
            g_queue_push_tail (&ready, GSIZE_TO_POINTER (k));
    }
    for (j = 0; j < node->n_output; j++)
      if (node->output[j] && node->output[j][0])
        g_hash_table_add (available, node->output[j]);
  }
  if (order->len != g->n_node) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "the graph has a cycle: %" G_GSIZE_FORMAT " of its %" G_GSIZE_FORMAT
        " nodes can never run", g->n_node - order->len, g->n_node);
    goto out;
  }
  ok = TRUE;

out:
  g_free (missing);
  g_hash_table_unref (available);
  g_hash_table_unref (producer);
  if (!ok)
    g_clear_pointer (&order, g_ptr_array_unref);
  return order;
}

/* ---- rewrites ------------------------------------------------------------ */

/* Per value: the layer that writes it (or -1), how many readers it has
 * (layers, views, the graph output), the first reading layer, and how many
 * views alias it. Recomputed after every rewrite pass. */
typedef struct
{
  gint *producer;
  guint *uses;
  gint *reader;
  guint *views;
} Index;

static void
index_build (Rn50Graph * graph, Index * ix)
{
  guint n = graph->values->len, i;

  g_free (ix->producer);
  g_free (ix->uses);
  g_free (ix->reader);
  g_free (ix->views);
  ix->producer = g_new (gint, n);
  ix->reader = g_new (gint, n);
  ix->uses = g_new0 (guint, n);
  ix->views = g_new0 (guint, n);
  for (i = 0; i < n; i++)
    ix->producer[i] = ix->reader[i] = -1;
  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *l = rn50_graph_layer (graph, i);
    gint reads[3] = { l->src, l->src1, l->sum_src };
    guint r;
    ix->producer[l->dst] = i;
    for (r = 0; r < 3; r++) {
      if (reads[r] < 0)
        continue;
      ix->uses[reads[r]]++;
      if (ix->reader[reads[r]] < 0)
        ix->reader[reads[r]] = i;
    }
  }
  for (i = 0; i < n; i++) {
    gint base = rn50_graph_value (graph, i)->view_of;
    if (base >= 0) {
      ix->uses[base]++;
      ix->views[base]++;
    }
  }
  ix->uses[graph->output]++;
}

static void
index_clear (Index * ix)
{
  g_free (ix->producer);
  g_free (ix->uses);
  g_free (ix->reader);
  g_free (ix->views);
}

static void
remove_dead_slots (Rn50Graph * graph)
{
  guint i = 0;

  while (i < graph->layers->len) {
    if (g_ptr_array_index (graph->layers, i) == NULL)
      g_ptr_array_remove_index (graph->layers, i);
    else
      i++;
  }
}

/* Drops layers whose result nobody reads (e.g. a branch the output does not
 * depend on), last to first so chains disappear in one sweep. */
static void
remove_unused_layers (Rn50Graph * graph, Index * ix)
{
  gint i;

  index_build (graph, ix);
  for (i = graph->layers->len - 1; i >= 0; i--) {
    Rn50Layer *l = rn50_graph_layer (graph, i);
    gint reads[3] = { l->src, l->src1, l->sum_src };
    guint r;
    if (ix->uses[l->dst] > 0)
      continue;
    for (r = 0; r < 3; r++)
      if (reads[r] >= 0)
        ix->uses[reads[r]]--;
    layer_free (l);
    g_ptr_array_index (graph->layers, i) = NULL;
  }
  remove_dead_slots (graph);
}

static gboolean
fold_pads (Rn50Graph * graph, Index * ix, GError ** error)
{
  guint i, j;

  index_build (graph, ix);
  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *pad = rn50_graph_layer (graph, i), *conv;
    gint reader = ix->reader[pad->dst];
    if (pad->kind != RN50_LAYER_PAD)
      continue;
    conv = reader >= 0 ? rn50_graph_layer (graph, reader) : NULL;
    if (ix->uses[pad->dst] != 1 || conv == NULL
        || conv->kind != RN50_LAYER_CONV || conv->src != pad->dst) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
          "%s: zero padding is supported only directly before a Conv",
          pad->label);
      return FALSE;
    }
    conv->src = pad->src;
    for (j = 0; j < 2; j++) {
      conv->pads_begin[j] += pad->pads_begin[j];
      conv->pads_end[j] += pad->pads_end[j];
    }
    layer_free (pad);
    g_ptr_array_index (graph->layers, i) = NULL;
  }
  remove_dead_slots (graph);
  return TRUE;
}

/* BatchNormalization after a Conv whose only reader it is becomes part of
 * the Conv: with s = γ/√(σ²+ε), W'[oc] = s·W[oc] and b' = s·(b−μ)+β,
 * computed in double so folding adds no error beyond the final rounding. */
static void
fold_batch_norms (Rn50Graph * graph, Index * ix)
{
  guint i;

  index_build (graph, ix);
  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *bn = rn50_graph_layer (graph, i), *conv;
    gint p = ix->producer[bn->src];
    gsize oc, per_oc, c, k;
    float *w, *bias;

    if (bn->kind != RN50_LAYER_BATCH_NORM || p < 0 || ix->uses[bn->src] != 1)
      continue;
    conv = rn50_graph_layer (graph, p);
    if (conv->kind != RN50_LAYER_CONV || conv->sum_src >= 0 || conv->relu)
      continue;

    oc = conv->weights->dims[0];
    per_oc = conv->weights->n_elements / oc;
    if (conv->bias == NULL) {
      gint64 d = oc;
      conv->bias = rn50_tensor_new (RN50_DTYPE_FLOAT, 1, &d, "bias", NULL);
    }
    w = rn50_tensor_floats (conv->weights);
    bias = rn50_tensor_floats (conv->bias);
    for (c = 0; c < oc; c++) {
      double s = (double) rn50_tensor_floats (bn->scale)[c] /
          sqrt ((double) rn50_tensor_floats (bn->var)[c] +
          (double) bn->epsilon);
      for (k = 0; k < per_oc; k++)
        w[c * per_oc + k] = (float) (w[c * per_oc + k] * s);
      bias[c] = (float) (((double) bias[c] -
              rn50_tensor_floats (bn->mean)[c]) * s +
          rn50_tensor_floats (bn->shift)[c]);
    }
    conv->dst = bn->dst;
    layer_free (bn);
    g_ptr_array_index (graph->layers, i) = NULL;
  }
  remove_dead_slots (graph);
}

/* Add of a per-channel constant (a broadcast over everything but axis 1)
 * after a Conv or inner product becomes its bias: MatMul+Add, Conv without
 * bias followed by Add. */
static void
fold_bias_adds (Rn50Graph * graph, Index * ix)
{
  guint i, d;

  index_build (graph, ix);
  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *add = rn50_graph_layer (graph, i), *prod;
    Rn50Value *v;
    Rn50Tensor *c;
    gint p;
    gsize oc, k;
    gboolean per_channel = TRUE;

    if (add->kind != RN50_LAYER_ADD || add->constant == NULL)
      continue;
    p = ix->producer[add->src];
    if (p < 0 || ix->uses[add->src] != 1)
      continue;
    prod = rn50_graph_layer (graph, p);
    if ((prod->kind != RN50_LAYER_CONV
            && prod->kind != RN50_LAYER_INNER_PRODUCT)
        || prod->sum_src >= 0 || prod->relu)
      continue;
    v = rn50_graph_value (graph, add->src);
    c = add->constant;
    /* Right-aligned: constant dim i sits on value dim (ndims - cndims + i). */
    for (d = 0; d < c->ndims; d++) {
      guint vd = v->ndims - c->ndims + d;
      if (vd != 1 && c->dims[d] != 1)
        per_channel = FALSE;
    }
    if (!per_channel)
      continue;
    oc = v->dims[1];
    if (prod->bias == NULL) {
      gint64 n = oc;
      prod->bias = rn50_tensor_new (RN50_DTYPE_FLOAT, 1, &n, "bias", NULL);
    }
    for (k = 0; k < oc; k++)
      rn50_tensor_floats (prod->bias)[k] +=
          rn50_tensor_floats (c)[c->n_elements == 1 ? 0 : k];
    prod->dst = add->dst;
    layer_free (add);
    g_ptr_array_index (graph->layers, i) = NULL;
  }
  remove_dead_slots (graph);
}

/* Can the residual Add at slot @a be computed by the Conv producing @x,
 * accumulating into the buffer of the other operand @y? The Conv is then
 * executed at the Add's slot (later than where it was, which is always
 * legal: its inputs exist already). @clobbered maps a value to the slot at
 * which an earlier rewrite of this kind overwrites it in place. */
static gboolean
can_sum_into (Rn50Graph * graph, Index * ix, gint a, gint x, gint y,
    const gint * clobbered)
{
  Rn50Layer *conv;
  gint p = ix->producer[x];
  guint i;

  if (p < 0 || ix->uses[x] != 1)
    return FALSE;
  conv = rn50_graph_layer (graph, p);
  if (conv->kind != RN50_LAYER_CONV || conv->sum_src >= 0 || conv->relu
      || conv->src == y)
    return FALSE;
  /* y is overwritten: it must be an intermediate result of this graph with
   * no view aliasing it, and every other reader must run before slot a. */
  if (y == graph->input || y == graph->output || ix->producer[y] < 0
      || ix->views[y] > 0 || rn50_graph_value (graph, y)->view_of >= 0)
    return FALSE;
  for (i = a + 1; i < graph->layers->len; i++) {
    Rn50Layer *l = rn50_graph_layer (graph, i);
    if (l != NULL && (l->src == y || l->src1 == y || l->sum_src == y))
      return FALSE;
  }
  /* Moving the Conv to slot a must not make it read its input after an
   * earlier in-place sum has overwritten that input. */
  if (clobbered[conv->src] > p && clobbered[conv->src] < a)
    return FALSE;
  return TRUE;
}

static void
fuse_residual_adds (Rn50Graph * graph, Index * ix)
{
  gint *clobbered;
  guint i;

  index_build (graph, ix);
  clobbered = g_new (gint, graph->values->len);
  for (i = 0; i < graph->values->len; i++)
    clobbered[i] = -1;

  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *add = rn50_graph_layer (graph, i), *conv;
    gint x, y, p;
    gboolean use_src, use_src1;

    if (add->kind != RN50_LAYER_ADD || add->src1 < 0 || add->relu)
      continue;
    use_src = can_sum_into (graph, ix, i, add->src, add->src1, clobbered);
    use_src1 = can_sum_into (graph, ix, i, add->src1, add->src, clobbered);
    if (!use_src && !use_src1)
      continue;
    /* Prefer the operand produced last: its Conv moves the least. */
    if (use_src && use_src1)
      use_src = ix->producer[add->src] > ix->producer[add->src1];
    x = use_src ? add->src : add->src1;
    y = use_src ? add->src1 : add->src;
    p = ix->producer[x];
    conv = rn50_graph_layer (graph, p);
    conv->sum_src = y;
    conv->dst = add->dst;
    clobbered[y] = i;
    g_ptr_array_index (graph->layers, p) = NULL;
    g_ptr_array_index (graph->layers, i) = conv;
    layer_free (add);
    /* Slots keep their positions until the pass ends (NULL holes), so the
     * index stays valid apart from the moved Conv. */
    ix->producer[conv->dst] = i;
  }
  g_free (clobbered);
  remove_dead_slots (graph);
}

static void
fuse_relus (Rn50Graph * graph, Index * ix)
{
  guint i;

  index_build (graph, ix);
  for (i = 0; i < graph->layers->len; i++) {
    Rn50Layer *relu = rn50_graph_layer (graph, i), *prod;
    gint p = ix->producer[relu->src];

    if (relu->kind != RN50_LAYER_RELU || p < 0 || ix->uses[relu->src] != 1)
      continue;
    prod = rn50_graph_layer (graph, p);
    if (prod == NULL || prod->relu
        || (prod->kind != RN50_LAYER_CONV
            && prod->kind != RN50_LAYER_INNER_PRODUCT
            && prod->kind != RN50_LAYER_ADD
            && prod->kind != RN50_LAYER_BATCH_NORM))
      continue;
    prod->relu = TRUE;
    prod->dst = relu->dst;
    ix->producer[relu->dst] = p;
    layer_free (relu);
    g_ptr_array_index (graph->layers, i) = NULL;
  }
  remove_dead_slots (graph);
}

/* ---- entry point --------------------------------------------------------- */

Rn50Graph *
rn50_graph_new_from_onnx (const Rn50Onnx * onnx,
    const Rn50GraphOptions * options, GError ** error)
{
  Builder b = { 0, };
  Index ix = { 0, };
  GPtrArray *order = NULL;
  Rn50Graph *graph = NULL;
  gsize i, j;

  b.proto = rn50_onnx_get_graph (onnx);
  b.options = options;
  b.opset = rn50_onnx_get_opset (onnx);
  b.graph = g_new0 (Rn50Graph, 1);
  b.graph->values = g_array_new (FALSE, TRUE, sizeof (Rn50Value));
  g_array_set_clear_func (b.graph->values, value_clear);
  b.graph->layers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      layer_free);
  b.graph->batch = options->batch;
  b.graph->input = b.graph->output = -1;
  b.initializers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  b.consts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) rn50_tensor_free);
  b.pending_uses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  b.runtime = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (options->batch < 1) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "batch size must be at least 1");
    goto out;
  }
  if (b.proto->n_sparse_initializer > 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "sparse initializers are not supported");
    goto out;
  }
  for (i = 0; i < b.proto->n_initializer; i++) {
    const Onnx__TensorProto *t = b.proto->initializer[i];
    if (t->name == NULL || t->name[0] == '\0') {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "initializer %" G_GSIZE_FORMAT " has no name", i);
      goto out;
    }
    g_hash_table_insert (b.initializers, g_strdup (t->name), (gpointer) t);
  }
  for (i = 0; i < b.proto->n_node; i++) {
    const Onnx__NodeProto *node = b.proto->node[i];
    for (j = 0; j < node->n_input; j++) {
      const char *in = node->input[j];
      if (in == NULL || in[0] == '\0')
        continue;
      g_hash_table_insert (b.pending_uses, g_strdup (in),
          GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup
                  (b.pending_uses, in)) + 1));
    }
  }

  if (!setup_input (&b, error))
    goto out;
  order = sort_nodes (&b, error);
  if (order == NULL)
    goto out;
  for (i = 0; i < order->len; i++)
    if (!handle_node (&b, g_ptr_array_index (order, i), error))
      goto out;
  if (!setup_output (&b, error))
    goto out;

  remove_unused_layers (b.graph, &ix);
  if (!fold_pads (b.graph, &ix, error))
    goto out;
  fold_batch_norms (b.graph, &ix);
  fold_bias_adds (b.graph, &ix);
  fuse_residual_adds (b.graph, &ix);
  fuse_relus (b.graph, &ix);

  index_build (b.graph, &ix);
  b.graph->outputs_probabilities = ix.producer[b.graph->output] >= 0
      && rn50_graph_layer (b.graph,
      ix.producer[b.graph->output])->kind == RN50_LAYER_SOFTMAX;
  graph = g_steal_pointer (&b.graph);

out:
  index_clear (&ix);
  if (order != NULL)
    g_ptr_array_unref (order);
  g_hash_table_unref (b.initializers);
  g_hash_table_unref (b.consts);
  g_hash_table_unref (b.pending_uses);
  g_hash_table_unref (b.runtime);
  g_free (b.desc);
  rn50_graph_free (b.graph);
  return graph;
}

/* ---- building a graph without ONNX ------------------------------------- */

Rn50Graph *
rn50_graph_new_empty (guint batch)
{
  Rn50Graph *graph = g_new0 (Rn50Graph, 1);

  graph->values = g_array_new (FALSE, TRUE, sizeof (Rn50Value));
  g_array_set_clear_func (graph->values, value_clear);
  graph->layers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      layer_free);
  graph->batch = batch;
  graph->input = graph->output = -1;
  return graph;
}

gint
rn50_graph_add_value (Rn50Graph * graph, const char *name, guint ndims,
    const gint64 * dims, gint view_of)
{
  Rn50Value value = { 0, };

  g_return_val_if_fail (ndims <= RN50_VALUE_MAX_DIMS, -1);
  value.name = g_strdup (name);
  value.ndims = ndims;
  memcpy (value.dims, dims, ndims * sizeof (gint64));
  value.view_of = view_of;
  g_array_append_val (graph->values, value);
  return graph->values->len - 1;
}

Rn50Layer *
rn50_graph_add_layer (Rn50Graph * graph, Rn50LayerKind kind, gint src,
    gint dst, const char *label)
{
  Rn50Layer *layer = g_new0 (Rn50Layer, 1);

  layer->kind = kind;
  layer->label = g_strdup (label);
  layer->src = src;
  layer->src1 = -1;
  layer->dst = dst;
  layer->sum_src = -1;
  layer->groups = 1;
  layer->strides[0] = layer->strides[1] = 1;
  layer->dilations[0] = layer->dilations[1] = 1;
  g_ptr_array_add (graph->layers, layer);
  return layer;
}

gboolean
rn50_graph_simplify (Rn50Graph * graph, GError ** error)
{
  Index ix = { 0, };
  gboolean ok = FALSE;

  remove_unused_layers (graph, &ix);
  if (!fold_pads (graph, &ix, error))
    goto out;
  fold_batch_norms (graph, &ix);
  fold_bias_adds (graph, &ix);
  fuse_residual_adds (graph, &ix);
  fuse_relus (graph, &ix);

  index_build (graph, &ix);
  graph->outputs_probabilities = ix.producer[graph->output] >= 0
      && rn50_graph_layer (graph,
      ix.producer[graph->output])->kind == RN50_LAYER_SOFTMAX;
  ok = TRUE;

out:
  index_clear (&ix);
  return ok;
}
