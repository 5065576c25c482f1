#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the hostile ONNX files test-hostile-models.c feeds the loader:
each is a small valid model (from gen-engine-models.py, fixed seeds) with
one thing broken or one claim inflated, plus a valid model saved the way
`onnx.save_model(..., save_as_external_data=True)` does and variants whose
external-data references try to leave the model's directory. Every file
here must be refused with a GError, except ext-valid/ which must load and
compute exactly what the embedded small-cnn.onnx computes.

Usage: gen-hostile-models.py OUTDIR
"""
import importlib.util
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "gen_engine_models", os.path.join(here, "gen-engine-models.py"))
gem = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gem)
Graph, tiny_classifier = gem.Graph, gem.tiny_classifier


def write(outdir, name, model):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(model if isinstance(model, bytes) else
                model.SerializeToString())


def tiny(in_shape=("N", 3, 224, 224)):
    g = Graph(13)
    x = tiny_classifier(g, "input")
    return g.model(list(in_shape), x, ["N", 10])


def damaged(outdir, name, damage, tensor="conv_w"):
    m = tiny()
    w = next(t for t in m.graph.initializer if t.name == tensor)
    damage(w)
    write(outdir, name, m)


def set_dims(*dims):
    def damage(w):
        del w.dims[:]
        w.dims.extend(dims)
    return damage


def initializer_cases(outdir):
    # Element counts that overflow 32 bits (2^32 floats, payload 864 bytes)
    # and 64 bits (the product, or the product times 4 bytes).
    damaged(outdir, "dims-overflow-32bit.onnx", set_dims(65536, 65536, 1, 1))
    damaged(outdir, "dims-overflow-64bit.onnx",
            set_dims(1 << 32, 1 << 32, 1, 2))
    damaged(outdir, "dims-overflow-64bit-bytes.onnx", set_dims(1 << 61, 4))
    # A gigabyte claim (2^30 floats = 4 GiB) with no payload at all.
    def gigabytes(w):
        set_dims(1024, 1024, 1024)(w)
        w.ClearField("raw_data")
    damaged(outdir, "dims-gigabytes-no-payload.onnx", gigabytes)
    damaged(outdir, "dims-zero.onnx", set_dims(8, 0, 3, 3))
    damaged(outdir, "dims-negative.onnx", set_dims(8, 3, -3, 3))
    damaged(outdir, "raw-data-long.onnx",
            lambda w: setattr(w, "raw_data", w.raw_data + b"\0\0\0\0"))

    def float_data_short(w):
        arr = numpy_helper.to_array(w)
        w.ClearField("raw_data")
        w.float_data.extend(arr.ravel()[:-1].tolist())
    damaged(outdir, "float-data-short.onnx", float_data_short)

    def as_fp16(w):
        arr = numpy_helper.to_array(w).astype(np.float16)
        w.CopyFrom(numpy_helper.from_array(arr, w.name))
    damaged(outdir, "fp16-weights.onnx", as_fp16)

    def as_int64(w):
        arr = (numpy_helper.to_array(w) * 100).astype(np.int64)
        w.CopyFrom(numpy_helper.from_array(arr, w.name))
    damaged(outdir, "int64-weights.onnx", as_int64)


def graph_cases(outdir):
    # A node reading its own output.
    g = Graph(13)
    a = g.op("Add", ["input", "Add_1_out"], name="Add_1")
    x = tiny_classifier(g, a)
    write(outdir, "self-loop.onnx", g.model(["N", 3, 224, 224], x, ["N", 10]))

    # A three-node cycle off the main path.
    g = Graph(13)
    a = g.op("Add", ["input", "Relu_3_out"], name="Add_1")
    b = g.op("Relu", [a], name="Relu_2")
    g.op("Relu", [b], name="Relu_3")
    x = tiny_classifier(g, b)
    write(outdir, "cycle-3.onnx", g.model(["N", 3, 224, 224], x, ["N", 10]))

    # A dangling input: a node reads a tensor nobody defines.
    g = Graph(13)
    a = g.op("Add", ["input", "dangling"], name="add_dangling")
    x = tiny_classifier(g, a)
    write(outdir, "dangling-input.onnx",
          g.model(["N", 3, 224, 224], x, ["N", 10]))

    # The graph output names a tensor that nothing computes.
    m = tiny()
    m.graph.output[0].name = "nobody_computes_this"
    write(outdir, "dangling-output.onnx", m)

    # Shapes whose activations claim terabytes from a few kilobytes: a
    # 1x1 Conv to 4096 channels after 4096 pixels of padding on each side
    # (4096 x 4544 x 4544 floats ~ 338 GB), and an input claim of
    # 1 x 1 x 20000 x 20000 (run with any input shape).
    g = Graph(13)
    w = np.full((4096, 3, 1, 1), 0.01, np.float32)
    x = g.op("Conv", ["input", g.const("wide_w", w)],
             pads=[4096, 4096, 4096, 4096], name="huge_conv")
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x])
    fc = np.full((10, 4096), 0.01, np.float32)
    x = g.op("Gemm", [x, g.const("fc_w", fc)], transB=1, name="fc",
             out="logits")
    write(outdir, "activation-terabytes.onnx",
          g.model(["N", 3, 224, 224], x, ["N", 10]))

    g = Graph(13)
    x = g.op("GlobalAveragePool", ["input"])
    x = g.op("Flatten", [x])
    x = g.op("Gemm", [x, g.const("fc_w", np.ones((10, 1), np.float32))],
             transB=1, name="fc", out="logits")
    write(outdir, "input-gigapixels.onnx",
          g.model([1, 1, 20000, 20000], x, [1, 10]))


def varint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def protobuf_cases(outdir):
    """Length prefixes that claim gigabytes in files of a few bytes."""
    # ModelProto.graph (field 7, length-delimited) claiming 4 GiB - 1.
    write(outdir, "pb-graph-claims-4gib.onnx",
          bytes([0x3A]) + varint(0xFFFFFFFF) + b"\0" * 16)
    # A valid model followed by a second graph field claiming 2^62 bytes.
    m = tiny().SerializeToString()
    write(outdir, "pb-trailing-claims-2e62.onnx",
          m + bytes([0x3A]) + varint(1 << 62) + b"\0" * 8)
    # A valid model whose first length-delimited field's varint is cut.
    write(outdir, "pb-cut-varint.onnx", bytes([0x3A, 0xFF, 0xFF, 0xFF]))


def external_cases(outdir):
    # The valid model, saved as onnx does with save_as_external_data=True.
    p = gem.small_cnn_params(11, 1e-5)
    valid = gem.small_cnn_model(p)
    ext_dir = os.path.join(outdir, "ext-valid")
    os.makedirs(ext_dir, exist_ok=True)
    for f in os.listdir(ext_dir):
        os.unlink(os.path.join(ext_dir, f))
    onnx.save_model(valid, os.path.join(ext_dir, "model.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.weights", size_threshold=0)
    # Check that onnx wrote what this test means to exercise.
    check = onnx.load(os.path.join(ext_dir, "model.onnx"),
                      load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL
               for t in check.graph.initializer)

    def external(name, location, offset=None, length=None, keep=None):
        m = tiny()
        w = next(t for t in m.graph.initializer if t.name == "conv_w")
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", offset),
                           ("length", length)):
            if value is not None:
                e = w.external_data.add()
                e.key, e.value = key, value
        write(outdir, name, m)

    external("ext-dotdot.onnx", "../../etc/passwd")
    external("ext-dotdot-inner.onnx", "sub/../../x.weights")
    external("ext-absolute.onnx", "/etc/passwd")
    external("ext-backslash.onnx", "..\\..\\etc\\passwd")
    external("ext-missing.onnx", "missing.weights")
    external("ext-no-location.onnx", None, "0", "864")
    external("ext-bad-offset.onnx", "conv.weights", "12abc")
    # conv_w is 8x3x3x3 floats = 864 bytes; conv.weights has 1024.
    external("ext-length-past-end.onnx", "conv.weights", "512", "864")
    external("ext-offset-past-end.onnx", "conv.weights", "4096")
    external("ext-length-mismatch.onnx", "conv.weights", "0", "1000")
    external("ext-whole-file-mismatch.onnx", "conv.weights")
    external("ext-good.onnx", "conv.weights", "128", "864")
    # The symlink itself is made by the test (a build output cannot be one
    # portably): escape.weights -> /etc/passwd, alias.weights -> a file in
    # the same directory.
    external("ext-symlink-escape.onnx", "escape.weights", "0", "864")
    external("ext-symlink-inside.onnx", "alias.weights", "128", "864")
    rng = np.random.default_rng(5)
    rng.standard_normal(256).astype(np.float32).tofile(
        os.path.join(outdir, "conv.weights"))


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    initializer_cases(outdir)
    graph_cases(outdir)
    protobuf_cases(outdir)
    external_cases(outdir)
    open(os.path.join(outdir, "hostile-stamp"), "w").close()


if __name__ == "__main__":
    main()
