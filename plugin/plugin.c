/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plugin entry point of libgstresnet50classify.so: registers the
 * resnet50classify element. GStreamer derives the entry symbol
 * (gst_plugin_resnet50classify_get_desc) from the module file name. */
#include <gst/gst.h>

#include "gstresnet50classify.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (resnet50classify, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, resnet50classify,
    "Video frame classification with a ResNet-50 ONNX model on oneDNN",
    plugin_init, PACKAGE_VERSION, "LGPL", PACKAGE_NAME, PACKAGE_ORIGIN)
