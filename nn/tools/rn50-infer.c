/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rn50-infer: runs an ONNX model through the nn/ engine on raw tensors, so
 * tests can compare it with an independent runtime on exactly the same
 * input. INPUT.f32 holds K images of C×H×W float32 (native endian, NCHW)
 * back to back; OUTPUT.f32 receives K × num_classes raw model outputs
 * (logits, or probabilities if the graph ends in Softmax). Each image goes
 * through its own rn50_model_run(), and the per-image inference time is
 * printed to stderr. --threads sets the engine's thread count (default, as
 * the element's threads=0: OMP_NUM_THREADS if set, else one per core). Exit
 * status 1 with a message on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static gboolean any_shape = FALSE;
static gboolean direct = FALSE;
static gint batch = 1;
static gint repeat = 1;
static gint threads = 0;

static const GOptionEntry entries[] = {
  {"any-input-shape", 0, 0, G_OPTION_ARG_NONE, &any_shape,
      "Accept any fixed input shape instead of Nx3x224x224", NULL},
  {"direct-convolution", 0, 0, G_OPTION_ARG_NONE, &direct,
      "Never use Winograd convolutions", NULL},
  {"batch", 'b', 0, G_OPTION_ARG_INT, &batch,
      "Images per run (the model must allow it)", "N"},
  {"repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Run each batch N times and report the fastest (for timing)", "N"},
  {"threads", 't', 0, G_OPTION_ARG_INT, &threads,
      "Compute threads per run (0: OMP_NUM_THREADS, else one per core)", "N"},
  {NULL},
};

static gboolean
infer (const char *model_path, const char *input_path,
    const char *output_path, GError ** error)
{
  g_autoptr (Rn50Model) model = NULL;
  Rn50ModelConfig config = { 0 };
  g_autofree char *input = NULL;
  g_autofree float *output = NULL;
  gsize input_bytes, image_floats, classes, n_images, n_runs, i;
  guint c, h, w;
  gint r;
  gint64 t0, t1, best, total = 0;
  float *in;

  t0 = g_get_monotonic_time ();
  config.batch_size = batch;
  config.threads = threads;
  config.flags = (any_shape ? RN50_MODEL_FLAG_ANY_INPUT_SHAPE : 0) |
      (direct ? RN50_MODEL_FLAG_DIRECT_CONVOLUTION : 0);
  model = rn50_model_new_with_config (model_path, &config, error);
  if (model == NULL)
    return FALSE;
  t1 = g_get_monotonic_time ();
  rn50_model_get_input_size (model, &c, &h, &w);
  classes = rn50_model_get_num_classes (model);
  image_floats = c * h;
  image_floats *= w;
  g_printerr ("model '%s': input %ux%ux%u, %" G_GSIZE_FORMAT " outputs%s, "
      "%u thread%s, loaded in %.1f ms\n", rn50_model_get_name (model), c, h,
      w, classes,
      rn50_model_outputs_probabilities (model) ? " (probabilities)" : "",
      rn50_model_get_threads (model),
      rn50_model_get_threads (model) > 1 ? "s" : "", (t1 - t0) / 1000.0);

  if (!g_file_get_contents (input_path, &input, &input_bytes, error))
    return FALSE;
  if (input_bytes == 0 || input_bytes % (image_floats * sizeof (float)) != 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "'%s' holds %" G_GSIZE_FORMAT " bytes, not a whole number of %ux%ux%u "
        "float32 images", input_path, input_bytes, c, h, w);
    return FALSE;
  }
  n_images = input_bytes / (image_floats * sizeof (float));
  if (n_images % batch != 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "%" G_GSIZE_FORMAT " images do not split into batches of %d",
        n_images, batch);
    return FALSE;
  }
  n_runs = n_images / batch;
  output = g_new (float, n_images * classes);
  in = rn50_model_get_input (model);

  for (i = 0; i < n_runs; i++) {
    best = G_MAXINT64;
    for (r = 0; r < repeat; r++) {
      memcpy (in, input + i * batch * image_floats * sizeof (float),
          batch * image_floats * sizeof (float));
      t0 = g_get_monotonic_time ();
      if (!rn50_model_run (model, error))
        return FALSE;
      t1 = g_get_monotonic_time ();
      best = MIN (best, t1 - t0);
    }
    total += best;
    memcpy (output + i * batch * classes, rn50_model_get_output (model),
        batch * classes * sizeof (float));
    g_printerr ("run %" G_GSIZE_FORMAT ": %.2f ms (%d image%s)\n", i,
        best / 1000.0, batch, batch > 1 ? "s" : "");
  }
  g_printerr ("mean: %.2f ms per image over %" G_GSIZE_FORMAT " images\n",
      total / 1000.0 / n_images, n_images);

  return g_file_set_contents (output_path, (const char *) output,
      n_images * classes * sizeof (float), error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;

  ctx = g_option_context_new ("MODEL INPUT.f32 OUTPUT.f32");
  g_option_context_set_summary (ctx, "Runs an ONNX ResNet-50 through the "
      "oneDNN engine on raw NCHW float32 images and writes the raw outputs.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("rn50-infer: %s\n", error->message);
    return 1;
  }
  if (argc != 4 || batch < 1 || repeat < 1 || threads < 0) {
    g_printerr ("usage: rn50-infer [--batch N] [--repeat N] [--threads N] "
        "[--any-input-shape] [--direct-convolution] MODEL INPUT.f32 "
        "OUTPUT.f32\n");
    return 1;
  }
  if (!infer (argv[1], argv[2], argv[3], &error)) {
    g_printerr ("rn50-infer: %s\n", error->message);
    return 1;
  }
  return 0;
}
