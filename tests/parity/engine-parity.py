#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Engine parity: the project's oneDNN engine (through its command-line tool
# rn50-infer) and ONNX Runtime run the same model on the same tensors, the
# torchvision ImageNet transform of real images, and must agree: max |logit
# difference| <= 1e-4 x max |logit| and the same ordered top-5. It also checks
# that the model is a useful oracle (distinct top-1 classes, logit spread), as
# measured by ONNX Runtime rather than by the generator. Prints the numbers.

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paritylib as pl  # noqa: E402

REL_TOL = 1e-4
MIN_DISTINCT_TOP1 = 4
MIN_LOGIT_STD = 2.0


def run(args):
    runner = pl.ensure_ort(args.ort_dir)
    names = [os.path.basename(p) for p in args.images]
    tensors = np.stack([pl.torchvision_tensor(pl.load_rgb(p)) for p in args.images])
    ok = True
    with tempfile.TemporaryDirectory(prefix='engine-parity-') as tmp:
        inp = os.path.join(tmp, 'input.f32')
        tensors.tofile(inp)
        for model in args.model:
            ref = pl.run_ort(runner, model, tensors)
            out = os.path.join(tmp, 'engine.f32')
            if os.path.exists(out):
                os.unlink(out)
            pl.run_tool([args.rn50_infer, model, inp, out], 'rn50-infer')
            got = np.fromfile(out, dtype=np.float32).astype(np.float64)
            if got.size != ref.size:
                raise pl.Failure('%s: rn50-infer wrote %d values, ONNX Runtime %d '
                                 '(%d images x %d classes)'
                                 % (model, got.size, ref.size, ref.shape[0], ref.shape[1]))
            got = got.reshape(ref.shape)
            pl.log('model %s' % os.path.basename(model))
            worst = 0.0
            for i, name in enumerate(names):
                diff = np.abs(got[i] - ref[i]).max()
                scale = np.abs(ref[i]).max()
                rel = diff / scale
                worst = max(worst, rel)
                ref5 = pl.topk(ref[i], 5)
                got5 = pl.topk(got[i], 5)
                pl.log('  %-20s max|diff| %.3e  max|logit| %7.3f  rel %.3e  logit std %.3f  '
                       'top-5 ORT %s engine %s' % (name, diff, scale, rel, ref[i].std(),
                                                  ref5.tolist(), got5.tolist()))
                if rel > REL_TOL:
                    pl.log('  FAIL: %s: max |logit diff| %.3e > %.0e x max |logit| (%.3e)'
                           % (name, diff, REL_TOL, REL_TOL * scale))
                    ok = False
                try:
                    # Only exact ties (as seen by ORT, to float32 rounding) may swap.
                    swaps = pl.check_topk_order(got5, ref[i], 1e-6 * scale, name)
                    if swaps:
                        pl.log('  note: %d tied ids swapped' % swaps)
                except pl.Failure as e:
                    pl.log('  FAIL: %s' % e)
                    ok = False
            top1 = ref.argmax(axis=1)
            distinct = len(set(top1.tolist()))
            spread = ref.std(axis=1).min()
            pl.log('  worst relative diff %.3e; oracle: %d distinct top-1 %s, min logit std %.3f'
                   % (worst, distinct, top1.tolist(), spread))
            if distinct < MIN_DISTINCT_TOP1 or spread < MIN_LOGIT_STD:
                pl.log('  FAIL: the model is not a useful oracle (need >= %d distinct top-1 and '
                       'logit std >= %.1f)' % (MIN_DISTINCT_TOP1, MIN_LOGIT_STD))
                ok = False
    if not ok:
        raise pl.Failure('engine and ONNX Runtime disagree (see above)')
    return 0


def main():
    p = argparse.ArgumentParser(description='engine vs ONNX Runtime parity')
    p.add_argument('--rn50-infer', required=True, help='path of the rn50-infer tool')
    p.add_argument('--ort-dir', required=True, help='where onnxruntime-node is installed')
    p.add_argument('--model', action='append', required=True, help='ONNX model (repeatable)')
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
