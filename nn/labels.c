/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Class names for the network's outputs: either the built-in ImageNet-1k
 * table (borrowed, never copied) or a user's text file, one label per line.
 * The file parser is strict where a silent fix would shift every class name
 * (an empty line in the middle, bytes that are not UTF-8) and lenient where
 * editors differ (CRLF line ends, a byte-order mark, surrounding blanks,
 * trailing empty lines). */
#include "labels.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "imagenet-labels.h"

/* 16 MiB: a label per line for millions of classes. */
#define RN50_LABELS_MAX_FILE_BYTES (16 * 1024 * 1024)

struct _Rn50Labels
{
  guint count;
  const char *const *names;     /* count entries */
  GStrv owned;                  /* NULL for the built-in table */
};

Rn50Labels *
rn50_labels_new_imagenet (void)
{
  Rn50Labels *labels = g_new0 (Rn50Labels, 1);

  labels->count = RN50_IMAGENET_LABEL_COUNT;
  labels->names = rn50_imagenet_labels;
  return labels;
}

/* 1-based number of the line holding byte @offset of @text. */
static guint
line_number_at (const char *text, gsize offset)
{
  guint line = 1;
  gsize i;

  for (i = 0; i < offset; i++)
    if (text[i] == '\n')
      line++;
  return line;
}

Rn50Labels *
rn50_labels_new_from_file (const char *path, GError ** error)
{
  Rn50Labels *labels = NULL;
  GError *read_error = NULL;
  GPtrArray *names = NULL;
  gchar *contents = NULL;
  gchar **lines = NULL;
  const gchar *invalid;
  const gchar *text;
  gsize length;
  guint n_lines, i;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Only regular files, and only up to a size no real list comes near
   * (ImageNet's 1000 labels are ~30 KB). */
  if (!rn50_check_not_special_file (path, "labels file", error))
    goto done;
  if (g_stat (path, &st) == 0 && st.st_size > RN50_LABELS_MAX_FILE_BYTES) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "labels file \"%s\" has %" G_GINT64_FORMAT " bytes, more than "
        "the %d a list of labels may have", path, (gint64) st.st_size,
        RN50_LABELS_MAX_FILE_BYTES);
    goto done;
  }
  if (!g_file_get_contents (path, &contents, &length, &read_error)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
        "cannot read labels file \"%s\": %s", path, read_error->message);
    g_clear_error (&read_error);
    goto done;
  }

  /* NUL bytes are rejected along with invalid sequences: a label cannot
   * hold one and they usually mean a binary file was given. */
  if (!g_utf8_validate_len (contents, length, &invalid)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "labels file \"%s\", line %u: not valid UTF-8 text", path,
        line_number_at (contents, (gsize) (invalid - contents)));
    goto done;
  }

  text = contents;
  if (g_str_has_prefix (text, "\xef\xbb\xbf"))
    text += 3;

  lines = g_strsplit (text, "\n", -1);
  n_lines = g_strv_length (lines);
  for (i = 0; i < n_lines; i++)
    g_strstrip (lines[i]);      /* also drops the '\r' of CRLF */

  /* Trailing empty lines (including the empty piece after the final line
   * break) are not labels; an empty line before a label is an error, since
   * skipping it would shift every following class. */
  while (n_lines > 0 && lines[n_lines - 1][0] == '\0')
    n_lines--;
  if (n_lines == 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "labels file \"%s\" contains no labels", path);
    goto done;
  }

  names = g_ptr_array_new_full (n_lines + 1, g_free);
  for (i = 0; i < n_lines; i++) {
    if (lines[i][0] == '\0') {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "labels file \"%s\", line %u: empty label (every line up to the "
          "last label must name a class)", path, i + 1);
      goto done;
    }
    g_ptr_array_add (names, g_strdup (lines[i]));
  }
  g_ptr_array_add (names, NULL);

  labels = g_new0 (Rn50Labels, 1);
  labels->count = n_lines;
  labels->owned = (GStrv) g_ptr_array_free (names, FALSE);
  labels->names = (const char *const *) labels->owned;
  names = NULL;

done:
  if (names != NULL)
    g_ptr_array_free (names, TRUE);
  g_strfreev (lines);
  g_free (contents);
  return labels;
}

void
rn50_labels_free (Rn50Labels * labels)
{
  if (labels == NULL)
    return;
  g_strfreev (labels->owned);
  g_free (labels);
}

guint
rn50_labels_get_count (const Rn50Labels * labels)
{
  g_return_val_if_fail (labels != NULL, 0);

  return labels->count;
}

const char *
rn50_labels_get (const Rn50Labels * labels, guint index)
{
  g_return_val_if_fail (labels != NULL, NULL);

  if (index >= labels->count)
    return NULL;
  return labels->names[index];
}
