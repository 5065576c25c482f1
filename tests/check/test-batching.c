/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resnet50classify with batch-size > 1: frames wait for their batch and
 * leave in their original order, each with the results a batch-size 1
 * element gives for the same pixels; partial batches run at EOS, before
 * other serialized events and after batch-timeout; a flush drops waiting
 * frames; GAP and empty buffers keep their place; the LATENCY query grows
 * by the wait a batch adds. Uses the dynamic-batch test model. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/classification/classification-meta.h>

#define WIDTH 64
#define HEIGHT 48
#define FRAME_BYTES (WIDTH * HEIGHT * 3)
#define FRAME_DURATION (GST_SECOND / 30)
#define CAPS "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"

static const gchar *
test_model (void)
{
  const gchar *path = g_getenv ("RN50_TEST_MODEL_DYNAMIC");

  fail_unless (path != NULL && path[0] != '\0',
      "RN50_TEST_MODEL_DYNAMIC is not set: run the tests through meson test");
  return path;
}

static GstHarness *
classifier_harness (guint batch_size, GstClockTime batch_timeout,
    guint threads)
{
  GstElement *e = gst_element_factory_make ("resnet50classify", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "model-location", test_model (), "batch-size", batch_size,
      "batch-timeout", batch_timeout, "threads", threads, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS);
  return h;
}

/* Frame @n: a different smooth colour pattern per frame, so the classes and
 * scores differ from frame to frame and a swapped result shows. */
static GstBuffer *
make_frame (guint n)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, FRAME_BYTES, NULL);
  GstMapInfo map;
  guint x, y;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (y = 0; y < HEIGHT; y++)
    for (x = 0; x < WIDTH; x++) {
      guint8 *p = map.data + (y * WIDTH + x) * 3;
      p[0] = (guint8) (x * (n + 3) + y * 2);
      p[1] = (guint8) (y * (n % 5 + 1) * 4 + n * 37);
      p[2] = (guint8) ((x + y) * (7 - n % 7) + n * 11);
    }
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = n * FRAME_DURATION;
  GST_BUFFER_DURATION (buf) = FRAME_DURATION;
  return buf;
}

/* Top-5 of a batch-size 1 element for frames 0..n-1 (the reference). */
static GstClassificationMeta **
reference_metas (guint n, GstBuffer *** keep)
{
  GstHarness *h = classifier_harness (1, GST_CLOCK_TIME_NONE, 0);
  GstClassificationMeta **metas = g_new0 (GstClassificationMeta *, n);
  guint i;

  *keep = g_new0 (GstBuffer *, n);
  for (i = 0; i < n; i++) {
    fail_unless_equals_int (gst_harness_push (h, make_frame (i)),
        GST_FLOW_OK);
    (*keep)[i] = gst_harness_pull (h);
    metas[i] = gst_buffer_get_classification_meta ((*keep)[i]);
    fail_unless (metas[i] != NULL);
  }
  gst_harness_teardown (h);
  return metas;
}

static void
free_reference (GstClassificationMeta ** metas, GstBuffer ** keep, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    gst_buffer_unref (keep[i]);
  g_free (keep);
  g_free (metas);
}

/* @buf is frame @n with the results of @ref (same ids; scores within what
 * a different batch blocking of oneDNN's kernels may change). */
static void
check_frame (GstBuffer * buf, guint n, GstClassificationMeta * ref)
{
  GstClassificationMeta *meta = gst_buffer_get_classification_meta (buf);
  guint i;

  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), n * FRAME_DURATION);
  fail_unless (meta != NULL, "frame %u has no results", n);
  fail_unless_equals_int (gst_classification_meta_get_n_results (meta),
      gst_classification_meta_get_n_results (ref));
  for (i = 0; i < gst_classification_meta_get_n_results (meta); i++) {
    gfloat a = gst_classification_meta_get_score (meta, i);
    gfloat b = gst_classification_meta_get_score (ref, i);
    fail_unless_equals_int (gst_classification_meta_get_class_id (meta, i),
        gst_classification_meta_get_class_id (ref, i));
    fail_unless (fabsf (a - b) <= 1e-4f, "frame %u result %u: %g vs %g", n,
        i, a, b);
  }
}

