/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Model files are untrusted input: the regression tests for hostile ONNX
 * files (issue 5). Each file from gen-hostile-models.py ($RN50_HOSTILE_MODELS)
 * must be refused by rn50_model_new_full() with the right RN50_ERROR code
 * and a message naming the problem (and, for everything the loader itself
 * reports, the file), never abort, crash or load. Each case runs in a
 * subprocess whose address space is capped at its baseline + 1 GiB
 * (setrlimit RLIMIT_AS; under a sanitizer, which reserves terabytes of
 * shadow memory, the allocator's max_allocation_size_mb instead), so a file
 * that makes the loader allocate what it only claims fails the test even
 * where Linux would overcommit. Also: a model cut at many offsets, and ONNX
 * external data, resolved only inside the model's own directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "model.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RN50_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RN50_SANITIZED 1
#endif
#endif

#ifdef RN50_SANITIZED
/* A sanitizer's shadow memory makes RLIMIT_AS unusable; its allocator can
 * refuse single allocations above a size instead (every malloc, g_malloc
 * and oneDNN's posix_memalign go through it). Environment options are
 * appended after these, so a caller can still override them. */
const char *__asan_default_options (void);
const char *__tsan_default_options (void);
const char *
__asan_default_options (void)
{
  return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

const char *
__tsan_default_options (void)
{
  return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}
#endif

#define LIMIT_HEADROOM (G_GUINT64_CONSTANT (1) << 30)   /* bytes */

static const char *hostile_dir;
static const char *engine_dir;

/* Caps what this process may still allocate: its current address space
 * (libraries, OpenMP stacks, malloc arenas) plus LIMIT_HEADROOM. */
static void
limit_address_space (void)
{
#ifndef RN50_SANITIZED
  g_autofree char *status = NULL;
  const char *line;
  guint64 vm_kib = 0;
  struct rlimit lim;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL,
          NULL));
  line = strstr (status, "VmSize:");
  g_assert_nonnull (line);
  vm_kib = g_ascii_strtoull (line + strlen ("VmSize:"), NULL, 10);
  g_assert_cmpuint (vm_kib, >, 0);
  lim.rlim_cur = lim.rlim_max = vm_kib * 1024 + LIMIT_HEADROOM;
  g_assert_cmpint (setrlimit (RLIMIT_AS, &lim), ==, 0);
#endif
}

