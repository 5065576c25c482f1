#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The benchmark of issue 4, in one run on one ONNX file (a dynamic-batch
# synthetic ResNet-50 written by tests/models/make-resnet50.py), the same
# input tensors (eight real images from python3-skimage) and the same thread
# counts:
#   1. nn/ (build/nn/tools/rn50-infer, OMP_NUM_THREADS=T) against ONNX Runtime
#      (npm onnxruntime-node, intraOpNumThreads=T, installed into the build
#      directory from tests/parity's lockfile if missing): latency at batch 1
#      and images/s at batch 8, 1 and 2 threads, after a warm-up run, the two
#      engines alternating, several repetitions, medians.
#   2. This machine's FP32 FMA peak (tests/bench/fma-peak, before and after),
#      the model's FLOPs counted from the graph (Conv/Gemm/MatMul MACs × 2),
#      and the fraction of peak the engines reach; for our convolutions the
#      time comes from DNNL_VERBOSE=1's per-primitive times.
#   3. The element: a real 1080p clip (python3-imageio's cockatoo.mp4 scaled
#      up, encoded once with avenc_mpeg4) decoded to NV12 and to RGB through
#      resnet50classify to fakesink sync=false, frames/s against the engine's
#      images/s at the same batch size and threads; the same frames pushed
#      from memory (the element alone); decoding alone; preprocessing of one
#      1080p NV12 frame on one core (rn50-preprocess-bench, if built).
#   4. Peak RSS of gst-launch-1.0 with one element and with four elements on
#      four streams (same model file), of ONNX Runtime's node process on the
#      same model, and of the pipelines without the element.
# Writes BUILD_DIR/bench/results.md, results.json and results.png (gnuplot),
# prints the tables and each target of issue 4 as met / not met. Exit status
# 0 when every measurement ran (whether or not the targets are met), 1 when
# one could not be made.
#
#   tests/bench/run-bench.sh [BUILD_DIR] [--reps N] [--quick]

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
PYTHON = '/usr/bin/python3'
IMAGE_SHAPE = (3, 224, 224)
SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data'
# Eight real photographs: one batch of 8, and the first one alone for batch 1.
IMAGES = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg', 'motorcycle_left.png',
          'hubble_deep_field.jpg', 'ihc.png', 'motorcycle_right.png']
CLIP_SOURCE = '/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4'
CLIP_FRAMES = 120  # 6 s at 20 fps, more than any run reads
BENCH_TMP = [None]  # the output directory, for run_rss's file

TARGETS = {
    'latency_ratio': 0.9,     # ours/ORT batch-1 latency, at most
    'throughput_ratio': 1.1,  # ours/ORT batch-8 images/s, at least
    'conv_peak_fraction': 0.7,
    'pipeline_fraction': 0.95,
    'preprocess_ms': 2.0,
    'rss_vs_ort': 1.3,
    'rss_four_vs_one': 1.3,
}


class BenchError(Exception):
    """A measurement that could not be made."""


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)


def run(cmd, env=None, timeout=900, check=True, cwd=None):
    """Runs cmd; returns (stdout+stderr text, peak RSS of the child in kB)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                         cwd=cwd, universal_newlines=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise BenchError('timed out after %d s: %s\n%s' % (timeout, ' '.join(cmd), out[-2000:]))
    if check and p.returncode != 0:
        raise BenchError('failed (%d): %s\n%s' % (p.returncode, ' '.join(cmd), out[-3000:]))
    return out


# Peak RSS of a command. Linux carries a process's peak RSS across fork and
# exec (the child starts as a copy of its parent, and exec keeps the larger
# of the old and new peaks), so a child of this script, which holds numpy
# and the ONNX model, would report at least this script's size. A minimal
# python (-S -I, about 10 MB) forks the command instead and reports its
# wait4() maximum: exact for anything larger than that helper.
RSS_HELPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], 'w') as f:
    f.write('%d\\n' % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
"""


def run_rss(cmd, env=None, timeout=900):
    """Runs cmd; returns (output, its peak RSS in kB)."""
    rss_file = os.path.join(BENCH_TMP[0], 'rss.txt')
    out = run([PYTHON, '-S', '-I', '-c', RSS_HELPER, rss_file] + cmd, env=env, timeout=timeout)
    with open(rss_file) as f:
        return out, int(f.read())


def median(values):
    return statistics.median(values) if values else float('nan')


# ---------------------------------------------------------------------------
# Setup: tools, model, inputs, ONNX Runtime, clip.

