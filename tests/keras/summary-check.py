#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# rn50-summary against the published Deeplearning4j summary of its zoo
# ResNet50: for the variant-5 ONNX file and the Keras HDF5 weights file the
# whole table (vertices, types, nIn/nOut, per-vertex parameter counts and
# shapes, inputs, totals, even the column layout) must equal the checked-in
# copy of that summary (dl4j-resnet50-summary.txt), which must itself equal
# the table in shared/reference when that directory exists next to the
# source tree. torchvision's ResNet-50 must total 25,557,032 (PyTorch's
# count: BatchNormalization running statistics are buffers), with sample
# rows checked exactly.

import argparse
import os
import subprocess
import sys

TV_ROWS = [
    'input (InputVertex)|-,-|-|-|-',
    '/conv1/Conv (ConvolutionLayer)|3,64|9,408|W:{64,3,7,7}|[input]',
    '/bn1/BatchNormalization (BatchNormalization)|64,64|128|gamma:{1,64}, beta:{1,64}|'
    '[/conv1/Conv]',
    '/fc/Gemm (DenseLayer)|2048,1000|2,049,000|W:{2048,1000}, b:{1,1000}|[/Flatten]',
]


def summary(tool, model):
    r = subprocess.run([tool, model], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if r.returncode != 0:
        raise SystemExit('FAIL: rn50-summary %s exited %d:\n%s' % (model, r.returncode,
                                                                    r.stdout))
    return r.stdout.splitlines()


def cells(line):
    import re
    return '|'.join(re.split(r'\s{2,}', line.strip()))


def total(lines):
    for line in lines:
        if line.strip().startswith('Total Parameters:'):
            return line.split(':')[1].strip()
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rn50-summary', required=True)
    p.add_argument('--fixture', required=True)
    p.add_argument('--shared-reference')
    p.add_argument('--keras-onnx', required=True)
    p.add_argument('--keras-h5', required=True)
    p.add_argument('--torchvision', required=True)
    args = p.parse_args()
    failures = []

    with open(args.fixture) as f:
        expected = f.read().splitlines()
    if args.shared_reference and os.path.exists(args.shared_reference):
        with open(args.shared_reference) as f:
            md = f.read().splitlines()
        table = md[md.index('```text') + 1:]
        table = table[:table.index('```')]
        if table != expected:
            failures.append('%s no longer matches %s' % (args.fixture, args.shared_reference))
        else:
            print('fixture = %s' % args.shared_reference)
    else:
        print('shared/reference not found; using the checked-in fixture only')

    for model in (args.keras_onnx, args.keras_h5):
        got = summary(args.rn50_summary, model)
        name = os.path.basename(model)
        print('%s: total %s, %d lines' % (name, total(got), len(got)))
        if got != expected:
            for i in range(max(len(got), len(expected))):
                a = got[i] if i < len(got) else '<missing>'
                b = expected[i] if i < len(expected) else '<missing>'
                if a != b:
                    failures.append('%s line %d:\n  got      %r\n  expected %r'
                                    % (name, i + 1, a, b))
                    break
        if total(got) != '25,636,712':
            failures.append('%s: total %s != 25,636,712' % (name, total(got)))

    got = summary(args.rn50_summary, args.torchvision)
    print('%s: total %s' % (os.path.basename(args.torchvision), total(got)))
    if total(got) != '25,557,032':
        failures.append('torchvision total %s != 25,557,032' % total(got))
    rows = [cells(line) for line in got]
    for row in TV_ROWS:
        if row not in rows:
            failures.append('torchvision summary lacks the row %r' % row)

    for f in failures:
        print('FAIL: ' + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
