#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Parity of nn/'s preprocessing with independent implementations, through
# the preprocess-dump tool:
# - RGB frames: torchvision 0.14 on PIL images (Resize(256) + CenterCrop(224)
#   for center-crop, Resize((224, 224)) for stretch; both antialiased
#   bilinear) + ToTensor + Normalize; letterbox against PIL's resize of the
#   whole frame to the fitted size, padded with the mean; caffe against the
#   same resize followed by BGR mean subtraction written here.
# - YUV frames (I420, NV12, YUY2; BT.601/BT.709 limited, BT.601 full):
#   GStreamer's own videoconvert to RGB, then torchvision as above; NV12
#   and YUY2 also with cosited chroma (chroma-site mpeg2, v-cosited,
#   cosited: --h-cosited, --v-cosited).
# Real images (PIL, convert('RGB')) and synthetic ones whose sizes exercise
# crop rounding, tiny and extreme aspect ratios. The criterion is the
# issue's: |ours - reference| * std <= 2/255 for every value, i.e. within 2
# levels before normalization. Prints the maximum error of every case.

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
import torch
import torchvision.transforms as T

OUT = 224
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
TOLERANCE_LEVELS = 2.0

torch.set_num_threads(1)


def normalize(pil):
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(pil).numpy()


def reference(pil, mode):
    if mode == 'center-crop':
        return normalize(T.CenterCrop(OUT)(T.Resize(256)(pil)))
    if mode == 'stretch':
        return normalize(T.Resize((OUT, OUT))(pil))
    # letterbox: the whole frame fitted inside, aspect kept, centred; the
    # limiting side fills the output, the other is rounded; padding is the
    # mean (0 once normalized).
    w, h = pil.size
    if w >= h:
        cw, ch = OUT, max(1, min(OUT, int(np.floor(h * OUT / w + 0.5))))
    else:
        cw, ch = max(1, min(OUT, int(np.floor(w * OUT / h + 0.5)))), OUT
    content = normalize(pil.resize((cw, ch), Image.BILINEAR))
    out = np.zeros((3, OUT, OUT), np.float32)
    x0, y0 = (OUT - cw) // 2, (OUT - ch) // 2
    out[:, y0:y0 + ch, x0:x0 + cw] = content
    return out


def run_dump(dump, tmp, fmt, w, h, raw, extra=()):
    src = os.path.join(tmp, 'frame.raw')
    dst = os.path.join(tmp, 'tensor.f32')
    with open(src, 'wb') as f:
        f.write(raw)
    subprocess.run([dump, '--format', fmt, '--width', str(w), '--height',
                    str(h), *extra, src, dst], check=True)
    return np.fromfile(dst, '<f4').reshape(3, OUT, OUT)


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, what, ours, ref, scale):
        """scale converts a tensor difference to 0-255 levels."""
        err = np.abs(ours.astype(np.float64) - ref) * scale
        worst = float(err.max())
        ok = worst <= TOLERANCE_LEVELS
        print(f'{"ok  " if ok else "FAIL"} {what}: max {worst:.3f} levels, '
              f'mean {float(err.mean()):.3f}')
        if not ok:
            self.failures += 1
        return worst


def rgb_cases(report, dump, tmp, name, pil):
    w, h = pil.size
    raw = np.asarray(pil, dtype=np.uint8).tobytes()
    worst = 0.0
    for mode in ('center-crop', 'stretch', 'letterbox'):
        ours = run_dump(dump, tmp, 'RGB', w, h, raw, ('--mode', mode))
        worst = max(worst, report.check(f'{name} {w}x{h} RGB {mode}', ours,
                                        reference(pil, mode),
                                        STD[:, None, None] * 255))
    # caffe: BGR planes, 0-255, means subtracted, std 1
    ours = run_dump(dump, tmp, 'RGB', w, h, raw, ('--preset', 'caffe'))
    crop = np.asarray(T.CenterCrop(OUT)(T.Resize(256)(pil)), np.float64)
    ref = crop[:, :, ::-1].transpose(2, 0, 1) - CAFFE_MEAN_BGR[:, None, None]
    report.check(f'{name} {w}x{h} RGB caffe', ours, ref, 1.0)
    return worst


# --- YUV through GStreamer's videoconvert --------------------------------

def gst_setup():
    import gi
    gi.require_version('Gst', '1.0')
    gi.require_version('GstApp', '1.0')
    gi.require_version('GstVideo', '1.0')
    from gi.repository import Gst, GstApp, GstVideo  # noqa: F401
    Gst.init(None)
    return Gst, GstVideo


