/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstClassificationMeta: the result of classifying one video frame (the
 * best classes with their labels and probabilities, the model that produced
 * them and how long inference took), attached to the frame's buffer. This
 * header and its small library (gstclassificationmeta-1.0, pkg-config
 * gstreamer-classification-meta-1.0) are all an application needs to read
 * what resnet50classify found; it never links the plugin.
 *
 * The meta describes the picture's content, not its geometry or pixel
 * layout, so its API carries no tags: videoconvert, videoscale and the other
 * GstBaseTransform elements keep it, and gst_buffer_copy() copies it. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GST_CLASSIFICATION_META_API_TYPE:
 *
 * The #GType of the GstClassificationMeta API, for gst_buffer_get_meta() and
 * gst_buffer_iterate_meta_filtered().
 */
#define GST_CLASSIFICATION_META_API_TYPE (gst_classification_meta_api_get_type ())

/**
 * GST_CLASSIFICATION_META_INFO:
 *
 * The #GstMetaInfo of the GstClassificationMeta implementation.
 */
#define GST_CLASSIFICATION_META_INFO (gst_classification_meta_get_info ())

typedef struct _GstClassificationMeta GstClassificationMeta;

/**
 * GstClassificationMeta:
 * @meta: the parent #GstMeta
 *
 * Classification results for the picture in a buffer, best first. The fields
 * are private: read them with the gst_classification_meta_get_*() accessors.
 */
struct _GstClassificationMeta
{
  GstMeta meta;

  /*< private >*/
  guint n_results;
  guint *class_ids;             /* n_results model output indices */
  GQuark *labels;               /* n_results interned label strings */
  gfloat *scores;               /* n_results probabilities in [0, 1] */
  GQuark model;                 /* interned model name, 0 if none */
  GstClockTime inference_time;  /* nanoseconds, GST_CLOCK_TIME_NONE if unknown */

  gpointer _gst_reserved[GST_PADDING];
};

GType gst_classification_meta_api_get_type (void);
const GstMetaInfo *gst_classification_meta_get_info (void);

/**
 * gst_buffer_add_classification_meta:
 * @buffer: a writable #GstBuffer
 * @n_results: number of results, may be 0 (nothing passed the threshold)
 * @class_ids: (array length=n_results): model output index of each result
 * @labels: (array length=n_results) (nullable): label of each result; a NULL
 *   array or a NULL entry means the result has no label
 * @scores: (array length=n_results): probability of each result, in [0, 1]
 * @model_name: (nullable): name of the model that produced the results
 * @inference_time: time the network took for this frame, in nanoseconds, or
 *   GST_CLOCK_TIME_NONE
 *
 * Attaches classification results to @buffer. The arrays are copied, and the
 * label and model strings are interned (see g_intern_string()), so the
 * strings the accessors return stay valid for the life of the process, even
 * after the buffer is freed. Results should be ordered best first.
 *
 * Returns: (transfer none): the new meta, owned by @buffer.
 */
GstClassificationMeta *gst_buffer_add_classification_meta (GstBuffer * buffer,
    guint n_results, const guint * class_ids, const gchar * const *labels,
    const gfloat * scores, const gchar * model_name,
    GstClockTime inference_time);

/**
 * gst_buffer_get_classification_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the first GstClassificationMeta on
 * @buffer, or NULL if it has none.
 */
GstClassificationMeta *gst_buffer_get_classification_meta (GstBuffer * buffer);

/**
 * gst_classification_meta_get_n_results:
 * @meta: a #GstClassificationMeta
 *
 * Returns: the number of results (top-k after the threshold), possibly 0.
 */
guint gst_classification_meta_get_n_results (const GstClassificationMeta *
    meta);

/**
 * gst_classification_meta_get_class_id:
 * @meta: a #GstClassificationMeta
 * @index: result index, 0 (best) to n_results - 1
 *
 * Returns: the model output index (class id) of result @index, or G_MAXUINT
 * if @index is out of range.
 */
guint gst_classification_meta_get_class_id (const GstClassificationMeta * meta,
    guint index);

/**
 * gst_classification_meta_get_label:
 * @meta: a #GstClassificationMeta
 * @index: result index, 0 (best) to n_results - 1
 *
 * Returns: (transfer none) (nullable): the interned label of result @index,
 * or NULL if it has none or @index is out of range.
 */
const gchar *gst_classification_meta_get_label (const GstClassificationMeta *
    meta, guint index);

/**
 * gst_classification_meta_get_score:
 * @meta: a #GstClassificationMeta
 * @index: result index, 0 (best) to n_results - 1
 *
 * Returns: the probability of result @index in [0, 1], or -1 if @index is
 * out of range.
 */
gfloat gst_classification_meta_get_score (const GstClassificationMeta * meta,
    guint index);

/**
 * gst_classification_meta_get_model_name:
 * @meta: a #GstClassificationMeta
 *
 * Returns: (transfer none) (nullable): the interned name of the model that
 * produced the results, or NULL.
 */
const gchar *gst_classification_meta_get_model_name (const
    GstClassificationMeta * meta);

/**
 * gst_classification_meta_get_inference_time:
 * @meta: a #GstClassificationMeta
 *
 * Returns: how long the network ran for this frame, in nanoseconds
 * (preprocessing excluded), or GST_CLOCK_TIME_NONE if unknown.
 */
GstClockTime gst_classification_meta_get_inference_time (const
    GstClassificationMeta * meta);

G_END_DECLS
