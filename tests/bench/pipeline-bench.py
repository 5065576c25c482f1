#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One timed GStreamer run of the benchmark (started by run-bench.py, one
# process per run so that OMP_NUM_THREADS and the model load are fresh):
#
#   pipeline  filesrc ! decodebin ! videoconvert ! video/x-raw,format=F !
#             identity eos-after=N ! resnet50classify ! fakesink sync=false
#             (the whole pipeline, decoding included, on the real clip)
#   decode    the same without resnet50classify (what decoding alone costs)
#   memory    N frames decoded and converted beforehand, held in memory and
#             pushed by appsrc ! resnet50classify ! fakesink sync=false: the
#             element alone, to compare with the engine's own images/s
#
# The time of each buffer's arrival at fakesink is taken by a pad probe; the
# first BATCH frames (model warm-up, first primitive run) are not counted:
# fps = (N - BATCH) / (t[N-1] - t[BATCH-1]). Prints one line:
#   frames K seconds S fps F vmhwm_kb R
# Exit status 1 with a message if the pipeline fails or delivers fewer than N
# frames.

import argparse
import sys
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402


def element_desc(args):
    props = ['model-location="%s"' % args.model]
    if args.threads_prop:
        props.append('threads=%d' % args.threads)
    if args.batch_prop:
        props.append('batch-size=%d' % args.batch)
    if args.spin_wait:
        props.append('spin-wait=true')
    return 'resnet50classify name=classify ' + ' '.join(props)


def run_pipeline(pipeline, frames, timeout_s, feed=None):
    """Plays pipeline (calling feed() once it plays) until EOS; returns the
    arrival times (s) of the buffers at the element named "sink"."""
    arrivals = []

    def on_buffer(pad, info):
        arrivals.append(time.monotonic())
        return Gst.PadProbeReturn.OK

    sink = pipeline.get_by_name('sink')
    sink.get_static_pad('sink').add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        pipeline.set_state(Gst.State.NULL)
        raise RuntimeError('pipeline refused to play')
    if feed is not None:
        feed()
    msg = bus.timed_pop_filtered(int(timeout_s * Gst.SECOND),
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise RuntimeError('no EOS within %d s (%d frames arrived)' % (timeout_s, len(arrivals)))
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise RuntimeError('%s (%s)' % (err.message, dbg))
    if len(arrivals) < frames:
        raise RuntimeError('only %d of %d frames reached the sink' % (len(arrivals), frames))
    return arrivals


def decode_frames(args):
    """The first N frames of the clip in the wanted format, deep copies held
    in memory (so no decoder pool runs dry), with their caps."""
    pipeline = Gst.parse_launch(
        'filesrc location="%s" ! decodebin ! videoconvert ! video/x-raw,format=%s ! '
        'identity eos-after=%d ! appsink name=sink sync=false emit-signals=false'
        % (args.clip, args.format, args.frames))
    appsink = pipeline.get_by_name('sink')
    pipeline.set_state(Gst.State.PLAYING)
    buffers, caps = [], None
    while len(buffers) < args.frames:
        sample = appsink.emit('try-pull-sample', 60 * Gst.SECOND)
        if sample is None:
            break
        caps = sample.get_caps()
        buffers.append(sample.get_buffer().copy_deep())
    pipeline.set_state(Gst.State.NULL)
    if len(buffers) < args.frames:
        raise RuntimeError('the clip gave only %d of %d frames' % (len(buffers), args.frames))
    return buffers, caps


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--mode', choices=('pipeline', 'decode', 'memory'), required=True)
    ap.add_argument('--clip', required=True)
    ap.add_argument('--model')
    ap.add_argument('--format', default='NV12')
    ap.add_argument('--frames', type=int, default=40)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--threads-prop', action='store_true',
                    help='set the element\'s threads property (else OMP_NUM_THREADS rules)')
    ap.add_argument('--batch-prop', action='store_true',
                    help='set the element\'s batch-size property')
    ap.add_argument('--spin-wait', action='store_true',
                    help='set the element\'s spin-wait property (as rn50-infer\'s '
                    'OpenMP workers do)')
    ap.add_argument('--timeout', type=float, default=300)
    args = ap.parse_args()
    Gst.init(None)
    skip = max(args.batch, 1)
    if args.frames <= skip:
        print('pipeline-bench: --frames must exceed the batch size', file=sys.stderr)
        return 1

    try:
        if args.mode == 'memory':
            buffers, caps = decode_frames(args)
            pipeline = Gst.parse_launch(
                'appsrc name=src format=time max-bytes=0 ! %s ! fakesink name=sink sync=false'
                % element_desc(args))
            src = pipeline.get_by_name('src')
            src.set_property('caps', caps)

            def feed():
                # All frames are queued at once (max-bytes=0: no limit);
                # appsrc's own thread then feeds them as fast as the element
                # takes them.
                duration = Gst.SECOND // 20
                for i, buf in enumerate(buffers):
                    b = buf.copy()  # shallow: shares the frame's memory
                    b.pts = i * duration
                    b.duration = duration
                    if src.emit('push-buffer', b) != Gst.FlowReturn.OK:
                        raise RuntimeError('appsrc refused frame %d' % i)
                src.emit('end-of-stream')

            arrivals = run_pipeline(pipeline, args.frames, args.timeout, feed)
        else:
            middle = '' if args.mode == 'decode' else ' ! ' + element_desc(args)
            pipeline = Gst.parse_launch(
                'filesrc location="%s" ! decodebin ! videoconvert ! video/x-raw,format=%s ! '
                'identity eos-after=%d%s ! fakesink name=sink sync=false'
                % (args.clip, args.format, args.frames, middle))
            arrivals = run_pipeline(pipeline, args.frames, args.timeout)
    except (RuntimeError, gi.repository.GLib.Error) as e:
        print('pipeline-bench: %s: %s' % (args.mode, e), file=sys.stderr)
        return 1

    counted = args.frames - skip
    seconds = arrivals[args.frames - 1] - arrivals[skip - 1]
    with open('/proc/self/status') as f:
        hwm = next((int(line.split()[1]) for line in f if line.startswith('VmHWM:')), -1)
    print('frames %d seconds %.4f fps %.3f vmhwm_kb %d'
          % (counted, seconds, counted / seconds if seconds > 0 else 0.0, hwm))
    return 0


if __name__ == '__main__':
    sys.exit(main())
