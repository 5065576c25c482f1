#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exports torchvision ResNets to ONNX the way people have them, and writes
PyTorch's own outputs on fixed random images as the reference the engine is
compared with (check-engine-outputs.py). Weights are torchvision's init with
a fixed seed, plus random BatchNorm statistics so that folding them matters.

Usage: gen-torch-models.py VARIANT OUTDIR

Variants (each writes <prefix>.input.f32, <prefix>.expected.f32 and models):
  resnet50-bn-opset13      ResNet-50, BatchNormalization nodes kept
                           (TrainingMode.PRESERVE), Flatten, opset 13
  bottleneck-folded-opset11
                           ResNet-50's bottleneck structure at one block per
                           stage (to keep the build lean; the full-size
                           folded and v1 models are tests/models' job), BN
                           folded into Conv by the exporter,
                           x.view(x.size(0), -1) with a dynamic batch: the
                           Shape→Gather→Unsqueeze→Concat→Reshape chain
  bottleneck-v1-opset9     the same structure in the ONNX-model-zoo v1
                           layout (stride in the first 1×1 conv of each
                           stage), BN kept, Reshape to the constant [1, -1],
                           opset 9
  tails                    case 14: a ResNet-18-style net at opsets 9, 11, 13
                           and 17 with Flatten, Reshape [1,-1], Reshape
                           [0,-1] and the Shape chain
  fc-forms                 case 15: the same net with its final Gemm as
                           transB=1, transB=0, alpha/beta and MatMul+Add, and
                           one with a Softmax appended (own expected file)
"""
import io
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from onnx import helper, numpy_helper

N_IMAGES = 2


def randomize_batchnorm(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return model.eval()


class ViewTail(torch.nn.Module):
    """torchvision's ResNet forward with a view-based flatten, the form
    that exports as the Shape→Gather→Unsqueeze→Concat→Reshape chain."""

    def __init__(self, net, fixed_batch=False):
        super().__init__()
        self.net = net
        self.fixed_batch = fixed_batch
        # The exporter restores the wrapper's mode after exporting, and that
        # mode propagates to the wrapped net: it must be eval too.
        self.eval()

    def forward(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        x = n.avgpool(x)
        x = x.reshape(1, -1) if self.fixed_batch else x.view(x.size(0), -1)
        return n.fc(x)


def export(model, x, opset, preserve_bn, dynamic=False):
    f = io.BytesIO()
    kwargs = {}
    if preserve_bn:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "logits": {0: "N"}}
    torch.onnx.export(model, x[:1], f, opset_version=opset,
                      input_names=["input"], output_names=["logits"],
                      **kwargs)
    return onnx.load_from_string(f.getvalue())


def ops(model):
    return [n.op_type for n in model.graph.node]


def write(outdir, prefix, x, expected, models):
    x.numpy().astype(np.float32).tofile(
        os.path.join(outdir, prefix + ".input.f32"))
    expected.astype(np.float32).tofile(
        os.path.join(outdir, prefix + ".expected.f32"))
    for name, m in models.items():
        onnx.save(m, os.path.join(outdir, name))


def images(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N_IMAGES, 3, 224, 224, generator=g)


def reference(model, x):
    assert not any(m.training for m in model.modules())
    with torch.no_grad():
        return model(x).numpy()


def resnet50(seed=0, layers=(3, 4, 6, 3)):
    torch.manual_seed(seed)
    net = torchvision.models.resnet.ResNet(
        torchvision.models.resnet.Bottleneck, list(layers))
    return randomize_batchnorm(net, seed + 1)


def small_resnet(seed=5):
    torch.manual_seed(seed)
    net = torchvision.models.resnet.ResNet(
        torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=100)
    return randomize_batchnorm(net, seed + 1)


def replace_flatten(model, make_nodes):
    """Swaps the Flatten before the classifier for other nodes."""
    graph = model.graph
    idx = next(i for i, n in enumerate(graph.node) if n.op_type == "Flatten")
    old = graph.node[idx]
    new_nodes, inits = make_nodes(old.input[0], old.output[0])
    del graph.node[idx]
    for k, n in enumerate(new_nodes):
        graph.node.insert(idx + k, n)
    graph.initializer.extend(inits)
    return model


def reshape_tail(shape):
    def make(src, dst):
        name = "tail_shape"
        return ([helper.make_node("Reshape", [src, name], [dst],
                                  name="tail_reshape")],
                [numpy_helper.from_array(np.array(shape, np.int64), name)])
    return make


def variant_resnet50_bn_opset13(outdir):
    net = resnet50()
    x = images(100)
    m = export(net, x, 13, preserve_bn=True)
    assert "BatchNormalization" in ops(m) and "Flatten" in ops(m)
    write(outdir, "resnet50-bn-opset13", x, reference(net, x),
          {"resnet50-bn-opset13.onnx": m})


def variant_bottleneck_folded_opset11(outdir):
    net = ViewTail(resnet50(layers=(1, 1, 1, 1)))
    x = images(101)
    m = export(net, x, 11, preserve_bn=False, dynamic=True)
    assert "BatchNormalization" not in ops(m)
    for op in ("Shape", "Gather", "Unsqueeze", "Concat", "Reshape"):
        assert op in ops(m), op
    write(outdir, "bottleneck-folded-opset11", x, reference(net, x),
          {"bottleneck-folded-opset11.onnx": m})


def variant_bottleneck_v1_opset9(outdir):
    net = resnet50(layers=(1, 1, 1, 1))
    # Model-zoo v1: the stride of each downsampling block sits in its first
    # 1×1 convolution instead of the 3×3 one.
    for layer in (net.layer2, net.layer3, net.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    net = ViewTail(net, fixed_batch=True).eval()
    x = images(102)
    m = export(net, x, 9, preserve_bn=True)
    assert "BatchNormalization" in ops(m) and "Reshape" in ops(m)
    assert "Flatten" not in ops(m)
    # The graph fixes the batch at 1: PyTorch runs it one image at a time.
    expected = np.concatenate([reference(net, x[i:i + 1])
                               for i in range(N_IMAGES)])
    write(outdir, "bottleneck-v1-opset9", x, expected,
          {"bottleneck-v1-opset9.onnx": m})


def variant_tails(outdir):
    net = small_resnet()
    x = images(103)
    models = {}
    for opset in (9, 11, 13, 17):
        base = export(net, x, opset, preserve_bn=True)
        chain = export(ViewTail(net), x, opset, preserve_bn=True,
                       dynamic=True)
        assert "Shape" in ops(chain) and "Unsqueeze" in ops(chain)
        models["tails-opset%d-flatten.onnx" % opset] = base
        for name, shape in (("reshape1", [1, -1]), ("reshape0", [0, -1])):
            m = onnx.ModelProto()
            m.CopyFrom(base)
            models["tails-opset%d-%s.onnx" % (opset, name)] = \
                replace_flatten(m, reshape_tail(shape))
        models["tails-opset%d-shapechain.onnx" % opset] = chain
    for m in models.values():
        onnx.checker.check_model(m)
    write(outdir, "tails", x, reference(net, x), models)


def fc_rewrite(base, form):
    """The final Gemm (Y = X·Wᵀ + b, transB=1 as exported) rewritten into
    another form computing the same function."""
    m = onnx.ModelProto()
    m.CopyFrom(base)
    g = m.graph
    idx = next(i for i, n in enumerate(g.node) if n.op_type == "Gemm")
    gemm = g.node[idx]
    inits = {t.name: t for t in g.initializer}
    w = numpy_helper.to_array(inits[gemm.input[1]])
    b = numpy_helper.to_array(inits[gemm.input[2]])
    x, y = gemm.input[0], gemm.output[0]

    def put(name, arr):
        g.initializer.append(numpy_helper.from_array(arr, name))
        return name

    if form == "transb0":
        nodes = [helper.make_node("Gemm", [x, put("fc_wt", w.T.copy()),
                                           gemm.input[2]], [y], transB=0)]
    elif form == "alpha-beta":
        # Powers of two: the rewritten weights are exact.
        nodes = [helper.make_node("Gemm", [x, put("fc_w_half", w / 2),
                                           put("fc_b_twice", b * 2)], [y],
                                  transB=1, alpha=2.0, beta=0.5)]
    elif form == "matmul-add":
        nodes = [helper.make_node("MatMul", [x, put("fc_wt", w.T.copy())],
                                  ["fc_mm"]),
                 helper.make_node("Add", ["fc_mm", gemm.input[2]], [y])]
    del g.node[idx]
    for k, n in enumerate(nodes):
        g.node.insert(idx + k, n)
    onnx.checker.check_model(m)
    return m


def variant_fc_forms(outdir):
    net = small_resnet(seed=9)
    x = images(104)
    base = export(net, x, 13, preserve_bn=False)
    models = {"fc-transb1.onnx": base}
    for form in ("transb0", "alpha-beta", "matmul-add"):
        models["fc-%s.onnx" % form] = fc_rewrite(base, form)
    expected = reference(net, x)
    write(outdir, "fc-forms", x, expected, models)

    # Softmax appended: the outputs are probabilities.
    net_sm = torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval()
    m = export(net_sm, x, 13, preserve_bn=False)
    assert ops(m)[-1] == "Softmax"
    write(outdir, "fc-softmax", x, reference(net_sm, x),
          {"fc-softmax.onnx": m})


VARIANTS = {
    "resnet50-bn-opset13": variant_resnet50_bn_opset13,
    "bottleneck-folded-opset11": variant_bottleneck_folded_opset11,
    "bottleneck-v1-opset9": variant_bottleneck_v1_opset9,
    "tails": variant_tails,
    "fc-forms": variant_fc_forms,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in VARIANTS:
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    # The exporter warns about constant folding and training mode; the
    # choices are deliberate here.
    import warnings
    warnings.simplefilter("ignore")
    VARIANTS[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
