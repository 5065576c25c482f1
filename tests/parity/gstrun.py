# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs a GStreamer pipeline from Python (PyGObject) for the element parity
# tests: plays it to EOS, collects the resnet50classify element messages and
# the RGB frames of an appsink, and reads element properties afterwards (the
# input-tensor hook keeps the last frame's tensor until the element stops).

import numpy as np

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstVideo', '1.0')
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

Gst.init(None)

TIMEOUT_S = 120


class PipelineError(Exception):
    pass


def value_list(v):
    """A GstValueArray field as a Python list."""
    if hasattr(v, 'array'):
        return list(v.array)
    return list(v)


def message_results(s):
    """The class ids, labels and scores of one resnet50classify message."""
    return {
        'ids': [int(v) for v in value_list(s.get_value('class-ids'))],
        'labels': [str(v) for v in value_list(s.get_value('labels'))],
        'scores': np.array([float(v) for v in value_list(s.get_value('scores'))]),
    }


def frame_from_sample(sample):
    """H x W x C uint8 array of a packed RGB sample, honouring the stride."""
    caps = sample.get_caps()
    info = GstVideo.VideoInfo.new_from_caps(caps)
    buf = sample.get_buffer()
    ok, mapinfo = buf.map(Gst.MapFlags.READ)
    if not ok:
        raise PipelineError('cannot map an appsink buffer')
    try:
        data = np.frombuffer(mapinfo.data, dtype=np.uint8)
        stride = info.stride[0]
        offset = info.offset[0]
        bpp = info.finfo.pixel_stride[0]
        rows = [data[offset + y * stride: offset + y * stride + info.width * bpp]
                for y in range(info.height)]
        return np.stack(rows).reshape(info.height, info.width, bpp).copy()
    finally:
        buf.unmap(mapinfo)


def tensor_from_bytes(b, shape=(3, 224, 224)):
    if b is None:
        return None
    data = b.get_data() if hasattr(b, 'get_data') else bytes(b)
    a = np.frombuffer(data, dtype=np.float32)
    if a.size != int(np.prod(shape)):
        raise PipelineError('input-tensor holds %d floats, expected %d' % (a.size, np.prod(shape)))
    return a.reshape(shape).copy()


class Run:
    """Result of one pipeline run."""

    def __init__(self):
        self.messages = []     # Gst.Structure copies from resnet50classify
        self.frames = []       # RGB arrays from the appsink named "ref"
        self.props = {}


def run_pipeline(description, read_props=(), element_name='c'):
    """Plays description to EOS. read_props: names of properties of the element
    element_name to read once EOS arrives (before going back to NULL)."""
    pipeline = Gst.parse_launch(description)
    run = Run()
    sink = pipeline.get_by_name('ref')
    if sink is not None:
        sink.set_property('emit-signals', True)
        sink.set_property('sync', False)

        def on_sample(s):
            run.frames.append(frame_from_sample(s.emit('pull-sample')))
            return Gst.FlowReturn.OK

        sink.connect('new-sample', on_sample)
    bus = pipeline.get_bus()
    error = None
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            msg = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
            why = msg.parse_error()[0].message if msg else '?'
            raise PipelineError('cannot start: %s' % why)
        while True:
            msg = bus.timed_pop_filtered(TIMEOUT_S * Gst.SECOND,
                                         Gst.MessageType.ERROR | Gst.MessageType.EOS |
                                         Gst.MessageType.ELEMENT)
            if msg is None:
                error = 'no EOS within %d s' % TIMEOUT_S
                break
            if msg.type == Gst.MessageType.ERROR:
                err, dbg = msg.parse_error()
                error = '%s (%s)' % (err.message, dbg)
                break
            if msg.type == Gst.MessageType.EOS:
                break
            s = msg.get_structure()
            if s is not None and s.get_name() == 'resnet50classify':
                run.messages.append(s.copy())
        if error is None:
            el = pipeline.get_by_name(element_name)
            for p in read_props:
                run.props[p] = el.get_property(p)
    finally:
        pipeline.set_state(Gst.State.NULL)
    if error is not None:
        raise PipelineError(error)
    return run


def element_available(name='resnet50classify'):
    return Gst.ElementFactory.find(name) is not None


__all__ = ['GLib', 'Gst', 'PipelineError', 'Run', 'run_pipeline', 'value_list',
           'tensor_from_bytes', 'element_available']
