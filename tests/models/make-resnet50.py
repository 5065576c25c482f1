#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Writes a full-size ResNet-50 ONNX file (torchvision's architecture, 25,557,032
# parameters for 1000 classes) with deterministic synthetic weights that behave
# like a trained network's: the test oracle. Random weights alone are useless
# (pooled features share a large common mean, so one class wins for every
# input), so the network is calibrated in torch on crops of the real colour
# images that Debian's python3-skimage ships: every BatchNormalization gets the
# batch statistics of its actual input (layer by layer, in one eval-mode pass
# with a pre-hook per BN), and the classifier sees its input features centred
# and scaled (fc bias = -W.mean, columns divided by the feature std), so
# results depend on the image. The script checks that on the five test images
# (at least 4 distinct top-1 classes, logit std across classes >= 2) and fails
# otherwise. The graph is written with onnx.helper the way the exporters people
# actually use write it (torchvision via torch.onnx, or the ONNX model zoo's
# MXNet resnet50-v1 and pre-activation resnet50-v2, the latter calibrated
# separately), so loaders meet realistic node/tensor names, attributes and
# tails; loaders must not depend on names. Options select the opset, BN
# folding, the tail, the classifier form, epsilon, a Caffe stem (ceil_mode
# max pool), a 1001-output head with background at 0, and negative variants.
#
# Same options -> same bytes. Nothing is downloaded. --calibrate-only keeps the
# calibrated tensors in an .npz (the build directory's); --calibration writes
# any variant from it in about a second, bit for bit as a full run would.
#
#   make-resnet50.py --output m.onnx [--opset 13] [--fold-bn] [--tail flatten]
#   make-resnet50.py --calibrate-only --output cal.npz
#   make-resnet50.py --calibration cal.npz --opset 11 --fold-bn --output m.onnx

import argparse
import os
import sys

import numpy as np

SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data'
# The five images the parity tests classify; their torchvision crops head the
# calibration batch and the generator checks its properties on them.
TEST_IMAGES = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg',
               'motorcycle_left.png']
# Every other usable colour photograph in skimage/data (RGB, at least 224 px
# on the short side, not a synthetic pattern). logo.png is RGBA: composited on
# white.
EXTRA_IMAGES = ['motorcycle_right.png', 'hubble_deep_field.jpg', 'retina.jpg',
                'ihc.png', 'color.png', 'logo.png']

# torchvision ResNet-50: (bottleneck width, blocks, stride of the first block).
STAGES = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]
EXPANSION = 4

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
# Caffe/Keras ResNet-50 input: BGR planes, 0..255, these means subtracted.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

# Properties the oracle must have on the five test images (see issue 2).
MIN_DISTINCT_TOP1 = 4
MIN_LOGIT_STD = 2.0
# Target for the median (over the test images) std of the logits across classes.
TARGET_LOGIT_STD = 4.0


def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Writes a synthetic, calibrated ResNet-50 ONNX model.')
    p.add_argument('--output', '-o', help='ONNX (or, with --calibrate-only, .npz) '
                   'file to write')
    p.add_argument('--seed', type=int, default=20240501,
                   help='seed of the weights and calibration crops')
    p.add_argument('--opset', type=int, default=13, choices=range(9, 18),
                   metavar='N', help='ONNX opset, 9..17 (default 13)')
    p.add_argument('--style', choices=['torchvision', 'v1', 'v2'], default='torchvision',
                   help='torchvision (v1.5: stride in the 3x3 conv), v1 (ONNX '
                   'model zoo resnet50-v1: stride in the first 1x1 conv) or v2 '
                   '(model zoo resnet50-v2: pre-activation, BatchNormalization->Relu '
                   'before the convolutions, BN on the input image)')
    p.add_argument('--stem', choices=['torchvision', 'caffe', 'caffe-floor'],
                   default='torchvision',
                   help='stem max pool: 3x3/2 pad 1 (torchvision), or 3x3/2 without '
                   'padding and ceil_mode=1 as Caffe rounds (56x56 out; needs opset '
                   '>= 10); caffe-floor is the same with ceil_mode=0 (55x55), what an '
                   'engine ignoring ceil_mode computes (a negative control). Written '
                   'from the same calibration as the torchvision stem.')
    p.add_argument('--background', action='store_true',
                   help='prepend a "background" output at index 0 (classes + 1 '
                   'outputs, as TF-slim models have), a constant logit near the '
                   'test images\' third best, from the same calibration')
    p.add_argument('--fold-bn', action='store_true',
                   help='fold BatchNormalization into conv weight+bias')
    p.add_argument('--tail', choices=['flatten', 'reshape', 'reshape0', 'shape'],
                   default='flatten',
                   help='after GlobalAveragePool: Flatten(axis=1), Reshape(const '
                   '[1,-1]), Reshape(const [0,-1]), or the dynamic '
                   'Shape->Gather->Unsqueeze->Concat->Reshape chain')
    p.add_argument('--shape-const', choices=['node', 'initializer'], default=None,
                   help='how Reshape/Gather constants are stored (default: '
                   'Constant node for torchvision, initializer for v1)')
    p.add_argument('--batch', choices=['static', 'dynamic'], default='static',
                   help='input dimension 0: 1, or a symbolic batch')
    p.add_argument('--fc', choices=['gemm', 'gemm-notrans', 'gemm-scaled', 'matmul',
                                    'gemm-scalar-bias'],
                   default='gemm',
                   help='classifier form: Gemm transB=1; Gemm transB=0; Gemm '
                   'alpha=2 beta=0.5; MatMul+Add (the same function in all four); '
                   'gemm-scalar-bias: a one-element C broadcast to every class (its '
                   'value the mean bias, so a different function)')
    p.add_argument('--classes', type=int, default=1000, help='output classes')
    p.add_argument('--bn-epsilon', type=float, default=1e-5,
                   help='epsilon attribute of every BatchNormalization')
    p.add_argument('--conv-scale', type=float, default=1.0,
                   help='scale of every conv weight: small values give small '
                   'running variances, so that epsilon matters')
    p.add_argument('--preprocess', choices=['torchvision', 'caffe'], default='torchvision',
                   help='input normalization the model expects (it is calibrated on '
                   'crops preprocessed this way): torchvision (RGB, /255, ImageNet '
                   'mean/std) or caffe (BGR, 0..255, mean subtraction only)')
    p.add_argument('--calib-crops', type=int, default=2,
                   help='crops per calibration image (1 = the centre crop only)')
    p.add_argument('--calibrate-only', action='store_true',
                   help='write the calibrated weights (.npz) to --output instead of a model')
    p.add_argument('--calibration', metavar='NPZ',
                   help='take the calibrated weights from this --calibrate-only file '
                   '(seconds instead of a torch calibration; same bytes out)')
    p.add_argument('--unsupported-op', metavar='OP',
                   help='negative test: insert a node of this op type (e.g. NonZero) '
                   'on the path to the output')
    p.add_argument('--check-against', metavar='ONNX',
                   help='write nothing; exit 1 unless this file has exactly the '
                   'bytes this run makes (--output is then ignored)')
    p.add_argument('--quiet', action='store_true')
    args = p.parse_args(argv)
    if not args.output and not args.check_against:
        p.error('--output is required')
    if args.shape_const is None:
        args.shape_const = 'node' if args.style == 'torchvision' else 'initializer'
    if args.stem != 'torchvision' and args.opset < 10:
        p.error('--stem %s needs ceil_mode, so opset >= 10' % args.stem)
    return args


