#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Model-form parity (test cases 14, 15 and 18): the same calibrated weights
# written as the graphs different exporters produce — opsets 9 to 17; the tail
# as Flatten, Reshape [1,-1], Reshape [0,-1] or Shape->Gather->Unsqueeze->
# Concat->Reshape (Unsqueeze axes as attribute and as input); the classifier as
# Gemm transB=0/1, Gemm alpha/beta, MatMul+Add, Gemm with a scalar C; BN with
# epsilon 1e-3 and tiny running variances, unfolded and folded. For each, the
# engine (rn50-infer) must match ONNX Runtime (max |logit diff| <= 1e-3 x max
# |logit|, same ordered top-5), and forms of one function must give the engine
# the same top-5 and scores (<= 1e-5) as the base model. Models with an
# unsupported op must fail to load with a message naming the op type, the node
# and the opset, and never crash. Variants are written one at a time from the
# build's calibration files (about a second each) and deleted after use.

import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paritylib as pl  # noqa: E402

REL_TOL = 1e-3
SAME_FUNCTION_TOL = 1e-5

# (name, calibration, generator options, group). Members of a group compute
# the same function as the group's base; None: parity with ORT only.
VARIANTS = [
    # case 14: tails and opsets
    ('opset9-flatten', 'tv', ['--opset', '9', '--tail', 'flatten'], 'tv'),
    ('opset9-shape-chain', 'tv', ['--opset', '9', '--tail', 'shape'], 'tv'),
    ('opset12-shape-chain-initializers', 'tv',
     ['--opset', '12', '--tail', 'shape', '--shape-const', 'initializer'], 'tv'),
    ('opset13-reshape0', 'tv', ['--opset', '13', '--tail', 'reshape0'], 'tv'),
    ('opset13-shape-chain', 'tv', ['--opset', '13', '--tail', 'shape'], 'tv'),
    ('opset17-reshape', 'tv', ['--opset', '17', '--tail', 'reshape'], 'tv'),
    ('opset17-dynamic-batch', 'tv', ['--opset', '17', '--batch', 'dynamic'], 'tv'),
    ('v1-opset11-folded-flatten', 'v1',
     ['--style', 'v1', '--opset', '11', '--fold-bn', '--tail', 'flatten'], 'v1'),
    # case 15: classifier forms
    ('fc-gemm-transb0', 'tv', ['--opset', '13', '--fc', 'gemm-notrans'], 'tv'),
    ('fc-gemm-alpha2-beta0.5', 'tv', ['--opset', '13', '--fc', 'gemm-scaled'], 'tv'),
    ('fc-matmul-add', 'tv', ['--opset', '13', '--fc', 'matmul'], 'tv'),
    ('fc-gemm-scalar-c', 'tv', ['--opset', '13', '--fc', 'gemm-scalar-bias'], None),
    # case 18: epsilon 1e-3 with running variances of the same order
    ('bn-eps1e-3', 'eps', ['--opset', '15', '--bn-epsilon', '1e-3',
                           '--conv-scale', '0.03'], 'eps'),
    ('bn-eps1e-3-folded', 'eps', ['--opset', '15', '--bn-epsilon', '1e-3',
                                  '--conv-scale', '0.03', '--fold-bn'], 'eps'),
]

# (name, op, opset): must fail at load, naming op, node and opset.
NEGATIVE = [
    ('unsupported-nonzero', 'NonZero', 13),
    ('unsupported-softsign', 'Softsign', 11),
]


class Runner:
    def __init__(self, args, tensors_path, tensors):
        self.args = args
        self.inp = tensors_path
        self.tensors = tensors
        self.ort = pl.ensure_ort(args.ort_dir)

    def make(self, name, calibration, options):
        path = os.path.join(self.args.work_dir, name + '.onnx')
        pl.run_tool([sys.executable, self.args.make_resnet50, '--quiet',
                     '--calibration', calibration, '--output', path] + options,
                    'make-resnet50.py')
        return path

    def engine_start(self, model):
        """Starts rn50-infer on model; engine_finish() collects its logits. Run
        beside ONNX Runtime: the two single-threaded runs share the 2 cores."""
        out = os.path.join(self.args.work_dir, 'engine.f32')
        if os.path.exists(out):
            os.unlink(out)
        argv = [self.args.rn50_infer, model, self.inp, out]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
        return proc, argv, out

    def engine_finish(self, started):
        proc, argv, out = started
        text = proc.communicate()[0]
        if proc.returncode != 0:
            raise pl.Failure('rn50-infer failed (exit %d): %s\n%s'
                             % (proc.returncode, ' '.join(argv), text))
        got = np.fromfile(out, dtype=np.float32).astype(np.float64)
        os.unlink(out)
        return got.reshape(self.tensors.shape[0], -1)

    def engine(self, model):
        return self.engine_finish(self.engine_start(model))


