/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rn50-summary: prints a model's summary in the layout of Deeplearning4j's
 * ComputationGraph.summary() (VertexName (VertexType), nIn,nOut,
 * TotalParams, ParamsShape, Vertex Inputs, then total / trainable / frozen
 * parameters), for ONNX files and Keras ResNet50 HDF5 weight files, so that
 * a model can be checked against a published DL4J summary row by row.
 *
 * ONNX nodes map onto DL4J vertices: Conv -> ConvolutionLayer, Gemm/MatMul ->
 * DenseLayer, BatchNormalization -> BatchNormalization, Relu ->
 * ActivationLayer, pools -> SubsamplingLayer, Add -> ElementWiseVertex,
 * Flatten/Reshape -> PreprocessorVertex. As DL4J's Keras import does, a Pad
 * before a layer (ZeroPadding2D) is part of that layer, a Softmax after a
 * dense layer is its activation, and a constant Add after one is its bias;
 * shape arithmetic (Shape, Gather, Constant, ...) is not a vertex.
 *
 * Which tensors count as parameters follows the framework the model came
 * from, so that each total equals what that framework reports: Keras and
 * DL4J count BatchNormalization's moving mean and variance as weights (DL4J's
 * summary shows mean:{1,C}, var:{1,C}); PyTorch keeps them as buffers, not
 * parameters. --bn-statistics=auto counts them for Keras HDF5 files and for
 * ONNX files whose producer is a Keras/TensorFlow/DL4J converter (keras2onnx,
 * tf2onnx, ...), and not otherwise; count/skip force it. Hence the DL4J zoo
 * ResNet50 totals 25,636,712 and torchvision's ResNet-50 25,557,032. An
 * inference file records no freezing, so every parameter is reported
 * trainable, as DL4J reports its imported model. */
#include <stdio.h>
#include <string.h>

#include "keras-h5.h"
#include "onnx.pb-c.h"

typedef struct
{
  char *name;
  char *type;
  char *n_in_out;
  gint64 params;                /* -1: a vertex that cannot hold any ("-") */
  char *shapes;
  GPtrArray *inputs;            /* vertex names (char *, owned) */
  gboolean dense;               /* may absorb a following softmax or bias */
  gint64 n_out;
} Row;

static char *bn_statistics = NULL;

static const GOptionEntry entries[] = {
  {"bn-statistics", 0, 0, G_OPTION_ARG_STRING, &bn_statistics,
      "Count BatchNormalization mean/variance as parameters: auto (Keras, "
        "DL4J and TensorFlow models), count or skip", "auto|count|skip"},
  {NULL},
};

static void
row_free (Row * row)
{
  g_free (row->name);
  g_free (row->type);
  g_free (row->n_in_out);
  g_free (row->shapes);
  g_ptr_array_unref (row->inputs);
  g_free (row);
}

static Row *
row_add (GPtrArray * rows, const char *name, const char *type)
{
  Row *row = g_new0 (Row, 1);

  row->name = g_strdup (name);
  row->type = g_strdup (type);
  row->n_in_out = g_strdup ("-,-");
  row->params = -1;
  row->shapes = g_strdup ("-");
  row->inputs = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (rows, row);
  return row;
}

/* 25636712 -> "25,636,712". */
static char *
thousands (gint64 n)
{
  g_autofree char *digits = g_strdup_printf ("%" G_GINT64_FORMAT, n);
  GString *s = g_string_new (NULL);
  gsize len = strlen (digits), i;

  for (i = 0; i < len; i++) {
    if (i > 0 && digits[i] != '-' && (len - i) % 3 == 0 && digits[i - 1] != '-')
      g_string_append_c (s, ',');
    g_string_append_c (s, digits[i]);
  }
  return g_string_free (s, FALSE);
}

/* DL4J's layout: every column as wide as its widest cell plus three spaces,
 * the last one unpadded; rules as long as the whole table. */