class Setup:
    def __init__(self, build_dir):
        self.build = os.path.abspath(build_dir)
        self.out = os.path.join(self.build, 'bench')
        os.makedirs(self.out, exist_ok=True)
        BENCH_TMP[0] = self.out
        self.rn50_infer = os.path.join(self.build, 'nn', 'tools', 'rn50-infer')
        self.preprocess_bench = os.path.join(self.build, 'nn', 'tools', 'rn50-preprocess-bench')
        self.plugin_dir = os.path.join(self.build, 'plugin')
        self.calibration = os.path.join(self.build, 'tests', 'models',
                                        'resnet50-calibration-tv.npz')
        self.fma_peak = os.path.join(self.build, 'tests', 'bench', 'fma-peak')
        self.gst_env = {
            'GST_PLUGIN_PATH_1_0': self.plugin_dir,
            'GST_REGISTRY_1_0': os.path.join(self.out, 'registry.bin'),
            'GST_DEBUG_NO_COLOR': '1',
        }

    def check_build(self):
        needed = [self.rn50_infer, self.calibration,
                  os.path.join(self.plugin_dir, 'libgstresnet50classify.so')]
        if not all(os.path.exists(p) for p in needed + [self.fma_peak]):
            log('building what is missing (ninja -C %s)' % self.build)
            run(['ninja', '-C', self.build], timeout=3600)
        for p in needed:
            if not os.path.exists(p):
                raise BenchError('%s is missing: build first (tools/bootstrap build)' % p)
        if not os.path.exists(self.fma_peak):
            # A build directory whose tests/meson.build does not descend
            # into bench/: compile the probe by hand.
            self.fma_peak = os.path.join(self.out, 'fma-peak')
            run(['cc', '-O2', '-pthread', '-o', self.fma_peak,
                 os.path.join(HERE, 'fma-peak.c')])
        # rn50-infer --threads N: the engine's default is every core,
        # whatever OMP_NUM_THREADS says.
        self.infer_has_threads = '--threads' in run([self.rn50_infer, '--help'], check=False)
        if not self.infer_has_threads:
            log('WARNING: %s has no --threads option: our engine runs on its default '
                'thread count and OMP_NUM_THREADS may be ignored' % self.rn50_infer)
        for tool in ('node', 'npm', 'gst-launch-1.0', 'gst-inspect-1.0'):
            if shutil.which(tool) is None:
                raise BenchError('%s not found: run tools/bootstrap deps' % tool)

    def make_model(self):
        """The dynamic-batch model both engines and the element run."""
        self.model = os.path.join(self.out, 'resnet50-tv-opset13-dynamic.onnx')
        script = os.path.join(SRC, 'tests', 'models', 'make-resnet50.py')
        if (not os.path.exists(self.model)
                or os.path.getmtime(self.model) < os.path.getmtime(self.calibration)
                or os.path.getmtime(self.model) < os.path.getmtime(script)):
            log('writing %s' % self.model)
            tmp = self.model + '.tmp'
            run([PYTHON, script, '--quiet', '--calibration', self.calibration,
                 '--style', 'torchvision', '--opset', '13', '--tail', 'flatten',
                 '--batch', 'dynamic', '--output', tmp])
            os.replace(tmp, self.model)

    def make_inputs(self):
        """Eight real images, shorter side to 256 (PIL bilinear), centre crop
        224, torchvision normalization: float32 NCHW, native endian."""
        import numpy as np
        from PIL import Image
        self.inputs = os.path.join(self.out, 'images-8.f32')
        if os.path.exists(self.inputs):
            return
        mean = np.array([0.485, 0.456, 0.406], np.float32)
        std = np.array([0.229, 0.224, 0.225], np.float32)
        tensors = []
        for name in IMAGES:
            im = Image.open(os.path.join(SKIMAGE, name)).convert('RGB')
            s = 256 / min(im.size)
            im = im.resize((max(256, round(im.width * s)), max(256, round(im.height * s))),
                           Image.BILINEAR)
            left, top = (im.width - 224) // 2, (im.height - 224) // 2
            a = np.asarray(im.crop((left, top, left + 224, top + 224)), np.float32) / 255.0
            tensors.append(((a - mean) / std).transpose(2, 0, 1))
        np.ascontiguousarray(np.stack(tensors), np.float32).tofile(self.inputs)

    def install_ort(self):
        """onnxruntime-node in the parity tests' cache (npm ci from the
        checked-in lockfile, once), with ort-bench.mjs next to node_modules
        so that its import resolves."""
        sys.path.insert(0, os.path.join(SRC, 'tests', 'parity'))
        import paritylib
        ort_dir = os.path.join(self.build, 'tests', 'parity', 'ort')
        try:
            paritylib.ensure_ort(ort_dir)
        except paritylib.Failure as e:
            raise BenchError(str(e))
        self.ort_bench = os.path.join(ort_dir, 'ort-bench.mjs')
        shutil.copyfile(os.path.join(HERE, 'ort-bench.mjs'), self.ort_bench)

    def make_clip(self):
        """The real clip at 1920x1080: cockatoo.mp4 (1280x720, 20 fps, from
        python3-imageio) decoded, scaled up and encoded once as MPEG-4 part 2
        (avenc_mpeg4, gstreamer1.0-libav) in MP4 (decoded with avdec_mpeg4)."""
        self.clip = os.path.join(self.out, 'cockatoo-1080p.mp4')
        if os.path.exists(self.clip):
            return
        if not os.path.exists(CLIP_SOURCE):
            raise BenchError('%s is missing: install python3-imageio' % CLIP_SOURCE)
        log('encoding the 1080p clip %s' % self.clip)
        tmp = self.clip + '.tmp'
        # identity single-segment: the clip's first frame is at 0.1 s, and
        # avenc_mpeg4 (1.22) drops every frame of a segment not starting at 0.
        run(['gst-launch-1.0', '-q', '-e',
             'filesrc', 'location=' + CLIP_SOURCE, '!', 'decodebin', '!', 'video/x-raw', '!',
             'videoconvert', '!', 'videoscale', 'method=bilinear', '!',
             'video/x-raw,width=1920,height=1080,format=I420,pixel-aspect-ratio=1/1', '!',
             'identity', 'single-segment=true', 'eos-after=%d' % CLIP_FRAMES, '!',
             'avenc_mpeg4', 'pass=quant', 'quantizer=3', '!', 'mp4mux', '!',
             'filesink', 'location=' + tmp], timeout=900)
        if os.path.getsize(tmp) < CLIP_FRAMES * 1000:
            raise BenchError('encoding the clip wrote only %d bytes' % os.path.getsize(tmp))
        os.replace(tmp, self.clip)

    def element_properties(self):
        out = run(['gst-inspect-1.0', 'resnet50classify'], env=self.gst_env, check=False)
        if 'model-location' not in out:
            raise BenchError('resnet50classify not found in %s:\n%s' % (self.plugin_dir, out))
        self.has_threads = re.search(r'^\s+threads\s+:', out, re.M) is not None
        self.has_batch = re.search(r'^\s+batch-size\s+:', out, re.M) is not None
        self.has_spin_wait = re.search(r'^\s+spin-wait\s+:', out, re.M) is not None


