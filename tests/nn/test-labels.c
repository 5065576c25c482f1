/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of nn/labels.c: the built-in ImageNet-1k names in
 * torchvision's order, label files as editors write them (CRLF, blanks, a
 * byte-order mark, trailing empty lines), label files whose lines all
 * differ so that any shift shows (case 21), and the files that must be
 * refused: missing, empty, an empty line in the middle, invalid UTF-8. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "labels.h"

/* Writes @len bytes to a new file in a fresh temporary directory and
 * returns its path; the directory is removed by remove_temp_file(). */
static gchar *
write_temp_file (const char *contents, gssize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("rn50-labels-XXXXXX", &error);
  gchar *path;

  g_assert_no_error (error);
  path = g_build_filename (dir, "labels.txt", NULL);
  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
  return path;
}

static void
remove_temp_file (gchar * path)
{
  g_autofree gchar *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
}

static Rn50Labels *
labels_from_text (const char *contents, gssize len, GError ** error)
{
  gchar *path = write_temp_file (contents, len);
  Rn50Labels *labels = rn50_labels_new_from_file (path, error);

  remove_temp_file (path);
  return labels;
}

static void
test_imagenet_labels_follow_torchvision_order (void)
{
  g_autoptr (Rn50Labels) labels = rn50_labels_new_imagenet ();

  /* torchvision/models/_meta.py _IMAGENET_CATEGORIES */
  g_assert_cmpuint (rn50_labels_get_count (labels), ==, 1000);
  g_assert_cmpstr (rn50_labels_get (labels, 0), ==, "tench");
  g_assert_cmpstr (rn50_labels_get (labels, 1), ==, "goldfish");
  g_assert_cmpstr (rn50_labels_get (labels, 281), ==, "tabby");
  g_assert_cmpstr (rn50_labels_get (labels, 285), ==, "Egyptian cat");
  g_assert_cmpstr (rn50_labels_get (labels, 500), ==, "cliff dwelling");
  g_assert_cmpstr (rn50_labels_get (labels, 999), ==, "toilet tissue");
}

static void
test_imagenet_labels_are_all_non_empty (void)
{
  g_autoptr (Rn50Labels) labels = rn50_labels_new_imagenet ();
  guint i;

  for (i = 0; i < 1000; i++) {
    const char *name = rn50_labels_get (labels, i);
    g_assert_nonnull (name);
    g_assert_cmpuint (strlen (name), >, 0);
    g_assert_true (g_utf8_validate (name, -1, NULL));
  }
}

static void
test_out_of_range_index_gives_null (void)
{
  g_autoptr (Rn50Labels) labels = rn50_labels_new_imagenet ();

  g_assert_null (rn50_labels_get (labels, 1000));
  g_assert_null (rn50_labels_get (labels, G_MAXUINT));
}

static void
test_file_labels_are_trimmed_and_accept_crlf (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Labels) labels =
      labels_from_text ("  cat \r\ndog\r\n\tgreat white shark\t\r\n", -1,
      &error);

  g_assert_no_error (error);
  g_assert_cmpuint (rn50_labels_get_count (labels), ==, 3);
  g_assert_cmpstr (rn50_labels_get (labels, 0), ==, "cat");
  g_assert_cmpstr (rn50_labels_get (labels, 1), ==, "dog");
  g_assert_cmpstr (rn50_labels_get (labels, 2), ==, "great white shark");
}

static void
test_file_final_empty_line_is_ignored (void)
{
  static const char *texts[] = { "a\nb", "a\nb\n", "a\nb\n\n", "a\r\nb\r\n",
    "a\nb\n  \n"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (Rn50Labels) labels = labels_from_text (texts[i], -1, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (rn50_labels_get_count (labels), ==, 2);
    g_assert_cmpstr (rn50_labels_get (labels, 1), ==, "b");
  }
}

static void
test_file_byte_order_mark_is_skipped (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Labels) labels =
      labels_from_text ("\xef\xbb\xbf" "caf\xc3\xa9\nna\xc3\xafve\n", -1,
      &error);

  g_assert_no_error (error);
  g_assert_cmpuint (rn50_labels_get_count (labels), ==, 2);
  g_assert_cmpstr (rn50_labels_get (labels, 0), ==, "caf\xc3\xa9");
  g_assert_cmpstr (rn50_labels_get (labels, 1), ==, "na\xc3\xafve");
}