# ---------------------------------------------------------------------------
# Weights: numpy's PCG64 streams are stable across platforms and versions.

def block_specs():
    """Yields (stage index, block index, in channels, width, stride)."""
    inplanes = 64
    for si, (width, blocks, stride) in enumerate(STAGES):
        for bi in range(blocks):
            yield si, bi, inplanes, width, (stride if bi == 0 else 1)
            inplanes = width * EXPANSION


def smooth_kernels(w, sigma):
    """Blurs each kernel of w (O x I x K x K) with a 5-tap Gaussian."""
    r = np.arange(5) - 2.0
    g = np.exp(-r ** 2 / (2 * sigma * sigma))
    g /= g.sum()
    k = w.shape[-1]
    padded = np.pad(w, ((0, 0), (0, 0), (2, 2), (2, 2)), mode='symmetric')
    out = np.zeros_like(w)
    for dy in range(5):
        for dx in range(5):
            out += g[dy] * g[dx] * padded[:, :, dy:dy + k, dx:dx + k]
    return out


def blob_kernels(rng, cout, cin, k):
    """Each kernel a random gain times a Gaussian blob off the centre, plus 10 %
    white noise: low-pass, yet no kernel is symmetric."""
    gain = rng.standard_normal((cout, cin, 1, 1))
    off = rng.uniform(-0.7, 0.7, (2, cout, cin, 1, 1))
    c = np.arange(k) - (k - 1) / 2.0
    blob = np.exp(-((c[None, None, None, :] - off[0]) ** 2 +
                    (c[None, None, :, None] - off[1]) ** 2) / 2.0)
    blob /= np.sqrt((blob ** 2).sum(axis=(2, 3), keepdims=True))
    noise = rng.standard_normal((cout, cin, k, k)) / k
    return gain * (0.9 * blob + 0.1 * noise)


def make_base_weights(seed, num_classes, conv_scale, style='torchvision'):
    """State dict (torchvision key names; for v2 those of ResNetV2 below) of
    float32 numpy arrays."""
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(key, cout, cin, k):
        # Kaiming normal scale (fan_out), as torchvision initializes. White-noise
        # kernels are high-pass filters: calibrated to unit response on natural
        # images they amplify pixel-level noise so much that a 1-level rounding
        # difference in preprocessing moves logits by a whole unit, which no
        # trained network does. So the spatial kernels are smooth but asymmetric
        # (an engine that flips or transposes kernels must still be caught).
        std = np.sqrt(2.0 / (cout * k * k)) * conv_scale
        if k == 1:
            w = rng.standard_normal((cout, cin, 1, 1))
        elif k == 7:
            w = smooth_kernels(rng.standard_normal((cout, cin, k, k)), sigma=2.0)
        else:
            w = blob_kernels(rng, cout, cin, k)
        sd[key + '.weight'] = (w * (std / w.std())).astype(np.float32)

    def bn(key, c, residual_end=False):
        # gamma/beta away from 1/0 so that loaders which ignore them are caught;
        # the last BN of a residual branch is smaller so that the sum's variance
        # grows slowly through a stage.
        lo, hi = (0.2, 0.6) if residual_end else (0.5, 1.5)
        sd[key + '.weight'] = rng.uniform(lo, hi, c).astype(np.float32)
        sd[key + '.bias'] = (rng.standard_normal(c) * 0.1).astype(np.float32)
        sd[key + '.running_mean'] = np.zeros(c, np.float32)
        sd[key + '.running_var'] = np.ones(c, np.float32)

    if style == 'v2':
        return make_base_weights_v2(rng, sd, conv, bn, num_classes)
    conv('conv1', 64, 3, 7)
    bn('bn1', 64)
    for si, bi, cin, width, stride in block_specs():
        p = 'layer%d.%d' % (si + 1, bi)
        conv(p + '.conv1', width, cin, 1)
        bn(p + '.bn1', width)
        conv(p + '.conv2', width, width, 3)
        bn(p + '.bn2', width)
        conv(p + '.conv3', width * EXPANSION, width, 1)
        bn(p + '.bn3', width * EXPANSION, residual_end=True)
        if bi == 0:
            conv(p + '.downsample.0', width * EXPANSION, cin, 1)
            bn(p + '.downsample.1', width * EXPANSION)
    # The classifier's direction; its scale, and the bias, come from calibration.
    sd['fc.weight'] = rng.standard_normal((num_classes, 2048)).astype(np.float32)
    sd['fc.bias'] = np.zeros(num_classes, np.float32)
    return sd, rng