# ---------------------------------------------------------------------------
# 1. Engines.

def tile_input(setup, batch, runs):
    """A file of `runs` copies of the batch (our engine reads runs × batch
    images and runs them batch by batch)."""
    import numpy as np
    path = os.path.join(setup.out, 'input-b%d-x%d.f32' % (batch, runs))
    if not os.path.exists(path):
        images = np.fromfile(setup.inputs, np.float32).reshape((-1,) + IMAGE_SHAPE)[:batch]
        np.tile(images, (runs, 1, 1, 1)).tofile(path)
    return path


def infer_cmd(setup, threads, batch, inp, outp):
    """rn50-infer on `threads` threads (checked against what it reports)."""
    cmd = [setup.rn50_infer, '--batch', str(batch), '--repeat', '1']
    if setup.infer_has_threads:
        cmd += ['--threads', str(threads)]
    return cmd + [setup.model, inp, outp], {'OMP_NUM_THREADS': str(threads)}


def check_infer_threads(out, threads):
    m = re.search(r'outputs.*?, (\d+) threads?, loaded', out)
    if m and int(m.group(1)) != threads:
        raise BenchError('rn50-infer ran on %s threads, not %d:\n%s' % (m.group(1), threads, out))


def run_ours(setup, threads, batch, runs):
    """Times of `runs` batches after one warm-up batch (ms), and outputs."""
    inp = tile_input(setup, batch, runs + 1)
    outp = os.path.join(setup.out, 'ours-out.f32')
    cmd, env = infer_cmd(setup, threads, batch, inp, outp)
    out = run(cmd, env=env)
    check_infer_threads(out, threads)
    times = [float(m.group(2)) for m in re.finditer(r'^run (\d+): ([0-9.]+) ms', out, re.M)]
    if len(times) != runs + 1:
        raise BenchError('rn50-infer printed %d run times, expected %d:\n%s'
                         % (len(times), runs + 1, out))
    return times[1:], outp


def run_ort(setup, threads, batch, runs):
    outp = os.path.join(setup.out, 'ort-out.f32')
    out = run(['node', setup.ort_bench, setup.model, setup.inputs, str(threads), str(batch),
               str(runs), outp], env={'OMP_NUM_THREADS': str(threads)})
    m = re.search(r'^run_ms (.*)$', out, re.M)
    if m is None:
        raise BenchError('ort-bench printed no times:\n' + out)
    return [float(t) for t in m.group(1).split()], outp


def compare_outputs(ours_path, ort_path, batch):
    """Largest |difference| of the two engines' outputs for the same batch
    and whether their top-1 classes agree (a guard: both must compute the
    same function for the comparison to mean anything)."""
    import numpy as np
    a = np.fromfile(ours_path, np.float32)
    b = np.fromfile(ort_path, np.float32)
    a = a[-b.size:].reshape(batch, -1)  # our file holds every run; the last batch
    b = b.reshape(batch, -1)
    return float(np.abs(a - b).max()), bool((a.argmax(1) == b.argmax(1)).all())


def bench_engines(setup, threads_list, batches, reps, runs_for):
    samples = {(e, t, b): [] for e in ('ours', 'ort') for t in threads_list for b in batches}
    checks = {}
    for rep in range(reps):
        for t in threads_list:
            for b in batches:
                # Alternate which engine goes first, so slow drifts of the
                # machine's load hit both alike.
                order = ('ours', 'ort') if rep % 2 == 0 else ('ort', 'ours')
                outs = {}
                for engine in order:
                    fn = run_ours if engine == 'ours' else run_ort
                    times, outs[engine] = fn(setup, t, b, runs_for[b])
                    samples[(engine, t, b)].extend(times)
                if rep == 0:
                    checks[(t, b)] = compare_outputs(outs['ours'], outs['ort'], b)
                log('rep %d/%d, %d thread(s), batch %d: ours %s ms, ORT %s ms'
                    % (rep + 1, reps, t, b,
                       ' '.join('%.1f' % x for x in samples[('ours', t, b)][-runs_for[b]:]),
                       ' '.join('%.1f' % x for x in samples[('ort', t, b)][-runs_for[b]:])))
    return samples, checks


# ---------------------------------------------------------------------------
# 2. FMA peak, FLOPs, DNNL_VERBOSE.

def fma_peak(setup, threads_list):
    out = run([setup.fma_peak, '--threads', ','.join(map(str, threads_list)),
               '--seconds', '1.5', '--repeat', '5'])
    peaks = {int(m.group(1)): float(m.group(2))
             for m in re.finditer(r'^threads (\d+) gflops ([0-9.]+)', out, re.M)}
    isa = re.search(r'^isa (\S+)', out, re.M)
    if set(peaks) != set(threads_list) or not isa:
        raise BenchError('fma-peak printed:\n' + out)
    # The widest vectors the CPU has (what oneDNN and ORT use too).
    return peaks, isa.group(1)


def count_flops(model_path):
    """FLOPs of one image: 2 × the multiply-adds of every Conv, Gemm and
    MatMul, from the ONNX graph's shapes with the batch fixed to 1."""
    import onnx
    from onnx import shape_inference
    m = onnx.load(model_path)
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    graph_in = [i for i in m.graph.input if i.name not in inits][0]
    dim0 = graph_in.type.tensor_type.shape.dim[0]
    dim0.ClearField('dim_param')
    dim0.dim_value = 1
    m = shape_inference.infer_shapes(m)
    shapes = dict(inits)
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]

    def prod(xs):
        r = 1
        for x in xs:
            r *= x
        return r

    conv = other = 0
    n_conv = 0
    for node in m.graph.node:
        if node.op_type == 'Conv':
            w, y = shapes[node.input[1]], shapes[node.output[0]]
            # w = [C_out, C_in / group, kh, kw]: MACs per output element.
            conv += prod(y) * prod(w[1:])
            n_conv += 1
        elif node.op_type == 'Gemm':
            a = shapes[node.input[0]]
            trans_a = next((x.i for x in node.attribute if x.name == 'transA'), 0)
            k = a[0] if trans_a else a[1]
            other += prod(shapes[node.output[0]]) * k
        elif node.op_type == 'MatMul':
            other += prod(shapes[node.output[0]]) * shapes[node.input[0]][-1]
    if n_conv == 0 or conv == 0:
        raise BenchError('no convolution shapes found in ' + model_path)
    return {'conv_flop': 2 * conv, 'fc_flop': 2 * other, 'total_flop': 2 * (conv + other),
            'conv_layers': n_conv}


