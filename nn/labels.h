/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Class names: the 1000 ImageNet-1k names built in (torchvision's order), or
 * a user's text file with one label per line. */
#pragma once

#include <glib.h>
#include "rn50-error.h"

G_BEGIN_DECLS

typedef struct _Rn50Labels Rn50Labels;

/* The built-in ImageNet-1k class names, index 0 = "tench". */
Rn50Labels *rn50_labels_new_imagenet (void);

/* One label per line (UTF-8; "\n" or "\r\n"; surrounding whitespace trimmed;
 * a final empty line ignored). Fails with RN50_ERROR_NOT_FOUND or
 * RN50_ERROR_PARSE (empty file, invalid UTF-8, empty label in the middle). */
Rn50Labels *rn50_labels_new_from_file (const char *path, GError ** error);
void rn50_labels_free (Rn50Labels * labels);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Labels, rn50_labels_free);

guint rn50_labels_get_count (const Rn50Labels * labels);
/* NULL when @index is out of range. */
const char *rn50_labels_get (const Rn50Labels * labels, guint index);

G_END_DECLS
