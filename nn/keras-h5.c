/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading Keras ResNet50 HDF5 weights through libhdf5. Keras stores no graph
 * in a weights file, so the topology comes from rn50_keras_resnet50_layers_new()
 * (the layer list of Keras' ResNet50, which is also what the DL4J zoo model
 * and its published summary describe), and each layer's weights are looked up
 * by layer name, in the order its weight_names attribute lists them, as Keras'
 * own load_weights() does. Every weight is checked against the shape the
 * topology implies before it is converted (HWIO -> OIHW kernels, (in, out) ->
 * out×in dense kernel), and the layers are laid out one per Keras layer and
 * then simplified by graph.c like an ONNX graph. */
#include "keras-h5.h"

#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "rn50-error.h"

/* Debian's libhdf5 is the serial build, which is not thread-safe: two
 * elements starting at once must not read weight files concurrently. */
G_LOCK_DEFINE_STATIC (hdf5);

/* Keras' BatchNormalization default, which ResNet50 keeps. */
#define KERAS_BN_EPSILON 1e-3f
#define KERAS_MAX_WEIGHTS 4

/* ---- topology ------------------------------------------------------------ */

static void
keras_layer_free (Rn50KerasLayer * layer)
{
  g_free (layer->name);
  g_free (layer->inputs[0]);
  g_free (layer->inputs[1]);
  g_free (layer);
}

/* *INDENT-OFF* */
static Rn50KerasLayer *
keras_layer_add (GPtrArray * layers, Rn50KerasKind kind, const char *src,
    const char *format, ...) G_GNUC_PRINTF (4, 5);
/* *INDENT-ON* */

static Rn50KerasLayer *
keras_layer_add (GPtrArray * layers, Rn50KerasKind kind, const char *src,
    const char *format, ...)
{
  Rn50KerasLayer *layer = g_new0 (Rn50KerasLayer, 1);
  va_list args;

  va_start (args, format);
  layer->name = g_strdup_vprintf (format, args);
  va_end (args);
  layer->kind = kind;
  layer->inputs[0] = g_strdup (src);
  layer->stride = 1;
  g_ptr_array_add (layers, layer);
  return layer;
}

static Rn50KerasLayer *
keras_conv_add (GPtrArray * layers, const char *src, guint in, guint out,
    guint kernel, guint stride, const char *name)
{
  Rn50KerasLayer *l = keras_layer_add (layers, RN50_KERAS_CONV, src, "%s",
      name);
  l->in_channels = in;
  l->out_channels = out;
  l->kernel = kernel;
  l->stride = stride;
  l->pad = kernel == 3 ? 1 : 0; /* 'same' for 3×3, 'valid' for 1×1 */
  return l;
}

static void
keras_bn_add (GPtrArray * layers, const char *src, guint channels,
    const char *name)
{
  Rn50KerasLayer *l = keras_layer_add (layers, RN50_KERAS_BATCH_NORM, src,
      "%s", name);
  l->in_channels = l->out_channels = channels;
}

/* Activation layers are numbered in creation order, as Keras names them. */
static const char *
keras_relu_add (GPtrArray * layers, const char *src, guint * n_relu)
{
  return keras_layer_add (layers, RN50_KERAS_RELU, src, "activation_%u",
      ++*n_relu)->name;
}