def make_base_weights_v2(rng, sd, conv, bn, num_classes):
    """Pre-activation ResNet-50 (MXNet gluon ResNetV2 / BottleneckV2): a BN
    without scale and shift on the image, the stem, then per block BN->Relu
    before each convolution, the stride in the 3x3 conv, a bias-free 1x1
    downsample fed by the block's first activation, no BN after the last conv
    of a branch, and a final BN->Relu before the pooling."""
    sd['bn_data.weight'] = np.ones(3, np.float32)
    sd['bn_data.bias'] = np.zeros(3, np.float32)
    sd['bn_data.running_mean'] = np.zeros(3, np.float32)
    sd['bn_data.running_var'] = np.ones(3, np.float32)
    conv('conv1', 64, 3, 7)
    bn('bn1', 64)
    for si, bi, cin, width, stride in block_specs():
        p = 'layer%d.%d' % (si + 1, bi)
        bn(p + '.bn1', cin)
        conv(p + '.conv1', width, cin, 1)
        bn(p + '.bn2', width)
        conv(p + '.conv2', width, width, 3)
        bn(p + '.bn3', width)
        conv(p + '.conv3', width * EXPANSION, width, 1)
        # The branch ends in a conv, not a BN: keep it small so the residual
        # stream grows slowly (the next block's BN normalizes it anyway).
        sd[p + '.conv3.weight'] *= np.float32(0.5)
        if bi == 0:
            conv(p + '.downsample.0', width * EXPANSION, cin, 1)
    bn('bn_final', 512 * EXPANSION)
    sd['fc.weight'] = rng.standard_normal((num_classes, 2048)).astype(np.float32)
    sd['fc.bias'] = np.zeros(num_classes, np.float32)
    return sd, rng


# ---------------------------------------------------------------------------
# Calibration images: the torchvision preset (Resize(256), CenterCrop(224),
# ToTensor, Normalize) on every image, plus random resized crops.

