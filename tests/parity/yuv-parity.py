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
#
# With --hd, HD frames instead (NV12 and YUY2 go through videoconvert's
# generic path, whose horizontal chroma upsampling follows the chroma
# siting GstVideoInfo derives from the caps): SMPTE bars at 1920x1080
# without colorimetry (BT.709, and cosited chroma by 1.22's HD default), at
# 1281x721 with BT.601 and chroma-site=mpeg2 (cosited) or no chroma-site
# (centred), and a real image scaled up to 1920x1080 by videoconvert
# (colorimetry in the caps, no chroma-site: centred).

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


# HD sources: (name, source description ending in a raw YUV caps filter
# without the format, which is appended).
HD_SOURCES = [
    ('smpte 1920x1080 default (BT.709, cosited)',
     'videotestsrc pattern=smpte num-buffers=1 ! '
     'video/x-raw,width=1920,height=1080,format=%s'),
    ('smpte 1281x721 BT.601 mpeg2 siting',
     'videotestsrc pattern=smpte num-buffers=1 ! '
     'video/x-raw,width=1281,height=721,colorimetry=bt601,'
     'chroma-site=mpeg2,format=%s'),
    ('smpte 1281x721 BT.601 no siting (centred)',
     'videotestsrc pattern=smpte num-buffers=1 ! '
     'video/x-raw,width=1281,height=721,colorimetry=bt601,format=%s'),
]


def hd_image_source(image):
    return ('filesrc location="%s" ! decodebin ! videoconvert ! videoscale ! '
            'video/x-raw,width=1920,height=1080 ! videoconvert ! '
            'video/x-raw,format=%%s' % image)


def tensor_and_rgb_from(model, source, what):
    import gstrun
    desc = ('%s ! tee name=t '
            't. ! queue ! resnet50classify name=c model-location="%s" ! fakesink '
            't. ! queue ! videoconvert ! video/x-raw,format=RGB ! appsink name=ref'
            % (source, model))
    run = gstrun.run_pipeline(desc, read_props=['input-tensor'])
    if len(run.frames) != 1:
        raise pl.Failure('%s: %d frames for one image' % (what, len(run.frames)))
    tensor = gstrun.tensor_from_bytes(run.props['input-tensor'])
    if tensor is None:
        raise pl.Failure('%s: input-tensor is NULL after a frame' % what)
    return tensor, run.frames[0]


def compare(tensor, frame, label, tol):
    from PIL import Image
    h, w = frame.shape[:2]
    ref = pl.torchvision_unnormalized(Image.fromarray(frame, 'RGB'))
    d = np.abs(pl.tv_denormalize(tensor) - ref) * 255
    pl.log('  %-5s %-42s %4dx%-4d tensor max|diff| %.3f levels, mean %.4f'
           % (label[0], label[1], w, h, d.max(), d.mean()))
    if d.max() > tol:
        pl.log('  FAIL: more than %.1f levels from videoconvert\'s RGB' % tol)
    return d.max()


def run_hd(args):
    ok = True
    worst = 0.0
    sources = list(HD_SOURCES)
    if args.images:
        sources.append(('%s scaled to 1920x1080' % os.path.basename(args.images[0]),
                        hd_image_source(args.images[0])))
    for fmt in args.format:
        for name, source in sources:
            tensor, frame = tensor_and_rgb_from(args.model, source % fmt, name)
            d = compare(tensor, frame, (fmt, name), args.tol_levels)
            worst = max(worst, d)
            ok = ok and d <= args.tol_levels
    pl.log('worst difference %.3f levels (tolerance %.1f)' % (worst, args.tol_levels))
    if not ok:
        raise pl.Failure('HD YUV preprocessing differs from videoconvert + torchvision')
    return 0


def run(args):
    import gstrun
    from PIL import Image
    if not gstrun.element_available():
        raise pl.Failure('resnet50classify not found (GST_PLUGIN_PATH_1_0=%s)'
                         % os.environ.get('GST_PLUGIN_PATH_1_0'))
    if args.hd:
        return run_hd(args)
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
    p.add_argument('--format', action='append', choices=['I420', 'NV12', 'YUY2'])
    p.add_argument('--tol-levels', type=float, default=2.0)
    p.add_argument('--hd', action='store_true',
                   help='HD frames (SMPTE bars, and the first image scaled up)')
    p.add_argument('images', nargs='*')
    args = p.parse_args()
    if not args.hd and not args.images:
        p.error('images are required without --hd')
    if not args.format:
        args.format = ['I420', 'NV12']
    return pl.main_wrapper(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