GPtrArray *
rn50_keras_resnet50_layers_new (void)
{
  /* Bottleneck width, blocks, stride of the first block, per stage 2..5. */
  static const guint stages[4][3] = {
    {64, 3, 1}, {128, 4, 2}, {256, 6, 2}, {512, 3, 2}
  };
  GPtrArray *layers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      keras_layer_free);
  Rn50KerasLayer *l;
  const char *x;
  guint n_relu = 0, n_add = 0, cin = 64, s, b;

  /* ZeroPadding2D((3, 3)) then a 'valid' 7×7/2 convolution: DL4J shows the
   * two as the one vertex conv1. */
  l = keras_conv_add (layers, "input_1", 3, 64, 7, 2, "conv1");
  l->pad = 3;
  keras_bn_add (layers, "conv1", 64, "bn_conv1");
  x = keras_relu_add (layers, "bn_conv1", &n_relu);
  l = keras_layer_add (layers, RN50_KERAS_MAX_POOL, x, "max_pooling2d_1");
  l->kernel = 3;
  l->stride = 2;
  x = l->name;

  for (s = 0; s < 4; s++) {
    guint width = stages[s][0], cout = width * 4;
    for (b = 0; b < stages[s][1]; b++) {
      /* ResNet v1: the stride is in the first 1×1 and in the shortcut. */
      guint stride = b == 0 ? stages[s][2] : 1;
      static const char *const branch[2] = { "branch2a", "branch1" };
      char p[8], res[32], bn[32], shortcut[32];
      const char *y;
      guint nb, first, k;

      g_snprintf (p, sizeof (p), "%u%c", s + 2, 'a' + b);
      g_snprintf (shortcut, sizeof (shortcut), "%s", x);
      /* Branch 2a and, in a stage's first block, the projection shortcut
       * (branch1), in the order of DL4J's summary (its topological sort):
       * the shortcut second in stages 2 and 3, first in stages 4 and 5. */
      nb = b == 0 ? 2 : 1;
      first = b == 0 && s >= 2 ? 1 : 0;
      for (k = 0; k < nb; k++) {
        guint which = (k + first) % 2;
        g_snprintf (res, sizeof (res), "res%s_%s", p, branch[which]);
        keras_conv_add (layers, x, cin, which ? cout : width, 1, stride, res);
      }
      for (k = 0; k < nb; k++) {
        guint which = (k + first) % 2;
        g_snprintf (res, sizeof (res), "res%s_%s", p, branch[which]);
        g_snprintf (bn, sizeof (bn), "bn%s_%s", p, branch[which]);
        keras_bn_add (layers, res, which ? cout : width, bn);
      }
      if (b == 0)
        g_snprintf (shortcut, sizeof (shortcut), "bn%s_branch1", p);
      g_snprintf (bn, sizeof (bn), "bn%s_branch2a", p);
      y = keras_relu_add (layers, bn, &n_relu);
      g_snprintf (res, sizeof (res), "res%s_branch2b", p);
      keras_conv_add (layers, y, width, width, 3, 1, res);
      g_snprintf (bn, sizeof (bn), "bn%s_branch2b", p);
      keras_bn_add (layers, res, width, bn);
      y = keras_relu_add (layers, bn, &n_relu);
      g_snprintf (res, sizeof (res), "res%s_branch2c", p);
      keras_conv_add (layers, y, width, cout, 1, 1, res);
      g_snprintf (bn, sizeof (bn), "bn%s_branch2c", p);
      keras_bn_add (layers, res, cout, bn);
      l = keras_layer_add (layers, RN50_KERAS_ADD, bn, "add_%u", ++n_add);
      l->inputs[1] = g_strdup (shortcut);
      x = keras_relu_add (layers, l->name, &n_relu);
      cin = cout;
    }
  }
  l = keras_layer_add (layers, RN50_KERAS_AVG_POOL, x, "avg_pool");
  l->kernel = 7;
  l->stride = 7;
  keras_layer_add (layers, RN50_KERAS_FLATTEN, "avg_pool", "flatten_1");
  l = keras_layer_add (layers, RN50_KERAS_DENSE, "flatten_1", "fc1000");
  l->in_channels = 2048;
  l->out_channels = 1000;
  return layers;
}

guint
rn50_keras_kind_n_weights (Rn50KerasKind kind)
{
  switch (kind) {
    case RN50_KERAS_CONV:
    case RN50_KERAS_DENSE:
      return 2;
    case RN50_KERAS_BATCH_NORM:
      return 4;
    default:
      return 0;
  }
}

gboolean
rn50_keras_h5_is_hdf5 (const char *path)
{
  static const char signature[8] = "\211HDF\r\n\032\n";
  char head[8];
  gboolean is_hdf5 = FALSE;
  FILE *f = fopen (path, "rb");

  if (f == NULL)
    return FALSE;
  if (fread (head, 1, sizeof (head), f) == sizeof (head))
    is_hdf5 = memcmp (head, signature, sizeof (head)) == 0;
  fclose (f);
  return is_hdf5;
}

/* ---- reading weights ----------------------------------------------------- */

typedef struct
{
  const char *path;
  hid_t file;
  Rn50Graph *graph;
  GHashTable *values;           /* layer name -> value id + 1 */
} Loader;

