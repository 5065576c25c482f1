/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Makes GLib's GMutex and GCond visible to ThreadSanitizer. On Linux GLib
 * implements them with raw futexes and atomics inside the uninstrumented
 * libglib, so TSan sees no happens-before edge for any g_mutex_lock() —
 * including GST_OBJECT_LOCK and nn/'s network cache lock — and reports
 * every access they protect as a race. Linked (with -rdynamic) into the
 * TSan build of test-concurrent-pipelines only: these definitions
 * interpose on libglib's for every caller in the process that goes
 * through the PLT (the plugin, GStreamer's libraries), call the real
 * function and tell TSan about the acquire/release. GRecMutex, GRWLock
 * and GThread already use pthreads, which TSan intercepts. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

static void *
real (const char *name)
{
  void *fn = dlsym (RTLD_NEXT, name);

  if (fn == NULL) {
    fprintf (stderr, "tsan-glib-locks: no %s in the libraries\n", name);
    abort ();
  }
  return fn;
}

void
g_mutex_lock (GMutex * mutex)
{
  static void (*fn) (GMutex *);

  if (fn == NULL)
    fn = real ("g_mutex_lock");
  fn (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex * mutex)
{
  static gboolean (*fn) (GMutex *);
  gboolean locked;

  if (fn == NULL)
    fn = real ("g_mutex_trylock");
  locked = fn (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

void
g_mutex_unlock (GMutex * mutex)
{
  static void (*fn) (GMutex *);

  if (fn == NULL)
    fn = real ("g_mutex_unlock");
  __tsan_release (mutex);
  fn (mutex);
}

void
g_cond_wait (GCond * cond, GMutex * mutex)
{
  static void (*fn) (GCond *, GMutex *);

  if (fn == NULL)
    fn = real ("g_cond_wait");
  __tsan_release (mutex);
  fn (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond * cond, GMutex * mutex, gint64 end_time)
{
  static gboolean (*fn) (GCond *, GMutex *, gint64);
  gboolean signalled;

  if (fn == NULL)
    fn = real ("g_cond_wait_until");
  __tsan_release (mutex);
  signalled = fn (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}
