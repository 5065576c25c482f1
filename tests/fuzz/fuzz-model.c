/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the whole model load the element performs at start:
 * rn50_model_new_full() with the element's settings (one image, the
 * required 1×3×224×224 input), i.e. ONNX decoding, graph building and the
 * lowering to oneDNN primitives with its arena planning. Slower than
 * fuzz-onnx (oneDNN creates and JIT-compiles primitives for every accepted
 * input, and is not instrumented), so it mostly checks that what graph.c
 * accepts, model.c can lower without crashing or allocating more than the
 * graph needs. */
#include <stdint.h>

#include "model.h"

#define RN50_FUZZ_SUFFIX ".onnx"
#include "fuzz-file.h"

static int
fuzz_one (const char *path, const uint8_t * data, size_t size)
{
  GError *error = NULL;
  Rn50Model *model;

  /* HDF5 files go to keras-h5.c, which fuzz-keras-h5 covers. */
  if (size >= 4 && data[0] == 0x89 && data[1] == 'H' && data[2] == 'D'
      && data[3] == 'F')
    return 0;
  model = rn50_model_new_full (path, 1, RN50_MODEL_FLAGS_NONE, &error);
  if (model == NULL && (error == NULL || error->message == NULL))
    abort ();
  g_clear_error (&error);
  rn50_model_free (model);
  return 0;
}
