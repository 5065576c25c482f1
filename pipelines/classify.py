#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs a pipeline that ends in resnet50classify and prints one line per frame:
the frame's timestamp, then the top-5 labels with their probabilities.

It reads the element messages that resnet50classify posts with
post-messages=true, so it needs no C code: an application can do the same
from the bus. Used by demo.sh, classify-file.sh and classify-camera.sh.

    classify.py --model MODEL.onnx (--file VIDEO | --camera /dev/video0)
                [--labels FILE] [--set prop=value ...]
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def format_time(ns):
    if ns is None or ns == Gst.CLOCK_TIME_NONE:
        return "--:--:--.---------"
    s, ns = divmod(ns, Gst.SECOND)
    return "%d:%02d:%02d.%09d" % (s // 3600, s // 60 % 60, s % 60, ns)


def quote_assignment(assignment):
    """prop=value -> prop="value" for the launch-line parser."""
    name, sep, value = assignment.partition("=")
    if not sep or not name:
        raise SystemExit("classify.py: --set wants PROP=VALUE, got %r" % assignment)
    return '%s="%s"' % (name, value.replace("\\", "\\\\").replace('"', '\\"'))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="a video (or image) file to decode")
    src.add_argument("--camera", help="a V4L2 device, e.g. /dev/video0")
    ap.add_argument("--model", required=True, help="ResNet-50 ONNX file")
    ap.add_argument("--labels", help="labels file, one per line (default: ImageNet)")
    ap.add_argument("--set", action="append", default=[], metavar="PROP=VALUE",
                    help="extra resnet50classify property, e.g. preset=caffe")
    args = ap.parse_args()

    Gst.init(None)
    # Paths are set as properties rather than pasted into the launch line, so
    # spaces and quotes in file names need no escaping. The --set values go
    # through the parser, which refuses unknown properties and bad values.
    if args.file:
        source = "filesrc name=source ! decodebin"
    else:
        source = "v4l2src name=source"
    extra = " ".join(quote_assignment(a) for a in args.set)
    try:
        pipeline = Gst.parse_launch(
            "%s ! videoconvert ! resnet50classify name=classify post-messages=true %s "
            "! fakesink sync=%s" % (source, extra, "true" if args.camera else "false"))
    except GLib.Error as e:
        print("classify.py: %s" % e.message, file=sys.stderr)
        return 2
    pipeline.get_by_name("source").set_property(
        "location" if args.file else "device", args.file or args.camera)
    classify = pipeline.get_by_name("classify")
    classify.set_property("model-location", args.model)
    if args.labels:
        classify.set_property("labels-location", args.labels)
    loop = GLib.MainLoop()
    status = {"code": 0, "frames": 0}

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "resnet50classify":
                labels = s.get_value("labels")
                scores = s.get_value("scores")
                results = ", ".join("%s %.3f" % (labels[i], scores[i])
                                    for i in range(min(5, len(labels))))
                print("%s  %s" % (format_time(s.get_value("timestamp")), results),
                      flush=True)
                status["frames"] += 1
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print("ERROR from %s: %s\n%s" % (msg.src.get_path_string(), err.message,
                                              dbg or ""), file=sys.stderr)
            status["code"] = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # The error message on the bus says why; let the loop print it.
        pass
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    pipeline.set_state(Gst.State.NULL)
    print("%d frames classified" % status["frames"], file=sys.stderr)
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
