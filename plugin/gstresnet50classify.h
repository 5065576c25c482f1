/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The resnet50classify element: a GstBaseTransform that classifies each
 * video frame in place with a ResNet-50 (through nn/, on the CPU) and attaches
 * the results to the buffer as a GstClassificationMeta. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_RESNET50_CLASSIFY (gst_resnet50_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstResnet50Classify, gst_resnet50_classify,
    GST, RESNET50_CLASSIFY, GstBaseTransform);

/**
 * GstResnet50ClassifyResizeMode:
 * @GST_RESNET50_CLASSIFY_RESIZE_CENTER_CROP: shorter side scaled to 256, then
 *   the centred 224×224 crop (ImageNet evaluation)
 * @GST_RESNET50_CLASSIFY_RESIZE_STRETCH: whole frame scaled to 224×224
 * @GST_RESNET50_CLASSIFY_RESIZE_LETTERBOX: whole frame fitted inside
 *   224×224, padded with the mean colour
 */
typedef enum
{
  GST_RESNET50_CLASSIFY_RESIZE_CENTER_CROP,
  GST_RESNET50_CLASSIFY_RESIZE_STRETCH,
  GST_RESNET50_CLASSIFY_RESIZE_LETTERBOX,
} GstResnet50ClassifyResizeMode;

/**
 * GstResnet50ClassifyPreset:
 * @GST_RESNET50_CLASSIFY_PRESET_TORCHVISION: RGB, pixel / 255, ImageNet
 *   mean 0.485 0.456 0.406 and std 0.229 0.224 0.225
 * @GST_RESNET50_CLASSIFY_PRESET_CAFFE: BGR, 0–255, mean 103.939 116.779
 *   123.68, std 1
 */
typedef enum
{
  GST_RESNET50_CLASSIFY_PRESET_TORCHVISION,
  GST_RESNET50_CLASSIFY_PRESET_CAFFE,
} GstResnet50ClassifyPreset;

#define GST_TYPE_RESNET50_CLASSIFY_RESIZE_MODE \
    (gst_resnet50_classify_resize_mode_get_type ())
GType gst_resnet50_classify_resize_mode_get_type (void);

#define GST_TYPE_RESNET50_CLASSIFY_PRESET \
    (gst_resnet50_classify_preset_get_type ())
GType gst_resnet50_classify_preset_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (resnet50classify);

G_END_DECLS
