#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the small ONNX models the engine unit tests (test-engine.c) load,
with fixed seeds, plus the expected outputs for the ones that are checked
numerically. Expected values come from PyTorch's functional ops (an
implementation independent of the engine), or are the hand-computed numbers
of cases 15 and 18 that the C test spells out itself.

Usage: gen-engine-models.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

# The images the small CNNs are fed: 4 × 3×224×224, N(0,1).
N_IMAGES = 4


class Graph:
    """Appends ONNX nodes and initializers; names nodes Op_<n> like exporters
    do so that error messages can be checked for them."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes = []
        self.inits = []
        self.count = 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, name=None, out=None, **attrs):
        self.count += 1
        name = name or "%s_%d" % (op_type, self.count)
        out = out or name + "_out"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name,
                                           **attrs))
        return out

    def model(self, in_shape, out, out_shape, graph_name="", in_name="input",
              out_dtype=TensorProto.FLOAT):
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info(in_name, TensorProto.FLOAT,
                                           in_shape)],
            [helper.make_tensor_value_info(out, out_dtype, out_shape)],
            initializer=self.inits)
        model = helper.make_model(
            graph, opset_imports=[helper.make_operatorsetid("", self.opset)],
            producer_name="gen-engine-models")
        # onnx 1.12 writes IR 8; keep files readable by older runtimes.
        model.ir_version = 7
        return model


def save(model, outdir, name, check=True):
    if check:
        # The checker wants a graph name; unnamed graphs are legal in the
        # wild (the engine then names the model after the file).
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.graph.name = probe.graph.name or "unnamed"
        onnx.checker.check_model(probe)
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(model.SerializeToString())


# ---- cases 15 and 18: one-node graphs with hand-computable results ---------

def gemm_models(outdir):
    v1_b = np.array([[1, 0, 1], [0, 1, 0]], np.float32)
    c = np.array([10, 20], np.float32)
    forms = {
        "gemm-transb1.onnx": (v1_b, c, dict(transB=1)),
        "gemm-transb0.onnx": (v1_b.T.copy(), c, dict(transB=0)),
        "gemm-alpha-beta.onnx": (v1_b, c, dict(transB=1, alpha=2.0,
                                               beta=0.5)),
        "gemm-scalar-c.onnx": (v1_b, np.array([5], np.float32),
                               dict(transB=1)),
    }
    for name, (b, cc, attrs) in forms.items():
        g = Graph(13)
        g.const("B", b)
        g.const("C", cc)
        y = g.op("Gemm", ["A", "B", "C"], out="Y", **attrs)
        save(g.model([1, 3], y, [1, 2], in_name="A"), outdir, name)

    # MatMul + Add computing the same function as transB=1 above.
    g = Graph(13)
    g.const("B", v1_b.T.copy())
    g.const("C", c)
    m = g.op("MatMul", ["A", "B"])
    y = g.op("Add", [m, "C"], out="Y")
    save(g.model([1, 3], y, [1, 2], in_name="A"), outdir, "matmul-add.onnx")


def batchnorm_models(outdir):
    # x = 1, mean 0, gamma 1, beta 0: y = 1 / sqrt(var + eps).
    for name, var, eps in (("bn-eps-1e-5.onnx", 0.0, 1e-5),
                           ("bn-eps-default.onnx", 0.0, None),
                           ("bn-eps-0.1.onnx", 0.01, 0.1)):
        g = Graph(13)
        g.const("gamma", np.ones(1, np.float32))
        g.const("beta", np.zeros(1, np.float32))
        g.const("mean", np.zeros(1, np.float32))
        g.const("var", np.full(1, var, np.float32))
        attrs = {} if eps is None else {"epsilon": eps}
        y = g.op("BatchNormalization", ["X", "gamma", "beta", "mean", "var"],
                 out="Y", **attrs)
        save(g.model([1, 1, 1, 1], y, [1, 1, 1, 1], in_name="X"), outdir,
             name)


def maxpool_ceil_model(outdir):
    # Caffe's stem pool on a 6x6 input of negative values: kernel 3, stride
    # 2, no padding, ceil_mode=1 gives 3x3 (floor: 2x2); the last row and
    # column of windows hang one pixel past the input, and that pixel must
    # not count (as a 0 it would win every such window).
    g = Graph(13)
    y = g.op("MaxPool", ["X"], out="Y", kernel_shape=[3, 3], strides=[2, 2],
             pads=[0, 0, 0, 0], ceil_mode=1)
    save(g.model([1, 1, 6, 6], y, [1, 1, 3, 3], in_name="X"), outdir,
         "maxpool-ceil-negative.onnx")


# ---- small ResNet-like CNNs, checked against torch.nn.functional -----------

def small_cnn_params(seed, eps, small_var=False):
    rng = np.random.default_rng(seed)

    def conv(oc, ic, k):
        return (rng.standard_normal((oc, ic, k, k)) *
                np.sqrt(2.0 / (ic * k * k))).astype(np.float32)

    def bn(c):
        gamma = rng.uniform(0.5, 1.5, c)
        var = rng.uniform(0.5, 1.5, c)
        if small_var:
            # Variances of the order of eps, and gamma scaled by
            # sqrt(var + eps) so activations stay O(1): using any other
            # epsilon changes each channel's scale by up to ~40 %.
            var = rng.uniform(0.0005, 0.005, c)
            gamma = gamma * np.sqrt(var + eps)
        return dict(gamma=gamma.astype(np.float32),
                    beta=(rng.standard_normal(c) * 0.1).astype(np.float32),
                    mean=(rng.standard_normal(c) * 0.1).astype(np.float32),
                    var=var.astype(np.float32), eps=eps)

    return dict(
        conv1=conv(8, 3, 7), bn1=bn(8),
        b1c1=conv(8, 8, 3), b1n1=bn(8), b1c2=conv(8, 8, 3), b1n2=bn(8),
        b2c1=conv(16, 8, 3), b2n1=bn(16), b2c2=conv(16, 16, 3), b2n2=bn(16),
        b2ds=conv(16, 8, 1), b2nds=bn(16),
        fc_w=(rng.standard_normal((10, 16)) * 0.5).astype(np.float32),
        fc_b=(rng.standard_normal(10) * 0.1).astype(np.float32))


def fold(w, bn):
    """BatchNorm folded into the preceding convolution, in float64."""
    s = bn["gamma"].astype(np.float64) / np.sqrt(
        bn["var"].astype(np.float64) + bn["eps"])
    wf = (w.astype(np.float64) * s[:, None, None, None]).astype(np.float32)
    bf = ((-bn["mean"].astype(np.float64)) * s + bn["beta"]).astype(
        np.float32)
    return wf, bf


def small_cnn_model(p, opset=13, tail="flatten", batch="N", folded=False,
                    softmax=False, graph_name="small_cnn"):
    """conv7x7/2+BN+ReLU, maxpool, a residual block, a downsampling
    residual block, global average pool, a flatten of the given form and
    Gemm; the structure of ResNet at toy width."""
    g = Graph(opset)
    names = iter(range(1000))

    def conv_bn(x, wkey, bnkey, stride, pad, relu):
        i = next(names)
        w = p[wkey]
        if folded:
            wf, bf = fold(w, p[bnkey])
            y = g.op("Conv", [x, g.const("w%d" % i, wf), g.const("b%d" % i,
                                                                  bf)],
                     strides=[stride] * 2, pads=[pad] * 4)
        else:
            bn = p[bnkey]
            y = g.op("Conv", [x, g.const("w%d" % i, w)], strides=[stride] * 2,
                     pads=[pad] * 4)
            y = g.op("BatchNormalization",
                     [y, g.const("g%d" % i, bn["gamma"]),
                      g.const("be%d" % i, bn["beta"]),
                      g.const("m%d" % i, bn["mean"]),
                      g.const("v%d" % i, bn["var"])], epsilon=bn["eps"])
        return g.op("Relu", [y]) if relu else y

    x = conv_bn("input", "conv1", "bn1", 2, 3, True)
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    y = conv_bn(x, "b1c1", "b1n1", 1, 1, True)
    y = conv_bn(y, "b1c2", "b1n2", 1, 1, False)
    x = g.op("Relu", [g.op("Add", [y, x])])
    y = conv_bn(x, "b2c1", "b2n1", 2, 1, True)
    y = conv_bn(y, "b2c2", "b2n2", 1, 1, False)
    d = conv_bn(x, "b2ds", "b2nds", 2, 0, False)
    x = g.op("Relu", [g.op("Add", [y, d])])
    x = g.op("GlobalAveragePool", [x])
    if tail == "flatten":
        x = g.op("Flatten", [x], axis=1)
    elif tail == "reshape-1":
        x = g.op("Reshape", [x, g.const("shape", np.array([1, -1],
                                                          np.int64))])
    x = g.op("Gemm", [x, g.const("fc_w", p["fc_w"]),
                      g.const("fc_b", p["fc_b"])], transB=1,
             out=None if softmax else "logits")
    if softmax:
        x = g.op("Softmax", [x], axis=1, out="probabilities")
    return g.model([batch, 3, 224, 224], x, [batch, 10],
                   graph_name=graph_name)


def small_cnn_torch(p, x):
    t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
         for k, v in p.items()}

    def conv_bn(x, wkey, bnkey, stride, pad, relu):
        bn = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
              for k, v in p[bnkey].items()}
        y = F.conv2d(x, t[wkey], stride=stride, padding=pad)
        y = F.batch_norm(y, bn["mean"], bn["var"], bn["gamma"], bn["beta"],
                         training=False, eps=bn["eps"])
        return F.relu(y) if relu else y

    with torch.no_grad():
        x = conv_bn(x, "conv1", "bn1", 2, 3, True)
        x = F.max_pool2d(x, 3, 2, 1)
        y = conv_bn(x, "b1c1", "b1n1", 1, 1, True)
        y = conv_bn(y, "b1c2", "b1n2", 1, 1, False)
        x = F.relu(y + x)
        y = conv_bn(x, "b2c1", "b2n1", 2, 1, True)
        y = conv_bn(y, "b2c2", "b2n2", 1, 1, False)
        d = conv_bn(x, "b2ds", "b2nds", 2, 0, False)
        x = F.relu(y + d)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.linear(x, t["fc_w"], t["fc_b"])


# ---- a graph of the less common op forms, checked against torch ----------

def ops_model_and_reference(x):
    """Standalone BN on the input (ResNet v2's bn_data), explicit Pad folded
    into a bias-free Conv followed by a constant Add, MaxPool with ceil_mode,
    grouped conv, both AveragePool padding modes, an Add of a constant that
    is not a bias (broadcast along W), a two-input Sum, Dropout and
    Identity, an Add of two pools (GlobalMaxPool + GlobalAveragePool) with a
    ReLU after it, an Add of a per-channel constant after that, PyTorch's
    Shape→Gather→Unsqueeze→Concat→Reshape flatten, a ReLU on the flattened
    view, then MatMul + Add."""
    rng = np.random.default_rng(7)
    f32 = np.float32
    bn = dict(gamma=rng.uniform(0.5, 1.5, 3).astype(f32),
              beta=(rng.standard_normal(3) * 0.1).astype(f32),
              mean=(rng.standard_normal(3) * 0.1).astype(f32),
              var=rng.uniform(0.5, 1.5, 3).astype(f32))
    w1 = (rng.standard_normal((8, 3, 7, 7)) * 0.1).astype(f32)
    b1 = (rng.standard_normal((1, 8, 1, 1)) * 0.1).astype(f32)
    wg = (rng.standard_normal((16, 2, 3, 3)) * 0.3).astype(f32)
    bg = (rng.standard_normal(16) * 0.1).astype(f32)
    w3 = (rng.standard_normal((16, 16, 1, 1)) * 0.3).astype(f32)
    fc_w = (rng.standard_normal((16, 10)) * 0.5).astype(f32)
    fc_b = (rng.standard_normal(10) * 0.1).astype(f32)
    col = (rng.standard_normal(28) * 0.2).astype(f32)
    shift = (rng.standard_normal((1, 16, 1, 1)) - 1.0).astype(f32)

    g = Graph(13)
    h = g.op("BatchNormalization", ["input", g.const("bn_g", bn["gamma"]),
                                    g.const("bn_b", bn["beta"]),
                                    g.const("bn_m", bn["mean"]),
                                    g.const("bn_v", bn["var"])])
    h = g.op("Pad", [h, g.const("pads", np.array([0, 0, 3, 3, 0, 0, 3, 3],
                                                  np.int64))])
    h = g.op("Conv", [h, g.const("w1", w1)], strides=[2, 2])
    h = g.op("Add", [h, g.const("b1", b1)])
    h = g.op("Relu", [h])
    h = g.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2],
             ceil_mode=1)
    h = g.op("Conv", [h, g.const("wg", wg), g.const("bg", bg)], group=4,
             pads=[1, 1, 1, 1])
    h = g.op("Relu", [h])
    p1 = g.op("AveragePool", [h], kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1], count_include_pad=1)
    p2 = g.op("AveragePool", [p1], kernel_shape=[3, 3], strides=[1, 1],
              pads=[1, 1, 1, 1])
    p2 = g.op("Add", [p2, g.const("col", col)])
    a = g.op("Conv", [p2, g.const("w3", w3)])
    h = g.op("Sum", [a, p2])
    h = g.op("Relu", [h])
    h = g.op("Dropout", [h])
    h = g.op("Identity", [h])
    h = g.op("Add", [g.op("GlobalMaxPool", [h]),
                     g.op("GlobalAveragePool", [h])])
    h = g.op("Relu", [h])
    h = g.op("Add", [h, g.const("shift", shift)])
    shape = g.op("Shape", [h])
    n = g.op("Gather", [shape, g.const("zero", np.array(0, np.int64))],
             axis=0)
    n = g.op("Unsqueeze", [n, g.const("axes", np.array([0], np.int64))])
    target = g.op("Concat", [n, g.const("minus1", np.array([-1], np.int64))],
                  axis=0)
    h = g.op("Reshape", [h, target])
    h = g.op("Relu", [h])
    h = g.op("MatMul", [h, g.const("fc_w", fc_w)])
    h = g.op("Add", [h, g.const("fc_b", fc_b)], out="logits")
    model = g.model(["N", 3, 224, 224], h, ["N", 10], graph_name="ops")

    T = torch.from_numpy
    with torch.no_grad():
        y = F.batch_norm(x, T(bn["mean"]), T(bn["var"]), T(bn["gamma"]),
                         T(bn["beta"]), training=False, eps=1e-5)
        y = F.pad(y, (3, 3, 3, 3))
        y = F.relu(F.conv2d(y, T(w1), stride=2) + T(b1))
        y = F.max_pool2d(y, 3, 2, ceil_mode=True)
        y = F.relu(F.conv2d(y, T(wg), T(bg), padding=1, groups=4))
        y = F.avg_pool2d(y, 3, 2, 1, count_include_pad=True)
        y = F.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
        y = y + T(col)
        y = F.relu(F.conv2d(y, T(w3)) + y)
        y = F.relu(F.adaptive_max_pool2d(y, 1) + F.adaptive_avg_pool2d(y, 1))
        y = F.relu(torch.flatten(y + T(shift), 1))
        y = y @ T(fc_w) + T(fc_b)
    return model, y.numpy()


# ---- models that must be refused ------------------------------------------

def tiny_classifier(g, x, in_ch=3, feat=8, classes=10, fc_in=None,
                    out="logits"):
    """Conv → Relu → GlobalAveragePool → Flatten → Gemm; fc_in lets the Gemm
    weights disagree with the pooled feature count."""
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((feat, in_ch, 3, 3)) * 0.2).astype(np.float32)
    x = g.op("Conv", [x, g.const("conv_w", w)], pads=[1, 1, 1, 1],
             strides=[2, 2])
    x = g.op("Relu", [x])
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x])
    fc = (rng.standard_normal((classes, fc_in or feat)) * 0.2).astype(
        np.float32)
    return g.op("Gemm", [x, g.const("fc_w", fc)], transB=1, name="fc",
                out=out)


def refused_models(outdir):
    # Case 14: an unsupported op inserted into an otherwise valid graph.
    g = Graph(13)
    x = g.op("Conv", ["input", g.const("w", np.ones((4, 3, 3, 3),
                                                    np.float32))])
    x = g.op("NonZero", [x], name="Conv_12")
    x = g.op("Cast", [x], to=TensorProto.FLOAT, out="logits")
    save(g.model(["N", 3, 224, 224], x, ["N", 4]), outdir,
         "unsupported-op.onnx", check=False)

    g = Graph(13)
    x = tiny_classifier(g, "input")
    save(g.model([1, 3, 128, 128], x, [1, 10]), outdir,
         "wrong-input-shape.onnx")

    g = Graph(13)
    x = tiny_classifier(g, "input", fc_in=16)
    save(g.model(["N", 3, 224, 224], x, ["N", 10]), outdir,
         "gemm-k-mismatch.onnx", check=False)

    # Zero padding in front of a MaxPool cannot become conv padding.
    g = Graph(13)
    x = g.op("Pad", ["input", g.const("pads", np.array(
        [0, 0, 1, 1, 0, 0, 1, 1], np.int64))], name="pad_before_pool")
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = tiny_classifier(g, x)
    save(g.model(["N", 3, 224, 224], x, ["N", 10]), outdir,
         "pad-before-maxpool.onnx")

    # Two image inputs.
    g = Graph(13)
    x = g.op("Add", ["input", "second"])
    x = tiny_classifier(g, x)
    m = g.model(["N", 3, 224, 224], x, ["N", 10])
    m.graph.input.append(helper.make_tensor_value_info(
        "second", TensorProto.FLOAT, ["N", 3, 224, 224]))
    save(m, outdir, "two-inputs.onnx")

    # A node reading a tensor nobody defines.
    g = Graph(13)
    x = g.op("Relu", ["nowhere"], name="orphan")
    x = tiny_classifier(g, x)
    save(g.model(["N", 3, 224, 224], x, ["N", 10]), outdir,
         "undefined-input.onnx", check=False)

    # Two nodes feeding each other.
    g = Graph(13)
    a = g.op("Add", ["input", "Relu_2_out"], name="Add_1")
    g.op("Relu", [a], name="Relu_2")
    x = tiny_classifier(g, a)
    save(g.model(["N", 3, 224, 224], x, ["N", 10]), outdir, "cycle.onnx",
         check=False)

    # Opset older than the loader knows.
    g = Graph(5)
    x = g.op("Relu", ["input"], out="logits")
    save(g.model(["N", 3, 224, 224], x, ["N", 3, 224, 224]), outdir,
         "opset-5.onnx", check=False)

    # Corrupt initializers: each built valid, then damaged.
    def damaged(name, damage):
        g = Graph(13)
        x = tiny_classifier(g, "input")
        m = g.model(["N", 3, 224, 224], x, ["N", 10])
        w = next(t for t in m.graph.initializer if t.name == "conv_w")
        damage(w)
        save(m, outdir, name, check=False)

    damaged("raw-data-short.onnx",
            lambda w: setattr(w, "raw_data", w.raw_data[:-4]))

    def negative_dim(w):
        w.dims[1] = -3
    damaged("negative-dim.onnx", negative_dim)

    def huge_dims(w):
        # Claims 2^62 × 2^62 elements with a tiny payload.
        del w.dims[:]
        w.dims.extend([1 << 62, 1 << 62])
    damaged("huge-dims.onnx", huge_dims)

    def external(w):
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        entry = w.external_data.add()
        entry.key = "location"
        entry.value = "weights.bin"
    damaged("external-data.onnx", external)

    def as_double(w):
        arr = numpy_helper.to_array(w).astype(np.float64)
        w.CopyFrom(numpy_helper.from_array(arr, w.name))
    damaged("double-weights.onnx", as_double)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    gemm_models(outdir)
    batchnorm_models(outdir)
    maxpool_ceil_model(outdir)
    refused_models(outdir)

    rng = np.random.default_rng(2024)
    x = rng.standard_normal((N_IMAGES, 3, 224, 224)).astype(np.float32)
    x.tofile(os.path.join(outdir, "images.f32"))
    xt = torch.from_numpy(x)

    p = small_cnn_params(11, 1e-5)
    save(small_cnn_model(p), outdir, "small-cnn.onnx")
    small_cnn_torch(p, xt).numpy().tofile(
        os.path.join(outdir, "small-cnn.expected.f32"))
    save(small_cnn_model(p, folded=True, opset=11), outdir,
         "small-cnn-folded.onnx")
    save(small_cnn_model(p, softmax=True), outdir, "small-cnn-softmax.onnx")
    save(small_cnn_model(p, batch=1), outdir, "small-cnn-static-batch.onnx")
    save(small_cnn_model(p, tail="reshape-1", graph_name=""), outdir,
         "small-cnn-reshape-batch1.onnx")
    # PyTorch's default graph name says nothing about the model.
    save(small_cnn_model(p, graph_name="torch_jit"), outdir,
         "small-cnn-torch-jit.onnx")

    # ONNX wants nodes sorted; a file that is not gets sorted at load.
    m = small_cnn_model(p)
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    save(m, outdir, "small-cnn-unsorted.onnx", check=False)

    # Case 18: Keras's epsilon with small running variances, where a
    # hard-coded 1e-5 would change every activation.
    p = small_cnn_params(12, 1e-3, small_var=True)
    save(small_cnn_model(p), outdir, "small-cnn-eps1e-3.onnx")
    small_cnn_torch(p, xt).numpy().tofile(
        os.path.join(outdir, "small-cnn-eps1e-3.expected.f32"))

    model, expected = ops_model_and_reference(xt)
    save(model, outdir, "ops.onnx")
    expected.tofile(os.path.join(outdir, "ops.expected.f32"))
    # meson wants one known output to depend on.
    open(os.path.join(outdir, "stamp"), "w").close()


if __name__ == "__main__":
    main()
