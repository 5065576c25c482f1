/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the ONNX loader and the oneDNN engine (nn/model.h), without
 * GStreamer. The models come from gen-engine-models.py (fixed seeds) in the
 * directory named by $RN50_ENGINE_MODELS. Expected numbers are either
 * hand-computed (cases 15 and 18 of cases.md) or computed by PyTorch's
 * functional ops in the generator, never by the code under test. About half
 * of the tests are negative: files that must be refused at load with the
 * right error code and a message naming what is wrong. */
#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "model.h"

#define N_IMAGES 4
#define IMAGE_FLOATS (3 * 224 * 224)

static const char *models_dir;

static char *
model_path (const char *name)
{
  return g_build_filename (models_dir, name, NULL);
}

static Rn50Model *
load (const char *name, guint batch, Rn50ModelFlags flags, GError ** error)
{
  g_autofree char *path = model_path (name);

  return rn50_model_new_full (path, batch, flags, error);
}

static float *
read_floats (const char *name, gsize expected_count)
{
  g_autofree char *path = model_path (name);
  g_autoptr (GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, expected_count * sizeof (float));
  return (float *) data;
}

/* Loading @name must fail with @code and a message containing each of the
 * NULL-terminated @needles. */
static void
assert_refused (const char *name, guint batch, Rn50ModelFlags flags,
    Rn50Error code, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = load (name, batch, flags, &error);
  const char *needle;
  va_list args;

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, (gint) code);
  g_test_message ("%s: %s", name, error->message);
  va_start (args, code);
  while (TRUE) {
    needle = va_arg (args, const char *);
    if (needle == NULL)
      break;
    g_assert_nonnull (strstr (error->message, needle));
  }
  va_end (args);
}

/* Runs @n images one rn50_model_run() at a time (or one batch), collecting
 * the outputs. */
static float *
run_images (Rn50Model * model, const float *images, guint n)
{
  guint batch = rn50_model_get_batch_size (model);
  guint classes = rn50_model_get_num_classes (model);
  float *out = g_new (float, (gsize) n * classes);
  g_autoptr (GError) error = NULL;
  guint i;

  g_assert_cmpuint (n % batch, ==, 0);
  for (i = 0; i < n; i += batch) {
    memcpy (rn50_model_get_input (model), images + (gsize) i * IMAGE_FLOATS,
        (gsize) batch * IMAGE_FLOATS * sizeof (float));
    g_assert_true (rn50_model_run (model, &error));
    g_assert_no_error (error);
    memcpy (out + (gsize) i * classes, rn50_model_get_output (model),
        (gsize) batch * classes * sizeof (float));
  }
  return out;
}

/* max |a − b| ≤ rel × max |b| over @n values. */
static void
assert_close (const float *a, const float *b, gsize n, double rel)
{
  double max_ref = 0, max_diff = 0;
  gsize i;

  for (i = 0; i < n; i++) {
    max_ref = MAX (max_ref, fabs (b[i]));
    max_diff = MAX (max_diff, fabs ((double) a[i] - b[i]));
  }
  g_test_message ("max |diff| %g, max |ref| %g", max_diff, max_ref);
  g_assert_cmpfloat (max_ref, >, 0);
  g_assert_cmpfloat (max_diff, <=, rel * max_ref);
}

/* Output of a ≤4-element graph on the given input values. */
static void
run_tiny (const char *name, const float *input, gsize n_input, float *output,
    gsize n_output)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = load (name, 1,
      RN50_MODEL_FLAG_ANY_INPUT_SHAPE, &error);
  guint c, h, w;

  g_assert_no_error (error);
  rn50_model_get_input_size (model, &c, &h, &w);
  g_assert_cmpuint ((gsize) c * h * w, ==, n_input);
  g_assert_cmpuint (rn50_model_get_num_classes (model), ==, n_output);
  memcpy (rn50_model_get_input (model), input, n_input * sizeof (float));
  g_assert_true (rn50_model_run (model, &error));
  g_assert_no_error (error);
  memcpy (output, rn50_model_get_output (model), n_output * sizeof (float));
}

/* ---- refused at load ----------------------------------------------------- */