/* The cap must be real, or every test below would pass vacuously. */
static void
test_address_space_cap_refuses_two_gib (void)
{
  if (g_test_subprocess ()) {
    gpointer p;
    limit_address_space ();
    p = g_try_malloc ((gsize) 2 << 30);
    g_assert_null (p);
    p = g_try_malloc (1 << 20);
    g_assert_nonnull (p);
    g_free (p);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

typedef struct
{
  const char *file;
  Rn50ModelFlags flags;
  Rn50Error code;
  /* Substrings the message must contain; "@" stands for the file name. */
  const char *needles[4];
} HostileCase;

static const HostileCase cases[] = {
  /* Element counts and shapes of initializers. */
  {"dims-overflow-32bit.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "65536x65536x1x1", "17179869184"}},
  {"dims-overflow-64bit.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "too many elements"}},
  {"dims-overflow-64bit-bytes.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "too many elements"}},
  {"dims-gigabytes-no-payload.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "1024x1024x1024", "holds 0 values"}},
  {"dims-zero.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "dimension 1 = 0", "positive"}},
  {"dims-negative.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "dimension 2 = -3"}},
  {"raw-data-long.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "868 bytes", "expected 864"}},
  {"float-data-short.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "215 values", "expected 216"}},
  {"fp16-weights.onnx", 0, RN50_ERROR_UNSUPPORTED,
      {"'conv_w'", "FLOAT16"}},
  {"int64-weights.onnx", 0, RN50_ERROR_UNSUPPORTED,
      {"'conv_w'", "(Conv)", "expected float"}},
  /* Graph structure. */
  {"self-loop.onnx", 0, RN50_ERROR_PARSE, {"cycle"}},
  {"cycle-3.onnx", 0, RN50_ERROR_PARSE, {"cycle"}},
  {"dangling-input.onnx", 0, RN50_ERROR_PARSE,
      {"'add_dangling'", "'dangling'"}},
  {"dangling-output.onnx", 0, RN50_ERROR_UNSUPPORTED,
      {"'nobody_computes_this'", "not computed"}},
  /* Terabytes of activations claimed by a few kilobytes. */
  {"activation-terabytes.onnx", 0, RN50_ERROR_SHAPE,
      {"'huge_conv'", "4096x8416x8416", "elements per image"}},
  {"input-gigapixels.onnx", RN50_MODEL_FLAG_ANY_INPUT_SHAPE,
      RN50_ERROR_SHAPE, {"'input'", "1x1x20000x20000", "elements per image"}},
  /* Protobuf length prefixes claiming gigabytes. */
  {"pb-graph-claims-4gib.onnx", 0, RN50_ERROR_PARSE, {"@", "protobuf"}},
  {"pb-trailing-claims-2e62.onnx", 0, RN50_ERROR_PARSE, {"@", "protobuf"}},
  {"pb-cut-varint.onnx", 0, RN50_ERROR_PARSE, {"@", "protobuf"}},
  /* External data that leaves the directory or lies about its size. */
  {"ext-dotdot.onnx", 0, RN50_ERROR_PARSE,
      {"@", "'conv_w'", "'../../etc/passwd'", "outside the model's directory"}},
  {"ext-dotdot-inner.onnx", 0, RN50_ERROR_PARSE,
      {"@", "'sub/../../x.weights'", "outside the model's directory"}},
  {"ext-absolute.onnx", 0, RN50_ERROR_PARSE,
      {"@", "'/etc/passwd'", "outside the model's directory"}},
  {"ext-backslash.onnx", 0, RN50_ERROR_PARSE,
      {"@", "outside the model's directory"}},
  {"ext-missing.onnx", 0, RN50_ERROR_NOT_FOUND,
      {"@", "'missing.weights'", "No such file"}},
  {"ext-no-location.onnx", 0, RN50_ERROR_PARSE,
      {"@", "'conv_w'", "no 'location'"}},
  {"ext-bad-offset.onnx", 0, RN50_ERROR_PARSE,
      {"@", "offset", "12abc"}},
  {"ext-length-past-end.onnx", 0, RN50_ERROR_PARSE,
      {"@", "864 bytes at offset 512", "only 1024 bytes"}},
  {"ext-offset-past-end.onnx", 0, RN50_ERROR_PARSE,
      {"@", "byte 4096", "only 1024 bytes"}},
  {"ext-length-mismatch.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "1000 bytes", "expected 864"}},
  {"ext-whole-file-mismatch.onnx", 0, RN50_ERROR_PARSE,
      {"'conv_w'", "1024 bytes", "expected 864"}},
};

static void
assert_refused_at (const char *path, Rn50ModelFlags flags, Rn50Error code,
    const char *const *needles, guint n_needles)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = NULL;
  g_autofree char *base = g_path_get_basename (path);
  guint i;

  model = rn50_model_new_full (path, 1, flags, &error);
  if (model != NULL)
    g_error ("%s: loaded, but must be refused", base);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", base, error->message);
  if (!g_error_matches (error, RN50_ERROR, (gint) code))
    g_error ("%s: error code %d (%s), expected %d", base, error->code,
        error->message, code);
  for (i = 0; i < n_needles && needles[i] != NULL; i++) {
    const char *needle = g_str_equal (needles[i], "@") ? base : needles[i];
    if (strstr (error->message, needle) == NULL)
      g_error ("%s: message \"%s\" does not mention \"%s\"", base,
          error->message, needle);
  }
}

static void
test_hostile_file_is_refused (gconstpointer data)
{
  const HostileCase *c = data;

  if (g_test_subprocess ()) {
    g_autofree char *path = g_build_filename (hostile_dir, c->file, NULL);
    limit_address_space ();
    assert_refused_at (path, c->flags, c->code, c->needles,
        G_N_ELEMENTS (c->needles));
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* ---- truncation ---------------------------------------------------------- */

static void
copy_file (const char *src, const char *dst)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len;

  g_file_get_contents (src, &data, &len, &error);
  g_assert_no_error (error);
  g_file_set_contents (dst, data, len, &error);
  g_assert_no_error (error);
}

static gsize
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* Cuts @path (a private copy) at each offset, longest first, so that the
 * file is never rewritten; each cut must be refused with @code. */
static void
assert_cuts_refused (const char *load_path, const char *cut_path,
    gsize len, const gsize * offsets, guint n, Rn50Error code)
{
  int fd = g_open (cut_path, O_WRONLY, 0);
  guint i;

  g_assert_cmpint (fd, >=, 0);
  for (i = 0; i < n; i++) {
    g_autoptr (GError) error = NULL;
    Rn50Model *model;

    g_assert_cmpint (ftruncate (fd, offsets[i]), ==, 0);
    model = rn50_model_new_full (load_path, 1, RN50_MODEL_FLAGS_NONE, &error);
    if (model != NULL || !g_error_matches (error, RN50_ERROR, (gint) code))
      g_error ("%s cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
          " bytes: %s", cut_path, offsets[i], len,
          error ? error->message : "loaded");
  }
  close (fd);
}

/* Offsets len·k/64 for k = 63..1, then 255..0: descending. */
static guint
cut_offsets (gsize len, gsize * offsets)
{
  guint n = 0, k;

  for (k = 63; k >= 1; k--)
    if (len * k / 64 > 256)
      offsets[n++] = len * k / 64;
  for (k = 256; k-- > 0;)
    if (k < len)
      offsets[n++] = k;
  return n;
}

static void
test_cut_model_is_refused (gconstpointer data)
{
  const char *src = data;

  if (g_test_subprocess ()) {
    g_autofree char *dir = g_dir_make_tmp ("rn50-hostile-XXXXXX", NULL);
    g_autofree char *path = g_build_filename (dir, "cut.onnx", NULL);
    gsize offsets[64 + 256], len;
    guint n;

    g_assert_nonnull (dir);
    copy_file (src, path);
    len = file_size (path);
    g_assert_cmpuint (len, >, 1000);
    n = cut_offsets (len, offsets);
    g_test_message ("%s: %" G_GSIZE_FORMAT " bytes, %u cuts", src, len, n);
    limit_address_space ();
    assert_cuts_refused (path, path, len, offsets, n, RN50_ERROR_PARSE);
    g_unlink (path);
    g_rmdir (dir);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* ---- external data -------------------------------------------------------- */

/* A private copy of ext-valid/ (model.onnx + model.weights). */
static char *
copy_ext_valid (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rn50-ext-XXXXXX", NULL);
  const char *names[] = { "model.onnx", "model.weights" };
  guint i;

  g_assert_nonnull (dir);
  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *src = g_build_filename (hostile_dir, "ext-valid",
        names[i], NULL);
    g_autofree char *dst = g_build_filename (dir, names[i], NULL);
    copy_file (src, dst);
  }
  return g_steal_pointer (&dir);
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

static float *
run_once (const char *path, const float *input, guint * n_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_full (path, 1,
      RN50_MODEL_FLAGS_NONE, &error);
  guint c, h, w;

  g_assert_no_error (error);
  rn50_model_get_input_size (model, &c, &h, &w);
  g_assert_cmpuint ((gsize) c * h * w, ==, 3 * 224 * 224);
  memcpy (rn50_model_get_input (model), input, 3 * 224 * 224 * 4);
  g_assert_true (rn50_model_run (model, &error));
  g_assert_no_error (error);
  *n_out = rn50_model_get_num_classes (model);
  return g_memdup2 (rn50_model_get_output (model), *n_out * sizeof (float));
}

/* The model onnx.save_model (save_as_external_data=True) wrote computes
 * exactly what the same model with embedded weights computes, loaded by
 * absolute and by relative path. */
static void
test_external_data_next_to_model_loads (void)
{
  g_autofree char *dir = copy_ext_valid ();
  g_autofree char *path = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *embedded = g_build_filename (engine_dir, "small-cnn.onnx",
      NULL);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree float *input = g_new (float, 3 * 224 * 224);
  g_autofree float *a = NULL, *b = NULL, *r = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  guint na, nb, nr, i;

  for (i = 0; i < 3 * 224 * 224; i++)
    input[i] = g_rand_double_range (rand, -2, 2);
  a = run_once (path, input, &na);
  b = run_once (embedded, input, &nb);
  g_assert_cmpuint (na, ==, 10);
  g_assert_cmpuint (na, ==, nb);
  g_assert_cmpmem (a, na * sizeof (float), b, nb * sizeof (float));

  g_assert_cmpint (g_chdir (dir), ==, 0);
  r = run_once ("model.onnx", input, &nr);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_cmpmem (a, na * sizeof (float), r, nr * sizeof (float));
  remove_dir (dir);
}

/* Its side file cut at every 64th of its length (and to nothing). */
static void
test_cut_external_data_is_refused (void)
{
  g_autofree char *dir = copy_ext_valid ();
  g_autofree char *model = g_build_filename (dir, "model.onnx", NULL);
  g_autofree char *weights = g_build_filename (dir, "model.weights", NULL);
  gsize len = file_size (weights), offsets[64];
  guint n = 0, k;

  for (k = 63; k >= 1; k--)
    offsets[n++] = len * k / 64;
  offsets[n++] = 0;
  assert_cuts_refused (model, weights, len, offsets, n, RN50_ERROR_PARSE);
  remove_dir (dir);
}

/* A private directory holding @model_name from the hostile set and, as
 * the symlink @link_name, a link to @target. */
static char *
dir_with_link (const char *model_name, const char *link_name,
    const char *target)
{
  g_autofree char *dir = g_dir_make_tmp ("rn50-link-XXXXXX", NULL);
  g_autofree char *src = g_build_filename (hostile_dir, model_name, NULL);
  g_autofree char *dst = g_build_filename (dir, model_name, NULL);
  g_autofree char *link = g_build_filename (dir, link_name, NULL);
  g_autofree char *weights_src = g_build_filename (hostile_dir,
      "conv.weights", NULL);
  g_autofree char *weights_dst = g_build_filename (dir, "conv.weights", NULL);

  g_assert_nonnull (dir);
  copy_file (src, dst);
  copy_file (weights_src, weights_dst);
  g_assert_cmpint (symlink (target, link), ==, 0);
  return g_steal_pointer (&dir);
}

/* A symlink in the model's directory that points out of it (to a file of
 * another directory, or a directory link) is refused; one that stays
 * inside is followed. */
static void
test_external_data_symlinks_must_stay_inside (void)
{
  g_autofree char *outside = g_dir_make_tmp ("rn50-secret-XXXXXX", NULL);
  g_autofree char *secret = g_build_filename (outside, "secret", NULL);
  g_autofree char *weights = g_build_filename (hostile_dir, "conv.weights",
      NULL);
  g_autofree char *dir = NULL, *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = NULL;
  const char *needles[] = { "ext-symlink-escape.onnx", "'escape.weights'",
    "outside the model's directory"
  };

  g_assert_nonnull (outside);
  /* 1024 bytes, as many as conv.weights: only the path check refuses it. */
  copy_file (weights, secret);

  dir = dir_with_link ("ext-symlink-escape.onnx", "escape.weights", secret);
  path = g_build_filename (dir, "ext-symlink-escape.onnx", NULL);
  assert_refused_at (path, 0, RN50_ERROR_PARSE, needles, 3);
  remove_dir (dir);
  g_free (dir);
  g_free (path);

  /* escape.weights is a file inside a linked directory. */
  dir = dir_with_link ("ext-symlink-escape.onnx", "escape.weights.d",
      outside);
  {
    g_autofree char *nested = g_build_filename (dir, "escape.weights", NULL);
    g_autofree char *target = g_build_filename ("escape.weights.d", "secret",
        NULL);
    g_assert_cmpint (symlink (target, nested), ==, 0);
  }
  path = g_build_filename (dir, "ext-symlink-escape.onnx", NULL);
  assert_refused_at (path, 0, RN50_ERROR_PARSE, needles, 3);
  remove_dir (dir);
  g_free (dir);
  g_free (path);

  dir = dir_with_link ("ext-symlink-inside.onnx", "alias.weights",
      "conv.weights");
  path = g_build_filename (dir, "ext-symlink-inside.onnx", NULL);
  model = rn50_model_new_full (path, 1, RN50_MODEL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_clear_pointer (&model, rn50_model_free);
  remove_dir (dir);

  g_unlink (secret);
  g_rmdir (outside);
}

/* A range inside a larger side file (offset 128, 864 bytes of 1024). */
static void
test_external_data_range_loads (void)
{
  g_autofree char *path = g_build_filename (hostile_dir, "ext-good.onnx",
      NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Model) model = rn50_model_new_full (path, 1,
      RN50_MODEL_FLAGS_NONE, &error);

  g_assert_no_error (error);
  g_assert_nonnull (model);
}

int
main (int argc, char **argv)
{
  static char *cut_sources[2];
  guint i;

  g_test_init (&argc, &argv, NULL);
  hostile_dir = g_getenv ("RN50_HOSTILE_MODELS");
  engine_dir = g_getenv ("RN50_ENGINE_MODELS");
  if (hostile_dir == NULL || engine_dir == NULL) {
    g_printerr ("RN50_HOSTILE_MODELS and RN50_ENGINE_MODELS must be set: "
        "run through meson test\n");
    return 1;
  }

  g_test_add_func ("/hostile/address-space-cap-refuses-two-gib",
      test_address_space_cap_refuses_two_gib);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *name = g_strdup_printf ("/hostile/refused/%s",
        cases[i].file);
    g_test_add_data_func (name, &cases[i], test_hostile_file_is_refused);
  }

  cut_sources[0] = g_build_filename (engine_dir, "small-cnn.onnx", NULL);
  g_test_add_data_func ("/hostile/cut/small-cnn", cut_sources[0],
      test_cut_model_is_refused);
  /* The full-size generated ResNet-50 the element tests use. */
  if (g_getenv ("RN50_TEST_MODEL") == NULL) {
    g_printerr ("RN50_TEST_MODEL must be set: run through meson test\n");
    return 1;
  }
  cut_sources[1] = g_strdup (g_getenv ("RN50_TEST_MODEL"));
  g_test_add_data_func ("/hostile/cut/resnet50", cut_sources[1],
      test_cut_model_is_refused);

  g_test_add_func ("/hostile/external/next-to-model-loads",
      test_external_data_next_to_model_loads);
  g_test_add_func ("/hostile/external/range-loads",
      test_external_data_range_loads);
  g_test_add_func ("/hostile/external/cut-side-file-is-refused",
      test_cut_external_data_is_refused);
  g_test_add_func ("/hostile/external/symlinks-must-stay-inside",
      test_external_data_symlinks_must_stay_inside);

  return g_test_run ();
}
