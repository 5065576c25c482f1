/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the GstClassificationMeta library on its own (no model, no
 * classifier element): the accessors, and that the meta survives what real
 * pipelines do to buffers — gst_buffer_copy() and its variants, tee, queue,
 * videoconvert and videoscale. */
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/classification/classification-meta.h>

static const guint ids[] = { 281, 285, 7 };
static const gchar *const labels[] = { "tabby", "Egyptian cat", "cock" };
static const gfloat scores[] = { 0.625f, 0.25f, 0.125f };

#define TEST_MODEL_NAME "test-model"
#define TEST_INFERENCE_NS (42 * GST_MSECOND)

static void
add_test_meta (GstBuffer * buf)
{
  fail_unless (gst_buffer_add_classification_meta (buf, G_N_ELEMENTS (ids),
          ids, labels, scores, TEST_MODEL_NAME, TEST_INFERENCE_NS) != NULL);
}

/* Checks that @buf carries exactly one meta, equal to add_test_meta()'s. */
static void
check_test_meta (GstBuffer * buf)
{
  GstClassificationMeta *meta = gst_buffer_get_classification_meta (buf);
  gpointer state = NULL;
  guint n_metas = 0, i;

  fail_unless (meta != NULL, "no classification meta on the buffer");
  while (gst_buffer_iterate_meta_filtered (buf, &state,
          GST_CLASSIFICATION_META_API_TYPE))
    n_metas++;
  fail_unless_equals_int (n_metas, 1);

  fail_unless_equals_int (gst_classification_meta_get_n_results (meta),
      G_N_ELEMENTS (ids));
  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    fail_unless_equals_int (gst_classification_meta_get_class_id (meta, i),
        ids[i]);
    fail_unless_equals_string (gst_classification_meta_get_label (meta, i),
        labels[i]);
    fail_unless_equals_float (gst_classification_meta_get_score (meta, i),
        scores[i]);
  }
  fail_unless_equals_string (gst_classification_meta_get_model_name (meta),
      TEST_MODEL_NAME);
  fail_unless_equals_uint64 (gst_classification_meta_get_inference_time
      (meta), TEST_INFERENCE_NS);
}

GST_START_TEST (test_accessors_return_what_was_added)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);

  add_test_meta (buf);
  check_test_meta (buf);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_out_of_range_index_returns_sentinels)
{
  GstBuffer *buf = gst_buffer_new ();
  GstClassificationMeta *meta;

  add_test_meta (buf);
  meta = gst_buffer_get_classification_meta (buf);
  fail_unless_equals_int (gst_classification_meta_get_class_id (meta, 3),
      G_MAXUINT);
  fail_unless (gst_classification_meta_get_label (meta, 3) == NULL);
  fail_unless_equals_float (gst_classification_meta_get_score (meta, 3), -1.0f);
  fail_unless_equals_int (gst_classification_meta_get_class_id (meta,
          G_MAXUINT), G_MAXUINT);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_empty_result_and_missing_strings)
{
  GstBuffer *buf = gst_buffer_new ();
  GstClassificationMeta *meta;
  const guint one_id[] = { 3 };
  const gfloat one_score[] = { 0.5f };

  /* Nothing passed the threshold: a meta with no results, no model name. */
  meta = gst_buffer_add_classification_meta (buf, 0, NULL, NULL, NULL, NULL,
      GST_CLOCK_TIME_NONE);
  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_classification_meta_get_n_results (meta), 0);
  fail_unless (gst_classification_meta_get_model_name (meta) == NULL);
  fail_unless_equals_uint64 (gst_classification_meta_get_inference_time
      (meta), GST_CLOCK_TIME_NONE);
  fail_unless (gst_classification_meta_get_label (meta, 0) == NULL);
  gst_buffer_unref (buf);

  /* Results without labels. */
  buf = gst_buffer_new ();
  meta = gst_buffer_add_classification_meta (buf, 1, one_id, NULL, one_score,
      "m", 1);
  fail_unless_equals_int (gst_classification_meta_get_class_id (meta, 0), 3);
  fail_unless (gst_classification_meta_get_label (meta, 0) == NULL);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_buffer_without_meta_returns_null)
{
  GstBuffer *buf = gst_buffer_new ();

  fail_unless (gst_buffer_get_classification_meta (buf) == NULL);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_label_strings_outlive_the_buffer)
{
  GstBuffer *buf = gst_buffer_new ();
  gchar *label = g_strdup ("a label that only this test uses");
  const gchar *labels_in[] = { label };
  const guint one_id[] = { 0 };
  const gfloat one_score[] = { 1.0f };
  const gchar *from_meta;

  gst_buffer_add_classification_meta (buf, 1, one_id, labels_in, one_score,
      "m", 1);
  /* The meta copied the string: the caller's copy can go. */
  g_free (label);
  from_meta =
      gst_classification_meta_get_label (gst_buffer_get_classification_meta
      (buf), 0);
  gst_buffer_unref (buf);
  /* Interned, so still valid after the buffer is gone. */
  fail_unless_equals_string (from_meta, "a label that only this test uses");
}

GST_END_TEST;

GST_START_TEST (test_api_has_no_tags)
{
  const gchar *const *tags =
      gst_meta_api_type_get_tags (GST_CLASSIFICATION_META_API_TYPE);

  /* Elements drop tagged metas whose tags they do not understand; the
   * classification holds for any geometry or format, so it carries none. */
  fail_unless (tags == NULL || tags[0] == NULL);
  fail_unless (gst_meta_api_type_has_tag (GST_CLASSIFICATION_META_API_TYPE,
          g_quark_from_string (GST_META_TAG_VIDEO_STR)) == FALSE);
}

