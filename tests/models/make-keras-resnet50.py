#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Writes the Keras ResNet50 that Deeplearning4j's model zoo ships as
# `ResNet50` (variant 5 of issue 3), with deterministic synthetic weights, as
# an ONNX file and as a Keras 2 HDF5 weights file holding the SAME weights.
# The architecture is the one in shared/reference/dl4j-resnet50-summary.md:
# ResNet v1 (stride 2 in the first 1x1 convolution of stages 3-5 and in the
# projection shortcut), every convolution with a bias, BatchNormalization
# epsilon 1e-3, ZeroPadding(3) + 7x7/2 stem convolution, 3x3/2 max pool
# without padding (112 -> 55), 7x7 average pool, and fc1000 with the softmax
# inside (ONNX: Gemm then Softmax), 25,636,712 parameters counting the BN
# moving statistics as Keras and DL4J do (checked here).
#
# The weights come from make-resnet50.py's seeded generator (same shapes as
# torchvision's, mapped to Keras names) plus seeded conv biases, and are
# calibrated with make-resnet50.py's calibrate() on crops of the real images
# preprocessed the caffe way (BGR, 0..255, ImageNet means subtracted) - the
# input this model expects - so that every BN sees unit-variance input and
# the five test images get five different top-1 classes (checked).
#
# ONNX: node names are the DL4J/Keras vertex names, and each node's output
# tensor is named after it, except fc1000: Gemm 'fc1000' writes
# 'fc1000_preact', and Softmax 'fc1000_softmax' the graph output 'fc1000'.
# producer_name is keras2onnx's. HDF5: the layout
# Keras 2's save_weights() writes (keras/engine/saving.py,
# save_weights_to_hdf5_group): root attributes layer_names, backend and
# keras_version; one group per layer (weightless ones too) with an attribute
# weight_names; datasets '<layer>/<layer>/kernel:0' (HWIO), 'bias:0',
# 'gamma:0', 'beta:0', 'moving_mean:0', 'moving_variance:0', Dense kernel
# (2048, 1000). --drop-layer and --bad-shape write broken files for the
# loader's negative tests.
#
#   make-keras-resnet50.py --onnx m.onnx --h5 w.h5
#   make-keras-resnet50.py --calibrate --npz cal.npz     (torch, ~15 s)
#   make-keras-resnet50.py --npz cal.npz --h5 bad.h5 --bad-shape res4c_branch2b

import argparse
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('make_resnet50',
                                               os.path.join(HERE, 'make-resnet50.py'))
mr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mr)

EPS = 1e-3
TOTAL_PARAMS = 25636712
LETTERS = 'abcdef'


def keras_layers():
    """The Keras ResNet50 vertex list in the DL4J summary's order:
    (name, kind, inputs, attrs). kind: conv, bn, relu, maxpool, add,
    avgpool, flatten, dense."""
    layers = []
    act = [0]
    add = [0]

    def relu(src):
        act[0] += 1
        name = 'activation_%d' % act[0]
        layers.append((name, 'relu', [src], {}))
        return name

    layers.append(('conv1', 'conv', ['input_1'],
                   dict(cin=3, cout=64, k=7, stride=2, pad=3)))
    layers.append(('bn_conv1', 'bn', ['conv1'], dict(c=64)))
    x = relu('bn_conv1')
    layers.append(('max_pooling2d_1', 'maxpool', [x], {}))
    x = 'max_pooling2d_1'
    cin = 64
    for si, (width, blocks, stride) in enumerate(mr.STAGES):
        stage = si + 2
        for bi in range(blocks):
            p = '%d%s' % (stage, LETTERS[bi])
            s = stride if bi == 0 else 1
            cout = width * mr.EXPANSION
            convs = [('res%s_branch2a' % p, 'conv', [x],
                      dict(cin=cin, cout=width, k=1, stride=s, pad=0))]
            bns = [('bn%s_branch2a' % p, 'bn', ['res%s_branch2a' % p], dict(c=width))]
            if bi == 0:
                convs.append(('res%s_branch1' % p, 'conv', [x],
                              dict(cin=cin, cout=cout, k=1, stride=s, pad=0)))
                bns.append(('bn%s_branch1' % p, 'bn', ['res%s_branch1' % p], dict(c=cout)))
                # DL4J's topological order (as its summary prints it) puts the
                # shortcut first in stages 4 and 5.
                if stage >= 4:
                    convs.reverse()
                    bns.reverse()
            layers += convs + bns
            y = relu('bn%s_branch2a' % p)
            layers.append(('res%s_branch2b' % p, 'conv', [y],
                           dict(cin=width, cout=width, k=3, stride=1, pad=1)))
            layers.append(('bn%s_branch2b' % p, 'bn', ['res%s_branch2b' % p], dict(c=width)))
            y = relu('bn%s_branch2b' % p)
            layers.append(('res%s_branch2c' % p, 'conv', [y],
                           dict(cin=width, cout=cout, k=1, stride=1, pad=0)))
            layers.append(('bn%s_branch2c' % p, 'bn', ['res%s_branch2c' % p], dict(c=cout)))
            add[0] += 1
            a = 'add_%d' % add[0]
            short = 'bn%s_branch1' % p if bi == 0 else x
            layers.append((a, 'add', ['bn%s_branch2c' % p, short], {}))
            x = relu(a)
            cin = cout
    layers.append(('avg_pool', 'avgpool', [x], {}))
    layers.append(('flatten_1', 'flatten', ['avg_pool'], {}))
    layers.append(('fc1000', 'dense', ['flatten_1'], dict(cin=2048, cout=1000)))
    return layers


