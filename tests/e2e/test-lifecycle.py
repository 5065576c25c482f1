#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lifecycle (issue 5): 50 cycles NULL -> PLAYING -> NULL of one pipeline
object,

  filesrc ! rawvideoparse ! resnet50classify post-messages=true ! fakesink

on a few frames that videotestsrc wrote to a raw file. Every fifth cycle the
file location points at a file that does not exist: the pipeline must fail
to start with filesrc's RESOURCE error only (the classifier has already
loaded the model by then, since a bin starts its sink side first, so its
stop() runs on a half-started pipeline), and the next good cycle must start
with the same element and model. Checked:
- a failing cycle posts errors from filesrc only (one RESOURCE NOT_FOUND)
  and no result;
- every good cycle posts one message per frame, with results identical
  (class ids and scores, bit for bit) to the first good cycle's;
- no cycle crashes, and no error but filesrc's appears;
- RSS, open file descriptors and threads after cycle 10 and after cycle 50:
  descriptors and threads must not grow at all, RSS by at most RSS_BOUND_MB.
  The bound: the element frees its ~100 MB of weights on every stop(), so a
  leak of the model or of one set of primitives per cycle would add >= 100 MB
  over 40 cycles, a 224x224 float tensor per frame >= 38 MB, and anything
  of 100 KB per cycle 4 MB. RSS is read after malloc_trim(0) (see
  resources()); measured on this machine: +0.1 MB from cycle 10 to 50, flat
  at 65 MB (the script prints the curve).

