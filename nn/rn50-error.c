/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error quark of nn/. */
#include "rn50-error.h"

G_DEFINE_QUARK (rn50 - error - quark, rn50_error);