static char *
hdims_to_string (int ndims, const hsize_t * dims)
{
  GString *s = g_string_new (NULL);
  int i;

  for (i = 0; i < ndims; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? "x" : "",
        (guint64) dims[i]);
  if (ndims == 0)
    g_string_append (s, "scalar");
  return g_string_free (s, FALSE);
}

/* The layer's weight_names attribute: Keras writes it as fixed-length
 * strings (h5py, Keras 2) or variable-length ones (later writers). */
static gchar **
read_weight_names (hid_t group, const char *layer, const char *path,
    GError ** error)
{
  hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
  hid_t mtype = H5I_INVALID_HID, space = H5I_INVALID_HID;
  gchar **names = NULL;
  hssize_t n;
  gboolean ok = FALSE;
  hssize_t i;

  if (H5Aexists (group, "weight_names") <= 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': layer '%s' has no weight_names attribute", path, layer);
    return NULL;
  }
  attr = H5Aopen (group, "weight_names", H5P_DEFAULT);
  ftype = attr >= 0 ? H5Aget_type (attr) : H5I_INVALID_HID;
  space = attr >= 0 ? H5Aget_space (attr) : H5I_INVALID_HID;
  if (ftype < 0 || space < 0 || H5Tget_class (ftype) != H5T_STRING) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': weight_names of layer '%s' is not a list of strings", path,
        layer);
    goto out;
  }
  n = H5Sget_simple_extent_npoints (space);
  if (n < 0 || n > KERAS_MAX_WEIGHTS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': layer '%s' lists %" G_GINT64_FORMAT " weights", path, layer,
        (gint64) n);
    goto out;
  }
  names = g_new0 (gchar *, n + 1);
  mtype = H5Tcopy (H5T_C_S1);
  if (H5Tis_variable_str (ftype) > 0) {
    char *strs[KERAS_MAX_WEIGHTS] = { NULL, };
    if (H5Tset_size (mtype, H5T_VARIABLE) < 0
        || H5Aread (attr, mtype, strs) < 0)
      goto read_failed;
    for (i = 0; i < n; i++)
      names[i] = g_strdup (strs[i] ? strs[i] : "");
    H5Dvlen_reclaim (mtype, space, H5P_DEFAULT, strs);
  } else {
    size_t size = H5Tget_size (ftype);
    char *buf;
    if (size == 0 || H5Tset_size (mtype, size) < 0)
      goto read_failed;
    buf = g_malloc0 (size * (n ? n : 1));
    if (H5Aread (attr, mtype, buf) < 0) {
      g_free (buf);
      goto read_failed;
    }
    for (i = 0; i < n; i++)
      names[i] = g_strndup (buf + i * size, size);
    g_free (buf);
  }
  ok = TRUE;
  goto out;

read_failed:
  g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
      "'%s': cannot read weight_names of layer '%s'", path, layer);
out:
  if (mtype >= 0)
    H5Tclose (mtype);
  if (space >= 0)
    H5Sclose (space);
  if (ftype >= 0)
    H5Tclose (ftype);
  if (attr >= 0)
    H5Aclose (attr);
  if (!ok)
    g_clear_pointer (&names, g_strfreev);
  return names;
}

/* Reads dataset @name of @group as float32 after checking that its shape is
 * exactly @expected (@ndims dimensions, Keras order). */
static gboolean
read_weight (Loader * L, hid_t group, const char *layer, const char *name,
    int ndims, const hsize_t * expected, float **data, GError ** error)
{
  hid_t dset, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
  hsize_t dims[H5S_MAX_RANK] = { 0, };
  int have;
  gsize n = 1;
  gboolean ok = FALSE;
  int i;

  dset = H5Dopen2 (group, name, H5P_DEFAULT);
  if (dset < 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': layer '%s' lists weight '%s', which the file lacks", L->path,
        layer, name);
    return FALSE;
  }
  space = H5Dget_space (dset);
  type = H5Dget_type (dset);
  have = space >= 0 ? H5Sget_simple_extent_ndims (space) : -1;
  if (have >= 0)
    H5Sget_simple_extent_dims (space, dims, NULL);
  if (type < 0 || H5Tget_class (type) != H5T_FLOAT) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "'%s': weight '%s' of layer '%s' is not floating point", L->path,
        name, layer);
    goto out;
  }
  ok = have == ndims;
  for (i = 0; ok && i < ndims; i++)
    ok = dims[i] == expected[i];
  if (!ok) {
    g_autofree char *h = hdims_to_string (MAX (have, 0), dims);
    g_autofree char *e = hdims_to_string (ndims, expected);
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "'%s': layer '%s': weight '%s' has shape %s, expected %s", L->path,
        layer, name, h, e);
    goto out;
  }
  for (i = 0; i < ndims; i++)
    n *= expected[i];
  *data = g_new (float, n);
  if (H5Dread (dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
          *data) < 0) {
    g_clear_pointer (data, g_free);
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': cannot read weight '%s' of layer '%s'", L->path, name, layer);
    ok = FALSE;
  }

