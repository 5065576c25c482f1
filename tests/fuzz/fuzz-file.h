/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the fuzz targets: the loaders under test take a path (they map
 * or open the file themselves, and libhdf5 only reads files), so each input
 * is written to one scratch file on a tmpfs, rewritten in place for every
 * input and removed after it (a crashing input's file stays, as the process
 * dies first). The file lives in a private directory (mkdtemp under
 * $RN50_FUZZ_TMPDIR, else /dev/shm, else $TMPDIR) next to
 * RN50_FUZZ_EXTERNAL_DATA, 4 KiB of float 1.0 that ONNX inputs may name as
 * external data (the seeds do), so the fuzzer reaches the external-data
 * resolver and whatever it resolves stays inside that directory. Each target
 * defines fuzz_one() and RN50_FUZZ_SUFFIX; this file defines libFuzzer's
 * entry point around it, so include it last. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RN50_FUZZ_EXTERNAL_DATA "fuzz-weights.bin"
#define RN50_FUZZ_EXTERNAL_BYTES 4096

static char *rn50_fuzz_dir;
static char *rn50_fuzz_path;
static char *rn50_fuzz_external_path;

static void
rn50_fuzz_remove_file (void)
{
  if (rn50_fuzz_path != NULL)
    g_unlink (rn50_fuzz_path);
}

static void
rn50_fuzz_remove_dir (void)
{
  rn50_fuzz_remove_file ();
  if (rn50_fuzz_external_path != NULL)
    g_unlink (rn50_fuzz_external_path);
  if (rn50_fuzz_dir != NULL)
    g_rmdir (rn50_fuzz_dir);
}

/* An I/O failure of the harness itself aborts: it is not a finding. */
static void
rn50_fuzz_write (const char *path, const void *data, size_t size)
{
  FILE *f = fopen (path, "wb");

  if (f == NULL || (size > 0 && fwrite (data, 1, size, f) != size)
      || fclose (f) != 0) {
    fprintf (stderr, "fuzz harness: cannot write %s\n", path);
    abort ();
  }
}

/* Writes @data to the scratch file and returns its path (owned here). */
static const char *
rn50_fuzz_write_input (const char *suffix, const uint8_t * data, size_t size)
{
  if (rn50_fuzz_path == NULL) {
    const char *dir = g_getenv ("RN50_FUZZ_TMPDIR");
    char *tmpl;
    float ones[RN50_FUZZ_EXTERNAL_BYTES / sizeof (float)];
    size_t i;

    if (dir == NULL)
      dir = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" :
          g_get_tmp_dir ();
    tmpl = g_strdup_printf ("%s/rn50-fuzz-XXXXXX", dir);
    rn50_fuzz_dir = g_mkdtemp (tmpl);
    if (rn50_fuzz_dir == NULL) {
      fprintf (stderr, "fuzz harness: cannot create a directory in %s\n",
          dir);
      abort ();
    }
    rn50_fuzz_path = g_strdup_printf ("%s/input%s", rn50_fuzz_dir, suffix);
    rn50_fuzz_external_path = g_build_filename (rn50_fuzz_dir,
        RN50_FUZZ_EXTERNAL_DATA, NULL);
    for (i = 0; i < G_N_ELEMENTS (ones); i++)
      ones[i] = 1.0f;
    rn50_fuzz_write (rn50_fuzz_external_path, ones, sizeof (ones));
    atexit (rn50_fuzz_remove_dir);
  }
  rn50_fuzz_write (rn50_fuzz_path, data, size);
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
