#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs each MODEL through rn50-infer (one rn50_model_run per image) on
INPUT and compares the raw outputs with EXPECTED, which PyTorch computed
(gen-torch-models.py): max |diff| <= 1e-3 x max |expected| (the issue's
parity tolerance) and the same ordered top-5 for every image. With
--agree REL, every model's outputs must also equal the first model's to
REL x max |output|: variants of one network (flatten forms, opsets, Gemm
forms) must not change the result.

Usage: check-engine-outputs.py [--agree REL] RN50_INFER INPUT EXPECTED MODEL...
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

PARITY = 1e-3


def run(rn50_infer, model, input_path, workdir):
    out = os.path.join(workdir, os.path.basename(model) + ".out.f32")
    proc = subprocess.run([rn50_infer, model, input_path, out],
                          capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit("FAIL: rn50-infer refused %s" % model)
    return np.fromfile(out, dtype=np.float32)


def top5(scores):
    return [list(np.argsort(-row, kind="stable")[:5]) for row in scores]


def main():
    args = sys.argv[1:]
    agree = None
    if args[:1] == ["--agree"]:
        agree = float(args[1])
        args = args[2:]
    if len(args) < 4:
        sys.exit(__doc__)
    rn50_infer, input_path, expected_path, models = (args[0], args[1],
                                                     args[2], args[3:])
    expected = np.fromfile(expected_path, dtype=np.float32)
    n_images = os.path.getsize(input_path) // (3 * 224 * 224 * 4)
    expected = expected.reshape(n_images, -1)
    scale = float(np.abs(expected).max())
    failed = False
    first = None

    with tempfile.TemporaryDirectory() as workdir:
        for model in models:
            got = run(rn50_infer, model, input_path, workdir)
            got = got.reshape(expected.shape)
            diff = float(np.abs(got - expected).max())
            ok = diff <= PARITY * scale
            same_top5 = top5(got) == top5(expected)
            line = "%s: max |diff| %.3g (limit %.3g), top-5 %s" % (
                os.path.basename(model), diff, PARITY * scale,
                "identical" if same_top5 else "DIFFERENT")
            if agree is not None:
                if first is None:
                    first = got
                else:
                    spread = float(np.abs(got - first).max())
                    ok = ok and spread <= agree * float(np.abs(first).max())
                    line += ", vs first %.3g (limit %.3g)" % (
                        spread, agree * float(np.abs(first).max()))
            print(("ok   " if ok and same_top5 else "FAIL ") + line)
            failed |= not (ok and same_top5)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