/* Case 21: every line differs, so an off-by-one shows. */
static void
test_file_with_1001_distinct_lines_keeps_every_index (void)
{
  g_autoptr (GString) text = g_string_new ("background\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (Rn50Labels) labels = NULL;
  guint i;

  for (i = 0; i < 1000; i++)
    g_string_append_printf (text, "label-%04u\n", i);
  labels = labels_from_text (text->str, text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rn50_labels_get_count (labels), ==, 1001);
  g_assert_cmpstr (rn50_labels_get (labels, 0), ==, "background");
  g_assert_cmpstr (rn50_labels_get (labels, 1), ==, "label-0000");
  g_assert_cmpstr (rn50_labels_get (labels, 500), ==, "label-0499");
  g_assert_cmpstr (rn50_labels_get (labels, 1000), ==, "label-0999");
  g_assert_null (rn50_labels_get (labels, 1001));
}

static void
test_missing_file_is_not_found_and_names_the_path (void)
{
  g_autoptr (GError) error = NULL;
  const char *path = "/nonexistent/rn50/labels.txt";
  Rn50Labels *labels = rn50_labels_new_from_file (path, &error);

  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_directory_is_not_found (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("rn50-labels-XXXXXX", NULL);
  Rn50Labels *labels = rn50_labels_new_from_file (dir, &error);

  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
  g_rmdir (dir);
}

/* Would block the element's start forever, or read without end: refused
 * before any read. */
static void
test_fifo_and_device_are_refused_without_reading (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("rn50-labels-XXXXXX", NULL);
  g_autofree gchar *fifo = g_build_filename (dir, "labels.fifo", NULL);
  const char *paths[] = { fifo, "/dev/zero" };
  guint i;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  for (i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (GError) error = NULL;
    Rn50Labels *labels = rn50_labels_new_from_file (paths[i], &error);

    g_assert_null (labels);
    g_assert_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "a pipe, device or socket"));
  }
  g_unlink (fifo);
  g_rmdir (dir);
}

/* A size no list of labels has is refused from the file's size, before
 * reading it. */
static void
test_oversized_file_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  gchar *path = write_temp_file ("", 0);
  Rn50Labels *labels;

  g_assert_cmpint (truncate (path, (off_t) 17 * 1024 * 1024), ==, 0);
  labels = rn50_labels_new_from_file (path, &error);
  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "17825792 bytes"));
  remove_temp_file (path);
}

static void
test_empty_file_is_a_parse_error (void)
{
  static const char *texts[] = { "", "\n", "\r\n\r\n", "   \n\t\n" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autoptr (GError) error = NULL;
    Rn50Labels *labels = labels_from_text (texts[i], -1, &error);

    g_assert_null (labels);
    g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
    g_assert_nonnull (strstr (error->message, "no labels"));
  }
}

static void
test_empty_middle_line_is_a_parse_error_naming_the_line (void)
{
  g_autoptr (GError) error = NULL;
  Rn50Labels *labels = labels_from_text ("a\nb\n \nc\n", -1, &error);

  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "line 3"));
}

static void
test_invalid_utf8_is_a_parse_error_naming_the_line (void)
{
  g_autoptr (GError) error = NULL;
  Rn50Labels *labels = labels_from_text ("a\nb\nc\xff" "d\n", -1, &error);

  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_assert_nonnull (strstr (error->message, "line 3"));
}

static void
test_nul_byte_is_a_parse_error (void)
{
  g_autoptr (GError) error = NULL;
  Rn50Labels *labels = labels_from_text ("a\nb\0c\n", 6, &error);

  g_assert_null (labels);
  g_assert_error (error, RN50_ERROR, RN50_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "line 2"));
}

static void
test_free_accepts_null (void)
{
  rn50_labels_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/labels/imagenet-labels-follow-torchvision-order",
      test_imagenet_labels_follow_torchvision_order);
  g_test_add_func ("/labels/imagenet-labels-are-all-non-empty",
      test_imagenet_labels_are_all_non_empty);
  g_test_add_func ("/labels/out-of-range-index-gives-null",
      test_out_of_range_index_gives_null);
  g_test_add_func ("/labels/file-labels-are-trimmed-and-accept-crlf",
      test_file_labels_are_trimmed_and_accept_crlf);
  g_test_add_func ("/labels/file-final-empty-line-is-ignored",
      test_file_final_empty_line_is_ignored);
  g_test_add_func ("/labels/file-byte-order-mark-is-skipped",
      test_file_byte_order_mark_is_skipped);
  g_test_add_func ("/labels/file-with-1001-distinct-lines-keeps-every-index",
      test_file_with_1001_distinct_lines_keeps_every_index);
  g_test_add_func ("/labels/missing-file-is-not-found-and-names-the-path",
      test_missing_file_is_not_found_and_names_the_path);
  g_test_add_func ("/labels/directory-is-not-found",
      test_directory_is_not_found);
  g_test_add_func ("/labels/fifo-and-device-are-refused-without-reading",
      test_fifo_and_device_are_refused_without_reading);
  g_test_add_func ("/labels/oversized-file-is-refused",
      test_oversized_file_is_refused);
  g_test_add_func ("/labels/empty-file-is-a-parse-error",
      test_empty_file_is_a_parse_error);
  g_test_add_func ("/labels/empty-middle-line-is-a-parse-error-naming-the-"
      "line", test_empty_middle_line_is_a_parse_error_naming_the_line);
  g_test_add_func ("/labels/invalid-utf8-is-a-parse-error-naming-the-line",
      test_invalid_utf8_is_a_parse_error_naming_the_line);
  g_test_add_func ("/labels/nul-byte-is-a-parse-error",
      test_nul_byte_is_a_parse_error);
  g_test_add_func ("/labels/free-accepts-null", test_free_accepts_null);

  return g_test_run ();
}