static void
print_table (GPtrArray * rows)
{
  static const char *const headers[5] = { "VertexName (VertexType)",
    "nIn,nOut", "TotalParams", "ParamsShape", "Vertex Inputs"
  };
  GPtrArray *cells = g_ptr_array_new_with_free_func (g_free);
  gsize width[5], total_width = 0, i, c;
  gint64 total = 0;
  g_autofree char *rule_eq = NULL, *rule_dash = NULL, *t = NULL;

  for (c = 0; c < 5; c++)
    width[c] = strlen (headers[c]);
  for (i = 0; i < rows->len; i++) {
    Row *row = g_ptr_array_index (rows, i);
    GString *in = g_string_new (NULL);
    char *cell[5];
    gsize k;
    if (row->inputs->len == 0)
      g_string_append (in, "-");
    else {
      g_string_append_c (in, '[');
      for (k = 0; k < row->inputs->len; k++)
        g_string_append_printf (in, "%s%s", k ? ", " : "",
            (char *) g_ptr_array_index (row->inputs, k));
      g_string_append_c (in, ']');
    }
    cell[0] = g_strdup_printf ("%s (%s)", row->name, row->type);
    cell[1] = g_strdup (row->n_in_out);
    cell[2] = row->params < 0 ? g_strdup ("-") : thousands (row->params);
    cell[3] = g_strdup (row->shapes);
    cell[4] = g_string_free (in, FALSE);
    for (c = 0; c < 5; c++) {
      width[c] = MAX (width[c], strlen (cell[c]));
      g_ptr_array_add (cells, cell[c]);
    }
    if (row->params > 0)
      total += row->params;
  }
  for (c = 0; c < 5; c++) {
    if (c < 4)
      width[c] += 3;
    total_width += width[c];
  }
  rule_eq = g_strnfill (total_width, '=');
  rule_dash = g_strnfill (total_width, '-');

  printf ("%s\n", rule_eq);
  for (c = 0; c < 4; c++)
    printf ("%-*s", (int) width[c], headers[c]);
  printf ("%s\n%s\n", headers[4], rule_eq);
  for (i = 0; i < rows->len; i++) {
    for (c = 0; c < 4; c++)
      printf ("%-*s", (int) width[c],
          (char *) g_ptr_array_index (cells, i * 5 + c));
    printf ("%s\n", (char *) g_ptr_array_index (cells, i * 5 + 4));
  }
  t = thousands (total);
  printf ("%s\n", rule_dash);
  printf ("%30s %s\n", "Total Parameters: ", t);
  printf ("%30s %s\n", "Trainable Parameters: ", t);
  printf ("%30s %s\n", "Frozen Parameters: ", "0");
  printf ("%s\n", rule_eq);
  g_ptr_array_unref (cells);
}

/* ---- Keras HDF5 --------------------------------------------------------- */

