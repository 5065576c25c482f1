/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Implementation of GstClassificationMeta: registration of the API type and
 * the meta info, and the init/free/transform functions GStreamer calls when a
 * buffer carrying the meta is created, copied or converted. */
#include "classification-meta.h"

#include <string.h>

GType
gst_classification_meta_api_get_type (void)
{
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    /* No tags: the results describe what the picture shows, which neither a
     * colour conversion nor a rescale changes, so every transform keeps it. */
    static const gchar *tags[] = { NULL };
    GType api = gst_meta_api_type_register ("GstClassificationMetaAPI", tags);

    g_once_init_leave (&type, api);
  }
  return type;
}

static gboolean
gst_classification_meta_init (GstMeta * meta, gpointer params,
    GstBuffer * buffer)
{
  GstClassificationMeta *cmeta = (GstClassificationMeta *) meta;

  cmeta->n_results = 0;
  cmeta->class_ids = NULL;
  cmeta->labels = NULL;
  cmeta->scores = NULL;
  cmeta->model = 0;
  cmeta->inference_time = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static void
gst_classification_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstClassificationMeta *cmeta = (GstClassificationMeta *) meta;

  /* class_ids heads the one block that also holds labels and scores. */
  g_free (cmeta->class_ids);
  cmeta->class_ids = NULL;
  cmeta->labels = NULL;
  cmeta->scores = NULL;
  cmeta->n_results = 0;
}

/* Gives @cmeta room for @n results in a single allocation: n guint ids, then
 * n GQuark labels, then n gfloat scores (all 4-byte types, so no padding). */
static void
gst_classification_meta_alloc_results (GstClassificationMeta * cmeta, guint n)
{
  guint8 *block;

  G_STATIC_ASSERT (sizeof (guint) == sizeof (GQuark));
  G_STATIC_ASSERT (sizeof (guint) == sizeof (gfloat));

  cmeta->n_results = n;
  if (n == 0)
    return;

  block = g_malloc (n * (sizeof (guint) + sizeof (GQuark) + sizeof (gfloat)));
  cmeta->class_ids = (guint *) block;
  cmeta->labels = (GQuark *) (block + n * sizeof (guint));
  cmeta->scores = (gfloat *) (block + n * (sizeof (guint) + sizeof (GQuark)));
}

static gboolean
gst_classification_meta_transform (GstBuffer * dest, GstMeta * meta,
    GstBuffer * buffer, GQuark type, gpointer data)
{
  GstClassificationMeta *src = (GstClassificationMeta *) meta;
  GstClassificationMeta *dmeta;

  /* Whatever the transform (a copy of all or part of the buffer, a rescale,
   * a format conversion), the picture shows the same thing, so the results
   * are copied unchanged. */
  dmeta = (GstClassificationMeta *) gst_buffer_add_meta (dest,
      GST_CLASSIFICATION_META_INFO, NULL);
  if (dmeta == NULL)
    return FALSE;

  gst_classification_meta_alloc_results (dmeta, src->n_results);
  if (src->n_results > 0) {
    memcpy (dmeta->class_ids, src->class_ids, src->n_results * sizeof (guint));
    memcpy (dmeta->labels, src->labels, src->n_results * sizeof (GQuark));
    memcpy (dmeta->scores, src->scores, src->n_results * sizeof (gfloat));
  }
  dmeta->model = src->model;
  dmeta->inference_time = src->inference_time;
  return TRUE;
}

const GstMetaInfo *
gst_classification_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_CLASSIFICATION_META_API_TYPE,
        "GstClassificationMeta", sizeof (GstClassificationMeta),
        gst_classification_meta_init, gst_classification_meta_free,
        gst_classification_meta_transform);

    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

GstClassificationMeta *
gst_buffer_add_classification_meta (GstBuffer * buffer, guint n_results,
    const guint * class_ids, const gchar * const *labels,
    const gfloat * scores, const gchar * model_name,
    GstClockTime inference_time)
{
  GstClassificationMeta *cmeta;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (n_results == 0 || class_ids != NULL, NULL);
  g_return_val_if_fail (n_results == 0 || scores != NULL, NULL);

  cmeta = (GstClassificationMeta *) gst_buffer_add_meta (buffer,
      GST_CLASSIFICATION_META_INFO, NULL);
  if (cmeta == NULL)
    return NULL;

  gst_classification_meta_alloc_results (cmeta, n_results);
  for (i = 0; i < n_results; i++) {
    cmeta->class_ids[i] = class_ids[i];
    /* Interning costs a hash lookup once the label is known, and keeps the
     * meta free of per-buffer string copies. */
    cmeta->labels[i] = (labels != NULL && labels[i] != NULL) ?
        g_quark_from_string (labels[i]) : 0;
    cmeta->scores[i] = scores[i];
  }
  cmeta->model = model_name != NULL ? g_quark_from_string (model_name) : 0;
  cmeta->inference_time = inference_time;

  return cmeta;
}

GstClassificationMeta *
gst_buffer_get_classification_meta (GstBuffer * buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  return (GstClassificationMeta *) gst_buffer_get_meta (buffer,
      GST_CLASSIFICATION_META_API_TYPE);
}

guint
gst_classification_meta_get_n_results (const GstClassificationMeta * meta)
{
  g_return_val_if_fail (meta != NULL, 0);

  return meta->n_results;
}

guint
gst_classification_meta_get_class_id (const GstClassificationMeta * meta,
    guint index)
{
  g_return_val_if_fail (meta != NULL, G_MAXUINT);

  if (index >= meta->n_results)
    return G_MAXUINT;
  return meta->class_ids[index];
}

const gchar *
gst_classification_meta_get_label (const GstClassificationMeta * meta,
    guint index)
{
  g_return_val_if_fail (meta != NULL, NULL);

  if (index >= meta->n_results)
    return NULL;
  return g_quark_to_string (meta->labels[index]);
}

gfloat
gst_classification_meta_get_score (const GstClassificationMeta * meta,
    guint index)
{
  g_return_val_if_fail (meta != NULL, -1.0f);

  if (index >= meta->n_results)
    return -1.0f;
  return meta->scores[index];
}

const gchar *
gst_classification_meta_get_model_name (const GstClassificationMeta * meta)
{
  g_return_val_if_fail (meta != NULL, NULL);

  return g_quark_to_string (meta->model);
}

GstClockTime
gst_classification_meta_get_inference_time (const GstClassificationMeta * meta)
{
  g_return_val_if_fail (meta != NULL, GST_CLOCK_TIME_NONE);

  return meta->inference_time;
}
