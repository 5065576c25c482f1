/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nn/keras-h5.c through the model API: a Keras ResNet50 HDF5
 * weights file is recognised by its signature and computes what the ONNX
 * file written from the same weights computes (probabilities, since the
 * softmax is fc1000's activation), for one image per run and for a batch;
 * files that lack a layer or hold a wrong shape are refused with the layer
 * and both shapes in the message; truncated and missing files are refused.
 * Arguments: ONNX H5 MISSING-LAYER-H5 BAD-SHAPE-H5 NOT-HDF5-FILE. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "keras-h5.h"
#include "model.h"

static const char *onnx_path, *h5_path, *missing_path, *bad_shape_path,
    *other_path;

/* A smooth, asymmetric caffe-range image (BGR planes minus means, about
 * -25..25): deterministic, no file needed. */
static void
fill_input (float *input, guint images)
{
  guint n, c, y, x;

  for (n = 0; n < images; n++)
    for (c = 0; c < 3; c++)
      for (y = 0; y < 224; y++)
        for (x = 0; x < 224; x++)
          *input++ = 5.0f * sinf (0.031f * x + 0.017f * y * (c + 1))
              + 0.05f * (x - y) - 3.0f * c;
}

static float *
run_model (const char *path, guint batch)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_full (path, batch,
      RN50_MODEL_FLAGS_NONE, &error);
  guint classes;

  g_assert_no_error (error);
  g_assert_nonnull (model);
  classes = rn50_model_get_num_classes (model);
  g_assert_cmpuint (classes, ==, 1000);
  g_assert_true (rn50_model_outputs_probabilities (model));
  fill_input (rn50_model_get_input (model), batch);
  g_assert_true (rn50_model_run (model, &error));
  g_assert_no_error (error);
  return g_memdup2 (rn50_model_get_output (model),
      (gsize) batch * classes * sizeof (float));
}

static void
test_h5_file_is_recognised_by_signature (void)
{
  g_assert_true (rn50_model_file_is_keras_h5 (h5_path));
  g_assert_false (rn50_model_file_is_keras_h5 (onnx_path));
  g_assert_false (rn50_model_file_is_keras_h5 (other_path));
  g_assert_false (rn50_model_file_is_keras_h5 ("/nonexistent/w.h5"));
}

static void
test_h5_model_computes_what_onnx_model_computes (void)
{
  g_autofree float *from_h5 = run_model (h5_path, 1);
  g_autofree float *from_onnx = run_model (onnx_path, 1);
  double max_diff = 0, max_value = 0, sum = 0;
  guint i;

  for (i = 0; i < 1000; i++) {
    double diff = fabs (from_h5[i] - from_onnx[i]);
    max_diff = MAX (max_diff, diff);
    max_value = MAX (max_value, fabs (from_onnx[i]));
    sum += from_h5[i];
    /* Each probability, not only the largest (which saturates on a
     * synthetic image): the small ones carry the logits' differences. */
    g_assert_cmpfloat (diff, <=, 1e-4 * fabs (from_onnx[i]) + 1e-12);
  }
  g_test_message ("max |h5 - onnx| = %g, max |onnx| = %g", max_diff, max_value);
  g_assert_cmpfloat (max_diff, <=, 1e-4 * max_value);
  /* Probabilities, not logits, and softmax applied once. */
  g_assert_cmpfloat (fabs (sum - 1.0), <, 1e-4);
  g_assert_cmpfloat (max_value, >, 2.0 / 1000);
}

static void
test_h5_batch_equals_single_images (void)
{
  g_autofree float *one = run_model (h5_path, 1);
  g_autofree float *two = run_model (h5_path, 2);
  guint i;

  for (i = 0; i < 2000; i++)
    g_assert_cmpfloat (fabs (two[i] - one[i % 1000]), <=, 1e-6);
}

static void
test_missing_layer_fails_naming_the_layer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_from_file (missing_path, &error);

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "'res3b_branch2b'"));
  g_assert_nonnull (strstr (error->message, "kernel 3x3x128x128"));
  g_assert_nonnull (strstr (error->message, "bias 128"));
}

static void
test_wrong_shape_fails_naming_layer_and_both_shapes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_from_file (bad_shape_path,
      &error);

  g_assert_null (model);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "'res4c_branch2b'"));
  g_assert_nonnull (strstr (error->message, "3x3x256x255"));
  g_assert_nonnull (strstr (error->message, "expected 3x3x256x256"));
}

static void
test_truncated_h5_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *dir = g_dir_make_tmp ("rn50-keras-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "truncated.h5", NULL);
  g_autoptr (Rn50Model) model = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (h5_path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len / 2, NULL));
  model = rn50_model_new_from_file (path, &error);
  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == RN50_ERROR);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_missing_h5_is_not_found (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Graph) graph =
      rn50_keras_graph_new_from_h5 ("/nonexistent/w.h5", 1, &error);

  g_assert_null (graph);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc != 6) {
    g_printerr ("usage: %s ONNX H5 MISSING-LAYER-H5 BAD-SHAPE-H5 OTHER\n",
        argv[0]);
    return 2;
  }
  onnx_path = argv[1];
  h5_path = argv[2];
  missing_path = argv[3];
  bad_shape_path = argv[4];
  other_path = argv[5];
  g_test_add_func ("/keras-h5/file-is-recognised-by-signature",
      test_h5_file_is_recognised_by_signature);
  g_test_add_func ("/keras-h5/computes-what-onnx-model-computes",
      test_h5_model_computes_what_onnx_model_computes);
  g_test_add_func ("/keras-h5/batch-equals-single-images",
      test_h5_batch_equals_single_images);
  g_test_add_func ("/keras-h5/missing-layer-fails-naming-the-layer",
      test_missing_layer_fails_naming_the_layer);
  g_test_add_func ("/keras-h5/wrong-shape-fails-naming-layer-and-both-shapes",
      test_wrong_shape_fails_naming_layer_and_both_shapes);
  g_test_add_func ("/keras-h5/truncated-file-is-refused",
      test_truncated_h5_is_refused);
  g_test_add_func ("/keras-h5/missing-file-is-not-found",
      test_missing_h5_is_not_found);
  return g_test_run ();
}
