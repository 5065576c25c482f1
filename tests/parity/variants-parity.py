#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Model-form parity (test cases 13, 14, 15, 18 and 21, issue 3's variants):
# the same calibrated weights written as the graphs different exporters
# produce — opsets 9 to 17; the tail as Flatten, Reshape [1,-1], Reshape [0,-1]
# or Shape->Gather->Unsqueeze->Concat->Reshape (Unsqueeze axes as attribute and
# as input); the classifier as Gemm transB=0/1, Gemm alpha/beta, MatMul+Add,
# Gemm with a scalar C; BN with epsilon 1e-3 and tiny running variances,
# unfolded and folded; the model zoo's v1 and v2 (pre-activation) graphs; the
# Caffe stem (max pool without padding, ceil_mode=1); a 1001-output head with
# background at 0; static and dynamic batch. For each, the engine (rn50-infer)
# must match ONNX Runtime (max |logit diff| <= 1e-4 x max |logit|, same
# ordered top-5, and the model must be a useful oracle there), and forms of
# one function must give the engine the same top-5 and scores (<= 1e-5) as the
# base model. Where the graph allows a batch of 5, the engine's batch-5 run
# must equal its batch-1 run (<= 1e-5); where it fixes the batch, the batch-5
# load must fail naming the input or the Reshape node. Models with an
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

REL_TOL = 1e-4
SAME_FUNCTION_TOL = 1e-5
# What ONNX Runtime must show on every variant for it to be a useful oracle.
MIN_DISTINCT_TOP1 = 4
# A model computing the wrong stem geometry must miss by far more than REL_TOL.
CONTROL_MIN_REL = 100 * REL_TOL

