#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Flushing seek mid-stream (issue 5): no result computed on a frame from
before the seek may appear after it.

A 40-frame MJPEG/AVI clip of a moving ball (written by videotestsrc +
jpegenc + avimux; every frame differs, every frame is a keyframe) is played
through

  filesrc ! avidemux ! jpegdec ! videoconvert ! RGB !
  resnet50classify post-messages=true ! fakesink

once without interruption (the reference: results keyed by PTS), then with a
flushing, accurate seek to SEEK_TO issued once SEEK_AFTER results have
arrived, with batch-size 1 and, given DYNAMIC_MODEL (the same weights with
a dynamic batch dimension), with batch-size 4: frames then wait inside the
element when the flush arrives. A pad
probe marks the moment the classifier receives FLUSH_STOP; a bus sync
handler (which runs in the posting thread) records each result message in
the same ordered log. After the mark:
- every result message has a PTS >= SEEK_TO (a pre-seek frame's result
  coming out late would have a smaller PTS) and the reference's results for
  its PTS (a pre-seek result attached to a post-seek frame would not);
- the results and the buffers reaching the sink are exactly the reference
  frames from SEEK_TO on, once each, in order.
The reference must give different results for neighbouring frames, or the
test could not tell them apart; that is checked too.

Usage: test-flushing-seek.py MODEL [DYNAMIC_MODEL]
"""
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'parity'))
import gstrun  # noqa: E402
from gstrun import Gst  # noqa: E402

N_FRAMES = 40
FPS = 30
SEEK_AFTER = 4                       # results seen before seeking
SEEK_TO = 24 * Gst.SECOND // FPS     # frame 24
TIMEOUT_NS = 300 * Gst.SECOND
# Batch 4 and batch 1 may run different convolution algorithms (oneDNN picks
# kernels per batch size; Winograd variants are chosen per layer and batch),
# so their probabilities differ by up to ~3e-5 here (measured on AVX2 and
# AVX-512 machines). Neighbouring frames must differ by DISTINCT_FACTOR times
# more than that, so a stale result can never pass as the right one.
SCORE_TOLERANCE = 2e-4
DISTINCT_FACTOR = 10


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def make_clip(path):
    pipeline = Gst.parse_launch(
        'videotestsrc num-buffers=%d pattern=ball ! '
        'video/x-raw,format=I420,width=160,height=120,framerate=%d/1 ! '
        'jpegenc quality=95 ! avimux ! filesink name=sink' % (N_FRAMES, FPS))
    pipeline.get_by_name('sink').set_property('location', path)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        TIMEOUT_NS, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        fail('cannot write the test clip')


def build(clip, model, batch_size):
    pipeline = Gst.parse_launch(
        'filesrc name=src ! avidemux ! jpegdec ! videoconvert ! '
        'video/x-raw,format=RGB ! resnet50classify name=c post-messages=true ! '
        'fakesink name=sink sync=false')
    pipeline.get_by_name('src').set_property('location', clip)
    c = pipeline.get_by_name('c')
    c.set_property('model-location', model)
    if batch_size > 1:
        c.set_property('batch-size', batch_size)
    return pipeline, c


def result(s):
    r = gstrun.message_results(s)
    return s.get_value('timestamp'), r['ids'], r['scores']


def same(a, b, tolerance=SCORE_TOLERANCE):
    return a[1] == b[1] and len(a[2]) == len(b[2]) and \
        all(abs(x - y) <= tolerance for x, y in zip(a[2], b[2]))


def reference_run(clip, model):
    pipeline, c = build(clip, model, 1)
    bus = pipeline.get_bus()
    ref = {}
    try:
        pipeline.set_state(Gst.State.PLAYING)
        while True:
            msg = bus.timed_pop_filtered(TIMEOUT_NS, Gst.MessageType.EOS |
                                         Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if msg is None or msg.type == Gst.MessageType.ERROR:
                fail('reference run: %s' % (msg.parse_error()[0].message
                                            if msg else 'timeout'))
            if msg.type == Gst.MessageType.EOS:
                break
            if msg.src == c and msg.get_structure().get_name() == 'resnet50classify':
                r = result(msg.get_structure())
                if r[0] in ref:
                    fail('reference run: two results for PTS %d' % r[0])
                ref[r[0]] = r
    finally:
        pipeline.set_state(Gst.State.NULL)
    if len(ref) != N_FRAMES:
        fail('reference run: %d results for %d frames' % (len(ref), N_FRAMES))
    pts = sorted(ref)
    for a, b in zip(pts, pts[1:]):
        if same(ref[a], ref[b], DISTINCT_FACTOR * SCORE_TOLERANCE):
            fail('frames at %d and %d give results closer than %g: a stale '
                 'result could not be told apart' %
                 (a, b, DISTINCT_FACTOR * SCORE_TOLERANCE))
    return ref


def seek_run(clip, model, batch_size, ref):
    pipeline, c = build(clip, model, batch_size)
    bus = pipeline.get_bus()
    lock = threading.Lock()
    log = []              # ('flush',) | ('result', r) | ('buffer', pts), in order

    def on_sync(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.src == c and \
                msg.get_structure().get_name() == 'resnet50classify':
            with lock:
                log.append(('result', result(msg.get_structure())))
        return Gst.BusSyncReply.PASS

    def on_flush(pad, info):
        if info.get_event().type == Gst.EventType.FLUSH_STOP:
            with lock:
                log.append(('flush',))
        return Gst.PadProbeReturn.OK

    def on_buffer(pad, info):
        with lock:
            log.append(('buffer', info.get_buffer().pts))
        return Gst.PadProbeReturn.OK

    bus.set_sync_handler(on_sync)
    c.get_static_pad('sink').add_probe(Gst.PadProbeType.EVENT_FLUSH, on_flush)
    pipeline.get_by_name('sink').get_static_pad('sink').add_probe(
        Gst.PadProbeType.BUFFER, on_buffer)

    seeked = False
    try:
        pipeline.set_state(Gst.State.PLAYING)
        while True:
            msg = bus.timed_pop_filtered(TIMEOUT_NS, Gst.MessageType.EOS |
                                         Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if msg is None or msg.type == Gst.MessageType.ERROR:
                fail('batch %d: %s' % (batch_size, msg.parse_error()[0].message
                                       if msg else 'timeout'))
            if msg.type == Gst.MessageType.EOS:
                break
            with lock:
                n_results = sum(1 for e in log if e[0] == 'result')
            if not seeked and n_results >= SEEK_AFTER:
                if not pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH |
                                            Gst.SeekFlags.ACCURATE, SEEK_TO):
                    fail('batch %d: seek refused' % batch_size)
                seeked = True
    finally:
        pipeline.set_state(Gst.State.NULL)
        bus.set_sync_handler(None)

    if not seeked:
        fail('batch %d: the stream ended before the seek' % batch_size)
    flushes = [i for i, e in enumerate(log) if e[0] == 'flush']
    if len(flushes) != 1:
        fail('batch %d: %d FLUSH_STOP events' % (batch_size, len(flushes)))
    before = [e[1] for e in log[:flushes[0]] if e[0] == 'result']
    after = [e[1] for e in log[flushes[0]:] if e[0] == 'result']
    buffers_after = [e[1] for e in log[flushes[0]:] if e[0] == 'buffer']
    expected_pts = [p for p in sorted(ref) if p >= SEEK_TO]

    for r in before:
        if not same(r, ref[r[0]]):
            fail('batch %d: pre-seek result at PTS %d differs from the reference'
                 % (batch_size, r[0]))
    if before and max(r[0] for r in before) >= SEEK_TO:
        fail('batch %d: the stream reached the seek target before the seek; '
             'nothing was tested' % batch_size)
    for r in after:
        if r[0] < SEEK_TO:
            fail('batch %d: a result of the pre-seek frame at PTS %d came out '
                 'after the flush' % (batch_size, r[0]))
        if r[0] not in ref or not same(r, ref[r[0]]):
            fail('batch %d: result at PTS %d after the seek is not that '
                 'frame\'s: %r, expected %r' % (batch_size, r[0], r[1:],
                                                ref.get(r[0], (None,))[1:]))
    if [r[0] for r in after] != expected_pts:
        fail('batch %d: results after the seek for PTS %r, expected %r' %
             (batch_size, [r[0] for r in after], expected_pts))
    if buffers_after != expected_pts:
        fail('batch %d: buffers after the seek %r, expected %r' %
             (batch_size, buffers_after, expected_pts))
    print('batch %d: %d results before the flush, %d after, all matching the '
          'reference' % (batch_size, len(before), len(after)), flush=True)


def main():
    if len(sys.argv) not in (2, 3):
        fail(__doc__)
    model = sys.argv[1]
    dynamic_model = sys.argv[2] if len(sys.argv) == 3 else None
    if not gstrun.element_available():
        fail('resnet50classify not found')
    tmp = tempfile.mkdtemp(prefix='rn50-seek-')
    clip = os.path.join(tmp, 'ball.avi')
    make_clip(clip)
    try:
        ref = reference_run(clip, model)
        seek_run(clip, model, 1, ref)
        if dynamic_model is not None:
            seek_run(clip, dynamic_model, 4, ref)
    finally:
        os.unlink(clip)
        os.rmdir(tmp)
    print('PASS')


if __name__ == '__main__':
    main()
