#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# YUV preprocessing parity: each real image is decoded and converted by
# videoconvert to I420 or NV12 (at its own size, and scaled to an odd size),
# then teed: one branch feeds resnet50classify, the other converts the very
# same YUV frame back to RGB with videoconvert. torchvision's Resize(256) +
# CenterCrop(224) + ToTensor on that RGB frame must equal the element's
# input-tensor (de-normalized) within 2/255: the element's colour conversion
# must follow the caps' colorimetry and chroma siting as videoconvert does.

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paritylib as pl  # noqa: E402

# One scaled size per run: odd width and height (chroma planes round up).
ODD_SIZE = (321, 241)


def tensor_and_rgb(model, image, fmt, size):
    import gstrun
    scale = ''
    if size is not None:
        scale = 'videoscale ! video/x-raw,width=%d,height=%d ! videoconvert ! ' % size
    desc = ('filesrc location="%s" ! decodebin ! videoconvert ! %s'
            'video/x-raw,format=%s ! tee name=t '
            't. ! queue ! resnet50classify name=c model-location="%s" ! fakesink '
            't. ! queue ! videoconvert ! video/x-raw,format=RGB ! appsink name=ref'
            % (image, scale, fmt, model))
    run = gstrun.run_pipeline(desc, read_props=['input-tensor'])
    if len(run.frames) != 1:
        raise pl.Failure('%s: %d frames for one image' % (image, len(run.frames)))
    tensor = gstrun.tensor_from_bytes(run.props['input-tensor'])
    if tensor is None:
        raise pl.Failure('%s: input-tensor is NULL after a frame' % image)
    return tensor, run.frames[0]


def run(args):
    import gstrun
    from PIL import Image
    if not gstrun.element_available():
        raise pl.Failure('resnet50classify not found (GST_PLUGIN_PATH_1_0=%s)'
                         % os.environ.get('GST_PLUGIN_PATH_1_0'))
    ok = True
    worst = 0.0
    for fmt in args.format:
        for path in args.images:
            for size in (None, ODD_SIZE):
                tensor, frame = tensor_and_rgb(args.model, path, fmt, size)
                h, w = frame.shape[:2]
                ref = pl.torchvision_unnormalized(Image.fromarray(frame, 'RGB'))
                d = np.abs(pl.tv_denormalize(tensor) - ref) * 255
                worst = max(worst, d.max())
                pl.log('  %-5s %-20s %4dx%-4d tensor max|diff| %.3f levels, mean %.4f'
                       % (fmt, os.path.basename(path), w, h, d.max(), d.mean()))
                if d.max() > args.tol_levels:
                    pl.log('  FAIL: more than %.1f levels from videoconvert\'s RGB'
                           % args.tol_levels)
                    ok = False
    pl.log('worst difference %.3f levels (tolerance %.1f)' % (worst, args.tol_levels))
    if not ok:
        raise pl.Failure('YUV preprocessing differs from videoconvert + torchvision')
    return 0


def main():
    p = argparse.ArgumentParser(description='resnet50classify YUV preprocessing parity')
    p.add_argument('--model', required=True)
    p.add_argument('--format', action='append', choices=['I420', 'NV12'])
    p.add_argument('--tol-levels', type=float, default=2.0)
    p.add_argument('images', nargs='+')
    args = p.parse_args()
    if not args.format:
        args.format = ['I420', 'NV12']
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
