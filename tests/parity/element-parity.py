#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Element parity on real images (cases 2 and 4 of the test cases): each image
# goes through filesrc ! decodebin ! videoconvert ! RGB ! resnet50classify,
# with a tee that hands the same RGB frame to an appsink. That frame is
# preprocessed independently of the project: torchvision's own transforms
# (PIL resize of the 8-bit image, rounded to 8 bits), the same PIL resize run
# on float planes (what the element documents: PIL's antialiased bilinear in
# float), and a separate numpy/PIL caffe version (BGR, 0..255, means
# subtracted; classified by a model calibrated for that input). ONNX Runtime
# classifies the references, and the element must agree: its input-tensor
# within 2/255 of torchvision's before normalization (2 levels for caffe), its
# message's top-5 ids equal ONNX Runtime's (ties within tolerance may swap),
# its scores equal ONNX Runtime's softmax to 1e-3 relative, and its labels
# equal torchvision's ImageNet names. The numbers against every reference are
# printed; --score-reference picks the one the ids and scores must match (the
# 8-bit rounding alone moves this synthetic model's scores by a few percent).

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paritylib as pl  # noqa: E402


def imagenet_categories():
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    return list(_IMAGENET_CATEGORIES)


def classify(model, image, preset):
    import gstrun
    desc = ('filesrc location="%s" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! '
            'tee name=t t. ! queue ! resnet50classify name=c model-location="%s" '
            'post-messages=true top-k=5 preset=%s ! fakesink '
            't. ! queue ! appsink name=ref' % (image, model, preset))
    run = gstrun.run_pipeline(desc, read_props=['input-tensor'])
    if len(run.messages) != 1 or len(run.frames) != 1:
        raise pl.Failure('%s: %d messages and %d frames for one image'
                         % (image, len(run.messages), len(run.frames)))
    s = run.messages[0]
    msg = gstrun.message_results(s)
    tensor = gstrun.tensor_from_bytes(run.props['input-tensor'])
    if tensor is None:
        raise pl.Failure('%s: input-tensor is NULL after a frame' % image)
    return msg, tensor, run.frames[0]


REFERENCES = ('torchvision', 'pil-float', 'element')


def run(args):
    import gstrun
    from PIL import Image
    if not gstrun.element_available():
        raise pl.Failure('resnet50classify not found (GST_PLUGIN_PATH_1_0=%s)'
                         % os.environ.get('GST_PLUGIN_PATH_1_0'))
    runner = pl.ensure_ort(args.ort_dir)
    categories = imagenet_categories()
    ok = True
    for preset in args.preset:
        model = args.caffe_model if preset == 'caffe' and args.caffe_model else args.model
        rows = []
        for path in args.images:
            msg, tensor, frame = classify(model, path, preset)
            im = Image.fromarray(frame, 'RGB')
            if preset == 'torchvision':
                ref8 = pl.torchvision_tensor(im)
                reff = pl.torchvision_float_tensor(im)
                to_levels = lambda t: pl.tv_denormalize(t) * 255  # noqa: E731
            else:
                ref8 = pl.caffe_tensor(im)
                reff = pl.caffe_float_tensor(im)
                to_levels = pl.caffe_denormalize
            # How far decodebin's pixels are from PIL's own decoding (informative:
            # the references use the pipeline's pixels).
            own = np.asarray(pl.load_rgb(path), dtype=np.int16)
            decode_diff = (np.abs(own - frame.astype(np.int16)).mean()
                           if own.shape == frame.shape else -1)
            rows.append(dict(name=os.path.basename(path), msg=msg, tensors=(ref8, reff, tensor),
                             d8=np.abs(to_levels(tensor) - to_levels(ref8)).max(),
                             df=np.abs(to_levels(tensor) - to_levels(reff)).max(),
                             decode=decode_diff))
        n = len(rows)
        batch = [r['tensors'][k] for k in range(3) for r in rows]
        probs = pl.softmax(pl.run_ort(runner, model, np.stack(batch))).reshape(3, n, -1)
        sel = REFERENCES.index(args.score_reference)
        pl.log('preset %s, model %s; scores checked against ONNX Runtime on the %s tensor'
               % (preset, os.path.basename(model), args.score_reference))
        for i, r in enumerate(rows):
            name, msg = r['name'], r['msg']
            ids = np.array(msg['ids'])
            ref_p = probs[sel][i]
            ref_ids = pl.topk(ref_p, 5)
            rels = [pl.relative_diff(msg['scores'], probs[k][i][ids]).max() if len(ids) else 0
                    for k in range(3)]
            pl.log('  %-20s tensor vs torchvision %.3f levels, vs PIL float %.4f levels '
                   '(decodebin vs PIL decoding: mean %.2f)'
                   % (name, r['d8'], r['df'], r['decode']))
            pl.log('  %-20s top-5 element %s ORT %s (ORT on torchvision\'s tensor %s); scores %s'
                   % ('', ids.tolist(), ref_ids.tolist(), pl.topk(probs[0][i], 5).tolist(),
                      np.round(msg['scores'], 5).tolist()))
            pl.log('  %-20s score rel diff vs ORT on torchvision %.2e, PIL float %.2e, '
                   'element tensor %.2e' % ('', rels[0], rels[1], rels[2]))
            if r['d8'] > args.tensor_tol_levels:
                pl.log('  FAIL: %s: tensor differs by %.3f levels (> %.1f) before normalization'
                       % (name, r['d8'], args.tensor_tol_levels))
                ok = False
            if len(ids) != 5:
                pl.log('  FAIL: %s: %d ids, expected 5' % (name, len(ids)))
                ok = False
                continue
            try:
                swaps = pl.check_topk_order(ids, ref_p, args.tie_tol * ref_p[ref_ids[0]], name)
                if swaps:
                    pl.log('  note: %d tied ids swapped' % swaps)
            except pl.Failure as e:
                pl.log('  FAIL: %s' % e)
                ok = False
            if rels[sel] > args.score_rel_tol:
                pl.log('  FAIL: %s: scores differ from ONNX Runtime on the %s tensor by %.2e '
                       'relative (> %.0e)' % (name, args.score_reference, rels[sel],
                                              args.score_rel_tol))
                ok = False
            want = [categories[c] for c in ids]
            if msg['labels'] != want:
                pl.log('  FAIL: %s: labels %s, expected %s' % (name, msg['labels'], want))
                ok = False
    if not ok:
        raise pl.Failure('element and reference disagree (see above)')
    return 0


def main():
    p = argparse.ArgumentParser(description='resnet50classify vs ONNX Runtime parity')
    p.add_argument('--ort-dir', required=True)
    p.add_argument('--model', required=True, help='model for the torchvision preset')
    p.add_argument('--caffe-model', help='model for preset=caffe (default: --model)')
    p.add_argument('--score-reference', choices=REFERENCES, default='pil-float',
                   help='ids and scores are compared with ONNX Runtime on this tensor: '
                   'torchvision (PIL resize on 8-bit images, rounded to 8 bits as '
                   'torchvision does), pil-float (the same PIL resize on float '
                   'planes), or element (the element\'s own input-tensor)')
    p.add_argument('--preset', action='append', choices=['torchvision', 'caffe'])
    p.add_argument('--tensor-tol-levels', type=float, default=2.0,
                   help='max tensor difference before normalization, in 0..255 levels')
    p.add_argument('--score-rel-tol', type=float, default=1e-3)
    p.add_argument('--tie-tol', type=float, default=1e-3,
                   help='ids may swap when ORT scores differ by at most this x top-1 score')
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    if not args.preset:
        args.preset = ['torchvision', 'caffe']
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
