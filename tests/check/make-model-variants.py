#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Derives model variants for the element's tests from the generated test
model (deterministic: no randomness involved).

  wrong-input-shape  the graph input declared as 1x1x224x224 (one channel),
                     which contradicts the first convolution's 3-channel
                     weights: loading must fail with LIBRARY INIT.
  1001-classes       a 1001-output head with a "background" class at index 0
                     in front of the 1000 original classes (as in TensorFlow
                     slim models): with a 1000-line labels file the element
                     must refuse to start, with a 1001-line file the labels
                     must follow the raw output index.
  softmax-head       the same network with a final Softmax: its outputs are
                     probabilities already, and the element must report the
                     same scores as for the logits model (never a second
                     softmax).

Usage: make-model-variants.py VARIANT INPUT.onnx OUTPUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def wrong_input_shape(model):
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value = 1


def find_initializer(graph, name):
    for init in graph.initializer:
        if init.name == name:
            return init
    raise SystemExit("no initializer named %s" % name)


def add_background_class(model):
    graph = model.graph
    final = graph.node[-1]
    if final.op_type != "Gemm":
        raise SystemExit("expected the graph to end in Gemm, got %s" % final.op_type)
    trans_b = 0
    for attr in final.attribute:
        if attr.name == "transB":
            trans_b = attr.i
    w_init = find_initializer(graph, final.input[1])
    b_init = find_initializer(graph, final.input[2])
    w = numpy_helper.to_array(w_init)
    b = numpy_helper.to_array(b_init)
    # Background: zero weights and a low bias, so it rarely wins but still
    # has a well-defined probability.
    if trans_b:
        w = np.concatenate([np.zeros((1, w.shape[1]), w.dtype), w], axis=0)
    else:
        w = np.concatenate([np.zeros((w.shape[0], 1), w.dtype), w], axis=1)
    b = np.concatenate([np.array([-4.0], b.dtype), b])
    w_init.CopyFrom(numpy_helper.from_array(w, w_init.name))
    b_init.CopyFrom(numpy_helper.from_array(b, b_init.name))
    out_dims = graph.output[0].type.tensor_type.shape.dim
    out_dims[len(out_dims) - 1].dim_value = b.shape[0]


def add_softmax(model):
    graph = model.graph
    logits = graph.output[0].name + "_logits"
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == graph.output[0].name:
                node.output[i] = logits
    graph.node.append(onnx.helper.make_node(
        "Softmax", [logits], [graph.output[0].name], name="/softmax/Softmax", axis=1))


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    variant, src, dst = sys.argv[1:]
    model = onnx.load(src)
    if variant == "wrong-input-shape":
        wrong_input_shape(model)
    elif variant == "1001-classes":
        add_background_class(model)
    elif variant == "softmax-head":
        add_softmax(model)
    else:
        raise SystemExit("unknown variant %s" % variant)
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
