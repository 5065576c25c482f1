#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of the fuzz targets: tiny ONNX graphs that use
every op the graph builder accepts (so that the fuzzer starts from inputs
that get deep into graph.c instead of failing at the first check), and tiny
Keras-layout HDF5 weight files (the first layers of the Keras ResNet50 with
the right and the wrong shapes, fixed- and variable-length weight_names).
Weights are small (8×8 images, a few channels) and gzip-compressed in HDF5
so that every seed stays well under 20 KB. Fixed seeds, nothing downloaded.

Usage: make-seeds.py OUTDIR
"""
import os
import sys

import h5py
import numpy as np
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(5)


def w(*shape):
    return rng.standard_normal(shape).astype(np.float32)


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = "%s_%d" % (op_type, self.n)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out,
                                           **attrs))
        return out

    def save(self, path, in_shape, out, opset=13, name="seed"):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                           in_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
            initializer=self.inits)
        model = helper.make_model(
            graph, opset_imports=[helper.make_operatorsetid("", opset)])
        model.ir_version = 7
        data = model.SerializeToString()
        assert len(data) < 20000, (path, len(data))
        with open(path, "wb") as f:
            f.write(data)


def onnx_seeds(out):
    # A miniature ResNet: conv, BN, ReLU, max pool, bottleneck with a
    # residual Add, global average pool, flatten, Gemm, Softmax.
    g = Graph()
    x = g.op("Conv", ["input", g.const("c1w", w(4, 3, 3, 3)),
                      g.const("c1b", w(4))],
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    x = g.op("BatchNormalization",
             [x, g.const("s", w(4)), g.const("b", w(4)),
              g.const("m", w(4)), g.const("v", np.abs(w(4)) + 0.5)],
             epsilon=1e-5)
    x = g.op("Relu", [x])
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op("Conv", [x, g.const("c2w", w(4, 4, 1, 1))], kernel_shape=[1, 1])
    y = g.op("Relu", [y])
    x = g.op("Add", [x, y])
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    x = g.op("Gemm", [x, g.const("fw", w(5, 4)), g.const("fb", w(5))],
             transB=1)
    x = g.op("Softmax", [x], axis=1)
    g.save(os.path.join(out, "mini-resnet.onnx"), [1, 3, 8, 8], x)
    # The same with the element's input shape, for fuzz-model (which builds
    # the oneDNN network as the element does, so requires 1×3×224×224).
    g.save(os.path.join(out, "mini-resnet-224.onnx"), [1, 3, 224, 224], x)

    # Shape arithmetic folded at load: Shape/Gather/Unsqueeze/Concat/Reshape,
    # Constant, Cast, Identity, Dropout, Pad, AveragePool, Squeeze, MatMul.
    g = Graph()
    x = g.op("Pad", ["input", g.const("pads", np.array(
        [0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64))], mode="constant")
    x = g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Identity", [x])
    x = g.op("Dropout", [x])
    s = g.op("Shape", [x])
    n = g.op("Gather", [s, g.const("zero", np.array(0, dtype=np.int64))],
             axis=0)
    n = g.op("Unsqueeze", [n, g.const("ax0", np.array([0], dtype=np.int64))])
    k = g.op("Constant", [], value=helper.make_tensor(
        "minus1", TensorProto.INT64, [1], [-1]))
    shape = g.op("Concat", [n, k], axis=0)
    shape = g.op("Cast", [shape], to=TensorProto.INT64)
    x = g.op("Reshape", [x, shape])
    x = g.op("MatMul", [x, g.const("mw", w(3 * 5 * 5, 4))])
    x = g.op("Add", [x, g.const("mb", w(4))])
    x = g.op("Unsqueeze", [x, g.const("ax2", np.array([2], dtype=np.int64))])
    x = g.op("Squeeze", [x, g.const("ax2b", np.array([2], dtype=np.int64))])
    g.save(os.path.join(out, "shape-ops.onnx"), [1, 3, 8, 8], x)

    # Older opset spellings: Pad/Squeeze/Unsqueeze with attributes, Sum,
    # GlobalMaxPool, weights as typed repeated fields instead of raw_data.
    g = Graph()
    x = g.op("Pad", ["input"], pads=[0, 0, 1, 1, 0, 0, 1, 1])
    x = g.op("Conv", [x, g.const("cw", w(2, 3, 3, 3))], kernel_shape=[3, 3],
             group=1, dilations=[1, 1], auto_pad="NOTSET")
    x = g.op("Sum", [x, x])
    x = g.op("GlobalMaxPool", [x])
    x = g.op("Squeeze", [x], axes=[2, 3])
    x = g.op("Unsqueeze", [x], axes=[2])
    x = g.op("Flatten", [x])
    x = g.op("Gemm", [x, g.const("gw", w(2, 3)), g.const("gb", w(3))],
             alpha=0.5, beta=2.0)
    for t in g.inits:
        arr = numpy_helper.to_array(t)
        t.ClearField("raw_data")
        t.float_data.extend(arr.flatten().tolist())
    g.save(os.path.join(out, "opset11.onnx"), [1, 3, 6, 6], x, opset=11)
    g.save(os.path.join(out, "opset11-224.onnx"), [1, 3, 224, 224], x,
           opset=11)

    # The miniature ResNet with its weights as external data, in the file
    # the harness writes next to every input (fuzz-file.h: 4096 bytes).
    g = Graph()
    x = g.op("Conv", ["input", g.const("ew1", w(4, 3, 3, 3))],
             kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = g.op("Relu", [x])
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x])
    x = g.op("Gemm", [x, g.const("ew2", w(5, 4)), g.const("eb", w(5))],
             transB=1)
    offset = 0
    for t in g.inits:
        size = len(t.raw_data)
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "fuzz-weights.bin"),
                           ("offset", str(offset)), ("length", str(size))):
            e = t.external_data.add()
            e.key, e.value = key, value
        offset += size
    assert offset <= 4096
    g.save(os.path.join(out, "external-data.onnx"), [1, 3, 8, 8], x)
    g.save(os.path.join(out, "external-data-224.onnx"), [1, 3, 224, 224], x)

    # A bare Gemm (the smallest accepted model) and int32 constants.
    g = Graph()
    x = g.op("Reshape", ["input", g.const("shp", np.array([1, 6],
                                                          dtype=np.int32))])
    x = g.op("Gemm", [x, g.const("w", w(6, 2))])
    g.save(os.path.join(out, "gemm.onnx"), [1, 6], x)


def keras_seeds(out):
    def layer(f, name, weights, vlen=False):
        grp = f.create_group(name)
        names = [("%s/%s:0" % (name, k)).encode() for k, _ in weights]
        if vlen:
            grp.attrs.create("weight_names", [n.decode() for n in names],
                             dtype=h5py.string_dtype())
        else:
            grp.attrs["weight_names"] = np.array(names)
        sub = grp.create_group(name)
        for k, arr in weights:
            sub.create_dataset(k + ":0", data=arr, compression="gzip",
                               compression_opts=9, chunks=True)

    def head(f, vlen=False, kernel_shape=(7, 7, 3, 64), dtype=np.float32):
        zeros = np.zeros(kernel_shape, dtype=dtype)
        layer(f, "conv1", [("kernel", zeros),
                           ("bias", np.zeros(64, dtype=np.float32))], vlen)
        ones = np.ones(64, dtype=np.float32)
        layer(f, "bn_conv1", [("gamma", ones), ("beta", ones * 0),
                              ("moving_mean", ones * 0),
                              ("moving_variance", ones)], vlen)

    # Weight names are looked up relative to the layer group, as Keras does.
    cases = {
        "head-fixed.h5": dict(),
        "head-vlen.h5": dict(vlen=True),
        "head-wrong-shape.h5": dict(kernel_shape=(3, 3, 3, 64)),
        "head-float64.h5": dict(dtype=np.float64),
        "head-int.h5": dict(dtype=np.int32),
    }
    for fname, kw in cases.items():
        path = os.path.join(out, fname)
        with h5py.File(path, "w", libver="latest") as f:
            head(f, **kw)
            f.attrs["layer_names"] = np.array([b"conv1", b"bn_conv1"])
        assert os.path.getsize(path) < 20000, (path, os.path.getsize(path))
    # h5py's default (oldest) file format, the one real Keras files have:
    # version-0 superblock, symbol-table groups. Only conv1, to stay small.
    # It has no metadata checksums either, so mutations of it get further
    # into libhdf5 than those of the files above.
    v0_cases = {
        "conv1-v0.h5": dict(),
        "conv1-v0-vlen.h5": dict(vlen=True),
        "conv1-v0-wrong-shape.h5": dict(shape=(7, 7, 3, 32)),
    }
    for fname, kw in v0_cases.items():
        path = os.path.join(out, fname)
        with h5py.File(path, "w", libver="earliest") as f:
            shape = kw.get("shape", (7, 7, 3, 64))
            layer(f, "conv1", [("kernel", np.zeros(shape, np.float32)),
                               ("bias", np.zeros(64, dtype=np.float32))],
                  kw.get("vlen", False))
        assert os.path.getsize(path) < 20000, (path, os.path.getsize(path))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    onnx_seeds(out)
    keras_seeds(out)
    # libFuzzer seeds must exist at build time: a stamp for meson.
    open(os.path.join(out, "stamp"), "w").close()


if __name__ == "__main__":
    main()
