/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for labels files (rn50_labels_new_from_file()): any
 * bytes must give either labels, every one a non-empty valid UTF-8 string,
 * or a GError; never a crash or a leak. */
#include <stdint.h>
#include <string.h>

#include "labels.h"

#define RN50_FUZZ_SUFFIX ".txt"
#include "fuzz-file.h"

static int
fuzz_one (const char *path, const uint8_t * data, size_t size)
{
  GError *error = NULL;
  Rn50Labels *labels;
  guint i, n;

  labels = rn50_labels_new_from_file (path, &error);
  if (labels == NULL) {
    if (error == NULL || error->message == NULL)
      abort ();
    g_clear_error (&error);
    return 0;
  }
  /* The API's promises: count > 0, labels non-empty and valid UTF-8, and
   * NULL past the end. */
  n = rn50_labels_get_count (labels);
  if (n == 0 || rn50_labels_get (labels, n) != NULL)
    abort ();
  for (i = 0; i < n; i++) {
    const char *s = rn50_labels_get (labels, i);
    if (s == NULL || s[0] == '\0' || !g_utf8_validate (s, -1, NULL))
      abort ();
  }
  rn50_labels_free (labels);
  return 0;
}