Usage: test-lifecycle.py MODEL
"""
import ctypes
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'parity'))
import gstrun  # noqa: E402
from gstrun import Gst  # noqa: E402

N_CYCLES = 50
FAIL_EVERY = 5           # cycles 4, 9, 14, ... fail to start
N_FRAMES = 2
WIDTH, HEIGHT = 96, 72
RSS_BOUND_MB = 4
TIMEOUT_NS = 120 * Gst.SECOND


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def proc_status(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(field)


_libc = ctypes.CDLL(None)


def resources():
    # glibc keeps freed memory of its arenas (the 100 MB of weights freed by
    # every stop() move the dynamic mmap threshold up, so later frees stay
    # in the heap) and returns it at will: RSS then swings by ~100 MB from
    # one cycle to the next without any leak. malloc_trim() hands free
    # memory back first, so what remains is memory still allocated.
    _libc.malloc_trim(0)
    return {
        'rss_kb': proc_status('VmRSS'),
        'fds': len(os.listdir('/proc/self/fd')),
        'threads': proc_status('Threads'),
    }


def write_frames(path):
    """N_FRAMES RGB frames of a moving ball, written raw to path."""
    pipeline = Gst.parse_launch(
        'videotestsrc num-buffers=%d pattern=ball ! '
        'video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! '
        'filesink name=sink' % (N_FRAMES, WIDTH, HEIGHT))
    pipeline.get_by_name('sink').set_property('location', path)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        TIMEOUT_NS, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        fail('cannot write the test frames')
    if os.path.getsize(path) != N_FRAMES * WIDTH * HEIGHT * 3:
        fail('raw file has %d bytes' % os.path.getsize(path))


def results_key(s):
    r = gstrun.message_results(s)
    return (s.get_value('timestamp'), tuple(r['ids']),
            tuple(float(x) for x in r['scores']))


def good_cycle(pipeline, classifier, n):
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        fail('cycle %d: a good cycle did not start' % n)
    results = []
    while True:
        msg = bus.timed_pop_filtered(
            TIMEOUT_NS, Gst.MessageType.EOS | Gst.MessageType.ERROR |
            Gst.MessageType.WARNING | Gst.MessageType.ELEMENT)
        if msg is None:
            fail('cycle %d: no EOS' % n)
        if msg.type == Gst.MessageType.EOS:
            break
        if msg.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
            fail('cycle %d: %s from %s' % (n, msg.parse_error()[0].message
                                            if msg.type == Gst.MessageType.ERROR
                                            else msg.parse_warning()[0].message,
                                            msg.src.get_name()))
        s = msg.get_structure()
        if msg.src == classifier and s.get_name() == 'resnet50classify':
            results.append(results_key(s))
    if pipeline.set_state(Gst.State.NULL) != Gst.StateChangeReturn.SUCCESS:
        fail('cycle %d: NULL failed' % n)
    return results


def failing_cycle(pipeline, n):
    bus = pipeline.get_bus()
    ret = pipeline.set_state(Gst.State.PLAYING)
    if ret != Gst.StateChangeReturn.FAILURE:
        # Some sources only fail asynchronously: then an error must follow.
        pipeline.get_state(TIMEOUT_NS)
    errors = []
    while True:
        msg = bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
        if msg is None:
            break
        if msg.type == Gst.MessageType.ERROR:
            errors.append((msg.src.get_name(), msg.parse_error()[0]))
        elif msg.get_structure().get_name() == 'resnet50classify':
            fail('cycle %d: a result from a pipeline that did not start' % n)
    if pipeline.set_state(Gst.State.NULL) != Gst.StateChangeReturn.SUCCESS:
        fail('cycle %d: NULL failed after a failed start' % n)
    if not errors:
        fail('cycle %d: the missing file gave no error' % n)
    # filesrc's own error, and basesrc's generic "failed to start" after it.
    for src, err in errors:
        if src != 'src':
            fail('cycle %d: unexpected error from %s: %s' % (n, src, err.message))
    if not any(err.matches(Gst.ResourceError.quark(), Gst.ResourceError.NOT_FOUND)
               for _, err in errors):
        fail('cycle %d: no RESOURCE NOT_FOUND error for the missing file' % n)


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    model = sys.argv[1]
    if not gstrun.element_available():
        fail('resnet50classify not found')
    tmp = tempfile.mkdtemp(prefix='rn50-lifecycle-')
    frames = os.path.join(tmp, 'frames.rgb')
    missing = os.path.join(tmp, 'no-such-file.rgb')
    write_frames(frames)

    pipeline = Gst.parse_launch(
        'filesrc name=src ! rawvideoparse format=rgb width=%d height=%d '
        'framerate=30/1 ! resnet50classify name=c post-messages=true ! '
        'fakesink sync=false' % (WIDTH, HEIGHT))
    src = pipeline.get_by_name('src')
    classifier = pipeline.get_by_name('c')
    classifier.set_property('model-location', model)

    reference = None
    samples = {}
    n_failed = 0
    t0 = time.monotonic()
    for n in range(1, N_CYCLES + 1):
        if n % FAIL_EVERY == FAIL_EVERY - 1:
            src.set_property('location', missing)
            failing_cycle(pipeline, n)
            n_failed += 1
        else:
            src.set_property('location', frames)
            results = good_cycle(pipeline, classifier, n)
            if len(results) != N_FRAMES:
                fail('cycle %d: %d results for %d frames' % (n, len(results), N_FRAMES))
            if reference is None:
                reference = results
                if results[0][1:] == results[1][1:]:
                    fail('the two frames give the same results: the comparison '
                         'below could not see a stale or mixed-up result')
            elif results != reference:
                fail('cycle %d: results differ from cycle 1:\n%r\n%r' %
                     (n, results, reference))
        if n % 5 == 0 or n == 1:
            samples[n] = resources()
        if n % 10 == 0 or n == 1:
            print('cycle %2d: RSS %7.1f MB, %d fds, %d threads (%.0f s)' %
                  (n, samples[n]['rss_kb'] / 1024.0, samples[n]['fds'],
                   samples[n]['threads'], time.monotonic() - t0), flush=True)

    os.unlink(frames)
    os.rmdir(tmp)

    print('RSS per cycle (MB): ' + ' '.join(
        '%.0f' % (samples[n]['rss_kb'] / 1024.0) for n in sorted(samples)))
    growth_mb = (samples[50]['rss_kb'] - samples[10]['rss_kb']) / 1024.0
    print('%d cycles (%d failed to start as intended) in %.0f s; RSS growth '
          'cycle 10 -> 50: %+.1f MB (bound %d MB)' %
          (N_CYCLES, n_failed, time.monotonic() - t0, growth_mb, RSS_BOUND_MB))
    if growth_mb > RSS_BOUND_MB:
        fail('RSS grew by %.1f MB between cycles 10 and 50' % growth_mb)
    if samples[50]['fds'] > samples[10]['fds']:
        fail('open file descriptors grew from %d to %d' %
             (samples[10]['fds'], samples[50]['fds']))
    if samples[50]['threads'] > samples[10]['threads']:
        fail('threads grew from %d to %d' %
             (samples[10]['threads'], samples[50]['threads']))
    print('PASS')


if __name__ == '__main__':
    main()