GST_END_TEST;

GST_START_TEST (test_meta_survives_buffer_copies)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64, NULL);
  GstBuffer *copy;

  add_test_meta (buf);

  copy = gst_buffer_copy (buf);
  check_test_meta (copy);
  gst_buffer_unref (copy);

  copy = gst_buffer_copy_deep (buf);
  check_test_meta (copy);
  gst_buffer_unref (copy);

  copy = gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, 8, 16);
  check_test_meta (copy);
  gst_buffer_unref (copy);

  /* make_writable on a shared buffer copies it. */
  copy = gst_buffer_ref (buf);
  copy = gst_buffer_make_writable (copy);
  fail_unless (copy != buf);
  check_test_meta (copy);
  gst_buffer_unref (copy);

  /* The original is untouched by its copies being freed. */
  check_test_meta (buf);
  gst_buffer_unref (buf);
}

GST_END_TEST;

typedef struct
{
  guint n_buffers;
  guint n_with_meta;
} SinkCounts;

static GstPadProbeReturn
count_meta_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkCounts *counts = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  counts->n_buffers++;
  if (gst_buffer_get_classification_meta (buf) != NULL) {
    check_test_meta (buf);
    counts->n_with_meta++;
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
add_meta_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  buf = gst_buffer_make_writable (buf);
  add_test_meta (buf);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static void
attach_probe (GstElement * pipeline, const gchar * name,
    const gchar * pad_name, GstPadProbeCallback cb, gpointer data)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad;

  fail_unless (element != NULL, "no element %s", name);
  pad = gst_element_get_static_pad (element, pad_name);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cb, data, NULL);
  gst_object_unref (pad);
  gst_object_unref (element);
}

/* Runs @pipeline to EOS, failing on an error. */
static void
run_to_eos (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "timeout waiting for EOS");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *debug = NULL;

    gst_message_parse_error (msg, &err, &debug);
    fail ("pipeline error: %s (%s)", err->message, debug);
  }
  gst_message_unref (msg);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
}

GST_START_TEST (test_meta_survives_tee_queue_videoconvert_videoscale)
{
  GstElement *pipeline;
  SinkCounts converted = { 0, 0 }, teed = { 0, 0 };
  const guint n_buffers = 4;
  gchar *desc;

  /* Meta added at the source; one branch converts the format and the size
   * (so neither videoconvert nor videoscale is in passthrough), the other
   * only goes through tee and queue. */
  desc = g_strdup_printf ("videotestsrc name=src num-buffers=%u ! "
      "video/x-raw,format=RGB,width=321,height=241 ! tee name=t "
      "t. ! queue ! videoconvert ! videoscale ! "
      "video/x-raw,format=I420,width=160,height=120 ! "
      "fakesink name=converted t. ! queue ! fakesink name=teed", n_buffers);
  pipeline = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (pipeline != NULL);

  attach_probe (pipeline, "src", "src", add_meta_probe, NULL);
  attach_probe (pipeline, "converted", "sink", count_meta_probe, &converted);
  attach_probe (pipeline, "teed", "sink", count_meta_probe, &teed);
  run_to_eos (pipeline);
  gst_object_unref (pipeline);

  fail_unless_equals_int (converted.n_buffers, n_buffers);
  fail_unless_equals_int (converted.n_with_meta, n_buffers);
  fail_unless_equals_int (teed.n_buffers, n_buffers);
  fail_unless_equals_int (teed.n_with_meta, n_buffers);
}

GST_END_TEST;

GST_START_TEST (test_meta_survives_videoconvert_between_every_format)
{
  /* videoconvert may take different paths per format pair; check the meta
   * through a packed, a planar and a semi-planar output. */
  const gchar *formats[] = { "BGRx", "I420", "NV12", "YUY2", "GRAY8" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    SinkCounts counts = { 0, 0 };
    gchar *desc = g_strdup_printf ("videotestsrc name=src num-buffers=2 ! "
        "video/x-raw,format=RGBA,width=33,height=17 ! videoconvert ! "
        "video/x-raw,format=%s ! fakesink name=sink", formats[i]);
    GstElement *pipeline = gst_parse_launch (desc, NULL);

    g_free (desc);
    attach_probe (pipeline, "src", "src", add_meta_probe, NULL);
    attach_probe (pipeline, "sink", "sink", count_meta_probe, &counts);
    run_to_eos (pipeline);
    gst_object_unref (pipeline);
    fail_unless_equals_int (counts.n_with_meta, 2);
  }
}

GST_END_TEST;

static Suite *
classification_meta_suite (void)
{
  Suite *s = suite_create ("classification-meta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_accessors_return_what_was_added);
  tcase_add_test (tc, test_out_of_range_index_returns_sentinels);
  tcase_add_test (tc, test_empty_result_and_missing_strings);
  tcase_add_test (tc, test_buffer_without_meta_returns_null);
  tcase_add_test (tc, test_label_strings_outlive_the_buffer);
  tcase_add_test (tc, test_api_has_no_tags);
  tcase_add_test (tc, test_meta_survives_buffer_copies);
  tcase_add_test (tc, test_meta_survives_tee_queue_videoconvert_videoscale);
  tcase_add_test (tc, test_meta_survives_videoconvert_between_every_format);
  return s;
}

GST_CHECK_MAIN (classification_meta);