def load_rgb(name):
    from PIL import Image
    im = Image.open(os.path.join(SKIMAGE_DATA, name))
    im.load()
    if im.mode == 'RGBA':
        bg = Image.new('RGBA', im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert('RGB')


def to_normalized(im, preprocess='torchvision'):
    a = np.asarray(im, dtype=np.float64)
    if preprocess == 'caffe':
        a = a[:, :, ::-1] - CAFFE_MEAN_BGR
    else:
        a = (a / 255.0 - MEAN) / STD
    return a.transpose(2, 0, 1).astype(np.float32)


def preset_crop(im):
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode
    im = F.resize(im, 256, interpolation=InterpolationMode.BILINEAR)
    return F.center_crop(im, 224)


def random_crop(im, rng):
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode
    w, h = im.size
    for _ in range(20):
        area = w * h * rng.uniform(0.3, 1.0)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(round(np.sqrt(area * ratio)))
        ch = int(round(np.sqrt(area / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            break
    else:
        ch = cw = min(w, h)
        top, left = (h - ch) // 2, (w - cw) // 2
    out = F.resized_crop(im, top, left, ch, cw, [224, 224],
                         interpolation=InterpolationMode.BILINEAR)
    if rng.uniform() < 0.5:
        out = F.hflip(out)
    return out


def calibration_batch(rng, crops_per_image, preprocess):
    """N x 3 x 224 x 224 float32; rows 0..4 are the test images' preset crops."""
    tensors = []
    images = [load_rgb(n) for n in TEST_IMAGES + EXTRA_IMAGES]
    for im in images:
        tensors.append(to_normalized(preset_crop(im), preprocess))
    for _ in range(crops_per_image - 1):
        for im in images:
            tensors.append(to_normalized(random_crop(im, rng), preprocess))
    return np.stack(tensors)


# ---------------------------------------------------------------------------
# Calibration in torch.

def build_torch_v2(num_classes, eps):
    """The v2 network of make_base_weights_v2 in torch (eval mode)."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride, downsample):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(cin)
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * EXPANSION, 1, bias=False)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, width * EXPANSION, 1, stride,
                                                       bias=False))
                               if downsample else None)

        def forward(self, x):
            residual = x
            x = torch.relu(self.bn1(x))
            if self.downsample is not None:
                residual = self.downsample(x)
            x = torch.relu(self.bn2(self.conv1(x)))
            x = torch.relu(self.bn3(self.conv2(x)))
            return self.conv3(x) + residual

    class ResNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn_data = nn.BatchNorm2d(3)
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            stages = [[] for _ in STAGES]
            for si, bi, cin, width, stride in block_specs():
                stages[si].append(Bottleneck(cin, width, stride, bi == 0))
            for si, blocks in enumerate(stages):
                setattr(self, 'layer%d' % (si + 1), nn.Sequential(*blocks))
            self.bn_final = nn.BatchNorm2d(512 * EXPANSION)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * EXPANSION, num_classes)

        def forward(self, x):
            x = self.maxpool(torch.relu(self.bn1(self.conv1(self.bn_data(x)))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = self.avgpool(torch.relu(self.bn_final(x)))
            return self.fc(x.flatten(1))

    return ResNetV2()


def build_torch(style, sd, num_classes, eps):
    import torch
    import torchvision
    if style == 'v2':
        model = build_torch_v2(num_classes, eps)
    else:
        model = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if style == 'v1':
        # Model zoo resnet50-v1 (MXNet gluon BottleneckV1): stride on the first 1x1.
        for layer in (model.layer2, model.layer3, model.layer4):
            layer[0].conv1.stride = (2, 2)
            layer[0].conv2.stride = (1, 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = eps
    state = {k: torch.from_numpy(v) for k, v in sd.items()}
    missing = model.load_state_dict(state, strict=False)
    # Only the num_batches_tracked counters are not ours.
    assert all(k.endswith('num_batches_tracked') for k in missing.missing_keys), missing
    assert not missing.unexpected_keys, missing
    model.eval()
    return model


def calibrate(model, batch, num_test, fc_rng_dir):
    """Sets every BN's running statistics and the fc layer; returns the test
    images' logits (float64, num_test x classes)."""
    import torch
    handles = []

    def bn_prehook(mod, inputs):
        # Statistics of the actual input of this BN, computed in float64 and with
        # the biased variance (what normalization in eval mode should divide by).
        x = inputs[0].double()
        mod.running_mean.copy_(x.mean(dim=(0, 2, 3)).float())
        mod.running_var.copy_(x.var(dim=(0, 2, 3), unbiased=False).float())

    feats = {}

    def pool_hook(mod, inputs, output):
        feats['pool'] = output.flatten(1).double().numpy()

    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            handles.append(m.register_forward_pre_hook(bn_prehook))
    handles.append(model.avgpool.register_forward_hook(pool_hook))
    with torch.no_grad():
        # Eval mode: each BN normalizes with the statistics its pre-hook just set,
        # so later layers are calibrated on already-normalized activations.
        model(torch.from_numpy(batch))
    for h in handles:
        h.remove()

    f = feats['pool']
    mu = f.mean(axis=0)
    sigma = f.std(axis=0)
    # Features that barely vary (dead ReLU channels) must not be blown up.
    sigma = np.sqrt(sigma ** 2 + (0.05 * np.median(sigma)) ** 2)
    w = fc_rng_dir / sigma
    z_test = f[:num_test] - mu
    logits = z_test @ w.T
    scale = TARGET_LOGIT_STD / np.median(logits.std(axis=1))
    w = w * scale
    b = -(w @ mu)
    with torch.no_grad():
        model.fc.weight.copy_(torch.from_numpy(w.astype(np.float32)))
        model.fc.bias.copy_(torch.from_numpy(b.astype(np.float32)))
    return f[:num_test] @ w.T + b


def calibrated_state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()
            if not k.endswith('num_batches_tracked')}


# ---------------------------------------------------------------------------
# ONNX writing.

class GraphWriter:
    """Collects nodes and initializers with the naming scheme of one exporter."""

    def __init__(self, args, sd):
        from onnx import helper
        self.h = helper
        self.args = args
        self.sd = sd
        self.nodes = []
        self.inits = []
        self.tv = args.style == 'torchvision'
        self.anon = 321          # torch.onnx's onnx::Op_N numbering (arbitrary start)
        self.const_count = 0

    # -- names
    def tv_node(self, module_path, op, suffix=''):
        parts = module_path.split('.') if module_path else []
        scope = ''
        for i in range(len(parts)):
            scope += '/' + '.'.join(parts[:i + 1])
        return '%s/%s%s' % (scope, op, suffix)

    def anon_name(self, op):
        n = 'onnx::%s_%d' % (op, self.anon)
        self.anon += 1
        return n

    def add_init(self, name, array):
        from onnx import numpy_helper
        a = np.asarray(array)
        # Not np.ascontiguousarray: it turns 0-d arrays (scalar indices) into 1-d.
        if not a.flags.c_contiguous:
            a = a.copy(order='C')
        self.inits.append(numpy_helper.from_array(a, name))
        return name

    def add_node(self, op, inputs, name, output=None, **attrs):
        if output is None:
            output = name if not self.tv else name + '_output_0'
        self.nodes.append(self.h.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def constant(self, array, tv_scope=''):
        """An int64 constant, stored as the exporter would store it."""
        array = np.asarray(array, dtype=np.int64)
        if self.args.shape_const == 'initializer':
            name = ('reshape_attr_tensor%d' % (474 + self.const_count) if not self.tv
                    else self.anon_name('Reshape'))
            self.const_count += 1
            return self.add_init(name, array)
        suffix = '' if self.const_count == 0 else '_%d' % self.const_count
        self.const_count += 1
        from onnx import numpy_helper
        name = tv_scope + '/Constant' + suffix if self.tv else 'constant%d' % self.const_count
        return self.add_node('Constant', [], name,
                             value=numpy_helper.from_array(array, ''))

    # -- layers
    def conv_bn(self, x, conv_key, bn_key, stride, pad, names):
        """names: (conv node, bn node, conv weight, conv bias, bn prefix)."""
        conv_node, bn_node, w_name, b_name, bn_names = names
        w = self.sd[conv_key + '.weight']
        k = w.shape[2]
        attrs = dict(dilations=[1, 1], group=1, kernel_shape=[k, k],
                     pads=[pad] * 4, strides=[stride, stride])
        gamma = self.sd[bn_key + '.weight'].astype(np.float64)
        beta = self.sd[bn_key + '.bias'].astype(np.float64)
        mean = self.sd[bn_key + '.running_mean'].astype(np.float64)
        var = self.sd[bn_key + '.running_var'].astype(np.float64)
        if self.args.fold_bn:
            s = gamma / np.sqrt(var + self.args.bn_epsilon)
            wf = (w.astype(np.float64) * s[:, None, None, None]).astype(np.float32)
            bf = (beta - mean * s).astype(np.float32)
            return self.add_node('Conv', [x, self.add_init(w_name(), wf),
                                          self.add_init(b_name(), bf)], conv_node, **attrs)
        y = self.add_node('Conv', [x, self.add_init(w_name(), w)], conv_node, **attrs)
        return self.batchnorm(y, bn_key, bn_node, bn_names)

    def conv(self, x, conv_key, node, w_name, stride, pad):
        """A bias-free Conv without BN (v2's branch ends and downsample)."""
        w = self.sd[conv_key + '.weight']
        k = w.shape[2]
        return self.add_node('Conv', [x, self.add_init(w_name, w)], node, dilations=[1, 1],
                             group=1, kernel_shape=[k, k], pads=[pad] * 4,
                             strides=[stride, stride])

    def batchnorm(self, y, bn_key, bn_node, bn_names):
        """A BatchNormalization node (bn_names: initializer prefix, suffixes)."""
        gamma = self.sd[bn_key + '.weight'].astype(np.float64)
        beta = self.sd[bn_key + '.bias'].astype(np.float64)
        mean = self.sd[bn_key + '.running_mean'].astype(np.float64)
        var = self.sd[bn_key + '.running_var'].astype(np.float64)
        bn_attrs = dict(epsilon=self.args.bn_epsilon, momentum=0.9)
        if self.args.opset < 9:
            bn_attrs['spatial'] = 1
        if self.tv and self.args.opset >= 14:
            bn_attrs['training_mode'] = 0
        ins = [y]
        for suffix, v in zip(bn_names[1], (gamma, beta, mean, var)):
            ins.append(self.add_init(bn_names[0] + suffix, v.astype(np.float32)))
        return self.add_node('BatchNormalization', ins, bn_node, **bn_attrs)

    def relu(self, x, name):
        return self.add_node('Relu', [x], name)

    def build(self):
        if self.tv:
            return self.build_torchvision()
        if self.args.style == 'v2':
            return self.build_v2()
        return self.build_v1()

    def tv_conv_bn(self, x, conv_path, bn_path, stride, pad):
        folded = self.args.fold_bn
        names = (self.tv_node(conv_path, 'Conv'),
                 self.tv_node(bn_path, 'BatchNormalization'),
                 (lambda: self.anon_name('Conv')) if folded else (lambda: conv_path + '.weight'),
                 (lambda: self.anon_name('Conv')),
                 (bn_path, ('.weight', '.bias', '.running_mean', '.running_var')))
        return self.conv_bn(x, conv_path, bn_path, stride, pad, names)

    def build_torchvision(self):
        x = 'input'
        x = self.tv_conv_bn(x, 'conv1', 'bn1', 2, 3)
        x = self.relu(x, self.tv_node('relu', 'Relu'))
        x = self.add_node('MaxPool', [x], self.tv_node('maxpool', 'MaxPool'),
                          **self.maxpool_attrs())
        for si, bi, cin, width, stride in block_specs():
            p = 'layer%d.%d' % (si + 1, bi)
            identity = x
            y = self.tv_conv_bn(x, p + '.conv1', p + '.bn1', 1, 0)
            y = self.relu(y, self.tv_node(p + '.relu', 'Relu'))
            y = self.tv_conv_bn(y, p + '.conv2', p + '.bn2', stride, 1)
            y = self.relu(y, self.tv_node(p + '.relu_1', 'Relu'))
            y = self.tv_conv_bn(y, p + '.conv3', p + '.bn3', 1, 0)
            if bi == 0:
                identity = self.tv_conv_bn(x, p + '.downsample.0', p + '.downsample.1', stride, 0)
            y = self.add_node('Add', [y, identity], self.tv_node(p, 'Add'))
            x = self.relu(y, self.tv_node(p + '.relu_2', 'Relu'))
        x = self.add_node('GlobalAveragePool', [x], self.tv_node('avgpool', 'GlobalAveragePool'))
        x = self.tail(x)
        return self.fc(x, 'output')

    def build_v1(self):
        pre = 'resnetv17_'
        bn_suffixes = ('_gamma', '_beta', '_running_mean', '_running_var')

        def v1_conv_bn(x, conv_key, bn_key, scope, ci, stride, pad):
            conv = '%s%sconv%d' % (pre, scope, ci)
            bn = '%s%sbatchnorm%d' % (pre, scope, ci)
            names = (conv + '_fwd', bn + '_fwd', lambda: conv + '_weight',
                     lambda: conv + '_bias', (bn, bn_suffixes))
            return self.conv_bn(x, conv_key, bn_key, stride, pad, names)

        x = 'data'
        x = v1_conv_bn(x, 'conv1', 'bn1', '', 0, 2, 3)
        x = self.relu(x, pre + 'relu0_fwd')
        x = self.add_node('MaxPool', [x], pre + 'pool0_fwd', **self.maxpool_attrs())
        for si, bi, cin, width, stride in block_specs():
            scope = 'stage%d_' % (si + 1)
            p = 'layer%d.%d' % (si + 1, bi)
            # Gluon numbers layers by creation order: the first block creates its
            # downsample conv/bn (index 3) after its three body convs.
            base = 0 if bi == 0 else 4 + 3 * (bi - 1)
            r = 2 * bi
            identity = x
            y = v1_conv_bn(x, p + '.conv1', p + '.bn1', scope, base, stride, 0)
            y = self.relu(y, '%s%srelu%d_fwd' % (pre, scope, r))
            y = v1_conv_bn(y, p + '.conv2', p + '.bn2', scope, base + 1, 1, 1)
            y = self.relu(y, '%s%srelu%d_fwd' % (pre, scope, r + 1))
            y = v1_conv_bn(y, p + '.conv3', p + '.bn3', scope, base + 2, 1, 0)
            if bi == 0:
                identity = v1_conv_bn(x, p + '.downsample.0', p + '.downsample.1', scope, 3,
                                      stride, 0)
            y = self.add_node('Add', [identity, y], '%s%s_plus%d' % (pre, scope, bi))
            x = self.relu(y, '%s%sactivation%d' % (pre, scope, bi))
        x = self.add_node('GlobalAveragePool', [x], pre + 'pool1_fwd')
        x = self.tail(x)
        return self.fc(x, pre + 'dense0_fwd')

    def build_v2(self):
        """The model zoo's resnet50-v2 (MXNet gluon ResNetV2) graph: only the
        BNs that follow a convolution can be folded into it; the one on the
        image and the pre-activation ones stay BatchNormalization nodes."""
        pre = 'resnetv24_'
        bn_suffixes = ('_gamma', '_beta', '_running_mean', '_running_var')

        def bn(x, bn_key, name):
            return self.batchnorm(x, bn_key, name + '_fwd', (name, bn_suffixes))

        def conv_bn(x, conv_key, bn_key, conv, bnn, stride, pad):
            names = (conv + '_fwd', bnn + '_fwd', lambda: conv + '_weight',
                     lambda: conv + '_bias', (bnn, bn_suffixes))
            return self.conv_bn(x, conv_key, bn_key, stride, pad, names)

        def conv(x, conv_key, name, stride, pad):
            return self.conv(x, conv_key, name + '_fwd', name + '_weight', stride, pad)

        x = bn('data', 'bn_data', pre + 'batchnorm0')
        x = conv_bn(x, 'conv1', 'bn1', pre + 'conv0', pre + 'batchnorm1', 2, 3)
        x = self.relu(x, pre + 'relu0_fwd')
        x = self.add_node('MaxPool', [x], pre + 'pool0_fwd', **self.maxpool_attrs())
        for si, bi, cin, width, stride in block_specs():
            scope = '%sstage%d_' % (pre, si + 1)
            p = 'layer%d.%d' % (si + 1, bi)
            # Gluon numbering: BottleneckV2 creates bn1, conv1, bn2, conv2, bn3,
            # conv3, then the first block's downsample conv (index 3).
            base = 0 if bi == 0 else 4 + 3 * (bi - 1)
            r = 3 * bi
            y = bn(x, p + '.bn1', '%sbatchnorm%d' % (scope, r))
            y = self.relu(y, '%srelu%d_fwd' % (scope, r))
            identity = x
            if bi == 0:
                identity = conv(y, p + '.downsample.0', '%sconv3' % scope, stride, 0)
            y = conv_bn(y, p + '.conv1', p + '.bn2', '%sconv%d' % (scope, base),
                        '%sbatchnorm%d' % (scope, r + 1), 1, 0)
            y = self.relu(y, '%srelu%d_fwd' % (scope, r + 1))
            y = conv_bn(y, p + '.conv2', p + '.bn3', '%sconv%d' % (scope, base + 1),
                        '%sbatchnorm%d' % (scope, r + 2), stride, 1)
            y = self.relu(y, '%srelu%d_fwd' % (scope, r + 2))
            y = conv(y, p + '.conv3', '%sconv%d' % (scope, base + 2), 1, 0)
            x = self.add_node('Add', [y, identity], '%s_plus%d' % (scope, bi))
        x = bn(x, 'bn_final', pre + 'batchnorm2')
        x = self.relu(x, pre + 'relu1_fwd')
        x = self.add_node('GlobalAveragePool', [x], pre + 'pool1_fwd')
        x = self.tail(x)
        return self.fc(x, pre + 'dense0_fwd')

    def maxpool_attrs(self):
        if self.args.stem != 'torchvision':
            # Caffe's ResNet-50: no padding, output size rounded up.
            return dict(kernel_shape=[3, 3], pads=[0, 0, 0, 0], strides=[2, 2],
                        ceil_mode=1 if self.args.stem == 'caffe' else 0)
        attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
        if self.args.opset >= 10:
            attrs['ceil_mode'] = 0
        return attrs

    def tail(self, x):
        tail = self.args.tail
        if tail == 'flatten':
            return self.add_node('Flatten', [x], '/Flatten' if self.tv else 'flatten_473',
                                 axis=1)
        rname = '/Reshape' if self.tv else 'reshape0'
        if tail in ('reshape', 'reshape0'):
            shape = self.constant([1 if tail == 'reshape' else 0, -1])
            return self.add_node('Reshape', [x, shape], rname)
        # x.view(x.size(0), -1) as torch.onnx writes it.
        n = (lambda s: s) if self.tv else (lambda s: s.strip('/').lower() + '0')
        shp = self.add_node('Shape', [x], n('/Shape'))
        idx = self.add_node('Constant', [], n('/Constant_g'),
                            value=self.h.make_tensor('', 7, [], [0])) \
            if self.args.shape_const == 'node' else \
            self.add_init(n('gather_index'), np.array(0, dtype=np.int64))
        dim0 = self.add_node('Gather', [shp, idx], n('/Gather'), axis=0)
        if self.args.opset >= 13:
            axes = self.constant([0])
            unsq = self.add_node('Unsqueeze', [dim0, axes], n('/Unsqueeze'))
        else:
            unsq = self.add_node('Unsqueeze', [dim0], n('/Unsqueeze'), axes=[0])
        minus1 = self.constant([-1])
        cat = self.add_node('Concat', [unsq, minus1], n('/Concat'), axis=0)
        return self.add_node('Reshape', [x, cat], rname)

    def fc(self, x, output):
        w = self.sd['fc.weight'].astype(np.float64)
        b = self.sd['fc.bias'].astype(np.float64)
        if self.args.background:
            # Output 0: a constant logit (zero weights), for every image.
            w = np.concatenate([np.zeros((1, w.shape[1])), w])
            b = np.concatenate([[self.args.background_logit], b])
        tv = self.tv
        pre = 'resnetv24_' if self.args.style == 'v2' else 'resnetv17_'
        wname = 'fc.weight' if tv else pre + 'dense0_weight'
        bname = 'fc.bias' if tv else pre + 'dense0_bias'
        gemm = '/fc/Gemm' if tv else pre + 'dense0_fwd'
        form = self.args.fc
        if form == 'gemm':
            ins = [x, self.add_init(wname, w.astype(np.float32)),
                   self.add_init(bname, b.astype(np.float32))]
            return self.add_node('Gemm', ins, gemm, output=output, alpha=1.0, beta=1.0,
                                 transB=1)
        if form == 'gemm-scalar-bias':
            ins = [x, self.add_init(wname, w.astype(np.float32)),
                   self.add_init(bname, np.array([b.mean()], dtype=np.float32))]
            return self.add_node('Gemm', ins, gemm, output=output, alpha=1.0, beta=1.0,
                                 transB=1)
        if form == 'gemm-notrans':
            ins = [x, self.add_init(wname, np.ascontiguousarray(w.T).astype(np.float32)),
                   self.add_init(bname, b.astype(np.float32))]
            return self.add_node('Gemm', ins, gemm, output=output, alpha=1.0, beta=1.0,
                                 transB=0)
        if form == 'gemm-scaled':
            # alpha=2, beta=0.5 with B/2 and 2C: exactly the same function (powers
            # of two scale float32 values without rounding).
            ins = [x, self.add_init(wname, (w / 2).astype(np.float32)),
                   self.add_init(bname, (b * 2).astype(np.float32))]
            return self.add_node('Gemm', ins, gemm, output=output, alpha=2.0, beta=0.5,
                                 transB=1)
        # MatMul + Add, as torch.onnx writes nn.Linear on inputs of rank != 2.
        mname = self.anon_name('MatMul') if tv else wname
        wt = np.ascontiguousarray(w.T).astype(np.float32)
        y = self.add_node('MatMul', [x, self.add_init(mname, wt)],
                          '/fc/MatMul' if tv else pre + 'dense0_matmul')
        return self.add_node('Add', [y, self.add_init(bname, b.astype(np.float32))],
                             '/fc/Add' if tv else gemm, output=output)


def make_model(args, sd):
    import onnx
    from onnx import TensorProto, helper
    gw = GraphWriter(args, sd)
    out = gw.build()
    in_name = 'input' if gw.tv else 'data'
    batch = 1 if args.batch == 'static' else ('batch_size' if gw.tv else 'N')
    graph = helper.make_graph(
        gw.nodes, 'torch_jit' if gw.tv else 'mxnet_converted_model',
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [batch, 3, 224, 224])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                       [batch, args.classes + int(args.background)])],
        initializer=gw.inits)
    ir = 7 if args.opset <= 14 else 8
    if args.opset <= 12:
        ir = 6 if args.opset >= 10 else 4
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', args.opset)],
                              ir_version=ir,
                              producer_name='pytorch' if gw.tv else 'onnx-mxnet',
                              producer_version='1.13.1' if gw.tv else '1.9.0')
    extra = ''.join([', %s stem' % args.stem if args.stem != 'torchvision' else '',
                     ', background output 0' if args.background else ''])
    model.doc_string = ('Synthetic ResNet-50 (%s style, %s input%s), seed %d, calibrated '
                        'on python3-skimage images by tests/models/make-resnet50.py. '
                        'Not a trained classifier.' % (args.style, args.preprocess, extra,
                                                       args.seed))
    onnx.checker.check_model(model, full_check=True)
    return model


