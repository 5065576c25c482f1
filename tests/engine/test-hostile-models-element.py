#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every hostile model of gen-hostile-models.py, handed to the element:
starting the pipeline must fail with exactly one ERROR message on the bus,
from resnet50classify, whose text names the model file (and the problem
the loader found); the process must not crash or abort. The valid
external-data model next to its weights must run and classify every frame.

Usage: test-hostile-models-element.py HOSTILE_DIR   (plugin from
GST_PLUGIN_PATH_1_0, as every test here)
"""
import os
import shutil
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

# (file, text the error must contain besides the file name)
CASES = [
    ("dims-overflow-32bit.onnx", "17179869184"),
    ("dims-overflow-64bit.onnx", "too many elements"),
    ("dims-gigabytes-no-payload.onnx", "holds 0 values"),
    ("dims-zero.onnx", "dimension 1 = 0"),
    ("dims-negative.onnx", "-3"),
    ("raw-data-long.onnx", "868 bytes"),
    ("float-data-short.onnx", "215 values"),
    ("fp16-weights.onnx", "FLOAT16"),
    ("int64-weights.onnx", "expected float"),
    ("self-loop.onnx", "cycle"),
    ("cycle-3.onnx", "cycle"),
    ("dangling-input.onnx", "'dangling'"),
    ("dangling-output.onnx", "not computed"),
    ("activation-terabytes.onnx", "elements per image"),
    ("pb-graph-claims-4gib.onnx", "protobuf"),
    ("pb-trailing-claims-2e62.onnx", "protobuf"),
    ("pb-cut-varint.onnx", "protobuf"),
    ("ext-dotdot.onnx", "outside the model's directory"),
    ("ext-dotdot-inner.onnx", "outside the model's directory"),
    ("ext-absolute.onnx", "outside the model's directory"),
    ("ext-backslash.onnx", "outside the model's directory"),
    ("ext-missing.onnx", "missing.weights"),
    ("ext-no-location.onnx", "no 'location'"),
    ("ext-bad-offset.onnx", "12abc"),
    ("ext-length-past-end.onnx", "only 1024 bytes"),
    ("ext-offset-past-end.onnx", "only 1024 bytes"),
    ("ext-length-mismatch.onnx", "expected 864"),
]

LAUNCH = ("videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! "
          "videoconvert ! resnet50classify name=c post-messages=true ! "
          "fakesink")


def run(model, labels=None):
    """Plays the pipeline to its end; returns (errors, element messages)."""
    pipeline = Gst.parse_launch(LAUNCH)
    c = pipeline.get_by_name("c")
    c.set_property("model-location", model)
    if labels:
        c.set_property("labels-location", labels)
    bus = pipeline.get_bus()
    errors, results = [], 0
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop(120 * Gst.SECOND)
        if msg is None:
            raise SystemExit("FAIL: %s: no EOS or ERROR in 120 s" % model)
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            errors.append((msg.src.get_name(), err.message, dbg or ""))
            break
        if msg.type == Gst.MessageType.EOS:
            break
        if msg.type == Gst.MessageType.ELEMENT and \
                msg.get_structure().get_name() == "resnet50classify":
            results += 1
    pipeline.set_state(Gst.State.NULL)
    # Whatever else was posted until the pipeline was shut down.
    while True:
        msg = bus.pop()
        if msg is None:
            break
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            errors.append((msg.src.get_name(), err.message, dbg or ""))
    return errors, results


def main():
    Gst.init(None)
    hostile = sys.argv[1]
    failures = 0
    for name, needle in CASES:
        path = os.path.join(hostile, name)
        errors, results = run(path)
        texts = ["%s: %s | %s" % e for e in errors]
        # The file in the message; the problem in the message or, for
        # RESOURCE errors (the element then says it cannot read the file),
        # in the debug details.
        ok = (len(errors) == 1 and errors[0][0] == "c" and results == 0
              and name in errors[0][1]
              and needle in errors[0][1] + errors[0][2])
        print("%s %s: %s" % ("ok  " if ok else "FAIL", name,
                             texts[0] if texts else "no error"))
        if not ok:
            failures += 1
            for t in texts[1:]:
                print("     also: " + t)

    # The valid external-data model, from a private copy of its directory.
    with tempfile.TemporaryDirectory() as tmp:
        for f in ("model.onnx", "model.weights"):
            shutil.copy(os.path.join(hostile, "ext-valid", f), tmp)
        labels = os.path.join(tmp, "labels.txt")
        with open(labels, "w") as f:
            f.write("".join("class %d\n" % i for i in range(10)))
        errors, results = run(os.path.join(tmp, "model.onnx"), labels)
        ok = not errors and results == 3
        print("%s ext-valid/model.onnx: %d results, errors %s" % (
            "ok  " if ok else "FAIL", results, errors))
        failures += not ok

    # A FIFO and a directory: opening the FIFO would block the start forever
    # (a real report: a model path pointing at a named pipe).
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "model-fifo.onnx")
        os.mkfifo(fifo)
        for path, needle in ((fifo, "a pipe, device or socket"),
                             (tmp, "a directory")):
            errors, results = run(path)
            ok = (len(errors) == 1 and errors[0][0] == "c" and results == 0
                  and path in errors[0][1] and needle in errors[0][2])
            print("%s %s: %s" % ("ok  " if ok else "FAIL", path,
                                 "%s: %s | %s" % errors[0] if errors else "no error"))
            failures += not ok

    n_cases = len(CASES) + 3
    if failures:
        raise SystemExit("FAIL: %d of %d cases" % (failures, n_cases))
    print("all %d cases ok" % n_cases)


if __name__ == "__main__":
    main()
