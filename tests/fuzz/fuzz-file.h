/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the fuzz targets: the loaders under test take a path (they map
 * or open the file themselves, and libhdf5 only reads files), so each input
 * is written to one scratch file on a tmpfs, rewritten in place for every
 * input and removed after it (a crashing input's file stays, as the process
 * dies first). The directory is $RN50_FUZZ_TMPDIR, else /dev/shm, else
 * $TMPDIR. Each target defines fuzz_one() and RN50_FUZZ_SUFFIX; this file
 * defines libFuzzer's entry point around it, so include it last. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *rn50_fuzz_path;

static void
rn50_fuzz_remove_file (void)
{
  if (rn50_fuzz_path != NULL)
    g_unlink (rn50_fuzz_path);
}

/* Writes @data to the scratch file and returns its path (owned here). An
 * I/O failure of the harness itself aborts: it is not a finding. */
static const char *
rn50_fuzz_write_input (const char *suffix, const uint8_t * data, size_t size)
{
  FILE *f;

  if (rn50_fuzz_path == NULL) {
    const char *dir = g_getenv ("RN50_FUZZ_TMPDIR");
    if (dir == NULL)
      dir = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" :
          g_get_tmp_dir ();
    rn50_fuzz_path = g_strdup_printf ("%s/rn50-fuzz-%d%s", dir,
        (int) getpid (), suffix);
    atexit (rn50_fuzz_remove_file);
  }
  f = fopen (rn50_fuzz_path, "wb");
  if (f == NULL || (size > 0 && fwrite (data, 1, size, f) != size)
      || fclose (f) != 0) {
    fprintf (stderr, "fuzz harness: cannot write %s\n", rn50_fuzz_path);
    abort ();
  }
  return rn50_fuzz_path;
}

/* Runs one input through the code under test; the target's part. */
static int fuzz_one (const char *path, const uint8_t * data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  int ret = fuzz_one (rn50_fuzz_write_input (RN50_FUZZ_SUFFIX, data, size),
      data, size);

  rn50_fuzz_remove_file ();
  return ret;
}