def insert_unsupported(model, op):
    """Negative-test variant: a node of type op right after the stem's Relu.
    Float-to-float ops are put on the data path; others (NonZero) hang off it
    with their result as an extra graph output, so no loader may skip them."""
    import onnx
    from onnx import TensorProto, helper
    graph = model.graph
    idx = next(i for i, n in enumerate(graph.node) if n.op_type == 'Relu')
    src = graph.node[idx].output[0]
    name = '/%s' % op
    out = name + '_output_0'
    node = helper.make_node(op, [src], [out], name=name)
    if op == 'NonZero':
        graph.output.append(helper.make_tensor_value_info(out, TensorProto.INT64,
                                                          [4, 'nonzero']))
    else:
        for n in graph.node:
            for i, x in enumerate(n.input):
                if x == src:
                    n.input[i] = out
    graph.node.insert(idx + 1, node)
    onnx.checker.check_model(model, full_check=True)


def calibrated_weights(args):
    """Base weights + calibration (the slow, torch part): calibrated state dict
    and the test images' logits."""
    # A background job on a shared machine: builds and tests run beside it.
    os.nice(5)
    import torch
    # One thread: float reductions in a fixed order, so that the calibration
    # statistics (hence the file) are the same on every run.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    sd, _ = make_base_weights(args.seed, args.classes, args.conv_scale, args.style)
    calib_rng = np.random.default_rng(args.seed + 1)
    batch = calibration_batch(calib_rng, args.calib_crops, args.preprocess)
    model = build_torch(args.style, sd, args.classes, args.bn_epsilon)
    logits = calibrate(model, batch, len(TEST_IMAGES), sd['fc.weight'].astype(np.float64))
    if not args.quiet:
        print('calibrated on %d crops' % batch.shape[0])
    return calibrated_state(model), logits