def torchvision_key(name):
    """Keras layer name -> make-resnet50.py's state-dict prefix (same shapes)."""
    if name == 'conv1':
        return 'conv1'
    if name == 'bn_conv1':
        return 'bn1'
    if name == 'fc1000':
        return 'fc'
    bn = name.startswith('bn')
    core = name[2:] if bn else name[3:]          # '2a_branch2a'
    stage, block = int(core[0]) - 2, LETTERS.index(core[1])
    branch = core.split('_')[1]
    prefix = 'layer%d.%d.' % (stage + 1, block)
    if branch == 'branch1':
        return prefix + ('downsample.1' if bn else 'downsample.0')
    n = {'branch2a': '1', 'branch2b': '2', 'branch2c': '3'}[branch]
    return prefix + ('bn' if bn else 'conv') + n


# ---------------------------------------------------------------------------
# Torch model for calibration: Keras semantics (conv biases, valid max pool).

def build_torch(weights):
    import torch

    class KerasResNet50(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.spec = keras_layers()
            self.mods = torch.nn.ModuleDict()
            for name, kind, _, a in self.spec:
                if kind == 'conv':
                    self.mods[name] = torch.nn.Conv2d(a['cin'], a['cout'], a['k'],
                                                      stride=a['stride'], padding=a['pad'])
                elif kind == 'bn':
                    self.mods[name] = torch.nn.BatchNorm2d(a['c'], eps=EPS)
            self.maxpool = torch.nn.MaxPool2d(3, stride=2)
            self.avgpool = torch.nn.AvgPool2d(7)
            self.fc = torch.nn.Linear(2048, 1000)

        def forward(self, x):
            t = {'input_1': x}
            for name, kind, ins, _ in self.spec:
                v = t[ins[0]]
                if kind in ('conv', 'bn'):
                    v = self.mods[name](v)
                elif kind == 'relu':
                    v = torch.relu(v)
                elif kind == 'maxpool':
                    v = self.maxpool(v)
                elif kind == 'add':
                    v = v + t[ins[1]]
                elif kind == 'avgpool':
                    v = self.avgpool(v)
                elif kind == 'flatten':
                    v = v.flatten(1)
                elif kind == 'dense':
                    v = self.fc(v)
                t[name] = v
            return t['fc1000']

    model = KerasResNet50()
    with torch.no_grad():
        for name, kind, _, _ in model.spec:
            w = weights.get(name)
            if kind == 'conv':
                model.mods[name].weight.copy_(torch.from_numpy(w['W']))
                model.mods[name].bias.copy_(torch.from_numpy(w['b']))
            elif kind == 'bn':
                m = model.mods[name]
                m.weight.copy_(torch.from_numpy(w['gamma']))
                m.bias.copy_(torch.from_numpy(w['beta']))
    model.eval()
    return model


def make_weights(seed, npz, recalibrate=False):
    """{layer: {param: float32 array}}, conv W in OIHW, dense W as (out, in);
    calibrated. Read from npz when it exists (and recalibrate is False),
    else computed (about 15 s) and saved there: same seed, same arrays."""
    if npz and os.path.exists(npz) and not recalibrate:
        with np.load(npz) as z:
            if z['seed'].item() == seed:
                weights = {}
                for k in z.files:
                    if '/' in k:
                        layer, param = k.split('/')
                        weights.setdefault(layer, {})[param] = z[k]
                return weights, z['logits']
    os.nice(5)
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    sd, _ = mr.make_base_weights(seed, 1000, 1.0)
    rng = np.random.default_rng(seed + 7)
    weights = {}
    for name, kind, _, a in keras_layers():
        key = torchvision_key(name) if kind in ('conv', 'bn') else None
        if kind == 'conv':
            # Biases large enough that a loader which drops them is caught
            # (BN calibration absorbs them only if they are applied).
            weights[name] = {'W': sd[key + '.weight'],
                             'b': (rng.standard_normal(a['cout']) * 0.2).astype(np.float32)}
        elif kind == 'bn':
            weights[name] = {'gamma': sd[key + '.weight'], 'beta': sd[key + '.bias']}
    model = build_torch(weights)
    calib_rng = np.random.default_rng(seed + 1)
    batch = mr.calibration_batch(calib_rng, 2, 'caffe')
    logits = mr.calibrate(model, batch, len(mr.TEST_IMAGES),
                          sd['fc.weight'].astype(np.float64))
    for name, kind, _, _ in keras_layers():
        if kind == 'bn':
            m = model.mods[name]
            weights[name]['mean'] = m.running_mean.detach().numpy().copy()
            weights[name]['var'] = m.running_var.detach().numpy().copy()
    weights['fc1000'] = {'W': model.fc.weight.detach().numpy().copy(),
                         'b': model.fc.bias.detach().numpy().copy()}
    if npz:
        tmp = npz + '.tmp.npz'
        np.savez(tmp, seed=np.array(seed), logits=logits,
                 **{'%s/%s' % (l, p): v for l, d in weights.items() for p, v in d.items()})
        os.replace(tmp, npz)
    return weights, logits


def count_params(weights):
    return sum(v.size for d in weights.values() for v in d.values())


def check(weights, logits, quiet):
    n = count_params(weights)
    top1 = logits.argmax(axis=1)
    ok = True
    if not quiet:
        print('Keras ResNet50: %d parameters' % n)
        for name, t, sp in zip(mr.TEST_IMAGES, top1, logits.std(axis=1)):
            print('  %-20s top-1 %4d  logit std %.3f' % (name, t, sp))
    if n != TOTAL_PARAMS:
        print('error: %d parameters, the DL4J summary says %d' % (n, TOTAL_PARAMS),
              file=sys.stderr)
        ok = False
    if len(set(top1.tolist())) != len(mr.TEST_IMAGES):
        print('error: top-1 classes %s are not all different' % top1.tolist(),
              file=sys.stderr)
        ok = False
    return ok


# ---------------------------------------------------------------------------
# Writers.

def make_onnx(weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits = [], []

    def init(name, a):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32)
                                             if a.dtype != np.int64 else a, name))
        return name

    for name, kind, ins, a in keras_layers():
        w = weights.get(name)
        if kind == 'conv':
            src = ins[0]
            if a['pad'] and name == 'conv1':
                # Keras' ZeroPadding2D((3, 3)) before a 'valid' convolution.
                init('conv1_pad_pads', np.array([0, 0, 3, 3, 0, 0, 3, 3], np.int64))
                nodes.append(helper.make_node('Pad', [src, 'conv1_pad_pads'], ['conv1_pad'],
                                              name='conv1_pad', mode='constant'))
                src, pad = 'conv1_pad', 0
            else:
                pad = a['pad']
            nodes.append(helper.make_node(
                'Conv', [src, init(name + '_W', w['W']), init(name + '_b', w['b'])], [name],
                name=name, kernel_shape=[a['k'], a['k']], strides=[a['stride']] * 2,
                pads=[pad] * 4, dilations=[1, 1], group=1))
        elif kind == 'bn':
            nodes.append(helper.make_node(
                'BatchNormalization',
                [ins[0]] + [init('%s_%s' % (name, p), w[p])
                            for p in ('gamma', 'beta', 'mean', 'var')],
                [name], name=name, epsilon=EPS))
        elif kind == 'relu':
            nodes.append(helper.make_node('Relu', ins, [name], name=name))
        elif kind == 'maxpool':
            nodes.append(helper.make_node('MaxPool', ins, [name], name=name,
                                          kernel_shape=[3, 3], strides=[2, 2],
                                          pads=[0, 0, 0, 0]))
        elif kind == 'add':
            nodes.append(helper.make_node('Add', ins, [name], name=name))
        elif kind == 'avgpool':
            nodes.append(helper.make_node('AveragePool', ins, [name], name=name,
                                          kernel_shape=[7, 7], strides=[7, 7]))
        elif kind == 'flatten':
            nodes.append(helper.make_node('Flatten', ins, [name], name=name, axis=1))
        elif kind == 'dense':
            # Keras' Dense kernel is (in, out): Gemm with transB=0. The softmax
            # is the Dense layer's activation.
            nodes.append(helper.make_node(
                'Gemm', [ins[0], init('fc1000_W', w['W'].T), init('fc1000_b', w['b'])],
                ['fc1000_preact'], name='fc1000', alpha=1.0, beta=1.0, transB=0))
            nodes.append(helper.make_node('Softmax', ['fc1000_preact'], ['fc1000'],
                                          name='fc1000_softmax', axis=1))
    graph = helper.make_graph(
        nodes, 'ResNet50',
        [helper.make_tensor_value_info('input_1', TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info('fc1000', TensorProto.FLOAT, [1, 1000])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)],
                              ir_version=7, producer_name='keras2onnx',
                              producer_version='1.7.0')
    model.doc_string = ('Synthetic Keras ResNet50 (the DL4J zoo ResNet50), caffe input, '
                        'written by tests/models/make-keras-resnet50.py. Not a trained '
                        'classifier.')
    onnx.checker.check_model(model, full_check=True)
    return model