CONV_DESC = re.compile(r'(?:g(\d+))?mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)\D.*'
                       r'_iw(\d+)ow(\d+)kw(\d+)')
NON_CONV = ('pooling', 'pooling_v2', 'eltwise', 'inner_product', 'softmax', 'softmax_v2',
            'binary', 'sum', 'reduction', 'reorder', 'concat', 'batch_normalization')


def dnnl_breakdown(setup, threads):
    """One batch-1 run (after a warm-up run) with DNNL_VERBOSE=1: the time of
    each primitive kind, the FLOPs of the convolution primitives (from their
    problem descriptors) and the run's wall time."""
    inp = tile_input(setup, 1, 2)
    stdbuf = shutil.which('stdbuf')
    # Line-buffered stdout keeps oneDNN's lines (stdout) in order with
    # rn50-infer's "run i:" lines (stderr) in the one pipe.
    cmd, env = infer_cmd(setup, threads, 1, inp, os.path.join(setup.out, 'verbose-out.f32'))
    cmd = ([stdbuf, '-oL'] if stdbuf else []) + cmd
    env['DNNL_VERBOSE'] = '1'
    out = run(cmd, env=env)
    check_infer_threads(out, threads)
    lines = out.splitlines()
    marks = [i for i, line in enumerate(lines) if re.match(r'^run \d+: ', line)]
    if len(marks) != 2:
        raise BenchError('rn50-infer printed %d runs with DNNL_VERBOSE:\n%s'
                         % (len(marks), out[-3000:]))
    wall = float(re.match(r'^run 1: ([0-9.]+) ms', lines[marks[1]]).group(1))
    by_kind = {}
    conv_flop = 0
    conv_count = 0
    for line in lines[marks[0] + 1:marks[1]]:
        f = line.split(',')
        if not f[0].startswith(('dnnl_verbose', 'onednn_verbose')):
            continue
        if len(f) > 3 and f[1] == 'exec':
            kind = f[3]
        elif len(f) > 4 and f[1] == 'primitive' and f[2] == 'exec':
            kind = f[4]
        else:
            continue
        ms = float(f[-1])
        by_kind[kind] = by_kind.get(kind, 0.0) + ms
        if kind == 'convolution':
            conv_count += 1
            m = CONV_DESC.search(line)
            if m:
                g = int(m.group(1) or 1)
                mb, ic, oc = int(m.group(2)), int(m.group(3)), int(m.group(4))
                oh, kh, ow, kw = int(m.group(6)), int(m.group(7)), int(m.group(9)), int(m.group(10))
                conv_flop += 2 * mb * oc * oh * ow * (ic // g) * kh * kw
    if not by_kind:
        raise BenchError('DNNL_VERBOSE=1 printed no exec lines (is it a oneDNN build '
                         'with verbose support?)')
    return {'wall_ms': wall, 'by_kind_ms': by_kind, 'conv_primitives': conv_count,
            'conv_primitive_flop': conv_flop}


# ---------------------------------------------------------------------------
# 3. Pipeline, 4. memory.

def element_props_args(setup, threads, batch, spin):
    args, env = ['--threads', str(threads), '--batch', str(batch)], {}
    if setup.has_threads:
        args.append('--threads-prop')
    else:
        env['OMP_NUM_THREADS'] = str(threads)
    if setup.has_batch:
        args.append('--batch-prop')
    if spin and setup.has_spin_wait:
        args.append('--spin-wait')
    return args, env


def pipeline_run(setup, mode, fmt, threads, batch, frames, spin=True):
    """frames/s of one pipeline-bench.py run. spin: the element's spin-wait
    property, on by default so that its OpenMP workers wait as rn50-infer's
    do (rn50-infer loads and runs on one thread) and the element's own
    overhead is what the ratio shows."""
    args, env = element_props_args(setup, threads, batch, spin)
    env.update(setup.gst_env)
    out = run([PYTHON, os.path.join(HERE, 'pipeline-bench.py'), '--mode', mode,
               '--clip', setup.clip, '--model', setup.model, '--format', fmt,
               '--frames', str(frames)] + args, env=env)
    m = re.search(r'^frames (\d+) seconds ([0-9.]+) fps ([0-9.]+)', out, re.M)
    if m is None:
        raise BenchError('pipeline-bench printed no result:\n' + out)
    return float(m.group(3))


def element_desc(setup, threads):
    props = ['model-location=' + setup.model]
    if setup.has_threads:
        props.append('threads=%d' % threads)
    return ['resnet50classify'] + props


def launch_rss(setup, streams, with_element, threads, frames=8):
    """Peak RSS (kB) of gst-launch-1.0 decoding `frames` frames of the clip
    on each of `streams` branches of one pipeline, with or without one
    resnet50classify per branch (all on the same model file)."""
    cmd = ['gst-launch-1.0', '-q']
    for _ in range(streams):
        cmd += ['filesrc', 'location=' + setup.clip, '!', 'decodebin', '!', 'videoconvert', '!',
                'video/x-raw,format=NV12', '!', 'identity', 'eos-after=%d' % frames, '!']
        if with_element:
            cmd += element_desc(setup, threads) + ['!']
        cmd += ['fakesink', 'sync=false']
    env = dict(setup.gst_env)
    if not setup.has_threads:
        env['OMP_NUM_THREADS'] = str(threads)
    _, rss = run_rss(cmd, env=env)
    return rss


def preprocess_time(setup):
    if not os.path.exists(setup.preprocess_bench):
        return None
    out = run([setup.preprocess_bench, 'NV12', '1920', '1080'], env={'OMP_NUM_THREADS': '1'})
    m = re.search(r'median_ms=([0-9.]+)', out)
    if m is None:
        raise BenchError('rn50-preprocess-bench printed:\n' + out)
    best = re.search(r'best_ms=([0-9.]+)', out)
    return {'median_ms': float(m.group(1)), 'best_ms': float(best.group(1)) if best else None}


# ---------------------------------------------------------------------------
# Report.

def fmt_ratio(x):
    return '%.2f' % x if x == x else 'n/a'


def verdict(ok):
    return 'n/a' if ok is None else ('met' if ok else 'NOT met')


def write_plot(setup, res, threads_list, batches):
    """results.png: engine images/s (ours, ORT, FMA-peak bound) per thread
    count and batch, and the element's frames/s in and out of a pipeline."""
    dat = os.path.join(setup.out, 'results.dat')
    with open(dat, 'w') as f:
        f.write('# config ours_ips ort_ips peak_bound_ips element_nv12 element_rgb '
                'pipeline_nv12 pipeline_rgb engine_ips_next_to_pipelines\n')
        for t in threads_list:
            for b in batches:
                e = res['engines']['%d-%d' % (t, b)]
                p = res['pipeline'].get('%d-%d' % (t, b), {})
                f.write('"%d thr, batch %d" %.3f %.3f %.3f %s %s %s %s %s\n' % (
                    t, b, e['ours_ips'], e['ort_ips'],
                    res['peak_gflops'][str(t)] / (res['flops']['total_flop'] / 1e9),
                    *('%.3f' % p[k] if p.get(k) else '0' for k in
                      ('memory-NV12', 'memory-RGB', 'pipeline-NV12', 'pipeline-RGB',
                       'engine_ips'))))
    png = os.path.join(setup.out, 'results.png')
    script = '''
set terminal pngcairo size 1200,600 font ",10"
set output "%s"
set multiplot layout 1,2 title "resnet50classify benchmark (%s)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key outside bottom center horizontal maxrows 3
set xtics nomirror
set title "Engine: images/s (median), same model, inputs and threads"
set ylabel "images/s"
plot "%s" using 2:xtic(1) title "nn/ (ours)" lc rgb "#1f77b4", \\
     "" using 3 title "ONNX Runtime" lc rgb "#ff7f0e", \\
     "" using 4 title "FMA-peak bound" lc rgb "#bbbbbb"
set title "Element on 1080p frames: frames/s vs engine images/s"
set ylabel "frames/s"
plot "%s" using 9:xtic(1) title "engine alone (same time)" lc rgb "#1f77b4", \\
     "" using 5 title "element, NV12 from memory" lc rgb "#2ca02c", \\
     "" using 6 title "element, RGB from memory" lc rgb "#98df8a", \\
     "" using 7 title "decode+element, NV12" lc rgb "#9467bd", \\
     "" using 8 title "decode+element, RGB" lc rgb "#c5b0d5"
unset multiplot
''' % (png, time.strftime('%Y-%m-%d %H:%M'), dat, dat)
    gp = os.path.join(setup.out, 'results.gp')
    with open(gp, 'w') as f:
        f.write(script)
    if shutil.which('gnuplot') is None:
        bootstrap = os.path.join(SRC, 'tools', 'bootstrap')
        with open(bootstrap) as f:
            listed = 'gnuplot' in f.read()
        if listed:
            log('gnuplot missing: tools/bootstrap deps')
            run([bootstrap, 'deps'], check=False, timeout=1800)
    if shutil.which('gnuplot') is None:
        log('gnuplot not installed (Debian: gnuplot-nox): no results.png; script in ' + gp)
        return None
    run(['gnuplot', gp])
    return png


def report(setup, res, threads_list, batches, reps):
    L = []
    e = res['engines']
    L.append('# resnet50classify benchmark')
    L.append('')
    L.append('%s, %s, %d CPUs, load average %s at start, %s at end; model `%s` '
             '(%.2f GFLOP per image: %d convolutions %.2f + classifier %.3f); '
             '%d repetitions, engines alternating; medians.'
             % (res['date'], res['cpu'], os.cpu_count(), res['load_start'], res['load_end'],
                os.path.basename(setup.model), res['flops']['total_flop'] / 1e9,
                res['flops']['conv_layers'], res['flops']['conv_flop'] / 1e9,
                res['flops']['fc_flop'] / 1e9, reps))
    L.append('')
    L.append('## 1. nn/ engine vs ONNX Runtime (%s)' % res['ort_version'])
    L.append('')
    L.append('nn/: `rn50-infer %s`; ONNX Runtime: intraOpNumThreads=T, interOpNumThreads=1, '
             'sequential, all graph optimizations. Batch 1: %d timed runs per process, batch 8: '
             '%d, each after one warm-up run.'
             % ('--threads T' if setup.infer_has_threads else
                'with OMP_NUM_THREADS=T (no --threads option: may run on every core)',
                res['runs_for']['1'], res['runs_for']['8']))
    L.append('')
    L.append('| threads | batch | figure | nn/ (ours) | ONNX Runtime | ours/ORT | target | '
             'outputs agree |')
    L.append('|---|---|---|---|---|---|---|---|')
    for t in threads_list:
        for b in batches:
            r = e['%d-%d' % (t, b)]
            if b == 1:
                fig, ours, ort, ratio, tgt = ('latency (ms)', '%.1f' % r['ours_ms'],
                                              '%.1f' % r['ort_ms'], r['ours_ms'] / r['ort_ms'],
                                              '≤ %.2f' % TARGETS['latency_ratio'])
            else:
                fig, ours, ort, ratio, tgt = ('images/s', '%.2f' % r['ours_ips'],
                                              '%.2f' % r['ort_ips'], r['ours_ips'] / r['ort_ips'],
                                              '≥ %.2f' % TARGETS['throughput_ratio'])
            L.append('| %d | %d | %s | %s | %s | %s | %s | top-1 %s, max abs diff %.2g |'
                     % (t, b, fig, ours, ort, fmt_ratio(ratio), tgt,
                        'same' if r['top1_agree'] else 'DIFFERENT', r['max_abs_diff']))
    L.append('')
    L.append('## 2. Fraction of the FP32 FMA peak')
    L.append('')
    L.append('Peak: `fma-peak`, 12 independent %s FMA chains per thread, no memory traffic, '
             'the better of a run before and one after the rest.' % res['peak_isa'])
    L.append('')
    L.append('| threads | FMA peak GFLOP/s | ours b1 | ours b8 | ORT b1 | ORT b8 | '
             'our convolutions | conv primitives (oneDNN) | run breakdown (ms, DNNL_VERBOSE) |')
    L.append('|---|---|---|---|---|---|---|---|---|')
    for t in threads_list:
        peak = res['peak_gflops'][str(t)]
        cells = []
        for eng in ('ours', 'ort'):
            for b in batches:
                r = e['%d-%d' % (t, b)]
                gflops = res['flops']['total_flop'] * b / (r[eng + '_ms'] / 1e3) / 1e9
                cells.append('%.0f GFLOP/s = %.0f %%' % (gflops, 100 * gflops / peak))
        cells = [cells[0], cells[1], cells[2], cells[3]]
        v = res['verbose'][str(t)]
        L.append('| %d | %.1f | %s | %.0f %% | %s | %s |'
                 % (t, peak, ' | '.join(cells), 100 * v['conv_fraction'],
                    '%.0f %% (%d primitives)' % (100 * v['conv_primitive_fraction'],
                                                 v['conv_primitives'])
                    if v['conv_primitives'] else 'none',
                    ', '.join('%s %.1f' % (k, x) for k, x in
                              sorted(v['by_kind_ms'].items(), key=lambda kv: -kv[1]))
                    + ', outside oneDNN %.1f, wall %.1f' % (v['outside_ms'], v['wall_ms'])))
    L.append('')
    L.append('"Our convolutions": the graph\'s convolution FLOPs (direct-convolution count) '
             'divided by the batch-1 run\'s wall time minus the time of non-convolution '
             'oneDNN primitives (pooling, eltwise, inner product, reorders, ...), so any work '
             'of ours outside oneDNN (e.g. Winograd transforms) counts as convolution time; '
             'from one DNNL_VERBOSE=1 run, whose timing adds some overhead. '
             '"Conv primitives": FLOPs in oneDNN convolution primitives over their own time. '
             'Both count a Winograd layer\'s FLOPs as a direct convolution would, so they '
             'can exceed 100 %.')
    L.append('')
    L.append('## 3. The element in a pipeline (1080p clip: %s)' % os.path.basename(setup.clip))
    L.append('')
    L.append('`filesrc ! decodebin ! videoconvert ! video/x-raw,format=F ! resnet50classify '
             'threads=T batch-size=B ! fakesink sync=false` (decode + element); the same frames '
             'decoded beforehand and pushed from memory by appsrc (element alone); the pipeline '
             'without the element (decode only, 1080p avdec_mpeg4 + videoconvert).')
    L.append('')
    L.append('Element properties: threads %s, batch-size %s.'
             % ('yes' if setup.has_threads else 'no (OMP_NUM_THREADS used)',
                'yes' if setup.has_batch else 'no (batch 1 only)'))
    L.append('')
    L.append('"Engine images/s": rn50-infer at the same threads and batch, run right before '
             'and after these pipelines (median), so that both see the same load; step 1\'s '
             'figure in brackets. The first batch of each run (warm-up) is not counted. '
             'The element runs with spin-wait=true, so that its OpenMP workers busy-wait '
             'between parallel regions as rn50-infer\'s do; the last column is the '
             'element\'s default (spin-wait=false: robust when other processes share the '
             'cores, slower when they do not).')
    L.append('')
    L.append('| threads | batch | engine images/s | format | element alone (frames from memory) '
             'fps | ratio | decode + element fps | ratio | decode only fps | element alone, '
             'spin-wait=false |')
    L.append('|---|---|---|---|---|---|---|---|---|---|')
    for key, p in res['pipeline'].items():
        t, b = map(int, key.split('-'))
        ips = p['engine_ips']
        for fmt in ('NV12', 'RGB'):
            mem, pipe = p['memory-' + fmt], p['pipeline-' + fmt]
            default = p.get('memory-%s-default' % fmt)
            L.append('| %d | %d | %.2f (%.2f) | %s | %.2f | %.2f | %.2f | %.2f | %.1f | %s |'
                     % (t, b, ips, e[key]['ours_ips'], fmt, mem, mem / ips, pipe, pipe / ips,
                        res['decode_fps'][fmt],
                        '%.2f (%.2f)' % (default, default / ips) if default else ''))
    pre = res['preprocess']
    L.append('')
    L.append('Preprocessing one 1920x1080 NV12 frame to the 224x224 tensor, one core: %s.'
             % ('median %.2f ms, best %s ms' % (pre['median_ms'], pre['best_ms'])
                if pre else 'n/a (nn/tools/rn50-preprocess-bench not built)'))
    L.append('')
    L.append('## 4. Peak RSS (MB)')
    L.append('')
    m = res['rss_kb']
    L.append('| process | peak RSS | net of the same process without the model |')
    L.append('|---|---|---|')
    L.append('| gst-launch-1.0, 1 stream, no element | %.0f | |' % (m['base1'] / 1024))
    L.append('| gst-launch-1.0, 1 stream, 1 element | %.0f | %.0f |'
             % (m['one'] / 1024, (m['one'] - m['base1']) / 1024))
    L.append('| gst-launch-1.0, 4 streams, no element | %.0f | |' % (m['base4'] / 1024))
    L.append('| gst-launch-1.0, 4 streams, 4 elements, same model | %.0f | %.0f |'
             % (m['four'] / 1024, (m['four'] - m['base4']) / 1024))
    L.append('| rn50-infer (engine alone), batch 1 | %.0f | |' % (m['rn50_infer'] / 1024))
    L.append('| node + onnxruntime-node, batch 1 | %.0f | %.0f |'
             % (m['ort'] / 1024, (m['ort'] - m['node_base']) / 1024))
    L.append('| node + onnxruntime-node, no session | %.0f | |' % (m['node_base'] / 1024))
    L.append('')
    L.append('## Targets of issue 4')
    L.append('')
    for name, value, target, ok in res['targets']:
        L.append('- %s: %s (target %s): **%s**' % (name, value, target, verdict(ok)))
    L.append('')
    if res.get('plot'):
        L.append('![benchmark](results.png)')
        L.append('')
    return '\n'.join(L)


def evaluate_targets(res, threads_list, batches, setup):
    e, T = res['engines'], []
    for t in threads_list:
        if 1 in batches:
            r = e['%d-1' % t]
            q = r['ours_ms'] / r['ort_ms']
            T.append(('batch-1 latency ours/ORT, %d thread(s)' % t, '%.2f' % q,
                      '≤ %.2f' % TARGETS['latency_ratio'], q <= TARGETS['latency_ratio']))
        for b in batches:
            if b == 1:
                continue
            r = e['%d-%d' % (t, b)]
            q = r['ours_ips'] / r['ort_ips']
            T.append(('batch-%d images/s ours/ORT, %d thread(s)' % (b, t), '%.2f' % q,
                      '≥ %.2f' % TARGETS['throughput_ratio'], q >= TARGETS['throughput_ratio']))
    for t in threads_list:
        f = res['verbose'][str(t)]['conv_fraction']
        T.append(('our convolutions, fraction of FMA peak, %d thread(s)' % t, '%.0f %%' % (100 * f),
                  '≥ %.0f %%' % (100 * TARGETS['conv_peak_fraction']),
                  f >= TARGETS['conv_peak_fraction']))
    for key, p in res['pipeline'].items():
        t, b = map(int, key.split('-'))
        for fmt in ('NV12', 'RGB'):
            for mode, what in (('memory', 'element alone'), ('pipeline', 'decode + element')):
                q = p[mode + '-' + fmt] / p['engine_ips']
                T.append(('pipeline (%s) %s fps / engine images/s, %d thread(s), '
                          'batch %d' % (what, fmt, t, b), '%.0f %%' % (100 * q),
                          '≥ %.0f %%' % (100 * TARGETS['pipeline_fraction']),
                          q >= TARGETS['pipeline_fraction']))
    pre = res['preprocess']
    T.append(('preprocessing a 1080p NV12 frame, one core',
              '%.2f ms' % pre['median_ms'] if pre else 'not measured',
              '≤ %.1f ms' % TARGETS['preprocess_ms'],
              pre['median_ms'] <= TARGETS['preprocess_ms'] if pre else None))
    m = res['rss_kb']
    q = m['one'] / m['ort']
    T.append(('peak RSS one element / ONNX Runtime', '%.2f' % q, '≤ %.1f' % TARGETS['rss_vs_ort'],
              q <= TARGETS['rss_vs_ort']))
    # What the elements add: four 1080p decode streams alone cost more than
    # a ResNet-50's weights, so the gross ratio would measure the decoders.
    q = (m['four'] - m['base4']) / (m['one'] - m['base1'])
    T.append(('peak RSS the four elements add on four streams / what one adds '
              '(gross, decoders included: %.2f)' % (m['four'] / m['one']), '%.2f' % q,
              '≤ %.1f' % TARGETS['rss_four_vs_one'], q <= TARGETS['rss_four_vs_one']))
    T.append(('zero allocations and primitive creations per frame', 'not measured here: '
              'the run-allocations test of `meson test` checks it with an interposed malloc',
              'verified by a counter or valgrind', None))
    return T


def main():
    ap = argparse.ArgumentParser(description='The benchmark of issue 4.')
    ap.add_argument('build_dir', nargs='?', default=os.path.join(SRC, 'build'))
    ap.add_argument('--reps', type=int, default=5, help='repetitions of step 1 (default 5)')
    ap.add_argument('--quick', action='store_true',
                    help='2 repetitions and short pipeline runs (checks the mechanism)')
    args = ap.parse_args()
    threads_list = [1, 2]
    batches = [1, 8]
    reps = 2 if args.quick else args.reps
    if reps < 1:
        ap.error('--reps must be at least 1')
    runs_for = {1: 5, 8: 2}  # timed runs per process after the warm-up run
    t_start = time.monotonic()
    res_runs_for = {str(k): v for k, v in runs_for.items()}

    setup = Setup(args.build_dir)
    res = {'date': time.strftime('%Y-%m-%d %H:%M'), 'load_start': '%.1f' % os.getloadavg()[0],
           'runs_for': res_runs_for}
    try:
        with open('/proc/cpuinfo') as f:
            res['cpu'] = next((line.split(':', 1)[1].strip() for line in f
                               if line.startswith('model name')), 'unknown CPU')
        setup.check_build()
        setup.make_model()
        setup.make_inputs()
        setup.install_ort()
        with open(os.path.join(os.path.dirname(setup.ort_bench), 'node_modules',
                               'onnxruntime-node', 'package.json')) as f:
            res['ort_version'] = 'onnxruntime-node ' + json.load(f)['version']
        setup.element_properties()
        setup.make_clip()

        log('FMA peak')
        peaks, res['peak_isa'] = fma_peak(setup, threads_list)
        log('FLOPs from the graph')
        res['flops'] = count_flops(setup.model)

        log('1. engines, %d repetitions' % reps)
        samples, checks = bench_engines(setup, threads_list, batches, reps, runs_for)
        res['engines'] = {}
        for t in threads_list:
            for b in batches:
                r = {}
                for eng in ('ours', 'ort'):
                    ms = median(samples[(eng, t, b)])
                    r[eng + '_ms'] = ms
                    r[eng + '_ips'] = b * 1000.0 / ms
                    r[eng + '_samples_ms'] = samples[(eng, t, b)]
                r['max_abs_diff'], r['top1_agree'] = checks[(t, b)]
                res['engines']['%d-%d' % (t, b)] = r

        log('2. DNNL_VERBOSE breakdown')
        res['verbose'] = {}
        for t in threads_list:
            v = dnnl_breakdown(setup, t)
            non_conv = sum(ms for k, ms in v['by_kind_ms'].items() if k in NON_CONV)
            v['outside_ms'] = v['wall_ms'] - sum(v['by_kind_ms'].values())
            v['conv_work_ms'] = v['wall_ms'] - non_conv
            res['verbose'][str(t)] = v

        log('3. pipelines')
        frames_for = {1: 9 if args.quick else 17, 8: 24 if args.quick else 32}
        pipe_batches = batches if setup.has_batch else [1]
        res['pipeline'] = {}
        for t in threads_list:
            for b in pipe_batches:
                # The engine alone right before and after the element's runs:
                # the reference the element's frames/s is held to, measured
                # under the same load (the machine may be shared).
                p = {}
                engine_ms = run_ours(setup, t, b, runs_for[b])[0]
                for fmt in ('NV12', 'RGB'):
                    for mode in ('memory', 'pipeline'):
                        p[mode + '-' + fmt] = pipeline_run(setup, mode, fmt, t, b, frames_for[b])
                        log('%s %s, %d thread(s), batch %d: %.2f fps'
                            % (mode, fmt, t, b, p[mode + '-' + fmt]))
                # The element's default: workers sleep after a short spin.
                p['memory-NV12-default'] = pipeline_run(setup, 'memory', 'NV12', t, b,
                                                        frames_for[b], spin=False)
                log('memory NV12 spin-wait=false, %d thread(s), batch %d: %.2f fps'
                    % (t, b, p['memory-NV12-default']))
                engine_ms += run_ours(setup, t, b, runs_for[b])[0]
                p['engine_ips'] = b * 1000.0 / median(engine_ms)
                log('engine alone around them: %.2f images/s' % p['engine_ips'])
                res['pipeline']['%d-%d' % (t, b)] = p
        res['decode_fps'] = {fmt: pipeline_run(setup, 'decode', fmt, 1, 1, 40)
                             for fmt in ('NV12', 'RGB')}
        res['preprocess'] = preprocess_time(setup)

        log('4. peak RSS')
        t_max = max(threads_list)
        m = {'base1': launch_rss(setup, 1, False, t_max),
             'one': launch_rss(setup, 1, True, t_max),
             'base4': launch_rss(setup, 4, False, t_max),
             'four': launch_rss(setup, 4, True, t_max)}
        _, m['ort'] = run_rss(['node', setup.ort_bench, setup.model, setup.inputs,
                               str(t_max), '1', '3'])
        # node with onnxruntime-node imported but no session: the runtime's
        # own footprint, to tell it from the model's.
        _, m['node_base'] = run_rss(['node', setup.ort_bench, '--baseline'])
        cmd, env = infer_cmd(setup, t_max, 1, tile_input(setup, 1, 2),
                             os.path.join(setup.out, 'rss-out.f32'))
        _, m['rn50_infer'] = run_rss(cmd, env=env)
        res['rss_kb'] = m

        log('FMA peak again')
        peaks2, _ = fma_peak(setup, threads_list)
        # The machine's capability: the less disturbed of the two.
        res['peak_gflops'] = {str(t): max(peaks[t], peaks2[t]) for t in threads_list}
        for t in threads_list:
            v = res['verbose'][str(t)]
            peak = res['peak_gflops'][str(t)] * 1e9
            v['conv_fraction'] = res['flops']['conv_flop'] / (v['conv_work_ms'] / 1e3) / peak
            conv_ms = v['by_kind_ms'].get('convolution', 0.0)
            v['conv_primitive_fraction'] = (v['conv_primitive_flop'] / (conv_ms / 1e3) / peak
                                            if conv_ms > 0 else 0.0)
        res['load_end'] = '%.1f' % os.getloadavg()[0]
        res['targets'] = evaluate_targets(res, threads_list, batches, setup)
        res['plot'] = write_plot(setup, res, threads_list, batches)
    except BenchError as e:
        log('ERROR: %s' % e)
        return 1

    text = report(setup, res, threads_list, batches, reps)
    with open(os.path.join(setup.out, 'results.md'), 'w') as f:
        f.write(text)
    with open(os.path.join(setup.out, 'results.json'), 'w') as f:
        json.dump(res, f, indent=1, default=str)
    print(text)
    print('Written: %s (results.md, results.json%s); %.0f s.'
          % (setup.out, ', results.png' if res['plot'] else '', time.monotonic() - t_start))
    return 0


if __name__ == '__main__':
    sys.exit(main())