# What a calibration file must agree on with the options of the model to write.
CALIBRATION_KEYS = ('style', 'seed', 'classes', 'bn_epsilon', 'conv_scale', 'calib_crops',
                    'preprocess')


def is_calibrated(key):
    """What calibration changes; everything else is regenerated from the seed."""
    return key.endswith(('running_mean', 'running_var')) or key.startswith('fc.')


def save_calibration(path, args, state, logits):
    # Only the calibrated tensors (about 9 MB): the conv weights and BN
    # gamma/beta come back bit for bit from the seed.
    meta = {'meta.' + k: np.array(getattr(args, k)) for k in CALIBRATION_KEYS}
    tmp = path + '.tmp.npz'
    np.savez(tmp, logits=logits, **meta,
             **{'w.' + k: v for k, v in state.items() if is_calibrated(k)})
    os.replace(tmp, path)


def load_calibration(path, args):
    with np.load(path) as z:
        for k in CALIBRATION_KEYS:
            have = z['meta.' + k].item()
            if have != getattr(args, k):
                raise SystemExit('%s was made with %s=%r, this model needs %r'
                                 % (path, k, have, getattr(args, k)))
        state, _ = make_base_weights(args.seed, args.classes, args.conv_scale, args.style)
        for k in z.files:
            if k.startswith('w.'):
                state[k[2:]] = z[k]
        return state, z['logits']


