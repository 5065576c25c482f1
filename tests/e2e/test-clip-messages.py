#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end test on a real clip: decodes it through
filesrc ! decodebin ! videoconvert ! resnet50classify post-messages=true ! fakesink
and checks that exactly one resnet50classify message arrives per decoded
frame, in increasing timestamp order, with well-formed results. The expected
frame count and timestamps come from decoding the same clip WITHOUT the
element, in the same run.

Usage: test-clip-messages.py CLIP MODEL
"""
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

TIMEOUT_NS = 900 * Gst.SECOND


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def build(description, clip):
    pipeline = Gst.parse_launch(description)
    pipeline.get_by_name("src").set_property("location", clip)
    return pipeline


def sink_timestamps(pipeline):
    """Records the PTS of every buffer reaching the sink named "sink"."""
    timestamps = []

    def probe(pad, info):
        timestamps.append(info.get_buffer().pts)
        return Gst.PadProbeReturn.OK

    pad = pipeline.get_by_name("sink").get_static_pad("sink")
    pad.add_probe(Gst.PadProbeType.BUFFER, probe)
    return timestamps


def run(pipeline, on_element_message=None):
    """Runs to EOS; fails on an error or a timeout."""
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        fail("pipeline refused to start")
    deadline = time.monotonic() + TIMEOUT_NS / Gst.SECOND
    try:
        while True:
            remaining = int((deadline - time.monotonic()) * Gst.SECOND)
            if remaining <= 0:
                fail("timeout before EOS")
            msg = bus.timed_pop_filtered(
                remaining,
                Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if msg is None:
                fail("timeout before EOS")
            if msg.type == Gst.MessageType.ERROR:
                err, debug = msg.parse_error()
                fail("pipeline error: %s (%s)" % (err.message, debug))
            if msg.type == Gst.MessageType.EOS:
                return
            if on_element_message is not None:
                on_element_message(msg)
    finally:
        pipeline.set_state(Gst.State.NULL)


def check_result(s, index):
    """Checks one message's fields and types."""
    ids = s.get_value("class-ids")
    labels = s.get_value("labels")
    scores = s.get_value("scores")
    n = len(ids)
    if n != 5 or len(labels) != 5 or len(scores) != 5:
        fail("message %d: %d ids, %d labels, %d scores (top-k 5)"
             % (index, n, len(labels), len(scores)))
    for i in range(n):
        if not (0 <= ids[i] < 1000):
            fail("message %d: class id %r out of range" % (index, ids[i]))
        if not isinstance(labels[i], str) or not labels[i]:
            fail("message %d: bad label %r" % (index, labels[i]))
        if not (0.0 <= scores[i] <= 1.0):
            fail("message %d: score %r is not a probability" % (index, scores[i]))
        if i > 0 and scores[i] > scores[i - 1]:
            fail("message %d: scores not sorted best first" % index)
    if not s.get_value("model"):
        fail("message %d: no model name" % index)
    if s.get_value("inference-time") <= 0:
        fail("message %d: no inference time" % index)


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    clip, model = sys.argv[1:]
    Gst.init(None)

    # Reference: what the decoder alone delivers.
    reference = build("filesrc name=src ! decodebin ! videoconvert ! "
                      "fakesink name=sink sync=false", clip)
    expected = sink_timestamps(reference)
    run(reference)
    if not expected:
        fail("no frame decoded from %s" % clip)

    pipeline = build("filesrc name=src ! decodebin ! videoconvert ! "
                     "resnet50classify name=classifier post-messages=true ! "
                     "fakesink name=sink sync=false", clip)
    pipeline.get_by_name("classifier").set_property("model-location", model)
    delivered = sink_timestamps(pipeline)
    results = []

    def on_message(msg):
        s = msg.get_structure()
        if s is not None and s.get_name() == "resnet50classify":
            check_result(s, len(results))
            results.append((s.get_value("timestamp"),
                            s.get_value("inference-time"),
                            s.get_value("labels")[0]))

    start = time.monotonic()
    run(pipeline, on_message)
    elapsed = time.monotonic() - start

    if len(results) != len(expected):
        fail("%d messages for %d decoded frames" % (len(results), len(expected)))
    if len(delivered) != len(expected):
        fail("%d buffers reached the sink, %d decoded" % (len(delivered), len(expected)))
    timestamps = [r[0] for r in results]
    for i in range(1, len(timestamps)):
        if timestamps[i] <= timestamps[i - 1]:
            fail("timestamps not increasing at message %d: %d after %d"
                 % (i, timestamps[i], timestamps[i - 1]))
    if timestamps != expected:
        fail("message timestamps differ from the decoded frames' PTS")

    mean_ms = sum(r[1] for r in results) / len(results) / 1e6
    print("%d frames, %d messages, %.1f s (%.2f fps), mean inference %.1f ms, "
          "first top-1 \"%s\""
          % (len(expected), len(results), elapsed, len(results) / elapsed,
             mean_ms, results[0][2]))


if __name__ == "__main__":
    main()
