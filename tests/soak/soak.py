#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Soak run of the element (issue 5; not part of CI, see run-soak.sh):
FRAMES frames through videotestsrc ! videoconvert ! resnet50classify !
fakesink in this process, the resident set size (VmRSS of /proc/self/status)
sampled every EVERY frames from a pad probe. Prints the curve and fails
unless every sample after frame BASE stays within ±TOLERANCE MB of the
sample at frame BASE (allocator warm-up and the first frames' lazily
created primitives happen before it).

Usage: soak.py MODEL [--frames 10000] [--every 500] [--base 500]
       [--tolerance-mb 5] [--width 640 --height 480]
"""
import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--base", type=int, default=500)
    p.add_argument("--tolerance-mb", type=float, default=5.0)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    args = p.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc pattern=ball num-buffers=%d ! "
        "video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! "
        "videoconvert ! resnet50classify name=c ! fakesink name=sink "
        "sync=false" % (args.frames, args.width, args.height))
    pipeline.get_by_name("c").set_property("model-location", args.model)
    samples = []
    count = [0]
    start = time.monotonic()

    def probe(pad, info):
        count[0] += 1
        if count[0] % args.every == 0:
            samples.append((count[0], rss_kib(), time.monotonic() - start))
            n, rss, t = samples[-1]
            print("frame %6d  RSS %8.1f MB  %7.1f s" % (n, rss / 1024.0, t),
                  flush=True)
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, probe)
    loop = GLib.MainLoop()
    failed = []

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            failed.append("%s (%s)" % (err.message, dbg))
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)

    if failed:
        sys.exit("FAIL: pipeline error: " + failed[0])
    if count[0] != args.frames:
        sys.exit("FAIL: %d frames reached the sink, expected %d"
                 % (count[0], args.frames))
    base = [rss for n, rss, t in samples if n == args.base]
    if not base:
        sys.exit("FAIL: no sample at frame %d" % args.base)
    base = base[0]
    after = [(n, rss) for n, rss, t in samples if n > args.base]
    worst = max((abs(rss - base) for n, rss in after), default=0)
    print("RSS at frame %d: %.1f MB; largest deviation after it: %.2f MB "
          "(tolerance ±%.1f MB); %.1f frames/s"
          % (args.base, base / 1024.0, worst / 1024.0, args.tolerance_mb,
             args.frames / (time.monotonic() - start)))
    if worst > args.tolerance_mb * 1024:
        sys.exit("FAIL: RSS moved by more than ±%.1f MB after frame %d"
                 % (args.tolerance_mb, args.base))
    print("OK")


if __name__ == "__main__":
    main()
