/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for Keras HDF5 weight files: the input is opened by
 * rn50_keras_graph_new_from_h5() through libhdf5 and its layers are looked
 * up and shape-checked against the Keras ResNet50 topology. libhdf5 itself
 * is Debian's uninstrumented build, so only its crashes (not its silent
 * out-of-bounds reads) are seen; keras-h5.c is instrumented. Leaks inside
 * libhdf5 on corrupt files are suppressed by lsan-libhdf5.supp. */
#include <stdint.h>

#include <hdf5.h>

#include "graph.h"
#include "keras-h5.h"

#define RN50_FUZZ_SUFFIX ".h5"
#include "fuzz-file.h"

static int
fuzz_one (const char *path, const uint8_t * data, size_t size)
{
  GError *error = NULL;
  Rn50Graph *graph;

  graph = rn50_keras_graph_new_from_h5 (path, 1, &error);
  if (graph == NULL && (error == NULL || error->message == NULL))
    abort ();
  g_clear_error (&error);
  rn50_graph_free (graph);
  /* Hand libhdf5's free lists back to malloc: otherwise every input ends
   * with fewer frees than mallocs and libFuzzer runs a full LeakSanitizer
   * scan after each one (~80 instead of thousands of inputs per second). */
  H5garbage_collect ();
  return 0;
}