GST_START_TEST (test_frames_leave_in_order_with_their_own_results)
{
  const guint n = 10;
  GstBuffer **keep;
  GstClassificationMeta **ref = reference_metas (n, &keep);
  GstHarness *h = classifier_harness (4, GST_CLOCK_TIME_NONE, 0);
  GstEvent *event;
  guint i, distinct = 0;

  for (i = 1; i < n; i++)
    if (gst_classification_meta_get_class_id (ref[i], 0) !=
        gst_classification_meta_get_class_id (ref[i - 1], 0))
      distinct++;
  /* Otherwise a swap of two frames' results could go unnoticed. */
  fail_unless (distinct >= 3, "test frames too alike (%u changes)", distinct);

  for (i = 0; i < n; i++) {
    fail_unless_equals_int (gst_harness_push (h, make_frame (i)),
        GST_FLOW_OK);
    /* Nothing leaves until a batch of 4 is complete. */
    fail_unless_equals_int (gst_harness_buffers_received (h),
        (i + 1) / 4 * 4);
  }
  /* 8 out after two full batches, 2 waiting. */
  fail_unless_equals_int (gst_harness_buffers_received (h), 8);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_received (h), 10);
  for (i = 0; i < n; i++) {
    GstBuffer *out = gst_harness_pull (h);
    check_frame (out, i, ref[i]);
    gst_buffer_unref (out);
  }
  /* The frames left before the EOS that flushed them. */
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    gboolean eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
    if (eos)
      break;
  }
  gst_harness_teardown (h);
  free_reference (ref, keep, n);
}

GST_END_TEST;