def write_h5(path, weights, drop_layer=None, bad_shape=None):
    import h5py
    names = ['input_1', 'conv1_pad'] + [l[0] for l in keras_layers()]
    kinds = {l[0]: l[1] for l in keras_layers()}
    tmp = path + '.tmp'
    with h5py.File(tmp, 'w') as f:
        names = [n for n in names if n != drop_layer]
        f.attrs['layer_names'] = [n.encode('utf8') for n in names]
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.2.4'
        for name in names:
            g = f.create_group(name)
            kind = kinds.get(name)
            w = weights.get(name, {})
            if kind == 'conv':
                arrays = [('kernel:0', w['W'].transpose(2, 3, 1, 0)), ('bias:0', w['b'])]
            elif kind == 'bn':
                arrays = [('gamma:0', w['gamma']), ('beta:0', w['beta']),
                          ('moving_mean:0', w['mean']), ('moving_variance:0', w['var'])]
            elif kind == 'dense':
                arrays = [('kernel:0', w['W'].T), ('bias:0', w['b'])]
            else:
                arrays = []
            wnames = []
            for short, a in arrays:
                a = np.ascontiguousarray(a, dtype=np.float32)
                if name == bad_shape and short == 'kernel:0':
                    a = np.ascontiguousarray(a[..., :-1])      # one output channel short
                full = '%s/%s' % (name, short)
                wnames.append(full.encode('utf8'))
                g.create_dataset(full, data=a)
            g.attrs['weight_names'] = wnames
    os.replace(tmp, path)


def main(argv):
    p = argparse.ArgumentParser(description='Writes the Keras ResNet50 (DL4J zoo) as ONNX and Keras HDF5.')
    p.add_argument('--onnx', help='ONNX file to write')
    p.add_argument('--h5', help='Keras HDF5 weights file to write')
    p.add_argument('--npz', help='cache of the calibrated weights (build directory)')
    p.add_argument('--calibrate', action='store_true',
                   help='compute the weights even if --npz exists, and write it')
    p.add_argument('--seed', type=int, default=20240505)
    p.add_argument('--drop-layer', metavar='NAME', help='negative test: omit this layer')
    p.add_argument('--bad-shape', metavar='NAME',
                   help="negative test: this layer's kernel one output channel short")
    p.add_argument('--quiet', action='store_true')
    args = p.parse_args(argv)
    weights, logits = make_weights(args.seed, args.npz, args.calibrate)
    if not check(weights, logits, args.quiet):
        return 1
    if args.onnx:
        import onnx
        tmp = args.onnx + '.tmp'
        onnx.save(make_onnx(weights), tmp)
        os.replace(tmp, args.onnx)
    if args.h5:
        write_h5(args.h5, weights, args.drop_layer, args.bad_shape)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
