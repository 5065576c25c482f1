/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for ONNX model files: the input is decoded by
 * rn50_onnx_load() (protobuf-c, opset and tensor checks) and, when that
 * succeeds, turned into a layer graph by rn50_graph_new_from_onnx() with any
 * input shape allowed (so that tiny seed graphs get through) — everything a
 * hostile model file reaches before oneDNN is asked to build primitives.
 * Failing with a GError is the expected outcome for almost every input; a
 * crash, a sanitizer report, a leak or an allocation above libFuzzer's
 * -malloc_limit_mb (a size claim trusted before validation) is a finding. */
#include <stdint.h>

#include "graph.h"
#include "onnx-loader.h"

#define RN50_FUZZ_SUFFIX ".onnx"
#include "fuzz-file.h"

static int
fuzz_one (const char *path, const uint8_t * data, size_t size)
{
  Rn50GraphOptions options = { 1, 0, 0, 0 };
  GError *error = NULL;
  Rn50Onnx *onnx;
  Rn50Graph *graph;

  onnx = rn50_onnx_load (path, &error);
  if (onnx == NULL) {
    /* Every failure must say why. */
    if (error == NULL || error->message == NULL)
      abort ();
    g_clear_error (&error);
    return 0;
  }
  graph = rn50_graph_new_from_onnx (onnx, &options, &error);
  if (graph == NULL && (error == NULL || error->message == NULL))
    abort ();
  g_clear_error (&error);
  rn50_graph_free (graph);
  rn50_onnx_free (onnx);
  return 0;
}
