#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the model valgrind-pipeline.sh runs under memcheck: a ResNet at
toy width and with an 8x8/8 patch stem, so that memcheck (~50x slower on
oneDNN's JIT kernels) gets through 400 frames in about two minutes while
the element still goes through every kind of layer it lowers for ResNet-50:
Conv+BatchNormalization+Relu, MaxPool, a bottleneck block (1x1, 3x3, 1x1)
whose residual Add has a downsampling 1x1 Conv on its shortcut, global
average pooling, Flatten and Gemm. 10 classes; fixed seed.

Usage: make-valgrind-model.py OUTPUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(11)
inits, nodes = [], []


def const(name, array):
    inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
    return name


def op(op_type, inputs, name, **attrs):
    nodes.append(helper.make_node(op_type, inputs, [name], name=name,
                                  **attrs))
    return name


def conv_bn(x, name, cout, cin, k, stride=1, relu=True):
    w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
    x = op("Conv", [x, const(name + ".w", w)], name, kernel_shape=[k, k],
           strides=[stride, stride], pads=[k // 2 if k == 3 else 0] * 4)
    x = op("BatchNormalization",
           [x, const(name + ".g", rng.uniform(0.5, 1.5, cout)),
            const(name + ".b", rng.standard_normal(cout) * 0.1),
            const(name + ".m", rng.standard_normal(cout) * 0.1),
            const(name + ".v", rng.uniform(0.5, 1.5, cout))], name + ".bn")
    return op("Relu", [x], name + ".relu") if relu else x


x = conv_bn("input", "stem", 8, 3, 8, stride=8)             # 8x28x28
x = op("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2],
       pads=[1, 1, 1, 1])                                    # 8x14x14
y = conv_bn(x, "b.conv1", 4, 8, 1)
y = conv_bn(y, "b.conv2", 4, 4, 3)
y = conv_bn(y, "b.conv3", 16, 4, 1, relu=False)
s = conv_bn(x, "b.down", 16, 8, 1, relu=False)
x = op("Relu", [op("Add", [y, s], "b.add")], "b.relu")      # 16x14x14
x = op("GlobalAveragePool", [x], "gap")
x = op("Flatten", [x], "flatten")
x = op("Gemm", [x, const("fc.w", rng.standard_normal((10, 16)) * 0.3),
                const("fc.b", rng.standard_normal(10) * 0.1)], "logits",
       transB=1)
graph = helper.make_graph(
    nodes, "valgrind_resnet",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                   ["N", 3, 224, 224])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
    initializer=inits)
model = helper.make_model(graph,
                          opset_imports=[helper.make_operatorsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