def check_parity(name, got, ref):
    """Engine vs ORT on one model; returns the worst relative difference."""
    if got.shape != ref.shape:
        raise pl.Failure('%s: engine gives %s logits, ONNX Runtime %s'
                         % (name, got.shape, ref.shape))
    worst = 0.0
    for i in range(ref.shape[0]):
        scale = np.abs(ref[i]).max()
        rel = np.abs(got[i] - ref[i]).max() / scale
        worst = max(worst, rel)
        if rel > REL_TOL:
            raise pl.Failure('%s, image %d: max |logit diff| %.3e x max |logit| > %.0e'
                             % (name, i, rel, REL_TOL))
        pl.check_topk_order(pl.topk(got[i], 5), ref[i], 1e-6 * scale, '%s, image %d' % (name, i))
    return worst


def check_same_function(name, got, base, base_name):
    """Engine on a rewritten form vs engine on the base model."""
    pg, pb = pl.softmax(got), pl.softmax(base)
    worst_p = np.abs(pg - pb).max()
    worst_rel = (np.abs(got - base).max(axis=1) / np.abs(base).max(axis=1)).max()
    for i in range(got.shape[0]):
        if list(pl.topk(got[i], 5)) != list(pl.topk(base[i], 5)):
            raise pl.Failure('%s, image %d: top-5 %s, %s gives %s'
                             % (name, i, pl.topk(got[i], 5).tolist(), base_name,
                                pl.topk(base[i], 5).tolist()))
    if worst_p > SAME_FUNCTION_TOL or worst_rel > SAME_FUNCTION_TOL:
        raise pl.Failure('%s: differs from %s by %.2e in scores, %.2e x max |logit| (> %.0e)'
                         % (name, base_name, worst_p, worst_rel, SAME_FUNCTION_TOL))
    return worst_p, worst_rel


def run(args):
    os.makedirs(args.work_dir, exist_ok=True)
    tensors = np.stack([pl.torchvision_tensor(pl.load_rgb(p)) for p in args.images])
    inp = os.path.join(args.work_dir, 'input.f32')
    tensors.tofile(inp)
    r = Runner(args, inp, tensors)
    calibration = {'tv': args.calibration_tv, 'v1': args.calibration_v1,
                   'eps': args.calibration_eps}
    failures = []
    bases = {'tv': (os.path.basename(args.base_tv), r.engine(args.base_tv)),
             'v1': (os.path.basename(args.base_v1), r.engine(args.base_v1))}

    for name, cal, options, group in VARIANTS:
        path = None
        try:
            path = r.make(name, calibration[cal], options)
            started = r.engine_start(path)
            try:
                ref = pl.run_ort(r.ort, path, tensors)
            except pl.Failure:
                started[0].kill()
                started[0].communicate()
                raise
            got = r.engine_finish(started)
            worst = check_parity(name, got, ref)
            line = '%-34s engine vs ORT %.2e' % (name, worst)
            if group is not None:
                if group not in bases:
                    bases[group] = (name, got)
                else:
                    bname, base = bases[group]
                    dp, dl = check_same_function(name, got, base, bname)
                    line += '   vs %s: scores %.1e, logits %.1e' % (bname, dp, dl)
            pl.log(line + '   top-1 %s' % ref.argmax(axis=1).tolist())
        except pl.Failure as e:
            pl.log('FAIL: %s' % e)
            failures.append(name)
        finally:
            if path and os.path.exists(path):
                os.unlink(path)

    for name, op, opset in NEGATIVE:
        path = None
        try:
            path = r.make(name, calibration['tv'], ['--opset', str(opset), '--unsupported-op', op])
            out = os.path.join(args.work_dir, 'negative.f32')
            p = subprocess.run([args.rn50_infer, path, inp, out], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
            text = p.stdout
            if p.returncode < 0 or p.returncode >= 128:
                raise pl.Failure('%s: rn50-infer crashed (status %d):\n%s'
                                 % (name, p.returncode, text))
            if p.returncode == 0:
                raise pl.Failure('%s: rn50-infer accepted a model with a %s node' % (name, op))
            missing = [what for what, ok in
                       (('op type %s' % op, op in text),
                        ('node name /%s' % op, '/' + op in text),
                        ('opset %d' % opset, re.search(r'opset\D{0,12}%d\b' % opset, text, re.I)))
                       if not ok]
            if missing:
                raise pl.Failure('%s: the load error does not name the %s: %s'
                                 % (name, ', '.join(missing), text.strip()))
            last = text.strip().splitlines()[-1] if text.strip() else ''
            pl.log('%-34s rejected: %s' % (name, last))
        except pl.Failure as e:
            pl.log('FAIL: %s' % e)
            failures.append(name)
        finally:
            for f in (path, os.path.join(args.work_dir, 'negative.f32')):
                if f and os.path.exists(f):
                    os.unlink(f)
    os.unlink(inp)
    if failures:
        raise pl.Failure('%d variant(s) failed: %s' % (len(failures), ', '.join(failures)))
    return 0


def main():
    p = argparse.ArgumentParser(description='model forms: engine vs ONNX Runtime')
    p.add_argument('--rn50-infer', required=True)
    p.add_argument('--ort-dir', required=True)
    p.add_argument('--make-resnet50', required=True)
    p.add_argument('--calibration-tv', required=True)
    p.add_argument('--calibration-v1', required=True)
    p.add_argument('--calibration-eps', required=True)
    p.add_argument('--base-tv', required=True, help='test_model (torchvision, opset 13)')
    p.add_argument('--base-v1', required=True, help='test_model_v1')
    p.add_argument('--work-dir', required=True)
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
