/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error domain shared by everything in nn/: model loading, engine setup,
 * preprocessing configuration and label parsing. The plugin maps these codes
 * onto GStreamer error domains (RESOURCE for files, LIBRARY for the rest). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RN50_ERROR (rn50_error_quark ())
GQuark rn50_error_quark (void);

typedef enum
{
  RN50_ERROR_NOT_FOUND,         /* file missing or unreadable */
  RN50_ERROR_PARSE,             /* not a valid ONNX / labels file, truncated */
  RN50_ERROR_UNSUPPORTED,       /* op, attribute or data type we cannot run */
  RN50_ERROR_SHAPE,             /* tensor shapes disagree with the graph or with 3x224x224 */
  RN50_ERROR_ENGINE,            /* oneDNN refused a primitive or an execution */
  RN50_ERROR_SETTINGS,          /* invalid user settings (mean/std, label count) */
} Rn50Error;

/* TRUE when @path is a regular file (or a link to one) or does not exist
 * (the loader then reports it missing); otherwise FALSE with
 * RN50_ERROR_NOT_FOUND saying what it is. Every loader asks before opening a
 * path it was given: reading a FIFO blocks until a writer comes and a device
 * like /dev/zero never ends. @what names the file in the message ("model",
 * "labels file"). */
gboolean rn50_check_not_special_file (const char *path, const char *what,
    GError ** error);

G_END_DECLS
