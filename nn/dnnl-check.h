/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The single way nn/ calls oneDNN. RN50_DNNL_CHECK wraps every oneDNN call so
 * that a failing dnnl_status_t becomes a GError (RN50_ERROR_ENGINE) that
 * names the call as written, the file and line it was made from and oneDNN's
 * own status string, and control jumps to the calling function's cleanup
 * label. Only the engine (model.c) includes this header: nothing outside nn/
 * sees oneDNN types. */
#pragma once

#include <glib.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "rn50-error.h"

G_BEGIN_DECLS

/* Convention (kept by every caller): the enclosing function has a
 * `GError ** error` in scope and an `out:` label that releases whatever the
 * function acquired and returns. A macro rather than a function because it
 * must stringify the call and jump. */
#define RN50_DNNL_CHECK(call)                                              \
  G_STMT_START {                                                           \
    dnnl_status_t rn50_dnnl_status_ = (call);                              \
    if (G_UNLIKELY (rn50_dnnl_status_ != dnnl_success)) {                  \
      g_set_error (error, RN50_ERROR, RN50_ERROR_ENGINE,                   \
          "oneDNN call %s failed at %s:%d: %s", #call, __FILE__, __LINE__, \
          dnnl_status2str (rn50_dnnl_status_));                            \
      goto out;                                                            \
    }                                                                      \
  } G_STMT_END

G_END_DECLS
