#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Variant 5 of issue 3 (the DL4J zoo ResNet50) against ONNX Runtime. The
# caffe tensors of the five real images (BGR, 0..255, means subtracted: what
# Keras' preprocess_input does for ResNet50), computed here independently of
# the element, go through ONNX Runtime on the ONNX file and through the
# engine (rn50-infer) on the ONNX file and on the Keras HDF5 file written from
# the same weights. Outputs are probabilities (fc1000's softmax is part of
# the graph): each engine output must be within 1e-4 x max|value| of ONNX
# Runtime's with the identical ordered top-5, and the HDF5 path within 1e-4
# relative of the ONNX path. Then the element (preset=caffe) classifies each
# image with each file: its scores must be ONNX Runtime's probabilities on
# the element's own input tensor, not a second softmax of them (which would
# flatten every score to about 1/1000).

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'parity'))
import paritylib as pl  # noqa: E402

TOL = 1e-4


def engine(rn50_infer, model, tensors):
    with tempfile.TemporaryDirectory(prefix='keras-') as tmp:
        inp, out = os.path.join(tmp, 'in.f32'), os.path.join(tmp, 'out.f32')
        np.ascontiguousarray(tensors, dtype=np.float32).tofile(inp)
        pl.run_tool([rn50_infer, model, inp, out], 'rn50-infer')
        return np.fromfile(out, np.float32).reshape(len(tensors), -1).astype(np.float64)


def compare(what, got, ref, failures):
    scale = np.abs(ref).max()
    diff = np.abs(got - ref).max()
    top_got = np.argsort(-got, axis=1, kind='stable')[:, :5]
    top_ref = np.argsort(-ref, axis=1, kind='stable')[:, :5]
    same_top5 = (top_got == top_ref).all()
    print('%-34s max diff %.3g = %.3g x max|value| (%.3g); top-5 %s'
          % (what, diff, diff / scale, scale, 'identical' if same_top5 else 'DIFFERENT'))
    if diff > TOL * scale:
        failures.append('%s: max diff %.3g > %g x %.3g' % (what, diff, TOL, scale))
    if not same_top5:
        failures.append('%s: top-5 %s != ONNX Runtime %s'
                        % (what, top_got.tolist(), top_ref.tolist()))
    return diff / scale


def element_check(runner, args, failures):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                                    'parity'))
    import gstrun
    caffe_tensors = {}
    # The ONNX file is run with preset=caffe set explicitly; the HDF5 file
    # without a preset, so it must pick caffe by itself and give exactly the
    # tensor the explicit setting gave.
    for model, preset in ((args.onnx, ' preset=caffe'), (args.h5, '')):
        worst = 0.0
        for image in args.images:
            desc = ('filesrc location="%s" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! '
                    'resnet50classify name=c model-location="%s" post-messages=true top-k=5'
                    '%s ! fakesink' % (image, model, preset))
            run = gstrun.run_pipeline(desc, read_props=['input-tensor'])
            if len(run.messages) != 1:
                failures.append('%s: %d messages' % (image, len(run.messages)))
                continue
            s = run.messages[0]
            results = gstrun.message_results(s)
            ids, scores = results['ids'], results['scores']
            tensor = gstrun.tensor_from_bytes(run.props['input-tensor'])
            if preset:
                caffe_tensors[image] = tensor
            elif image in caffe_tensors and not np.array_equal(tensor, caffe_tensors[image]):
                failures.append('HDF5 model without a preset on %s: tensor differs from '
                                'preset=caffe (max diff %.3g)' % (
                                    os.path.basename(image),
                                    np.abs(tensor - caffe_tensors[image]).max()))
            ref = pl.run_ort(runner, args.onnx, tensor[None])[0]
            ref_ids = np.argsort(-ref, kind='stable')[:5].tolist()
            diff = np.abs(scores - ref[ref_ids]).max() / np.abs(ref).max()
            worst = max(worst, diff)
            if ids != ref_ids or diff > TOL:
                failures.append('element on %s, %s: ids %s scores %s; ONNX Runtime %s %s'
                                % (os.path.basename(model), os.path.basename(image), ids,
                                   scores.tolist(), ref_ids, ref[ref_ids].tolist()))
        print('element, %-25s max score diff %.3g x max|value|'
              % (os.path.basename(model), worst))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rn50-infer', required=True)
    p.add_argument('--ort-dir', required=True)
    p.add_argument('--onnx', required=True)
    p.add_argument('--h5', required=True)
    p.add_argument('--no-element', action='store_true')
    p.add_argument('images', nargs='+')
    args = p.parse_args()

    failures = []
    tensors = np.stack([pl.caffe_tensor(pl.load_rgb(path)) for path in args.images])
    runner = pl.ensure_ort(args.ort_dir)
    ref = pl.run_ort(runner, args.onnx, tensors)
    sums = ref.sum(axis=1)
    if np.abs(sums - 1).max() > 1e-4:
        failures.append('ONNX Runtime outputs are not probabilities: sums %s' % sums)
    top1 = ref.argmax(axis=1)
    print('ONNX Runtime top-1: %s' % top1.tolist())
    if len(set(top1.tolist())) != len(args.images):
        failures.append('top-1 classes %s are not all different' % top1.tolist())

    got_onnx = engine(args.rn50_infer, args.onnx, tensors)
    got_h5 = engine(args.rn50_infer, args.h5, tensors)
    compare('engine, ONNX file vs ONNX Runtime', got_onnx, ref, failures)
    compare('engine, HDF5 file vs ONNX Runtime', got_h5, ref, failures)
    rel = np.abs(got_h5 - got_onnx).max() / np.abs(got_onnx).max()
    print('engine, HDF5 vs ONNX file: max diff %.3g x max|value|' % rel)
    if rel > TOL:
        failures.append('HDF5 and ONNX paths differ by %.3g relative' % rel)

    if not args.no_element:
        element_check(runner, args, failures)

    for f in failures:
        print('FAIL: ' + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except pl.Failure as e:
        print('FAIL: %s' % e, file=sys.stderr)
        sys.exit(1)