static void
test_missing_file_fails_with_not_found (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = model_path ("does-not-exist.onnx");
  g_autoptr (Rn50Model) model = rn50_model_new_from_file (path, &error);

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "does-not-exist.onnx"));
}

static void
write_truncated (const char *path, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
}

/* A file cut anywhere is a parse error, never a crash or a half model:
 * protobuf lengths then overrun the data, or the graph or the opset (written
 * after the graph) is missing. Every offset of the first 64 bytes, 200
 * spread over the file, and every one of the last 64. */
static void
test_truncated_file_fails_with_parse_error (void)
{
  g_autofree char *src = model_path ("small-cnn.onnx");
  g_autofree char *dir = g_dir_make_tmp ("rn50-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "cut.onnx", NULL);
  g_autofree char *data = NULL;
  g_autoptr (GError) error = NULL;
  gsize len, offsets[400], n = 0, i;

  g_assert_nonnull (dir);
  g_file_get_contents (src, &data, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, >, 1000);
  for (i = 0; i < 64; i++) {
    offsets[n++] = i;
    offsets[n++] = len - 1 - i;
  }
  for (i = 0; i < 200; i++)
    offsets[n++] = 64 + i * (len - 128) / 200;

  for (i = 0; i < n; i++) {
    Rn50Model *model;
    write_truncated (path, data, offsets[i]);
    model = rn50_model_new_from_file (path, &error);
    if (model != NULL || !g_error_matches (error, RN50_ERROR, RN50_ERROR_PARSE))
      g_error ("cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
          " bytes: %s", offsets[i], len, error ? error->message : "loaded");
    g_clear_error (&error);
  }
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_garbage_file_fails_with_parse_error (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rn50-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "garbage.onnx", NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = NULL;
  char text[] = "This is not an ONNX model, just a text file.\n";
  guint8 bytes[4096];
  guint i;

  for (i = 0; i < sizeof (bytes); i++)
    bytes[i] = g_rand_int_range (rand, 0, 256);
  write_truncated (path, (const char *) bytes, sizeof (bytes));
  model = rn50_model_new_from_file (path, &error);
  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_clear_error (&error);

  write_truncated (path, text, strlen (text));
  model = rn50_model_new_from_file (path, &error);
  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_unsupported_op_names_op_type_node_and_opset (void)
{
  assert_refused ("unsupported-op.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_UNSUPPORTED, "NonZero", "'Conv_12'", "opset 13", NULL);
}

static void
test_wrong_input_shape_fails_with_shape_error (void)
{
  assert_refused ("wrong-input-shape.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_SHAPE, "'input'", "1x3x128x128", "3x224x224", NULL);
}

static void
test_gemm_weights_disagreeing_with_pooled_features_fail (void)
{
  assert_refused ("gemm-k-mismatch.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_SHAPE, "'fc' (Gemm)", "10x16", "1x8", NULL);
}

static void
test_pad_not_before_conv_is_unsupported (void)
{
  assert_refused ("pad-before-maxpool.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_UNSUPPORTED, "'pad_before_pool' (Pad)", NULL);
}

static void
test_second_input_is_unsupported (void)
{
  assert_refused ("two-inputs.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_UNSUPPORTED, "2 inputs", NULL);
}

static void
test_undefined_tensor_fails_with_parse_error (void)
{
  assert_refused ("undefined-input.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_PARSE, "'orphan'", "'nowhere'", NULL);
}

static void
test_cycle_fails_with_parse_error (void)
{
  assert_refused ("cycle.onnx", 1, RN50_MODEL_FLAGS_NONE, RN50_ERROR_PARSE,
      "cycle", NULL);
}

static void
test_old_opset_is_unsupported (void)
{
  assert_refused ("opset-5.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_UNSUPPORTED, "opset 5", NULL);
}

static void
test_inconsistent_tensor_sizes_fail_with_parse_error (void)
{
  assert_refused ("raw-data-short.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_PARSE, "'conv_w'", "860 bytes", "864", NULL);
  assert_refused ("negative-dim.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_PARSE, "'conv_w'", "-3", NULL);
  assert_refused ("huge-dims.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_PARSE, "'conv_w'", "too many elements", NULL);
}

/* External data is resolved next to the model (test-hostile-models.c
 * covers it); here the side file weights.bin does not exist. */
static void
test_missing_external_data_or_double_weights_are_refused (void)
{
  assert_refused ("external-data.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_NOT_FOUND, "'conv_w'", "'weights.bin'", "external-data.onnx",
      NULL);
  assert_refused ("double-weights.onnx", 1, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_UNSUPPORTED, "'conv_w'", "DOUBLE", NULL);
}

/* Case 13 (a): a static dimension 0 = 1 cannot run 4 images at once. */
static void
test_static_batch_refuses_larger_batch (void)
{
  assert_refused ("small-cnn-static-batch.onnx", 4, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_SHAPE, "'input'", "dimension 0 = 1", NULL);
}

/* Case 13 (c): a Reshape to the constant [1, -1] would silently merge the
 * batch into one row; the load names the Reshape instead. */
static void
test_reshape_fixing_batch_fails_naming_the_reshape (void)
{
  assert_refused ("small-cnn-reshape-batch1.onnx", 4, RN50_MODEL_FLAGS_NONE,
      RN50_ERROR_SHAPE, "(Reshape)", "4x16x1x1", "1x64", NULL);
}

/* rn50_model_new_from_file() insists on N×3×224×224. */
static void
test_default_loader_refuses_tiny_graphs (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = model_path ("gemm-transb1.onnx");
  g_autoptr (Rn50Model) model = rn50_model_new_from_file (path, &error);

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "'A'"));
}

/* ---- exact values ------------------------------------------------------- */

/* Case 15: Y = alpha·A·op(B) + beta·C with A = [[1, 2, 3]]. */
static void
test_gemm_forms_give_exact_values (void)
{
  static const float a[3] = { 1, 2, 3 };
  static const struct
  {
    const char *model;
    float y[2];
  } forms[] = {
    {"gemm-transb1.onnx", {14, 22}},
    {"gemm-transb0.onnx", {14, 22}},
    {"gemm-alpha-beta.onnx", {13, 14}},
    {"gemm-scalar-c.onnx", {9, 7}},
    {"matmul-add.onnx", {14, 22}},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (forms); i++) {
    float y[2];
    run_tiny (forms[i].model, a, 3, y, 2);
    g_test_message ("%s: [%g, %g]", forms[i].model, y[0], y[1]);
    g_assert_cmpfloat (y[0], ==, forms[i].y[0]);
    g_assert_cmpfloat (y[1], ==, forms[i].y[1]);
  }
}

/* Case 18: x = 1, μ = 0, γ = 1, β = 0, so y = 1/√(σ² + ε): ε inside the
 * square root, read from each node, 1e-5 when omitted. */
static void
test_batchnorm_epsilon_is_read_per_node (void)
{
  static const float x = 1.0f;
  float y;

  run_tiny ("bn-eps-1e-5.onnx", &x, 1, &y, 1);
  g_assert_cmpfloat_with_epsilon (y, 316.2278, 1e-3);
  run_tiny ("bn-eps-default.onnx", &x, 1, &y, 1);
  g_assert_cmpfloat_with_epsilon (y, 316.2278, 1e-3);
  run_tiny ("bn-eps-0.1.onnx", &x, 1, &y, 1);
  g_assert_cmpfloat_with_epsilon (y, 3.01511, 1e-5);
}

/* Issue 3, variant 4: MaxPool 3×3/2, no padding, ceil_mode=1 on a 6×6
 * input x[r][c] = -(1 + 6r + c). The output is 3×3 (2×2 when ceil_mode is
 * ignored); each window's maximum is its top-left element -(1 + 12i + 2j),
 * and the padding grown at the end to round up must never win (it would
 * give 0 in the last row and column). */
static void
test_ceil_mode_max_pool_rounds_up_without_padding_values (void)
{
  float x[36], y[9];
  guint i, j;

  for (i = 0; i < 36; i++)
    x[i] = -(1.0f + i);
  run_tiny ("maxpool-ceil-negative.onnx", x, 36, y, 9);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++)
      g_assert_cmpfloat (y[i * 3 + j], ==, -(1.0f + 12 * i + 2 * j));
}

/* ---- small CNNs against PyTorch ----------------------------------------- */

static void
check_against_expected (const char *model_name, const char *expected_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = load (model_name, 1, RN50_MODEL_FLAGS_NONE,
      &error);
  g_autofree float *images = NULL, *expected = NULL, *out = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (rn50_model_get_num_classes (model), ==, 10);
  images = read_floats ("images.f32", (gsize) N_IMAGES * IMAGE_FLOATS);
  expected = read_floats (expected_name, N_IMAGES * 10);
  out = run_images (model, images, N_IMAGES);
  assert_close (out, expected, N_IMAGES * 10, 1e-5);
}

static void
test_small_cnn_matches_torch (void)
{
  check_against_expected ("small-cnn.onnx", "small-cnn.expected.f32");
}

/* Nodes stored in reverse order are sorted at load, not refused. */
static void
test_unsorted_nodes_are_run_in_dependency_order (void)
{
  check_against_expected ("small-cnn-unsorted.onnx", "small-cnn.expected.f32");
}

/* Case 18: Keras's epsilon 1e-3 with running variances of the same order. */
static void
test_keras_epsilon_model_matches_torch (void)
{
  check_against_expected ("small-cnn-eps1e-3.onnx",
      "small-cnn-eps1e-3.expected.f32");
}

/* Standalone BN, Pad folded into Conv, bias Add, ceil_mode MaxPool, grouped
 * Conv, both AveragePool modes, Sum, Dropout, GlobalMaxPool, the
 * Shape→Gather→Unsqueeze→Concat→Reshape flatten and MatMul+Add. */
static void
test_op_variants_match_torch (void)
{
  check_against_expected ("ops.onnx", "ops.expected.f32");
}

/* Case 18: the same network with BN folded into the convolutions by the
 * generator (opset 11) and with BN nodes (opset 13) agree to 1e-5. */
static void
test_folded_and_unfolded_batchnorm_agree (void)
{
  check_against_expected ("small-cnn-folded.onnx", "small-cnn.expected.f32");
}

/* Winograd 3×3 convolutions (the default where oneDNN has them) and direct
 * ones give the same logits to 1e-5, and direct ones match PyTorch too. */
static void
test_winograd_and_direct_convolutions_agree (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) fast = load ("small-cnn.onnx", 1,
      RN50_MODEL_FLAGS_NONE, &error);
  g_autoptr (Rn50Model) direct = NULL;
  g_autofree float *images = NULL, *expected = NULL, *a = NULL, *b = NULL;

  g_assert_no_error (error);
  direct = load ("small-cnn.onnx", 1, RN50_MODEL_FLAG_DIRECT_CONVOLUTION,
      &error);
  g_assert_no_error (error);
  images = read_floats ("images.f32", (gsize) N_IMAGES * IMAGE_FLOATS);
  expected = read_floats ("small-cnn.expected.f32", N_IMAGES * 10);
  a = run_images (fast, images, N_IMAGES);
  b = run_images (direct, images, N_IMAGES);
  assert_close (a, b, N_IMAGES * 10, 1e-5);
  assert_close (b, expected, N_IMAGES * 10, 1e-5);
}

/* Case 13 (b): with a symbolic batch and Flatten, 4 images in one run give
 * the per-image results of 4 single runs. */
static void
test_batch_of_four_equals_four_single_runs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) single = load ("small-cnn.onnx", 1,
      RN50_MODEL_FLAGS_NONE, &error);
  g_autoptr (Rn50Model) batched = NULL;
  g_autofree float *images = NULL, *a = NULL, *b = NULL;
  guint i;

  g_assert_no_error (error);
  batched = load ("small-cnn.onnx", N_IMAGES, RN50_MODEL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rn50_model_get_batch_size (batched), ==, N_IMAGES);
  images = read_floats ("images.f32", (gsize) N_IMAGES * IMAGE_FLOATS);
  a = run_images (single, images, N_IMAGES);
  b = run_images (batched, images, N_IMAGES);
  for (i = 0; i < N_IMAGES * 10; i++)
    g_assert_cmpfloat_with_epsilon (a[i], b[i], 1e-4);
}

/* The graph ends in Softmax: flagged, and the outputs are the softmax of
 * the logits PyTorch computed. */
static void
test_softmax_tail_outputs_probabilities (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = load ("small-cnn-softmax.onnx", 1,
      RN50_MODEL_FLAGS_NONE, &error);
  g_autoptr (Rn50Model) logits_model = NULL;
  g_autofree float *images = NULL, *logits = NULL, *out = NULL;
  guint i, k;

  g_assert_no_error (error);
  g_assert_true (rn50_model_outputs_probabilities (model));
  logits_model = load ("small-cnn.onnx", 1, RN50_MODEL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_false (rn50_model_outputs_probabilities (logits_model));

  images = read_floats ("images.f32", (gsize) N_IMAGES * IMAGE_FLOATS);
  logits = read_floats ("small-cnn.expected.f32", N_IMAGES * 10);
  out = run_images (model, images, N_IMAGES);
  for (i = 0; i < N_IMAGES; i++) {
    double max = -INFINITY, sum = 0, total = 0;
    for (k = 0; k < 10; k++)
      max = MAX (max, logits[i * 10 + k]);
    for (k = 0; k < 10; k++)
      sum += exp (logits[i * 10 + k] - max);
    for (k = 0; k < 10; k++) {
      double p = exp (logits[i * 10 + k] - max) / sum;
      g_assert_cmpfloat_with_epsilon (out[i * 10 + k], p, 1e-5);
      total += out[i * 10 + k];
    }
    g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-5);
  }
}

static void
test_model_reports_name_geometry_and_classes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) named = load ("small-cnn.onnx", 1,
      RN50_MODEL_FLAGS_NONE, &error);
  g_autoptr (Rn50Model) unnamed = NULL;
  g_autoptr (Rn50Model) torch_named = NULL;
  guint c, h, w;

  g_assert_no_error (error);
  g_assert_cmpstr (rn50_model_get_name (named), ==, "small_cnn");
  rn50_model_get_input_size (named, &c, &h, &w);
  g_assert_cmpuint (c, ==, 3);
  g_assert_cmpuint (h, ==, 224);
  g_assert_cmpuint (w, ==, 224);
  g_assert_cmpuint (rn50_model_get_num_classes (named), ==, 10);
  g_assert_cmpuint (rn50_model_get_batch_size (named), ==, 1);

  /* No graph name: the file's basename. */
  unnamed = load ("small-cnn-reshape-batch1.onnx", 1, RN50_MODEL_FLAGS_NONE,
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rn50_model_get_name (unnamed), ==,
      "small-cnn-reshape-batch1.onnx");

  /* An exporter's default graph name: the file's basename too. */
  torch_named = load ("small-cnn-torch-jit.onnx", 1, RN50_MODEL_FLAGS_NONE,
      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rn50_model_get_name (torch_named), ==,
      "small-cnn-torch-jit.onnx");
}

/* A directory is not a model, and the message says so plainly. */
static void
test_directory_is_refused_as_not_found (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_from_file (models_dir, &error);

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "is a directory"));
}

/* Running twice gives the same result and leaves the input tensor as the
 * caller wrote it (in-place residual sums must never write into it). */
static void
test_run_is_repeatable_and_keeps_the_input (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = load ("ops.onnx", 1, RN50_MODEL_FLAGS_NONE,
      &error);
  g_autofree float *images = NULL;
  float first[10];

  g_assert_no_error (error);
  images = read_floats ("images.f32", (gsize) N_IMAGES * IMAGE_FLOATS);
  memcpy (rn50_model_get_input (model), images, IMAGE_FLOATS * sizeof (float));
  g_assert_true (rn50_model_run (model, &error));
  memcpy (first, rn50_model_get_output (model), sizeof (first));
  g_assert_cmpmem (rn50_model_get_input (model), IMAGE_FLOATS * sizeof (float),
      images, IMAGE_FLOATS * sizeof (float));
  g_assert_true (rn50_model_run (model, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (rn50_model_get_output (model), sizeof (first), first,
      sizeof (first));
}

static void
test_free_accepts_null (void)
{
  rn50_model_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  models_dir = g_getenv ("RN50_ENGINE_MODELS");
  if (models_dir == NULL) {
    g_printerr ("RN50_ENGINE_MODELS must name the directory written by "
        "gen-engine-models.py\n");
    return 1;
  }

  g_test_add_func ("/engine/directory-fails-with-not-found",
      test_directory_is_refused_as_not_found);
  g_test_add_func ("/engine/missing-file-fails-with-not-found",
      test_missing_file_fails_with_not_found);
  g_test_add_func ("/engine/truncated-file-fails-with-parse-error",
      test_truncated_file_fails_with_parse_error);
  g_test_add_func ("/engine/garbage-file-fails-with-parse-error",
      test_garbage_file_fails_with_parse_error);
  g_test_add_func ("/engine/unsupported-op-names-op-type-node-and-opset",
      test_unsupported_op_names_op_type_node_and_opset);
  g_test_add_func ("/engine/wrong-input-shape-fails-with-shape-error",
      test_wrong_input_shape_fails_with_shape_error);
  g_test_add_func ("/engine/gemm-weights-disagreeing-with-pooled-features-fail",
      test_gemm_weights_disagreeing_with_pooled_features_fail);
  g_test_add_func ("/engine/pad-not-before-conv-is-unsupported",
      test_pad_not_before_conv_is_unsupported);
  g_test_add_func ("/engine/second-input-is-unsupported",
      test_second_input_is_unsupported);
  g_test_add_func ("/engine/undefined-tensor-fails-with-parse-error",
      test_undefined_tensor_fails_with_parse_error);
  g_test_add_func ("/engine/cycle-fails-with-parse-error",
      test_cycle_fails_with_parse_error);
  g_test_add_func ("/engine/old-opset-is-unsupported",
      test_old_opset_is_unsupported);
  g_test_add_func ("/engine/inconsistent-tensor-sizes-fail-with-parse-error",
      test_inconsistent_tensor_sizes_fail_with_parse_error);
  g_test_add_func ("/engine/missing-external-data-or-double-weights-are-refused",
      test_missing_external_data_or_double_weights_are_refused);
  g_test_add_func ("/engine/static-batch-refuses-larger-batch",
      test_static_batch_refuses_larger_batch);
  g_test_add_func ("/engine/reshape-fixing-batch-fails-naming-the-reshape",
      test_reshape_fixing_batch_fails_naming_the_reshape);
  g_test_add_func ("/engine/default-loader-refuses-tiny-graphs",
      test_default_loader_refuses_tiny_graphs);
  g_test_add_func ("/engine/gemm-forms-give-exact-values",
      test_gemm_forms_give_exact_values);
  g_test_add_func ("/engine/batchnorm-epsilon-is-read-per-node",
      test_batchnorm_epsilon_is_read_per_node);
  g_test_add_func ("/engine/ceil-mode-max-pool-rounds-up-without-padding",
      test_ceil_mode_max_pool_rounds_up_without_padding_values);
  g_test_add_func ("/engine/small-cnn-matches-torch",
      test_small_cnn_matches_torch);
  g_test_add_func ("/engine/unsorted-nodes-are-run-in-dependency-order",
      test_unsorted_nodes_are_run_in_dependency_order);
  g_test_add_func ("/engine/keras-epsilon-model-matches-torch",
      test_keras_epsilon_model_matches_torch);
  g_test_add_func ("/engine/op-variants-match-torch",
      test_op_variants_match_torch);
  g_test_add_func ("/engine/folded-and-unfolded-batchnorm-agree",
      test_folded_and_unfolded_batchnorm_agree);
  g_test_add_func ("/engine/winograd-and-direct-convolutions-agree",
      test_winograd_and_direct_convolutions_agree);
  g_test_add_func ("/engine/batch-of-four-equals-four-single-runs",
      test_batch_of_four_equals_four_single_runs);
  g_test_add_func ("/engine/softmax-tail-outputs-probabilities",
      test_softmax_tail_outputs_probabilities);
  g_test_add_func ("/engine/model-reports-name-geometry-and-classes",
      test_model_reports_name_geometry_and_classes);
  g_test_add_func ("/engine/run-is-repeatable-and-keeps-the-input",
      test_run_is_repeatable_and_keeps_the_input);
  g_test_add_func ("/engine/free-accepts-null", test_free_accepts_null);

  return g_test_run ();
}
