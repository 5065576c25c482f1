#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Case 7 A: a PNG sequence whose frame size changes every frame (224x224,
225x223, 7x5, 224x224) through
multifilesrc ! pngdec ! videoconvert ! resnet50classify post-messages=true ! fakesink.
Every frame must produce a message and reach the sink, with no error (the
element renegotiates; it never asserts or aborts).

Usage: test-png-size-changes.py MODEL
"""
import os
import sys
import tempfile

import gi
from PIL import Image

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SIZES = [(224, 224), (225, 223), (7, 5), (224, 224)]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    model = sys.argv[1]
    Gst.init(None)

    with tempfile.TemporaryDirectory(prefix="rn50-png-") as tmp:
        for i, (w, h) in enumerate(SIZES):
            # A deterministic gradient, different for every frame.
            img = Image.new("RGB", (w, h))
            img.putdata([((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1),
                          (i * 60) % 256) for y in range(h) for x in range(w)])
            img.save(os.path.join(tmp, "f%d.png" % i))

        pipeline = Gst.parse_launch(
            "multifilesrc name=src index=0 stop-index=%d "
            "caps=image/png,framerate=1/1 ! pngdec ! videoconvert ! "
            "resnet50classify name=classifier post-messages=true ! "
            "fakesink name=sink" % (len(SIZES) - 1))
        pipeline.get_by_name("src").set_property("location", os.path.join(tmp, "f%d.png"))
        pipeline.get_by_name("classifier").set_property("model-location", model)
        n_buffers = [0]

        def probe(pad, info):
            n_buffers[0] += 1
            return Gst.PadProbeReturn.OK

        pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, probe)

        bus = pipeline.get_bus()
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            fail("pipeline refused to start")
        messages = []
        try:
            while True:
                msg = bus.timed_pop_filtered(
                    300 * Gst.SECOND,
                    Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
                if msg is None:
                    fail("timeout before EOS")
                if msg.type == Gst.MessageType.ERROR:
                    err, debug = msg.parse_error()
                    fail("pipeline error: %s (%s)" % (err.message, debug))
                if msg.type == Gst.MessageType.EOS:
                    break
                s = msg.get_structure()
                if s is not None and s.get_name() == "resnet50classify":
                    messages.append(s.get_value("timestamp"))
        finally:
            pipeline.set_state(Gst.State.NULL)

    if len(messages) != len(SIZES):
        fail("%d messages for %d frames" % (len(messages), len(SIZES)))
    if n_buffers[0] != len(SIZES):
        fail("%d buffers reached the sink for %d frames" % (n_buffers[0], len(SIZES)))
    if sorted(messages) != messages or len(set(messages)) != len(messages):
        fail("timestamps not increasing: %r" % messages)
    print("%d frames of sizes %r classified" % (len(SIZES), SIZES))


if __name__ == "__main__":
    main()
