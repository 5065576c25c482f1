#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The element on model variants that change what it reports rather than how
# the network computes (issue 3, variants 6 and 7; cases 13 and 21):
#
# - A 1001-output model (background at index 0, then the 1000 classes) with a
#   1000-line labels file whose lines all differ and label-offset=1: on the
#   five real images, class ids are the model's raw output indices, the label
#   of id i is line i-1 ("background" for id 0, which must show up in some
#   top-5 so that the path is exercised), and the scores equal the softmax
#   over all 1001 outputs of ONNX Runtime run on the element's own input
#   tensor (<= 1e-4 relative) with the same ordered top-5.
# - The same weights with a static input [1,3,224,224] and with a symbolic
#   batch: the element (which runs one frame at a time) must load both and
#   report identical ids, labels and scores on every image.
#
# The variants are written from the build's calibration (about a second
# each) into the work directory and deleted after use.

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paritylib as pl  # noqa: E402

SCORE_REL_TOL = 1e-4


def classify(model, image, extra=''):
    """The element's top-5 message and input tensor for one image."""
    import gstrun
    desc = ('filesrc location="%s" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! '
            'resnet50classify name=c model-location="%s" post-messages=true top-k=5 %s ! '
            'fakesink' % (image, model, extra))
    run = gstrun.run_pipeline(desc, read_props=['input-tensor'])
    if len(run.messages) != 1:
        raise pl.Failure('%s: %d messages for one image' % (image, len(run.messages)))
    s = run.messages[0]
    msg = gstrun.message_results(s)
    tensor = gstrun.tensor_from_bytes(run.props['input-tensor'])
    if tensor is None:
        raise pl.Failure('%s: input-tensor is NULL after a frame' % image)
    return msg, tensor


def make(args, name, options):
    path = os.path.join(args.work_dir, name + '.onnx')
    pl.run_tool([sys.executable, args.make_resnet50, '--quiet', '--calibration',
                 args.calibration_tv, '--output', path] + options, 'make-resnet50.py')
    return path


def check_label_offset(args, runner):
    """Case 21 (b) with label-offset=1; returns the worst score difference."""
    model = labels = None
    try:
        model = make(args, 'background-1001', ['--opset', '13', '--background'])
        labels = os.path.join(args.work_dir, 'labels-1000.txt')
        with open(labels, 'w') as f:
            f.writelines('label-%04d\n' % i for i in range(1000))
        rows = [classify(model, p, 'labels-location="%s" label-offset=1' % labels)
                for p in args.images]
        probs = pl.softmax(pl.run_ort(runner, model, np.stack([t for _, t in rows])))
    finally:
        for f in (model, labels):
            if f and os.path.exists(f):
                os.unlink(f)
    if probs.shape[1] != 1001:
        raise pl.Failure('ONNX Runtime gives %d outputs, expected 1001' % probs.shape[1])
    worst = 0.0
    background_seen = 0
    for path, (msg, _), p in zip(args.images, rows, probs):
        name = os.path.basename(path)
        ids = np.array(msg['ids'])
        if len(ids) != 5:
            raise pl.Failure('%s: %d results, expected 5' % (name, len(ids)))
        pl.check_topk_order(ids, p, 1e-6 * p.max(), name)
        rel = pl.relative_diff(msg['scores'], p[ids]).max()
        worst = max(worst, rel)
        want = ['background' if i == 0 else 'label-%04d' % (i - 1) for i in ids]
        pl.log('  %-20s ids %s labels %s rel %.2e' % (name, ids.tolist(), msg['labels'], rel))
        if msg['labels'] != want:
            raise pl.Failure('%s: labels %s, expected %s' % (name, msg['labels'], want))
        if rel > SCORE_REL_TOL:
            raise pl.Failure('%s: scores differ from the softmax over all 1001 ONNX Runtime '
                             'outputs by %.2e relative (> %.0e)' % (name, rel, SCORE_REL_TOL))
        background_seen += int(0 in ids)
    if background_seen == 0:
        raise pl.Failure('output 0 is in no top-5: its label is untested')
    return worst


def check_static_vs_dynamic(args):
    """Variant 7 in the element: both batch declarations, identical results."""
    dynamic = None
    try:
        dynamic = make(args, 'dynamic-batch', ['--opset', '13', '--batch', 'dynamic'])
        for path in args.images:
            a, ta = classify(args.model, path)
            b, tb = classify(dynamic, path)
            same = (a['ids'] == b['ids'] and a['labels'] == b['labels']
                    and np.array_equal(a['scores'], b['scores']) and np.array_equal(ta, tb))
            pl.log('  %-20s static %s dynamic %s: %s' % (os.path.basename(path), a['ids'],
                                                        b['ids'],
                                                        'identical' if same else 'DIFFER'))
            if not same:
                raise pl.Failure('%s: static and dynamic batch models differ: %s vs %s'
                                 % (path, a, b))
    finally:
        if dynamic and os.path.exists(dynamic):
            os.unlink(dynamic)


def run(args):
    import gstrun
    if not gstrun.element_available():
        raise pl.Failure('resnet50classify not found (GST_PLUGIN_PATH_1_0=%s)'
                         % os.environ.get('GST_PLUGIN_PATH_1_0'))
    os.makedirs(args.work_dir, exist_ok=True)
    runner = pl.ensure_ort(args.ort_dir)
    pl.log('1001 outputs, 1000 labels, label-offset=1 (case 21 b):')
    worst = check_label_offset(args, runner)
    pl.log('  worst score difference vs ONNX Runtime softmax over 1001: %.2e relative' % worst)
    pl.log('static [1,3,224,224] vs dynamic [N,3,224,224] input (case 13):')
    check_static_vs_dynamic(args)
    return 0


def main():
    p = argparse.ArgumentParser(description='element on label-offset and batch variants')
    p.add_argument('--ort-dir', required=True)
    p.add_argument('--make-resnet50', required=True)
    p.add_argument('--calibration-tv', required=True)
    p.add_argument('--model', required=True, help='test_model (static batch 1, opset 13)')
    p.add_argument('--work-dir', required=True)
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