def rgb_to_yuv(a, kr, kb, full):
    """Any plausible YUV frame will do; this one comes from the image."""
    a = a.astype(np.float64)
    kg = 1 - kr - kb
    y = kr * a[..., 0] + kg * a[..., 1] + kb * a[..., 2]
    u = (a[..., 2] - y) / (2 * (1 - kb))
    v = (a[..., 0] - y) / (2 * (1 - kr))
    if full:
        planes = (y, u + 128, v + 128)
    else:
        planes = (16 + y * 219 / 255, 128 + u * 224 / 255,
                  128 + v * 224 / 255)
    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes]


def subsample(c, sy, sx):
    """Average sy x sx blocks (edge-padded for odd sizes)."""
    h, w = c.shape
    c = np.pad(c.astype(np.float64), ((0, (-h) % sy), (0, (-w) % sx)),
               mode='edge')
    c = c.reshape(c.shape[0] // sy, sy, c.shape[1] // sx, sx).mean((1, 3))
    return np.rint(c).astype(np.uint8)


def yuv_frames(Y, U, V, fmt):
    """(packed bytes for preprocess-dump, plane arrays per GStreamer plane)"""
    h, w = Y.shape
    if fmt == 'I420':
        u, v = subsample(U, 2, 2), subsample(V, 2, 2)
        return Y.tobytes() + u.tobytes() + v.tobytes(), [Y, u, v]
    if fmt == 'NV12':
        u, v = subsample(U, 2, 2), subsample(V, 2, 2)
        uv = np.stack([u, v], -1).reshape(u.shape[0], -1)
        return Y.tobytes() + uv.tobytes(), [Y, uv]
    # YUY2: Y0 U Y1 V per pixel pair
    u, v = subsample(U, 1, 2), subsample(V, 1, 2)
    Yp = np.pad(Y, ((0, 0), (0, w % 2)), mode='edge')
    row = np.stack([Yp[:, 0::2], u, Yp[:, 1::2], v], -1).reshape(h, -1)
    return row.tobytes(), [row]


def videoconvert_to_rgb(Gst, GstVideo, fmt, w, h, planes, colorimetry,
                        chroma_site=None):
    """Lays the planes out as GStreamer says (GstVideoInfo offsets and
    strides), converts with videoconvert, returns an h x w x 3 array."""
    site = f',chroma-site={chroma_site}' if chroma_site else ''
    caps = Gst.Caps.from_string(
        f'video/x-raw,format={fmt},width={w},height={h},framerate=1/1,'
        f'colorimetry={colorimetry}{site}')
    info = GstVideo.VideoInfo.new_from_caps(caps)
    buf = bytearray(info.size)
    for i, p in enumerate(planes):
        for y in range(p.shape[0]):
            start = info.offset[i] + y * info.stride[i]
            buf[start:start + p.shape[1]] = p[y].tobytes()

    pipeline = Gst.parse_launch(
        'appsrc name=src ! videoconvert ! video/x-raw,format=RGB ! '
        'appsink name=sink sync=false')
    src = pipeline.get_by_name('src')
    sink = pipeline.get_by_name('sink')
    src.set_property('caps', caps)
    pipeline.set_state(Gst.State.PLAYING)
    src.emit('push-buffer', Gst.Buffer.new_wrapped(bytes(buf)))
    src.emit('end-of-stream')
    sample = sink.emit('pull-sample')
    out_info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
    gbuf = sample.get_buffer()
    ok, m = gbuf.map(Gst.MapFlags.READ)
    assert ok
    data = np.frombuffer(bytes(m.data), np.uint8)
    gbuf.unmap(m)
    pipeline.set_state(Gst.State.NULL)
    stride = out_info.stride[0]
    rows = [data[out_info.offset[0] + y * stride:
                 out_info.offset[0] + y * stride + 3 * w] for y in range(h)]
    return np.stack(rows).reshape(h, w, 3)


MATRICES = [
    # name, colorimetry caps string, Kr, Kb, full range, dump options
    ('BT.601', 'bt601', 0.299, 0.114, False, ('--matrix', 'bt601')),
    ('BT.709', 'bt709', 0.2126, 0.0722, False, ('--matrix', 'bt709')),
    ('BT.601 full', '1:4:0:0', 0.299, 0.114, True,
     ('--matrix', 'bt601', '--full-range')),
    # range 1 = 0-255, matrix 3 = BT.709 (GstVideoColorRange/-Matrix values)
    ('BT.709 full', '1:3:0:0', 0.2126, 0.0722, True,
     ('--matrix', 'bt709', '--full-range')),
]


def yuv_cases(report, dump, tmp, gst, name, pil, formats, matrices,
              chroma_site=None):
    """chroma_site 'mpeg2', 'v-cosited' or 'cosited': the caps say so and
    the dump gets --h-cosited and/or --v-cosited (videoconvert's generic
    path, taken by NV12 and YUY2, upsamples chroma for that siting)."""
    Gst, GstVideo = gst
    a = np.asarray(pil, dtype=np.uint8)
    h, w = a.shape[:2]
    worst = 0.0
    site_opts = {'mpeg2': ('--h-cosited',), 'v-cosited': ('--v-cosited',),
                 'cosited': ('--h-cosited', '--v-cosited')}.get(chroma_site, ())
    label = f' {chroma_site}' if chroma_site else ''
    for mname, colorimetry, kr, kb, full, opts in matrices:
        Y, U, V = rgb_to_yuv(a, kr, kb, full)
        for fmt in formats:
            raw, planes = yuv_frames(Y, U, V, fmt)
            rgb = videoconvert_to_rgb(Gst, GstVideo, fmt, w, h, planes,
                                      colorimetry, chroma_site)
            ref = reference(Image.fromarray(rgb), 'center-crop')
            ours = run_dump(dump, tmp, fmt, w, h, raw, opts + site_opts)
            worst = max(worst, report.check(
                f'{name} {w}x{h} {fmt} {mname}{label} vs videoconvert', ours,
                ref, STD[:, None, None] * 255))
    return worst


def main():
    parser = argparse.ArgumentParser(
        description='Compare preprocess-dump with torchvision/videoconvert.')
    parser.add_argument('--dump', required=True, help='preprocess-dump')
    parser.add_argument('images', nargs='+')
    args = parser.parse_args()

    report = Report()
    gst = gst_setup()
    worst_rgb = worst_yuv = 0.0
    rng = np.random.default_rng(20240501)

    with tempfile.TemporaryDirectory(prefix='rn50-parity-') as tmp:
        for path in args.images:
            pil = Image.open(path).convert('RGB')
            name = os.path.basename(path)
            worst_rgb = max(worst_rgb,
                            rgb_cases(report, args.dump, tmp, name, pil))
            worst_yuv = max(worst_yuv, yuv_cases(
                report, args.dump, tmp, gst, name, pil,
                ('I420', 'NV12', 'YUY2'), MATRICES))

        # Synthetic frames: smooth random colour fields (upsampled noise)
        # at sizes that exercise crop rounding (257: offset 16.5 → 16,
        # 259: 17.5 → 18), odd sizes, tiny frames and extreme aspect ratios.
        for w, h in [(257, 256), (259, 256), (256, 259), (321, 241),
                     (241, 321), (7, 5), (3, 2), (1, 1), (2000, 300),
                     (300, 2000), (1920, 1080)]:
            coarse = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3),
                                  dtype=np.uint8)
            pil = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
            name = 'synthetic'
            worst_rgb = max(worst_rgb,
                            rgb_cases(report, args.dump, tmp, name, pil))
            worst_yuv = max(worst_yuv, yuv_cases(
                report, args.dump, tmp, gst, name, pil,
                ('I420', 'NV12', 'YUY2'), MATRICES[:1]))
            # MPEG-2 (horizontally cosited) chroma, the HD default: odd and
            # even widths, odd heights, every matrix at 1920x1080.
            if (w, h) in ((321, 241), (7, 5), (1920, 1080)):
                worst_yuv = max(worst_yuv, yuv_cases(
                    report, args.dump, tmp, gst, name, pil, ('NV12', 'YUY2'),
                    MATRICES if w == 1920 else MATRICES[:1], 'mpeg2'))
            if (w, h) == (321, 241):
                for site in ('v-cosited', 'cosited'):
                    worst_yuv = max(worst_yuv, yuv_cases(
                        report, args.dump, tmp, gst, name, pil, ('NV12',),
                        MATRICES[:1], site))

        # Case 4 (a): 1-px black/white vertical stripes, every mode.
        stripes = np.zeros((1080, 1920, 3), np.uint8)
        stripes[:, 1::2] = 255
        worst_rgb = max(worst_rgb, rgb_cases(report, args.dump, tmp,
                                             'stripes',
                                             Image.fromarray(stripes)))

    print(f'max error RGB vs torchvision/PIL: {worst_rgb:.3f} levels; '
          f'YUV vs videoconvert + torchvision: {worst_yuv:.3f} levels '
          f'(limit {TOLERANCE_LEVELS})')
    return 1 if report.failures else 0


if __name__ == '__main__':
    sys.exit(main())
