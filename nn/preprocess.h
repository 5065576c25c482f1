/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Turns one video frame, seen through a plain image view (plane pointers,
 * strides, size, pixel format), into the network's normalized NCHW float
 * tensor: colour conversion (with the YUV matrix and range the caller gives),
 * antialiased resampling as PIL/torchvision do it, cropping or padding, and
 * per-channel normalization.
 *
 * A Rn50Preprocessor is built for one source geometry and one set of settings
 * (filter tables and scratch rows are computed and allocated then), so running
 * it per frame allocates nothing. */
#pragma once

#include <glib.h>
#include "rn50-error.h"

/* Largest frame side accepted. Keeps every index and product of two sides
 * inside 32 bits and the filter tables small (8192×8192 frames must work;
 * the limit leaves headroom). A plain literal: the element's pad templates
 * stringify it. */
#define RN50_MAX_FRAME_SIDE 32768

G_BEGIN_DECLS

typedef enum
{
  RN50_PIXEL_FORMAT_RGB,
  RN50_PIXEL_FORMAT_BGR,
  RN50_PIXEL_FORMAT_RGBX,
  RN50_PIXEL_FORMAT_BGRX,
  RN50_PIXEL_FORMAT_XRGB,
  RN50_PIXEL_FORMAT_XBGR,
  RN50_PIXEL_FORMAT_RGBA,
  RN50_PIXEL_FORMAT_BGRA,
  RN50_PIXEL_FORMAT_ARGB,
  RN50_PIXEL_FORMAT_ABGR,
  RN50_PIXEL_FORMAT_I420,       /* planes Y, U, V; chroma 2×2 subsampled */
  RN50_PIXEL_FORMAT_NV12,       /* planes Y, interleaved UV; chroma 2×2 subsampled */
  RN50_PIXEL_FORMAT_YUY2,       /* one plane Y0 U Y1 V; chroma 2×1 subsampled */
  RN50_PIXEL_FORMAT_GRAY8,
} Rn50PixelFormat;

/* A read-only view of one frame. Strides are in bytes; planes[i] points at
 * the first byte of plane i (unused planes are NULL). */
typedef struct
{
  Rn50PixelFormat format;
  guint width;
  guint height;
  const guint8 *planes[3];
  gsize strides[3];
} Rn50ImageView;

/* How 8-bit YUV maps to R'G'B' in [0,255]: the luma coefficients Kr and Kb of
 * the matrix (BT.601: 0.299/0.114, BT.709: 0.2126/0.0722, BT.2020:
 * 0.2627/0.0593) and whether the samples use the full 0–255 range or the
 * limited 16–235 / 16–240 range. Ignored for RGB and GRAY formats. */
typedef struct
{
  double kr;
  double kb;
  gboolean full_range;
} Rn50YuvMatrix;

typedef enum
{
  RN50_RESIZE_CENTER_CROP,      /* shorter side to 256 (scaled by crop ratio), centred 224 crop */
  RN50_RESIZE_STRETCH,          /* whole frame to 224×224, aspect ignored */
  RN50_RESIZE_LETTERBOX,        /* whole frame fitted inside 224×224, padding with the mean */
} Rn50ResizeMode;

typedef struct
{
  Rn50ResizeMode resize_mode;
  gboolean bgr;                 /* channel order of the tensor: plane 0 = B when TRUE */
  float scale;                  /* multiplies 0–255 pixel values first: 1/255 or 1 */
  float mean[3];                /* per tensor plane, after scaling */
  float std[3];                 /* per tensor plane, after scaling; must be > 0 */
  guint out_width;              /* the network's input size, e.g. 224 */
  guint out_height;
} Rn50PreprocessConfig;

/* Fills @config with the torchvision preset (RGB, /255, ImageNet mean/std)
 * or the caffe preset (BGR, 0–255, mean 103.939 116.779 123.68, std 1). */
void rn50_preprocess_config_init_torchvision (Rn50PreprocessConfig * config,
    guint out_width, guint out_height);
void rn50_preprocess_config_init_caffe (Rn50PreprocessConfig * config,
    guint out_width, guint out_height);

typedef struct _Rn50Preprocessor Rn50Preprocessor;

/* Builds a preprocessor for frames of @format at @width × @height. Fails with
 * RN50_ERROR_SETTINGS for a zero size or a non-positive std. @yuv may be NULL
 * for RGB/GRAY formats (BT.601 limited range is assumed for YUV then). */
Rn50Preprocessor *rn50_preprocessor_new (const Rn50PreprocessConfig * config,
    Rn50PixelFormat format, guint width, guint height,
    const Rn50YuvMatrix * yuv, GError ** error);
/* Chroma siting of NV12/YUY2 frames, as GstVideoInfo's chroma_site gives
 * it: @h_cosited when chroma samples sit on the even luma columns
 * (GST_VIDEO_CHROMA_SITE_H_COSITED, e.g. "mpeg2"), @v_cosited on the even
 * rows (GST_VIDEO_CHROMA_SITE_V_COSITED); FALSE (the default) for centred.
 * Pass what gst_video_info_from_caps() gave so that chroma is upsampled as
 * videoconvert does. */
void rn50_preprocessor_set_chroma_siting (Rn50Preprocessor * pre,
    gboolean h_cosited, gboolean v_cosited);
void rn50_preprocessor_free (Rn50Preprocessor * pre);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Preprocessor, rn50_preprocessor_free);

/* Writes 3 × out_height × out_width floats (NCHW, plane-major) to @tensor.
 * @image must have the format and size the preprocessor was built for.
 * Runs on the calling thread only and allocates nothing; one preprocessor
 * runs one frame at a time (it keeps scratch rows between the passes). */
void rn50_preprocessor_run (Rn50Preprocessor * pre,
    const Rn50ImageView * image, float *tensor);

G_END_DECLS