# (name, calibration, generator options, group[, checks]). Members of a group
# compute the same function as the group's base; None: parity with ORT only.
# checks: 'batch': N, the engine at batch N equals batch 1; 'batch_refused':
# text the batch-5 load error must contain; 'control': generator options of a
# model ONNX Runtime must find different (what a wrong engine would compute);
# 'shifted': group whose outputs this model's outputs 1.. repeat.
VARIANTS = [
    # case 14: tails and opsets
    ('opset9-flatten', 'tv', ['--opset', '9', '--tail', 'flatten'], 'tv'),
    ('opset9-shape-chain', 'tv', ['--opset', '9', '--tail', 'shape'], 'tv'),
    ('opset12-shape-chain-initializers', 'tv',
     ['--opset', '12', '--tail', 'shape', '--shape-const', 'initializer'], 'tv'),
    ('opset13-reshape0', 'tv', ['--opset', '13', '--tail', 'reshape0'], 'tv'),
    ('opset13-shape-chain', 'tv', ['--opset', '13', '--tail', 'shape'], 'tv'),
    ('opset17-reshape', 'tv', ['--opset', '17', '--tail', 'reshape'], 'tv'),
    ('opset17-dynamic-batch', 'tv', ['--opset', '17', '--batch', 'dynamic'], 'tv',
     {'batch': 5}),
    # case 13: a dynamic input, but a Reshape to the constant batch 1
    ('opset13-dynamic-batch-reshape1', 'tv',
     ['--opset', '13', '--batch', 'dynamic', '--tail', 'reshape'], 'tv',
     {'batch_refused': "node '/Reshape'"}),
    # issue 3 variant 2: the model zoo's resnet50-v1 graphs
    ('v1-opset11-folded-flatten', 'v1',
     ['--style', 'v1', '--opset', '11', '--fold-bn', '--tail', 'flatten'], 'v1'),
    # variant 3: resnet50-v2, pre-activation; only BNs after a conv fold
    ('v2-opset13', 'v2', ['--style', 'v2', '--opset', '13'], 'v2'),
    ('v2-opset11-folded-reshape', 'v2',
     ['--style', 'v2', '--opset', '11', '--fold-bn', '--tail', 'reshape'], 'v2'),
    ('v2-opset17-shape-chain-dynamic-batch', 'v2',
     ['--style', 'v2', '--opset', '17', '--tail', 'shape', '--batch', 'dynamic'], 'v2',
     {'batch': 5}),
    # variant 4: Caffe stem, 3x3/2 max pool without padding, ceil_mode=1
    ('caffe-stem-ceil-mode', 'tv', ['--opset', '13', '--stem', 'caffe'], 'caffe-stem',
     {'control': ['--opset', '13', '--stem', 'caffe-floor']}),
    ('caffe-stem-ceil-mode-folded-opset10', 'tv',
     ['--opset', '10', '--stem', 'caffe', '--fold-bn', '--tail', 'reshape'], 'caffe-stem'),
    # variant 6: 1001 outputs, background at 0, then the 1000 classes
    ('background-1001', 'tv', ['--opset', '13', '--background'], None, {'shifted': 'tv'}),
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

    def engine_start(self, model, batch=1):
        """Starts rn50-infer on model; engine_finish() collects its logits. Run
        beside ONNX Runtime: the two single-threaded runs share the 2 cores."""
        out = os.path.join(self.args.work_dir, 'engine.f32')
        if os.path.exists(out):
            os.unlink(out)
        argv = [self.args.rn50_infer, '--batch', str(batch), model, self.inp, out]
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

    def engine(self, model, batch=1):
        return self.engine_finish(self.engine_start(model, batch))

    def engine_refused(self, model, batch):
        """rn50-infer must fail cleanly (exit 1) on model; returns its output."""
        out = os.path.join(self.args.work_dir, 'refused.f32')
        p = subprocess.run([self.args.rn50_infer, '--batch', str(batch), model, self.inp, out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if os.path.exists(out):
            os.unlink(out)
        if p.returncode != 1:
            raise pl.Failure('rn50-infer --batch %d %s: exit status %d, expected a clean '
                             'error (1):\n%s' % (batch, model, p.returncode, p.stdout))
        return p.stdout.strip()


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
    distinct = len(set(ref.argmax(axis=1).tolist()))
    if distinct < MIN_DISTINCT_TOP1:
        raise pl.Failure('%s: only %d distinct top-1 classes under ONNX Runtime: not a '
                         'useful oracle' % (name, distinct))
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


def run_checks(r, name, path, checks, calibration, got, ref, bases):
    """The per-variant extra checks of VARIANTS (see there)."""
    if 'batch' in checks:
        n = checks['batch']
        batched = r.engine(path, batch=n)
        dl = (np.abs(batched - got).max(axis=1) / np.abs(got).max(axis=1)).max()
        for i in range(got.shape[0]):
            if list(pl.topk(batched[i], 5)) != list(pl.topk(got[i], 5)):
                raise pl.Failure('%s, image %d: top-5 at batch %d %s, at batch 1 %s'
                                 % (name, i, n, pl.topk(batched[i], 5).tolist(),
                                    pl.topk(got[i], 5).tolist()))
        if dl > SAME_FUNCTION_TOL:
            raise pl.Failure('%s: batch %d differs from batch 1 by %.2e x max |logit|'
                             % (name, n, dl))
        pl.log('%-34s batch %d vs batch 1: logits %.1e, same top-5' % ('', n, dl))
    if 'batch_refused' in checks:
        text = r.engine_refused(path, 5)
        if checks['batch_refused'] not in text or 'batch' not in text:
            raise pl.Failure('%s at batch 5: the error does not name %s and the batch: %s'
                             % (name, checks['batch_refused'], text))
        pl.log('%-34s batch 5 refused: %s' % ('', text.splitlines()[-1]))
    if 'control' in checks:
        control = r.make(name + '-control', calibration, checks['control'])
        try:
            wrong = pl.run_ort(r.ort, control, r.tensors)
        finally:
            os.unlink(control)
        rel = (np.abs(wrong - ref).max(axis=1) / np.abs(ref).max(axis=1)).min()
        if rel < CONTROL_MIN_REL:
            raise pl.Failure('%s: the control (%s) differs by only %.2e x max |logit|, so '
                             'this test could not tell them apart'
                             % (name, ' '.join(checks['control']), rel))
        pl.log('%-34s control %s: ONNX Runtime differs by >= %.2e x max |logit|'
               % ('', ' '.join(checks['control']), rel))
    if 'shifted' in checks:
        bname, base = bases[checks['shifted']]
        if got.shape[1] != base.shape[1] + 1:
            raise pl.Failure('%s: %d outputs, expected %d' % (name, got.shape[1],
                                                               base.shape[1] + 1))
        dl = (np.abs(got[:, 1:] - base).max(axis=1) / np.abs(base).max(axis=1)).max()
        if dl > SAME_FUNCTION_TOL:
            raise pl.Failure('%s: outputs 1.. differ from %s by %.2e x max |logit|'
                             % (name, bname, dl))
        in_top5 = sum(0 in pl.topk(ref[i], 5) for i in range(ref.shape[0]))
        if in_top5 == 0:
            raise pl.Failure('%s: output 0 is in no top-5; the test would not exercise it'
                             % name)
        pl.log('%-34s outputs 1.. vs %s: logits %.1e; output 0 in %d top-5s'
               % ('', bname, dl, in_top5))


def run(args):
    os.makedirs(args.work_dir, exist_ok=True)
    tensors = np.stack([pl.torchvision_tensor(pl.load_rgb(p)) for p in args.images])
    inp = os.path.join(args.work_dir, 'input.f32')
    tensors.tofile(inp)
    r = Runner(args, inp, tensors)
    calibration = {'tv': args.calibration_tv, 'v1': args.calibration_v1,
                   'eps': args.calibration_eps, 'v2': args.calibration_v2}
    failures = []
    bases = {'tv': (os.path.basename(args.base_tv), r.engine(args.base_tv)),
             'v1': (os.path.basename(args.base_v1), r.engine(args.base_v1))}

    # Case 13 (a): a static input [1,3,224,224] fixes the batch.
    try:
        text = r.engine_refused(args.base_tv, 5)
        if 'dimension 0 = 1' not in text:
            raise pl.Failure('%s at batch 5: the error does not name input dimension 0 = 1: %s'
                             % (os.path.basename(args.base_tv), text))
        pl.log('%-34s batch 5 refused: %s' % ('static-input-batch1', text.splitlines()[-1]))
    except pl.Failure as e:
        pl.log('FAIL: %s' % e)
        failures.append('static-input-batch1')

    for name, cal, options, group, *more in VARIANTS:
        checks = more[0] if more else {}
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
            run_checks(r, name, path, checks, calibration[cal], got, ref, bases)
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
    p.add_argument('--calibration-v2', required=True)
    p.add_argument('--base-tv', required=True, help='test_model (torchvision, opset 13)')
    p.add_argument('--base-v1', required=True, help='test_model_v1')
    p.add_argument('--work-dir', required=True)
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