static gboolean
summarize_keras (const char *path, gboolean count_stats, GPtrArray * rows,
    GError ** error)
{
  static const char *const types[] = { "ConvolutionLayer",
    "BatchNormalization", "ActivationLayer", "SubsamplingLayer",
    "ElementWiseVertex", "SubsamplingLayer", "PreprocessorVertex",
    "DenseLayer"
  };
  g_autoptr (Rn50Graph) graph = NULL;
  g_autoptr (GPtrArray) layers = NULL;
  Row *row;
  guint i, k;

  /* Loads every weight: the summary is of a file that actually loads. */
  graph = rn50_keras_graph_new_from_h5 (path, 1, error);
  if (graph == NULL)
    return FALSE;
  layers = rn50_keras_resnet50_layers_new ();
  row_add (rows, "input_1", "InputVertex");
  for (i = 0; i < layers->len; i++) {
    const Rn50KerasLayer *l = g_ptr_array_index (layers, i);
    guint in = l->in_channels, out = l->out_channels, kk = l->kernel;

    row = row_add (rows, l->name, types[l->kind]);
    for (k = 0; k < 2; k++)
      if (l->inputs[k] != NULL)
        g_ptr_array_add (row->inputs, g_strdup (l->inputs[k]));
    switch (l->kind) {
      case RN50_KERAS_CONV:
        row->params = out + kk * kk * in * (gint64) out;
        g_free (row->shapes);
        row->shapes = g_strdup_printf ("W:{%u,%u,%u,%u}, b:{1,%u}", out, in,
            kk, kk, out);
        break;
      case RN50_KERAS_BATCH_NORM:
        row->params = (count_stats ? 4 : 2) * (gint64) out;
        g_free (row->shapes);
        row->shapes = count_stats ?
            g_strdup_printf ("gamma:{1,%u}, beta:{1,%u}, mean:{1,%u}, "
            "var:{1,%u}", out, out, out, out) :
            g_strdup_printf ("gamma:{1,%u}, beta:{1,%u}", out, out);
        break;
      case RN50_KERAS_DENSE:
        row->params = in * (gint64) out + out;
        g_free (row->shapes);
        row->shapes = g_strdup_printf ("W:{%u,%u}, b:{1,%u}", in, out, out);
        break;
      case RN50_KERAS_RELU:
      case RN50_KERAS_MAX_POOL:
      case RN50_KERAS_AVG_POOL:
        row->params = 0;
        break;
      default:
        break;
    }
    if (l->kind == RN50_KERAS_CONV || l->kind == RN50_KERAS_BATCH_NORM
        || l->kind == RN50_KERAS_DENSE) {
      g_free (row->n_in_out);
      row->n_in_out = g_strdup_printf ("%u,%u", in, out);
    }
  }
  return TRUE;
}

/* ---- ONNX --------------------------------------------------------------- */

static gint64
tensor_elements (const Onnx__TensorProto * t)
{
  gint64 n = 1;
  gsize i;

  for (i = 0; i < t->n_dims; i++)
    n *= t->dims[i];
  return n;
}

static const char *
producer_of (GHashTable * vertex_of, const char *tensor)
{
  Row *row = tensor ? g_hash_table_lookup (vertex_of, tensor) : NULL;
  return row ? row->name : NULL;
}