def check_oracle(args, state, logits):
    """Prints and checks what makes the model a useful oracle."""
    nparams = sum(v.size for k, v in state.items()
                  if not (k.endswith('running_mean') or k.endswith('running_var')))
    top1 = logits.argmax(axis=1)
    spread = logits.std(axis=1)
    distinct = len(set(top1.tolist()))
    if not args.quiet:
        print('%s: %s style, %d parameters' % (args.output or args.check_against,
                                               args.style, nparams))
        for name, t, sp, m in zip(TEST_IMAGES, top1, spread, np.abs(logits).max(axis=1)):
            print('  %-20s top-1 %4d  logit std %.3f  max |logit| %.3f' % (name, t, sp, m))
        print('  distinct top-1: %d/%d, min logit std %.3f' % (distinct, len(TEST_IMAGES),
                                                               spread.min()))
    ok = True
    if distinct < MIN_DISTINCT_TOP1:
        print('error: only %d distinct top-1 classes on the test images (need %d)'
              % (distinct, MIN_DISTINCT_TOP1), file=sys.stderr)
        ok = False
    if spread.min() < MIN_LOGIT_STD:
        print('error: logit std %.3f < %.1f' % (spread.min(), MIN_LOGIT_STD), file=sys.stderr)
        ok = False
    return ok


def main(argv):
    args = parse_args(argv)
    if args.calibration and os.path.exists(args.calibration) and not args.calibrate_only:
        state, logits = load_calibration(args.calibration, args)
    else:
        state, logits = calibrated_weights(args)
    if not check_oracle(args, state, logits):
        return 1
    # The test images' third best logit (median): the background class lands
    # in most top-5s and wins on the images whose best class is weak.
    args.background_logit = float(np.median(np.sort(logits, axis=1)[:, -3]))
    if args.calibrate_only:
        save_calibration(args.output, args, state, logits)
        return 0

    import onnx
    model_proto = make_model(args, state)
    if args.unsupported_op:
        insert_unsupported(model_proto, args.unsupported_op)
    if args.check_against:
        # Reproducibility test: the bytes a fresh run makes vs a built file.
        with open(args.check_against, 'rb') as f:
            same = f.read() == model_proto.SerializeToString()
        print('%s: %s' % (args.check_against,
                          'identical' if same else 'DIFFERS from a fresh run'))
        return 0 if same else 1
    tmp = args.output + '.tmp'
    onnx.save(model_proto, tmp)
    os.replace(tmp, args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
