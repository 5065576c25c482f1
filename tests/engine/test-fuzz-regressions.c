/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays every input the fuzzers ever crashed on (tests/fuzz/regressions/,
 * one folder per target) through the loader the element uses, in the normal
 * build: each must be refused with a GError, never crash or load. The
 * fuzzers themselves need clang and run separately (tests/fuzz/README.md). */
#include <glib.h>

#include "model.h"

static const char *regressions_dir;

static void
test_regression_input_is_refused (gconstpointer data)
{
  const char *path = data;
  g_autoptr (GError) error = NULL;
  /* Any input shape: the fuzzers reach the graph builder with small graphs,
   * and so must the replay. */
  g_autoptr (Rn50Model) model = rn50_model_new_full (path, 1,
      RN50_MODEL_FLAG_ANY_INPUT_SHAPE, &error);

  g_assert_null (model);
  g_assert_nonnull (error);
  g_assert_true (error->domain == RN50_ERROR);
  g_test_message ("%s: %s", path, error->message);
}

int
main (int argc, char **argv)
{
  static const char *const targets[] = { "onnx", "keras-h5" };
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  guint i, n_inputs = 0;
  int ret;

  g_test_init (&argc, &argv, NULL);
  regressions_dir = g_getenv ("RN50_FUZZ_REGRESSIONS");
  if (regressions_dir == NULL) {
    g_printerr ("RN50_FUZZ_REGRESSIONS is not set: run through meson test\n");
    return 1;
  }

  for (i = 0; i < G_N_ELEMENTS (targets); i++) {
    g_autofree char *dir_path = g_build_filename (regressions_dir, targets[i],
        NULL);
    g_autoptr (GError) error = NULL;
    GDir *dir = g_dir_open (dir_path, 0, &error);
    const char *name;

    if (dir == NULL) {
      g_printerr ("%s\n", error->message);
      return 1;
    }
    while ((name = g_dir_read_name (dir)) != NULL) {
      char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *test_path = g_strdup_printf ("/fuzz-regressions/%s/%s",
          targets[i], name);

      g_ptr_array_add (paths, path);
      g_test_add_data_func (test_path, path, test_regression_input_is_refused);
      n_inputs++;
    }
    g_dir_close (dir);
  }
  /* An empty folder would make this test pass while checking nothing. */
  if (n_inputs == 0) {
    g_printerr ("no regression inputs under %s\n", regressions_dir);
    return 1;
  }

  ret = g_test_run ();
  g_ptr_array_unref (paths);
  return ret;
}