out:
  if (type >= 0)
    H5Tclose (type);
  if (space >= 0)
    H5Sclose (space);
  H5Dclose (dset);
  return ok;
}

/* The weights of @layer, in Keras order, as plain float arrays. */
static gboolean
read_layer_weights (Loader * L, const Rn50KerasLayer * layer,
    float *w[KERAS_MAX_WEIGHTS], GError ** error)
{
  static const char *const conv_parts[] = { "kernel", "bias" };
  static const char *const bn_parts[] = { "gamma", "beta", "moving_mean",
    "moving_variance"
  };
  const char *const *parts =
      layer->kind == RN50_KERAS_BATCH_NORM ? bn_parts : conv_parts;
  guint n = rn50_keras_kind_n_weights (layer->kind), i;
  hsize_t shapes[KERAS_MAX_WEIGHTS][4];
  int ranks[KERAS_MAX_WEIGHTS];
  gchar **names = NULL;
  hid_t group = H5I_INVALID_HID;
  gboolean ok = FALSE;

  /* Weightless layers (activations, pools, add) need not be in the file:
   * Keras' load_weights() skips them too. */
  if (n == 0)
    return TRUE;

  /* Expected shapes, Keras layouts. */
  for (i = 0; i < n; i++) {
    ranks[i] = 1;
    shapes[i][0] = layer->out_channels;
  }
  if (layer->kind == RN50_KERAS_CONV) {
    ranks[0] = 4;
    shapes[0][0] = shapes[0][1] = layer->kernel;
    shapes[0][2] = layer->in_channels;
    shapes[0][3] = layer->out_channels;
  } else if (layer->kind == RN50_KERAS_DENSE) {
    ranks[0] = 2;
    shapes[0][0] = layer->in_channels;
    shapes[0][1] = layer->out_channels;
  }

  if (H5Lexists (L->file, layer->name, H5P_DEFAULT) <= 0
      || (group = H5Gopen2 (L->file, layer->name, H5P_DEFAULT)) < 0) {
    GString *want = g_string_new (NULL);
    for (i = 0; i < n; i++) {
      g_autofree char *s = hdims_to_string (ranks[i], shapes[i]);
      g_string_append_printf (want, "%s%s %s", i ? ", " : "", parts[i], s);
    }
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s' lacks layer '%s' of the Keras ResNet50 (expected %s)", L->path,
        layer->name, want->str);
    g_string_free (want, TRUE);
    goto out;
  }
  names = read_weight_names (group, layer->name, L->path, error);
  if (names == NULL)
    goto out;
  if (g_strv_length (names) != n) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': layer '%s' has %u weights, a Keras ResNet50 layer of its kind "
        "has %u", L->path, layer->name, g_strv_length (names), n);
    goto out;
  }
  for (i = 0; i < n; i++)
    if (!read_weight (L, group, layer->name, names[i], ranks[i], shapes[i],
            &w[i], error))
      goto out;
  ok = TRUE;

out:
  g_strfreev (names);
  if (group >= 0)
    H5Gclose (group);
  return ok;
}

/* ---- graph --------------------------------------------------------------- */

static Rn50Tensor *
tensor_take (float *data, guint ndims, const gint64 * dims)
{
  Rn50Tensor *t = rn50_tensor_new (RN50_DTYPE_FLOAT, ndims, dims, "weight",
      NULL);
  memcpy (t->data, data, t->n_elements * sizeof (float));
  g_free (data);
  return t;
}

static gint
value_id (Loader * L, const char *name)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (L->values, name)) - 1;
}

