/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error quark of nn/ and the file-type check every loader shares. */
#include "rn50-error.h"

#include <sys/stat.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK (rn50 - error - quark, rn50_error);

gboolean
rn50_check_not_special_file (const char *path, const char *what,
    GError ** error)
{
  GStatBuf st;

  /* g_stat() follows links: a link to a regular file is one. */
  if (g_stat (path, &st) != 0 || S_ISREG (st.st_mode))
    return TRUE;
  g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
      "cannot read %s '%s': it is %s, not a regular file", what, path,
      S_ISDIR (st.st_mode) ? "a directory" : "a pipe, device or socket");
  return FALSE;
}
