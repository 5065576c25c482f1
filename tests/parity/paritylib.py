# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared helpers of the parity tests: the reference preprocessing written
# independently of the project (torchvision's own transforms for the torchvision
# preset, a separate numpy/PIL version of the caffe preset), the ONNX Runtime
# runner (npm's onnxruntime-node, installed on first use from the checked-in
# lockfile into the build directory) and the numeric comparisons. Nothing in
# here calls the code under test; the test scripts do that.

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

TV_MEAN = np.array([0.485, 0.456, 0.406])
TV_STD = np.array([0.229, 0.224, 0.225])
# Caffe/Keras ResNet-50: BGR planes, 0..255, mean subtraction only.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

IMAGE_SHAPE = (3, 224, 224)


class Failure(Exception):
    """A parity check that did not hold."""


# ---------------------------------------------------------------------------
# ONNX Runtime from npm.

NPM_FILES = ('package.json', 'package-lock.json', '.npmrc')


def ensure_ort(ort_dir):
    """Installs onnxruntime-node into ort_dir (once per lockfile) and returns
    the path of the runner script there. ESM imports resolve from the script's
    own directory, so the runner is copied next to node_modules."""
    os.makedirs(ort_dir, exist_ok=True)
    digest = hashlib.sha256()
    for name in NPM_FILES:
        with open(os.path.join(HERE, name), 'rb') as f:
            digest.update(f.read())
    stamp = os.path.join(ort_dir, 'installed.stamp')
    # Several parity tests run at once: one installs, the others wait.
    with open(os.path.join(ort_dir, 'install.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = None
        if os.path.exists(stamp):
            with open(stamp) as f:
                current = f.read().strip()
        module = os.path.join(ort_dir, 'node_modules', 'onnxruntime-node', 'package.json')
        if current != digest.hexdigest() or not os.path.exists(module):
            for name in NPM_FILES:
                shutil.copyfile(os.path.join(HERE, name), os.path.join(ort_dir, name))
            env = dict(os.environ)
            # The CPU binaries ship inside the package; its postinstall would only
            # fetch CUDA/TensorRT libraries.
            env['ONNXRUNTIME_NODE_INSTALL_CUDA'] = 'skip'
            env['ONNXRUNTIME_NODE_INSTALL'] = 'skip'
            print('installing onnxruntime-node into %s (npm ci)' % ort_dir, flush=True)
            r = subprocess.run(['npm', 'ci', '--no-audit', '--no-fund', '--loglevel=error'],
                               cwd=ort_dir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
            if r.returncode != 0:
                raise Failure('npm ci in %s failed (network or npm cache needed once):\n%s'
                              % (ort_dir, r.stdout))
            with open(stamp, 'w') as f:
                f.write(digest.hexdigest() + '\n')
        runner = os.path.join(ort_dir, 'ort-infer.mjs')
        shutil.copyfile(os.path.join(HERE, 'ort-infer.mjs'), runner)
    return runner


def run_ort(runner, model, tensors):
    """Logits (float64, K x C) of ONNX Runtime on K x 3 x 224 x 224 tensors."""
    tensors = np.ascontiguousarray(tensors, dtype=np.float32).reshape((-1,) + IMAGE_SHAPE)
    with tempfile.TemporaryDirectory(prefix='ort-') as tmp:
        inp = os.path.join(tmp, 'input.f32')
        out = os.path.join(tmp, 'output.f32')
        tensors.tofile(inp)
        r = subprocess.run(['node', runner, model, inp, out], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if r.returncode != 0:
            raise Failure('ort-infer failed on %s:\n%s' % (model, r.stdout))
        logits = np.fromfile(out, dtype=np.float32)
    return logits.reshape(tensors.shape[0], -1).astype(np.float64)


def run_tool(argv, what):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        raise Failure('%s failed (exit %d): %s\n%s' % (what, r.returncode, ' '.join(argv),
                                                       r.stdout))
    return r.stdout


# ---------------------------------------------------------------------------
# Reference preprocessing.

def load_rgb(path):
    from PIL import Image
    im = Image.open(path)
    im.load()
    return im.convert('RGB')


def torchvision_tensor(im):
    """torchvision's ImageNet evaluation transform, used as is: the definition
    the element's default preset must match."""
    import torchvision.transforms as T
    t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                   T.Normalize(TV_MEAN.tolist(), TV_STD.tolist())])
    return t(im).numpy().astype(np.float32)


def torchvision_unnormalized(im):
    """Resize(256) + CenterCrop(224) + ToTensor: RGB planes in 0..1."""
    import torchvision.transforms as T
    t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    return t(im).numpy().astype(np.float64)


def resize_crop_uint8(im):
    """Shorter side to 256 (PIL bilinear, antialiased), centred 224x224 crop,
    written here with PIL alone (no torchvision): H x W x 3 uint8."""
    from PIL import Image
    w, h = im.size
    if w <= h:
        nw, nh = 256, int(256 * h / w)
    else:
        nh, nw = 256, int(256 * w / h)
    r = im.resize((nw, nh), Image.BILINEAR)
    left = int(round((nw - 224) / 2.0))
    top = int(round((nh - 224) / 2.0))
    return np.asarray(r.crop((left, top, left + 224, top + 224)))


def resize_crop_float(im):
    """The same geometry and filter as resize_crop_uint8, but PIL resamples
    each channel as a 32-bit float image (mode F), so nothing is rounded to 8
    bits: the reference for an implementation that resizes in float. Returns
    3 x 224 x 224 float64 RGB planes in 0..255."""
    from PIL import Image
    w, h = im.size
    if w <= h:
        nw, nh = 256, int(256 * h / w)
    else:
        nh, nw = 256, int(256 * w / h)
    left = int(round((nw - 224) / 2.0))
    top = int(round((nh - 224) / 2.0))
    planes = []
    for band in im.split():
        r = band.convert('F').resize((nw, nh), Image.BILINEAR)
        planes.append(np.asarray(r.crop((left, top, left + 224, top + 224)), dtype=np.float64))
    return np.stack(planes)


def torchvision_float_tensor(im):
    """torchvision preset with the float resize of resize_crop_float."""
    a = resize_crop_float(im) / 255.0
    return ((a - TV_MEAN[:, None, None]) / TV_STD[:, None, None]).astype(np.float32)


def caffe_float_tensor(im):
    """caffe preset with the float resize of resize_crop_float."""
    a = resize_crop_float(im)[::-1]
    return (a - CAFFE_MEAN_BGR[:, None, None]).astype(np.float32)


def caffe_tensor(im):
    """Caffe preset, independently of the element: BGR planes, 0..255 floats,
    per-plane mean subtracted, no scaling."""
    a = resize_crop_uint8(im).astype(np.float64)
    bgr = a[:, :, ::-1].transpose(2, 0, 1)
    return (bgr - CAFFE_MEAN_BGR[:, None, None]).astype(np.float32)


def tv_denormalize(t):
    """Element tensor under the torchvision preset back to 0..1 RGB planes."""
    return t.astype(np.float64) * TV_STD[:, None, None] + TV_MEAN[:, None, None]


def caffe_denormalize(t):
    """Element tensor under the caffe preset back to 0..255 BGR planes."""
    return t.astype(np.float64) + CAFFE_MEAN_BGR[:, None, None]


# ---------------------------------------------------------------------------
# Scores.

def softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def relative_diff(got, ref, floor=1e-6):
    """|got - ref| / ref, with probabilities below floor compared absolutely
    (a softmax underflows to exactly 0 in one runtime and not in another)."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return np.abs(got - ref) / np.maximum(ref, floor)


def topk(values, k):
    # Stable, so equal values keep index order (what a C top-k usually does).
    return np.argsort(-values, kind='stable')[:k]


def check_topk_order(ids, ref_values, tol, what):
    """ids (from the code under test) must be the top-k of ref_values in order;
    two ids may swap only when their reference values differ by <= tol."""
    k = len(ids)
    ref_ids = topk(ref_values, k)
    if list(ids) == list(ref_ids):
        return 0
    # The set of ids must be a valid top-k up to ties, and each position's
    # reference value must equal the k-th best at that rank within tol.
    ranked = np.sort(ref_values)[::-1][:k]
    swaps = 0
    for i, c in enumerate(ids):
        if abs(ref_values[c] - ranked[i]) > tol:
            raise Failure('%s: top-%d %s differs from the reference %s (position %d: id %d '
                          'has %.6g, the reference rank holds %.6g, tolerance %.2g)'
                          % (what, k, list(ids), list(ref_ids), i, c, ref_values[c],
                             ranked[i], tol))
        if c != ref_ids[i]:
            swaps += 1
    if len(set(ids)) != k:
        raise Failure('%s: repeated ids in %s' % (what, list(ids)))
    return swaps


def log(msg):
    print(msg, flush=True)


def main_wrapper(fn):
    """Runs fn(); a Failure prints its message and exits 1."""
    try:
        rc = fn()
    except Failure as e:
        print('FAIL: %s' % e, file=sys.stderr, flush=True)
        return 1
    return rc or 0