GST_START_TEST (test_partial_batch_runs_after_batch_timeout)
{
  GstBuffer **keep;
  GstClassificationMeta **ref = reference_metas (2, &keep);
  GstHarness *h = classifier_harness (8, 50 * GST_MSECOND, 0);
  gint64 t0;
  GstBuffer *out;

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_harness_push (h, make_frame (0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_frame (1)), GST_FLOW_OK);
  /* No more frames and no event: only the timeout can release them. */
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  fail_unless (g_get_monotonic_time () - t0 >= 50000,
      "a partial batch ran before batch-timeout");
  check_frame (out, 0, ref[0]);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  check_frame (out, 1, ref[1]);
  gst_buffer_unref (out);

  /* The flusher re-arms for the next batch. */
  fail_unless_equals_int (gst_harness_push (h, make_frame (0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  check_frame (out, 0, ref[0]);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  free_reference (ref, keep, 2);
}

GST_END_TEST;

GST_START_TEST (test_flush_drops_waiting_frames)
{
  GstBuffer **keep;
  GstClassificationMeta **ref = reference_metas (6, &keep);
  GstHarness *h = classifier_harness (4, GST_CLOCK_TIME_NONE, 0);
  GstSegment segment;
  guint i;

  fail_unless_equals_int (gst_harness_push (h, make_frame (0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_frame (1)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  /* A flush that resets time drops the segment: send a new one. */
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  for (i = 2; i < 6; i++)
    fail_unless_equals_int (gst_harness_push (h, make_frame (i)),
        GST_FLOW_OK);
  /* Only the four frames pushed after the flush come out. */
  fail_unless_equals_int (gst_harness_buffers_received (h), 4);
  for (i = 2; i < 6; i++) {
    GstBuffer *out = gst_harness_pull (h);
    check_frame (out, i, ref[i]);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  free_reference (ref, keep, 6);
}

GST_END_TEST;

GST_START_TEST (test_gap_and_empty_buffers_keep_their_place)
{
  GstBuffer **keep;
  GstClassificationMeta **ref = reference_metas (4, &keep);
  GstHarness *h = classifier_harness (3, GST_CLOCK_TIME_NONE, 0);
  GstBuffer *gap = gst_buffer_new_allocate (NULL, FRAME_BYTES, NULL);
  GstBuffer *empty = gst_buffer_new ();
  GstBuffer *out;

  gst_buffer_memset (gap, 0, 0, FRAME_BYTES);
  GST_BUFFER_FLAG_SET (gap, GST_BUFFER_FLAG_GAP);
  GST_BUFFER_PTS (gap) = 100 * GST_SECOND;
  GST_BUFFER_PTS (empty) = 200 * GST_SECOND;

  fail_unless_equals_int (gst_harness_push (h, make_frame (0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, gap), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, make_frame (1)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, empty), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  fail_unless_equals_int (gst_harness_push (h, make_frame (2)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 5);

  out = gst_harness_pull (h);
  check_frame (out, 0, ref[0]);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 100 * GST_SECOND);
  fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_GAP));
  fail_unless (gst_buffer_get_classification_meta (out) == NULL);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  check_frame (out, 1, ref[1]);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 200 * GST_SECOND);
  fail_unless_equals_uint64 (gst_buffer_get_size (out), 0);
  fail_unless (gst_buffer_get_classification_meta (out) == NULL);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  check_frame (out, 2, ref[2]);
  gst_buffer_unref (out);

  /* A pass-through buffer with nothing waiting leaves at once. */
  empty = gst_buffer_new ();
  fail_unless_equals_int (gst_harness_push (h, empty), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 6);
  gst_harness_teardown (h);
  free_reference (ref, keep, 4);
}

GST_END_TEST;

static GstClockTime
query_min_latency (guint batch_size, GstClockTime batch_timeout)
{
  GstHarness *h = classifier_harness (batch_size, batch_timeout, 0);
  GstClockTime min;

  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  /* The caps (and their framerate) reach the element with a buffer. */
  fail_unless_equals_int (gst_harness_push (h, make_frame (0)), GST_FLOW_OK);
  min = gst_harness_query_latency (h);
  gst_harness_teardown (h);
  return min;
}

GST_START_TEST (test_latency_query_adds_the_batch_wait)
{
  /* batch 1: nothing added to upstream's 10 ms. */
  fail_unless_equals_uint64 (query_min_latency (1, 50 * GST_MSECOND),
      10 * GST_MSECOND);
  /* batch 4 at 30 fps: 3 more frames (100 ms), cut to the 50 ms timeout. */
  fail_unless_equals_uint64 (query_min_latency (4, 50 * GST_MSECOND),
      60 * GST_MSECOND);
  /* With a longer timeout the 3 frame durations bound the wait. */
  fail_unless_equals_uint64 (query_min_latency (4, GST_SECOND),
      10 * GST_MSECOND + 3 * FRAME_DURATION);
}

GST_END_TEST;

GST_START_TEST (test_one_thread_gives_the_same_results)
{
  GstBuffer **keep;
  GstClassificationMeta **ref = reference_metas (3, &keep);
  GstHarness *h = classifier_harness (1, GST_CLOCK_TIME_NONE, 1);
  guint i;

  for (i = 0; i < 3; i++) {
    GstBuffer *out;
    fail_unless_equals_int (gst_harness_push (h, make_frame (i)),
        GST_FLOW_OK);
    out = gst_harness_pull (h);
    check_frame (out, i, ref[i]);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  free_reference (ref, keep, 3);
}

GST_END_TEST;

static Suite *
batching_suite (void)
{
  Suite *s = suite_create ("resnet50classify-batching");
  TCase *tc = tcase_create ("batching");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_frames_leave_in_order_with_their_own_results);
  tcase_add_test (tc, test_partial_batch_runs_after_batch_timeout);
  tcase_add_test (tc, test_flush_drops_waiting_frames);
  tcase_add_test (tc, test_gap_and_empty_buffers_keep_their_place);
  tcase_add_test (tc, test_latency_query_adds_the_batch_wait);
  tcase_add_test (tc, test_one_thread_gives_the_same_results);
  return s;
}

GST_CHECK_MAIN (batching);