static gboolean
add_layer (Loader * L, const Rn50KerasLayer * kl, GError ** error)
{
  static const char *const kind_names[] = { "Conv2D", "BatchNormalization",
    "Activation", "MaxPooling2D", "Add", "AveragePooling2D", "Flatten",
    "Dense"
  };
  float *w[KERAS_MAX_WEIGHTS] = { NULL, };
  g_autofree char *label = g_strdup_printf ("layer '%s' (%s)", kl->name,
      kind_names[kl->kind]);
  gint src = value_id (L, kl->inputs[0]), dst;
  /* A copy: adding values may move the graph's value array. */
  const Rn50Value xv = *rn50_graph_value (L->graph, src);
  const Rn50Value *x = &xv;
  gint64 dims[RN50_VALUE_MAX_DIMS];
  Rn50Layer *layer = NULL;
  guint i, ndims = x->ndims;
  gboolean ok = FALSE;

  memcpy (dims, x->dims, sizeof (dims));
  if (!read_layer_weights (L, kl, w, error))
    goto out;

  switch (kl->kind) {
    case RN50_KERAS_CONV:{
      gint64 k = kl->kernel, oc = kl->out_channels, ic = kl->in_channels;
      gint64 wd[4] = { oc, ic, k, k };
      gint64 y, xx, c, o;
      Rn50Tensor *t = rn50_tensor_new (RN50_DTYPE_FLOAT, 4, wd, "kernel",
          NULL);
      float *dstw = rn50_tensor_floats (t);
      /* HWIO -> OIHW. */
      for (y = 0; y < k; y++)
        for (xx = 0; xx < k; xx++)
          for (c = 0; c < ic; c++)
            for (o = 0; o < oc; o++)
              dstw[((o * ic + c) * k + y) * k + xx] =
                  w[0][((y * k + xx) * ic + c) * oc + o];
      dims[1] = oc;
      for (i = 0; i < 2; i++)
        dims[2 + i] = (x->dims[2 + i] + 2 * kl->pad - k) / kl->stride + 1;
      dst = rn50_graph_add_value (L->graph, kl->name, 4, dims, -1);
      layer = rn50_graph_add_layer (L->graph, RN50_LAYER_CONV, src, dst, label);
      layer->weights = t;
      layer->bias = tensor_take (g_steal_pointer (&w[1]), 1, wd);
      layer->kernel[0] = layer->kernel[1] = k;
      layer->strides[0] = layer->strides[1] = kl->stride;
      layer->pads_begin[0] = layer->pads_begin[1] = kl->pad;
      layer->pads_end[0] = layer->pads_end[1] = kl->pad;
      break;
    }
    case RN50_KERAS_BATCH_NORM:{
      gint64 c = kl->out_channels;
      dst = rn50_graph_add_value (L->graph, kl->name, ndims, dims, -1);
      layer = rn50_graph_add_layer (L->graph, RN50_LAYER_BATCH_NORM, src, dst,
          label);
      layer->scale = tensor_take (g_steal_pointer (&w[0]), 1, &c);
      layer->shift = tensor_take (g_steal_pointer (&w[1]), 1, &c);
      layer->mean = tensor_take (g_steal_pointer (&w[2]), 1, &c);
      layer->var = tensor_take (g_steal_pointer (&w[3]), 1, &c);
      layer->epsilon = KERAS_BN_EPSILON;
      break;
    }
    case RN50_KERAS_RELU:
      dst = rn50_graph_add_value (L->graph, kl->name, ndims, dims, -1);
      rn50_graph_add_layer (L->graph, RN50_LAYER_RELU, src, dst, label);
      break;
    case RN50_KERAS_ADD:
      dst = rn50_graph_add_value (L->graph, kl->name, ndims, dims, -1);
      layer = rn50_graph_add_layer (L->graph, RN50_LAYER_ADD, src, dst, label);
      layer->src1 = value_id (L, kl->inputs[1]);
      break;
    case RN50_KERAS_MAX_POOL:
    case RN50_KERAS_AVG_POOL:
      /* 'valid': floor((in - kernel) / stride) + 1, no padding. */
      for (i = 0; i < 2; i++)
        dims[2 + i] = (x->dims[2 + i] - kl->kernel) / kl->stride + 1;
      dst = rn50_graph_add_value (L->graph, kl->name, 4, dims, -1);
      layer = rn50_graph_add_layer (L->graph,
          kl->kind == RN50_KERAS_MAX_POOL ? RN50_LAYER_MAX_POOL :
          RN50_LAYER_AVG_POOL, src, dst, label);
      layer->kernel[0] = layer->kernel[1] = kl->kernel;
      layer->strides[0] = layer->strides[1] = kl->stride;
      break;
    case RN50_KERAS_FLATTEN:
      /* A view; of the root when the source is a view already. */
      dims[1] = rn50_value_per_image (x);
      dst = rn50_graph_add_value (L->graph, kl->name, 2, dims,
          x->view_of >= 0 ? x->view_of : src);
      break;
    case RN50_KERAS_DENSE:{
      gint64 in = kl->in_channels, out = kl->out_channels, r, c;
      gint64 wd[2] = { out, in };
      Rn50Tensor *t = rn50_tensor_new (RN50_DTYPE_FLOAT, 2, wd, "kernel",
          NULL);
      float *dstw = rn50_tensor_floats (t);
      gint logits;
      /* (in, out) -> out×in. */
      for (r = 0; r < in; r++)
        for (c = 0; c < out; c++)
          dstw[c * in + r] = w[0][r * out + c];
      dims[1] = out;
      logits = rn50_graph_add_value (L->graph, "fc1000_preact", 2, dims, -1);
      layer = rn50_graph_add_layer (L->graph, RN50_LAYER_INNER_PRODUCT, src,
          logits, label);
      layer->weights = t;
      layer->bias = tensor_take (g_steal_pointer (&w[1]), 1, &out);
      /* The layer's softmax activation: the output is probabilities. */
      dst = rn50_graph_add_value (L->graph, kl->name, 2, dims, -1);
      layer = rn50_graph_add_layer (L->graph, RN50_LAYER_SOFTMAX, logits, dst,
          label);
      layer->axis = 1;
      break;
    }
    default:
      g_assert_not_reached ();
  }
  g_hash_table_insert (L->values, kl->name, GINT_TO_POINTER (dst + 1));
  ok = TRUE;

out:
  for (i = 0; i < KERAS_MAX_WEIGHTS; i++)
    g_free (w[i]);
  return ok;
}

