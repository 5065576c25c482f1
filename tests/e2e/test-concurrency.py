#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Many instances at once (issue 5): four pipelines in four application
threads, and two classifiers behind a tee in one pipeline, all with the same
model file, give per-frame results identical to a single instance's.

Each of the four streams is a different picture sequence (a ball of its own
colour on its own background, moving), so that an instance that read
another instance's frame, tensor or scores would report that stream's
results. References: each stream classified alone, one pipeline at a time.
Then:
- four threads, each playing its own stream through its own pipeline at the
  same time: every frame's class ids and scores equal the reference of that
  stream and PTS, bit for bit, with one result per frame;
- one pipeline, videotestsrc ! tee, two branches (queue ! resnet50classify !
  fakesink): both classifiers report every frame with the reference's
  results.
The references must differ from stream to stream, or the check could not
see a mix-up; that is checked too.

Usage: test-concurrency.py MODEL
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'parity'))
import gstrun  # noqa: E402
from gstrun import Gst  # noqa: E402

N_FRAMES = 6
TIMEOUT_NS = 300 * Gst.SECOND
# (foreground, background) ARGB colours of the four streams.
STREAMS = [
    (0xffff2020, 0xff203040),
    (0xff20ff20, 0xff402010),
    (0xff2020ff, 0xffe0e0a0),
    (0xffffff20, 0xff104010),
]


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def source(stream):
    fg, bg = STREAMS[stream]
    return ('videotestsrc num-buffers=%d pattern=ball foreground-color=%d '
            'background-color=%d ! video/x-raw,format=RGB,width=160,height=120,'
            'framerate=30/1' % (N_FRAMES, fg, bg))


def key(s):
    r = gstrun.message_results(s)
    return tuple(r['ids']), tuple(float(x) for x in r['scores'])


def play(description, model, names):
    """Plays to EOS; returns {element name: {pts: results}}. Raises
    PipelineError on an error, a timeout or a duplicate PTS."""
    pipeline = Gst.parse_launch(description)
    for n in names:
        pipeline.get_by_name(n).set_property('model-location', model)
    bus = pipeline.get_bus()
    results = {n: {} for n in names}
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise gstrun.PipelineError('cannot start')
        while True:
            msg = bus.timed_pop_filtered(TIMEOUT_NS, Gst.MessageType.EOS |
                                         Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if msg is None:
                raise gstrun.PipelineError('timeout')
            if msg.type == Gst.MessageType.ERROR:
                raise gstrun.PipelineError(msg.parse_error()[0].message)
            if msg.type == Gst.MessageType.EOS:
                break
            s = msg.get_structure()
            if s.get_name() != 'resnet50classify':
                continue
            name = msg.src.get_name()
            pts = s.get_value('timestamp')
            if pts in results[name]:
                raise gstrun.PipelineError('%s: two results for PTS %d' % (name, pts))
            results[name][pts] = key(s)
    finally:
        pipeline.set_state(Gst.State.NULL)
    return results


def single(stream, model):
    return play('%s ! resnet50classify name=c post-messages=true ! fakesink sync=false'
                % source(stream), model, ['c'])['c']


def check(got, expected, what):
    if sorted(got) != sorted(expected):
        fail('%s: results for PTS %r, expected %r' % (what, sorted(got), sorted(expected)))
    for pts in sorted(expected):
        if got[pts] != expected[pts]:
            fail('%s: frame at PTS %d: %r, expected %r' % (what, pts, got[pts], expected[pts]))


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    model = sys.argv[1]
    if not gstrun.element_available():
        fail('resnet50classify not found')

    t0 = time.monotonic()
    refs = [single(i, model) for i in range(len(STREAMS))]
    for i, ref in enumerate(refs):
        if len(ref) != N_FRAMES:
            fail('stream %d alone: %d results for %d frames' % (i, len(ref), N_FRAMES))
    for i in range(len(STREAMS)):
        for j in range(i):
            if any(refs[i][p] == refs[j][p] for p in refs[i]):
                fail('streams %d and %d give the same results for a frame: a '
                     'mix-up could not be seen' % (j, i))
    t_ref = time.monotonic() - t0

    # Four pipelines, four application threads, started together.
    outcome = [None] * len(STREAMS)
    barrier = threading.Barrier(len(STREAMS))

    def worker(i):
        try:
            barrier.wait()
            outcome[i] = single(i, model)
        except Exception as e:  # reported by the main thread
            outcome[i] = e

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(STREAMS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_threads = time.monotonic() - t0
    for i, got in enumerate(outcome):
        if isinstance(got, Exception) or got is None:
            fail('thread %d: %r' % (i, got))
        check(got, refs[i], 'thread %d' % i)

    # Two classifiers behind a tee.
    t0 = time.monotonic()
    got = play('%s ! tee name=t '
               't. ! queue ! resnet50classify name=a post-messages=true ! fakesink sync=false '
               't. ! queue ! resnet50classify name=b post-messages=true ! fakesink sync=false'
               % source(1), model, ['a', 'b'])
    t_tee = time.monotonic() - t0
    check(got['a'], refs[1], 'tee branch a')
    check(got['b'], refs[1], 'tee branch b')

    print('references %.0f s, four threads %.0f s, tee %.0f s' % (t_ref, t_threads, t_tee))
    print('PASS')


if __name__ == '__main__':
    main()