static gboolean
is_keras_producer (const char *producer)
{
  static const char *const names[] = { "keras", "tf2onnx", "tensorflow",
    "deeplearning4j", "dl4j", "nd4j"
  };
  g_autofree char *lower = g_ascii_strdown (producer ? producer : "", -1);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (strstr (lower, names[i]) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
summarize_onnx (const char *path, const char *mode, GPtrArray * rows,
    GError ** error)
{
  g_autofree char *bytes = NULL;
  gsize len, i, j;
  Onnx__ModelProto *model = NULL;
  const Onnx__GraphProto *g;
  GHashTable *inits = NULL, *vertex_of = NULL;
  gboolean count_stats, ok = FALSE;

  if (!g_file_get_contents (path, &bytes, &len, error))
    return FALSE;
  model = onnx__model_proto__unpack (NULL, len, (const uint8_t *) bytes);
  if (model == NULL || model->graph == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "'%s' is neither an ONNX model nor an HDF5 file", path);
    goto out;
  }
  g = model->graph;
  count_stats = g_strcmp0 (mode, "count") == 0 || (g_strcmp0 (mode, "skip")
      != 0 && is_keras_producer (model->producer_name));

  inits = g_hash_table_new (g_str_hash, g_str_equal);
  vertex_of = g_hash_table_new (g_str_hash, g_str_equal);
  for (i = 0; i < g->n_initializer; i++)
    g_hash_table_insert (inits, g->initializer[i]->name, g->initializer[i]);
  for (i = 0; i < g->n_input; i++)
    if (!g_hash_table_contains (inits, g->input[i]->name))
      g_hash_table_insert (vertex_of, g->input[i]->name,
          row_add (rows, g->input[i]->name, "InputVertex"));

  for (i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    const char *op = n->op_type, *out = n->n_output ? n->output[0] : NULL;
    const char *name = n->name && n->name[0] ? n->name : out;
    Row *src = n->n_input ? g_hash_table_lookup (vertex_of, n->input[0]) : NULL;
    const Onnx__TensorProto *w = n->n_input > 1 ?
        g_hash_table_lookup (inits, n->input[1]) : NULL;
    const Onnx__TensorProto *b = n->n_input > 2 ?
        g_hash_table_lookup (inits, n->input[2]) : NULL;
    gboolean runtime_input = FALSE;
    Row *row;

    if (out == NULL)
      continue;
    for (j = 0; j < n->n_input; j++)
      runtime_input |= g_hash_table_contains (vertex_of, n->input[j]);
    /* Constants and shape arithmetic are no vertices. */
    if (!runtime_input || !strcmp (op, "Shape"))
      continue;
    /* Parts of the neighbouring layer in DL4J's (and Keras') view. */
    if (!strcmp (op, "Pad") || !strcmp (op, "Identity")
        || !strcmp (op, "Dropout") || (!strcmp (op, "Softmax") && src
            && src->dense)) {
      g_hash_table_insert (vertex_of, (gpointer) out, src);
      continue;
    }
    if (!strcmp (op, "Add") && src && src->dense && n->n_input == 2
        && (b = g_hash_table_lookup (inits, n->input[1])) != NULL) {
      g_autofree char *old = src->shapes;
      src->params += tensor_elements (b);
      src->shapes = g_strdup_printf ("%s, b:{1,%" G_GINT64_FORMAT "}", old,
          tensor_elements (b));
      g_hash_table_insert (vertex_of, (gpointer) out, src);
      continue;
    }

    if (!strcmp (op, "Conv") && w && w->n_dims == 4) {
      gint64 group = 1;
      for (j = 0; j < n->n_attribute; j++)
        if (!strcmp (n->attribute[j]->name, "group"))
          group = n->attribute[j]->i;
      row = row_add (rows, name, "ConvolutionLayer");
      row->params = tensor_elements (w) + (b ? tensor_elements (b) : 0);
      g_free (row->n_in_out);
      row->n_in_out = g_strdup_printf ("%" G_GINT64_FORMAT ",%"
          G_GINT64_FORMAT, w->dims[1] * group, w->dims[0]);
      g_free (row->shapes);
      row->shapes = g_strdup_printf ("W:{%" G_GINT64_FORMAT ",%"
          G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "}%s",
          w->dims[0], w->dims[1], w->dims[2], w->dims[3], b ? ", b:{1," : "");
      if (b) {
        char *s = g_strdup_printf ("%s%" G_GINT64_FORMAT "}", row->shapes,
            tensor_elements (b));
        g_free (row->shapes);
        row->shapes = s;
      }
    } else if (!strcmp (op, "BatchNormalization") && w) {
      gint64 c = tensor_elements (w);
      row = row_add (rows, name, "BatchNormalization");
      row->params = c * (count_stats ? 4 : 2);
      g_free (row->n_in_out);
      row->n_in_out = g_strdup_printf ("%" G_GINT64_FORMAT ",%"
          G_GINT64_FORMAT, c, c);
      g_free (row->shapes);
      row->shapes = count_stats ?
          g_strdup_printf ("gamma:{1,%" G_GINT64_FORMAT "}, beta:{1,%"
          G_GINT64_FORMAT "}, mean:{1,%" G_GINT64_FORMAT "}, var:{1,%"
          G_GINT64_FORMAT "}", c, c, c, c) :
          g_strdup_printf ("gamma:{1,%" G_GINT64_FORMAT "}, beta:{1,%"
          G_GINT64_FORMAT "}", c, c);
    } else if ((!strcmp (op, "Gemm") || !strcmp (op, "MatMul")) && w
        && w->n_dims == 2) {
      gint64 trans_b = 0, k, m;
      for (j = 0; j < n->n_attribute; j++)
        if (!strcmp (n->attribute[j]->name, "transB"))
          trans_b = n->attribute[j]->i;
      k = trans_b ? w->dims[1] : w->dims[0];
      m = trans_b ? w->dims[0] : w->dims[1];
      row = row_add (rows, name, "DenseLayer");
      row->dense = TRUE;
      row->n_out = m;
      row->params = k * m + (b ? tensor_elements (b) : 0);
      g_free (row->n_in_out);
      row->n_in_out = g_strdup_printf ("%" G_GINT64_FORMAT ",%"
          G_GINT64_FORMAT, k, m);
      g_free (row->shapes);
      if (b)
        row->shapes = g_strdup_printf ("W:{%" G_GINT64_FORMAT ",%"
            G_GINT64_FORMAT "}, b:{1,%" G_GINT64_FORMAT "}", k, m,
            tensor_elements (b));
      else
        row->shapes = g_strdup_printf ("W:{%" G_GINT64_FORMAT ",%"
            G_GINT64_FORMAT "}", k, m);
    } else if (!strcmp (op, "Relu") || !strcmp (op, "Softmax")
        || !strcmp (op, "Sigmoid") || !strcmp (op, "Tanh")) {
      row = row_add (rows, name, "ActivationLayer");
      row->params = 0;
    } else if (!strcmp (op, "MaxPool") || !strcmp (op, "AveragePool")
        || !strcmp (op, "GlobalAveragePool") || !strcmp (op, "GlobalMaxPool")) {
      row = row_add (rows, name, "SubsamplingLayer");
      row->params = 0;
    } else if (!strcmp (op, "Add") || !strcmp (op, "Sum")) {
      row = row_add (rows, name, "ElementWiseVertex");
    } else if (!strcmp (op, "Flatten") || !strcmp (op, "Reshape")
        || !strcmp (op, "Squeeze") || !strcmp (op, "Unsqueeze")) {
      row = row_add (rows, name, "PreprocessorVertex");
    } else {
      row = row_add (rows, name, op);
    }
    for (j = 0; j < n->n_input; j++) {
      const char *p = producer_of (vertex_of, n->input[j]);
      if (p != NULL)
        g_ptr_array_add (row->inputs, g_strdup (p));
    }
    g_hash_table_insert (vertex_of, (gpointer) out, row);
  }
  ok = TRUE;

out:
  if (inits)
    g_hash_table_unref (inits);
  if (vertex_of)
    g_hash_table_unref (vertex_of);
  if (ok)
    print_table (rows);
  if (model)
    onnx__model_proto__free_unpacked (model, NULL);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  const char *mode;
  gboolean ok;

  context = g_option_context_new ("MODEL - print a DL4J-style model summary");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "MODEL is an ONNX file or a Keras ResNet50 HDF5 weights file.");
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "rn50-summary: %s\n", error->message);
    return 2;
  }
  mode = bn_statistics ? bn_statistics : "auto";
  if (argc != 2 || (strcmp (mode, "auto") && strcmp (mode, "count")
          && strcmp (mode, "skip"))) {
    g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
    fprintf (stderr, "%s", help);
    return 2;
  }
  rows = g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);
  if (rn50_keras_h5_is_hdf5 (argv[1])) {
    ok = summarize_keras (argv[1], strcmp (mode, "skip") != 0, rows, &error);
    if (ok)
      print_table (rows);
  } else {
    ok = summarize_onnx (argv[1], mode, rows, &error);
  }
  if (!ok) {
    fprintf (stderr, "rn50-summary: %s\n", error->message);
    return 1;
  }
  g_free (bn_statistics);
  return 0;
}