Rn50Graph *
rn50_keras_graph_new_from_h5 (const char *path, guint batch, GError ** error)
{
  Loader L = { 0, };
  GPtrArray *layers = NULL;
  Rn50Graph *result = NULL;
  gint64 in_dims[4] = { batch, 3, 224, 224 };
  gboolean locked = FALSE;
  guint i;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  L.path = path;
  L.file = H5I_INVALID_HID;
  if (batch < 1) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SETTINGS,
        "batch size must be at least 1");
    goto out;
  }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
        "'%s' does not exist or is not a regular file", path);
    goto out;
  }
  G_LOCK (hdf5);
  locked = TRUE;
  /* libhdf5 prints its error stack to stderr by default; we report through
   * GError instead. */
  H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);
  L.file = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (L.file < 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s' is not a readable HDF5 file", path);
    goto out;
  }

  L.graph = rn50_graph_new_empty (batch);
  L.values = g_hash_table_new (g_str_hash, g_str_equal);
  L.graph->input = rn50_graph_add_value (L.graph, "input_1", 4, in_dims, -1);
  g_hash_table_insert (L.values, (gpointer) "input_1",
      GINT_TO_POINTER (L.graph->input + 1));
  layers = rn50_keras_resnet50_layers_new ();
  for (i = 0; i < layers->len; i++)
    if (!add_layer (&L, g_ptr_array_index (layers, i), error))
      goto out;
  L.graph->output = value_id (&L, "fc1000");
  if (!rn50_graph_simplify (L.graph, error))
    goto out;
  result = g_steal_pointer (&L.graph);

out:
  if (L.values != NULL)
    g_hash_table_unref (L.values);
  if (layers != NULL)
    g_ptr_array_unref (layers);
  rn50_graph_free (L.graph);
  if (L.file >= 0)
    H5Fclose (L.file);
  if (locked) {
    /* libhdf5 keeps the messages of a failed call on a per-thread error
     * stack until the next call clears it; a thread that exits first
     * (the loader runs on a short-lived thread with spin-wait) would leak
     * them. */
    H5Eclear2 (H5E_DEFAULT);
    G_UNLOCK (hdf5);
  }
  return result;
}
