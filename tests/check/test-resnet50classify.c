/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-check tests of the resnet50classify element, driven with GstHarness
 * and small pipelines: a meta on every buffer in every accepted format and
 * at odd and tiny sizes, buffers otherwise untouched, the preprocessed
 * tensor of a uniform frame against hand-computed values (case 1: channel
 * order and per-plane mean/std), renegotiation mid-stream (case 7), labels
 * taken from the right line, with and without label-offset (case 21), the
 * bus messages, restarts, and every
 * start-up error path posting exactly one error in the right domain.
 *
 * Models come from the environment: RN50_TEST_MODEL (the generated
 * 1000-class ResNet-50), RN50_TEST_MODEL_WRONG_SHAPE (one input channel) and
 * RN50_TEST_MODEL_1001 (a background class in front of the 1000) and
 * RN50_TEST_MODEL_SOFTMAX (the test model ending in Softmax). */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/classification/classification-meta.h>

/* The network input: 3 planes of 224×224 float32. */
#define TENSOR_SIDE 224
#define TENSOR_PLANE (TENSOR_SIDE * TENSOR_SIDE)
#define TENSOR_BYTES (3 * TENSOR_PLANE * sizeof (gfloat))

/* The uniform colour of case 1 as videotestsrc's ARGB foreground-color. */
#define SOLID_R 32
#define SOLID_G 64
#define SOLID_B 128
#define SOLID_ARGB "0xFF204080"

static const gchar *all_formats[] = {
  "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB",
  "ABGR", "I420", "NV12", "YUY2", "GRAY8",
};

static const gchar *packed_rgb_formats[] = {
  "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB",
  "ABGR",
};

/* Expected tensor planes of the uniform frame, computed by hand (they round
 * to the values of case 1):
 *   torchvision, plane = (v / 255 - mean) / std in R, G, B order:
 *     R: (32/255 - 0.485) / 0.229 = -1.569912
 *     G: (64/255 - 0.456) / 0.224 = -0.915266
 *     B: (128/255 - 0.406) / 0.225 = 0.426492
 *   caffe, plane = v - mean in B, G, R order:
 *     B: 128 - 103.939 = 24.061, G: 64 - 116.779 = -52.779,
 *     R: 32 - 123.68 = -91.68
 *   torchvision with mean (0.485, 0.456, 0.5): only plane 2 changes,
 *     B: (128/255 - 0.5) / 0.225 = 0.0087146 */
static const gdouble expected_torchvision[3] = {
  (SOLID_R / 255.0 - 0.485) / 0.229,
  (SOLID_G / 255.0 - 0.456) / 0.224,
  (SOLID_B / 255.0 - 0.406) / 0.225,
};

static const gdouble expected_caffe[3] = {
  SOLID_B - 103.939, SOLID_G - 116.779, SOLID_R - 123.68,
};

static const gdouble expected_mean_override[3] = {
  (SOLID_R / 255.0 - 0.485) / 0.229,
  (SOLID_G / 255.0 - 0.456) / 0.224,
  (SOLID_B / 255.0 - 0.5) / 0.225,
};

/* ---- helpers ----------------------------------------------------------- */

static const gchar *
env_path (const gchar * name)
{
  const gchar *path = g_getenv (name);

  fail_unless (path != NULL && path[0] != '\0',
      "%s is not set: run the tests through meson test", name);
  return path;
}

#define TEST_MODEL() env_path ("RN50_TEST_MODEL")

/* A classifier with the test model and the given extra properties. */
static GstElement *
make_classifier (const gchar * model, const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make ("resnet50classify", NULL);
  va_list args;

  fail_unless (element != NULL, "resnet50classify not found");
  if (model != NULL)
    g_object_set (element, "model-location", model, NULL);
  va_start (args, first_property);
  if (first_property != NULL)
    g_object_set_valist (G_OBJECT (element), first_property, args);
  va_end (args);
  return element;
}

static GstHarness *
harness_for (GstElement * element)
{
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");

  gst_object_unref (element);
  return h;
}

/* Sets a GstValueArray of doubles on @element's @property. */
static void
set_doubles (GstElement * element, const gchar * property,
    const gdouble * values, guint n)
{
  GValue array = G_VALUE_INIT;
  guint i;

  g_value_init (&array, GST_TYPE_ARRAY);
  for (i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, values[i]);
    gst_value_array_append_and_take_value (&array, &v);
  }
  g_object_set_property (G_OBJECT (element), property, &array);
  g_value_unset (&array);
}

/* One frame made by videotestsrc (an independent producer) with the given
 * caps, as a buffer the test owns alone. */
static GstBuffer *
make_frame (const gchar * caps, const gchar * src_props)
{
  GstElement *pipeline, *sink;
  GstSample *sample = NULL;
  GstBuffer *buf;
  GError *error = NULL;
  gchar *desc;

  desc = g_strdup_printf ("videotestsrc num-buffers=1 %s ! %s ! "
      "appsink name=sink sync=false", src_props, caps);
  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "cannot build %s: %s", desc,
      error ? error->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  fail_unless (sample != NULL, "no frame from %s", desc);
  buf = gst_buffer_copy_deep (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  return buf;
}

static gchar *
caps_string (const gchar * format, gint width, gint height)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=30/1", format, width, height);
}

/* The uniform frame of case 1; also checks that videotestsrc really made
 * R=32 G=64 B=128 so that a failure points at the element, not the input. */
static GstBuffer *
make_solid_frame (const gchar * format, gint width, gint height)
{
  gchar *caps = caps_string (format, width, height);
  GstBuffer *buf = make_frame (caps,
      "pattern=solid-color foreground-color=" SOLID_ARGB);
  GstVideoInfo info;
  GstVideoFrame frame;
  GstCaps *c = gst_caps_from_string (caps);
  const guint8 *px;

  fail_unless (gst_video_info_from_caps (&info, c));
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
  px = GST_VIDEO_FRAME_COMP_DATA (&frame, GST_VIDEO_COMP_R);
  fail_unless_equals_int (px[0], SOLID_R);
  px = GST_VIDEO_FRAME_COMP_DATA (&frame, GST_VIDEO_COMP_G);
  fail_unless_equals_int (px[0], SOLID_G);
  px = GST_VIDEO_FRAME_COMP_DATA (&frame, GST_VIDEO_COMP_B);
  fail_unless_equals_int (px[0], SOLID_B);
  gst_video_frame_unmap (&frame);
  gst_caps_unref (c);
  g_free (caps);
  return buf;
}

static GBytes *
get_tensor (GstElement * element)
{
  GBytes *tensor = NULL;

  g_object_get (element, "input-tensor", &tensor, NULL);
  return tensor;
}

/* Every value of tensor plane p must be expected[p] within @tolerance. */
static void
check_uniform_tensor (GstElement * element, const gdouble expected[3],
    gdouble tolerance, const gchar * what)
{
  GBytes *tensor = get_tensor (element);
  const gfloat *values;
  gsize size;
  guint p, i;

  fail_unless (tensor != NULL, "%s: no input tensor", what);
  values = g_bytes_get_data (tensor, &size);
  fail_unless_equals_int (size, TENSOR_BYTES);
  for (p = 0; p < 3; p++) {
    for (i = 0; i < TENSOR_PLANE; i++) {
      gfloat v = values[p * TENSOR_PLANE + i];

      if (fabs (v - expected[p]) > tolerance)
        fail ("%s: plane %u value %u (y %u x %u) is %.6f, expected %.6f", what,
            p, i, i / TENSOR_SIDE, i % TENSOR_SIDE, v, expected[p]);
    }
  }
  g_bytes_unref (tensor);
}

/* Checks that @buf carries one well-formed classification meta with
 * @expected_results results from the 1000- or 1001-class test models. */
static GstClassificationMeta *
check_meta (GstBuffer * buf, guint expected_results, guint n_classes)
{
  GstClassificationMeta *meta = gst_buffer_get_classification_meta (buf);
  gfloat previous = 2.0f;
  guint i;

  fail_unless (meta != NULL, "buffer without classification meta");
  fail_unless_equals_int (gst_classification_meta_get_n_results (meta),
      expected_results);
  for (i = 0; i < expected_results; i++) {
    guint id = gst_classification_meta_get_class_id (meta, i);
    gfloat score = gst_classification_meta_get_score (meta, i);
    const gchar *label = gst_classification_meta_get_label (meta, i);

    fail_unless (id < n_classes, "class id %u out of range", id);
    fail_unless (score >= 0.0f && score <= 1.0f, "score %f", score);
    fail_unless (score <= previous, "scores not sorted best first");
    fail_unless (label != NULL && label[0] != '\0', "result %u unlabelled", i);
    previous = score;
  }
  fail_unless (gst_classification_meta_get_model_name (meta) != NULL);
  fail_unless (GST_CLOCK_TIME_IS_VALID
      (gst_classification_meta_get_inference_time (meta)));
  fail_unless (gst_classification_meta_get_inference_time (meta) > 0);
  return meta;
}

/* Sets PAUSED on a lone @element with its own bus and returns the bus's
 * error messages (the state change must fail). */
static GList *
start_expecting_failure (GstElement * element)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GList *errors = NULL;

  gst_element_set_bus (element, bus);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_pop (bus)) != NULL) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      errors = g_list_append (errors, msg);
    else
      gst_message_unref (msg);
  }
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_element_set_bus (element, NULL);
  gst_object_unref (bus);
  return errors;
}

/* Starts @element (consumed) expecting exactly one error of @domain/@code
 * whose text contains every string of the NULL-terminated list. */
static void
check_start_error (GstElement * element, GQuark domain, gint code, ...)
{
  GList *errors = start_expecting_failure (element);
  GError *err = NULL;
  gchar *debug = NULL;
  const gchar *needle;
  va_list args;

  fail_unless_equals_int (g_list_length (errors), 1);
  gst_message_parse_error (errors->data, &err, &debug);
  GST_INFO ("error: %s (%s)", err->message, debug);
  fail_unless (err->domain == domain, "error domain %s, expected %s: %s",
      g_quark_to_string (err->domain), g_quark_to_string (domain),
      err->message);
  fail_unless_equals_int (err->code, code);

  va_start (args, code);
  while ((needle = va_arg (args, const gchar *)) != NULL)
      fail_unless (strstr (err->message, needle) != NULL,
        "\"%s\" missing from the error \"%s\"", needle, err->message);
  va_end (args);

  g_clear_error (&err);
  g_free (debug);
  g_list_free_full (errors, (GDestroyNotify) gst_message_unref);
  gst_object_unref (element);
}

/* A temporary file with @contents; the caller frees the returned path after
 * unlinking it. */
static gchar *
temp_file (const gchar * name, const gchar * contents, gssize length)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("rn50-check-XXXXXX", &error);
  gchar *path;

  fail_unless (dir != NULL, "%s", error ? error->message : "");
  path = g_build_filename (dir, name, NULL);
  g_free (dir);
  fail_unless (g_file_set_contents (path, contents, length, &error), "%s",
      error ? error->message : "");
  return path;
}

static void
remove_temp_file (gchar * path)
{
  gchar *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
  g_free (path);
}

/* A labels file whose line i reads "label-%04u" i, so that any shift shows. */
static gchar *
make_unique_labels (guint n)
{
  GString *s = g_string_new (NULL);
  gchar *path;
  guint i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, "label-%04u\n", i);
  path = temp_file ("labels.txt", s->str, s->len);
  g_string_free (s, TRUE);
  return path;
}

static GList *
pop_element_messages (GstBus * bus, const gchar * name)
{
  GList *messages = NULL;
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    if (gst_message_has_name (msg, name))
      messages = g_list_append (messages, msg);
    else
      gst_message_unref (msg);
  }
  return messages;
}

/* ---- the element's interface -------------------------------------------- */

GST_START_TEST (test_every_property_has_a_blurb_and_defaults)
{
  guint batch_size, threads;
  gboolean spin_wait;
  guint64 batch_timeout;
  GstElement *element = gst_element_factory_make ("resnet50classify", NULL);
  GstElementFactory *factory = gst_element_get_factory (element);
  GParamSpec **specs;
  guint n_specs, i, n_own = 0;
  GValue v = G_VALUE_INIT;
  gchar *s;
  guint top_k;
  gint label_offset;
  gfloat threshold;
  gboolean post_messages;
  GBytes *tensor;

  fail_unless (strstr (gst_element_factory_get_metadata (factory,
              GST_ELEMENT_METADATA_KLASS), "Analyzer") != NULL);
  fail_unless (strlen (gst_element_factory_get_metadata (factory,
              GST_ELEMENT_METADATA_DESCRIPTION)) > 20);

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (element),
      &n_specs);
  for (i = 0; i < n_specs; i++) {
    const gchar *blurb = g_param_spec_get_blurb (specs[i]);

    if (specs[i]->owner_type != G_OBJECT_TYPE (element))
      continue;
    n_own++;
    fail_unless (blurb != NULL && strlen (blurb) > 15,
        "property %s has no useful blurb", specs[i]->name);
  }
  g_free (specs);
  fail_unless_equals_int (n_own, 15);

  g_object_get (element, "model-location", &s, "top-k", &top_k, "threshold",
      &threshold, "post-messages", &post_messages, "label-offset",
      &label_offset, NULL);
  fail_unless (s == NULL);
  g_free (s);
  fail_unless_equals_int (label_offset, 0);
  fail_unless_equals_int (top_k, 5);
  fail_unless_equals_float (threshold, 0.0f);
  fail_unless (!post_messages);
  g_object_get (element, "batch-size", &batch_size, "batch-timeout",
      &batch_timeout, "threads", &threads, "spin-wait", &spin_wait, NULL);
  fail_unless_equals_int (batch_size, 1);
  fail_unless_equals_uint64 (batch_timeout, 200 * GST_MSECOND);
  fail_unless_equals_int (threads, 0);
  fail_unless (!spin_wait);

  g_value_init (&v, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (element), "mean", &v);
  fail_unless_equals_int (gst_value_array_get_size (&v), 0);
  g_value_unset (&v);

  g_value_init (&v, g_type_from_name ("GstResnet50ClassifyResizeMode"));
  g_object_get_property (G_OBJECT (element), "resize-mode", &v);
  fail_unless_equals_string (g_enum_get_value (g_type_class_peek
          (G_VALUE_TYPE (&v)), g_value_get_enum (&v))->value_nick,
      "center-crop");
  g_value_unset (&v);
  g_value_init (&v, g_type_from_name ("GstResnet50ClassifyPreset"));
  g_object_get_property (G_OBJECT (element), "preset", &v);
  fail_unless_equals_string (g_enum_get_value (g_type_class_peek
          (G_VALUE_TYPE (&v)), g_value_get_enum (&v))->value_nick,
      "torchvision");
  g_value_unset (&v);

  tensor = get_tensor (element);
  fail_unless (tensor == NULL, "input-tensor must be NULL before any frame");
  gst_object_unref (element);
}

GST_END_TEST;

GST_START_TEST (test_mean_and_std_round_trip)
{
  GstElement *element = gst_element_factory_make ("resnet50classify", NULL);
  const gdouble mean[] = { 0.485, 0.456, 0.5 };
  GValue v = G_VALUE_INIT;
  guint i;

  set_doubles (element, "mean", mean, 3);
  g_value_init (&v, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (element), "mean", &v);
  fail_unless_equals_int (gst_value_array_get_size (&v), 3);
  for (i = 0; i < 3; i++)
    fail_unless_equals_float (g_value_get_double (gst_value_array_get_value
            (&v, i)), mean[i]);
  g_value_unset (&v);

  /* The gst-launch syntax. */
  gst_util_set_object_arg (G_OBJECT (element), "std", "<0.2,0.3,0.4>");
  g_value_init (&v, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (element), "std", &v);
  fail_unless_equals_int (gst_value_array_get_size (&v), 3);
  fail_unless_equals_float (g_value_get_double (gst_value_array_get_value (&v,
              2)), 0.4);
  g_value_unset (&v);
  gst_object_unref (element);
}

GST_END_TEST;

/* ---- meta on every buffer, buffers untouched ----------------------------- */

static void
check_every_format_at_size (gint width, gint height)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  guint i;

  for (i = 0; i < G_N_ELEMENTS (all_formats); i++) {
    gchar *caps = caps_string (all_formats[i], width, height);
    GstBuffer *in = make_frame (caps, "pattern=smpte");
    GstBuffer *out;
    gsize size = gst_buffer_get_size (in);
    gpointer before = g_malloc (size);
    GstMapInfo map;

    gst_buffer_extract (in, 0, before, size);
    GST_BUFFER_PTS (in) = (i + 1) * GST_SECOND;
    GST_BUFFER_DTS (in) = (i + 1) * GST_SECOND - 10;
    GST_BUFFER_DURATION (in) = GST_SECOND / 30;
    GST_BUFFER_OFFSET (in) = 100 + i;
    GST_BUFFER_OFFSET_END (in) = 101 + i;
    GST_BUFFER_FLAG_SET (in, GST_BUFFER_FLAG_DISCONT |
        GST_BUFFER_FLAG_DELTA_UNIT | GST_BUFFER_FLAG_MARKER);

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (out != NULL, "%s: no output", caps);

    check_meta (out, 5, 1000);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), (i + 1) * GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (out), (i + 1) * GST_SECOND - 10);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 30);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), 100 + i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (out), 101 + i);
    fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DISCONT));
    fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DELTA_UNIT));
    fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_MARKER));

    fail_unless_equals_int (gst_buffer_get_size (out), size);
    fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
    fail_unless (memcmp (map.data, before, size) == 0,
        "%s: pixels changed", caps);
    gst_buffer_unmap (out, &map);

    gst_buffer_unref (out);
    g_free (before);
    g_free (caps);
  }
  gst_harness_teardown (h);
}

GST_START_TEST (test_attaches_meta_to_every_format_at_odd_size)
{
  check_every_format_at_size (321, 241);
}

GST_END_TEST;

GST_START_TEST (test_attaches_meta_to_every_format_at_1x1)
{
  check_every_format_at_size (1, 1);
}

GST_END_TEST;

GST_START_TEST (test_shared_input_buffer_is_not_modified)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  GstBuffer *in = make_frame ("video/x-raw,format=RGB,width=64,height=48",
      "pattern=ball");
  GstBuffer *out;

  /* A second reference makes the buffer read-only for the element: the meta
   * must go on a copy, never on the buffer someone else still holds. */
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  check_meta (out, 5, 1000);
  fail_unless (gst_buffer_get_classification_meta (in) == NULL);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A copy of @tight (caps @caps_str) in a buffer laid out differently: every
 * plane at its own offset with @extra_stride bytes of padding per row, the
 * gaps filled with @fill, described by a GstVideoMeta. An element that
 * computed strides or offsets itself instead of reading the frame would see
 * the padding bytes. */
static GstBuffer *
relayout_frame (GstBuffer * tight, const gchar * caps_str, guint extra_stride,
    guint8 fill)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstVideoInfo info, padded;
  GstVideoFrame src, dst;
  GstBuffer *buf;
  gsize offset = 96;            /* garbage before the first plane too */
  guint p;

  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  padded = info;
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (&info); p++) {
    gint comps[GST_VIDEO_MAX_COMPONENTS];
    guint rows;

    gst_video_format_info_component (info.finfo, p, comps);
    rows = GST_VIDEO_INFO_COMP_HEIGHT (&info, comps[0]);
    padded.stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (&info, p) + extra_stride;
    padded.offset[p] = offset;
    offset += (gsize) padded.stride[p] * rows + 40;
  }
  padded.size = offset;

  buf = gst_buffer_new_allocate (NULL, padded.size, NULL);
  gst_buffer_memset (buf, 0, fill, padded.size);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_INFO_WIDTH (&info),
      GST_VIDEO_INFO_HEIGHT (&info), GST_VIDEO_INFO_N_PLANES (&info),
      padded.offset, padded.stride);
  fail_unless (gst_video_frame_map (&src, &info, tight, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&dst, &padded, buf, GST_MAP_WRITE));
  fail_unless (gst_video_frame_copy (&dst, &src));
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  return buf;
}

GST_START_TEST (test_honours_video_meta_strides_and_offsets)
{
  const gchar *formats[] = { "RGB", "BGRx", "I420", "NV12", "YUY2", "GRAY8" };
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *caps = caps_string (formats[i], 97, 61);
    GstBuffer *tight = make_frame (caps, "pattern=smpte");
    GBytes *expected, *got;
    guint fill;

    gst_harness_set_src_caps_str (h, caps);
    gst_buffer_unref (gst_harness_push_and_pull (h, gst_buffer_ref (tight)));
    expected = get_tensor (h->element);

    /* The same picture in two other layouts, with bright and dark padding:
     * the tensor must not change by a single bit. */
    for (fill = 0; fill <= 255; fill += 255) {
      GstBuffer *out = gst_harness_push_and_pull (h,
          relayout_frame (tight, caps, 13 + fill / 17, fill));

      check_meta (out, 5, 1000);
      got = get_tensor (h->element);
      fail_unless (g_bytes_equal (expected, got),
          "%s: tensor depends on the buffer layout (padding 0x%02x)", caps,
          fill);
      g_bytes_unref (got);
      gst_buffer_unref (out);
    }
    g_bytes_unref (expected);
    gst_buffer_unref (tight);
    g_free (caps);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_softmax_model_outputs_are_not_softmaxed_again)
{
  GstHarness *logits = harness_for (make_classifier (TEST_MODEL (), "top-k",
          20, NULL));
  GstHarness *probs =
      harness_for (make_classifier (env_path ("RN50_TEST_MODEL_SOFTMAX"),
          "top-k", 20, NULL));
  const gchar *caps = "video/x-raw,format=RGB,width=160,height=120";
  const gchar *patterns[] = { "pattern=smpte", "pattern=ball" };
  guint i, k;

  gst_harness_set_src_caps_str (logits, caps);
  gst_harness_set_src_caps_str (probs, caps);
  for (i = 0; i < G_N_ELEMENTS (patterns); i++) {
    GstBuffer *frame = make_frame (caps, patterns[i]);
    GstBuffer *a = gst_harness_push_and_pull (logits, gst_buffer_ref (frame));
    GstBuffer *b = gst_harness_push_and_pull (probs, gst_buffer_ref (frame));
    GstClassificationMeta *ma = check_meta (a, 20, 1000);
    GstClassificationMeta *mb = check_meta (b, 20, 1000);

    /* A second softmax over probabilities would squash them towards
     * 1/1000; the scores must be the logits model's probabilities. */
    for (k = 0; k < 20; k++) {
      gfloat sa = gst_classification_meta_get_score (ma, k);
      gfloat sb = gst_classification_meta_get_score (mb, k);

      fail_unless (fabs (sa - sb) <= 1e-5 + 1e-4 * sa,
          "%s result %u: %g from the Softmax model, %g from logits",
          patterns[i], k, sb, sa);
      if (sa > 1e-4)
        fail_unless_equals_int (gst_classification_meta_get_class_id (mb, k),
            gst_classification_meta_get_class_id (ma, k));
    }
    gst_buffer_unref (a);
    gst_buffer_unref (b);
    gst_buffer_unref (frame);
  }
  gst_harness_teardown (logits);
  gst_harness_teardown (probs);
}

GST_END_TEST;

/* ---- results ------------------------------------------------------------ */

GST_START_TEST (test_top_k_is_clamped_and_scores_are_probabilities)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), "top-k", 1000,
          NULL));
  GstBuffer *out;
  GstClassificationMeta *meta;
  gdouble sum = 0.0;
  guint i;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h,
      make_frame ("video/x-raw,format=RGB,width=64,height=48",
          "pattern=smpte"));
  meta = check_meta (out, 1000, 1000);
  /* All classes once each, probabilities summing to 1. */
  for (i = 0; i < 1000; i++)
    sum += gst_classification_meta_get_score (meta, i);
  fail_unless (fabs (sum - 1.0) < 1e-3, "probabilities sum to %f", sum);
  gst_buffer_unref (out);

  /* top-k can change while playing. */
  g_object_set (h->element, "top-k", 3, NULL);
  out = gst_harness_push_and_pull (h,
      make_frame ("video/x-raw,format=RGB,width=64,height=48",
          "pattern=smpte"));
  check_meta (out, 3, 1000);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_threshold_drops_less_likely_classes)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  GstBuffer *frame = make_frame ("video/x-raw,format=RGB,width=64,height=48",
      "pattern=smpte");
  GstClassificationMeta *meta;
  GstBuffer *out;
  guint top1;
  gfloat s0, s1;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h, gst_buffer_copy (frame));
  meta = check_meta (out, 5, 1000);
  top1 = gst_classification_meta_get_class_id (meta, 0);
  s0 = gst_classification_meta_get_score (meta, 0);
  s1 = gst_classification_meta_get_score (meta, 1);
  fail_unless (s0 > s1, "tie at the top, cannot test the threshold");
  gst_buffer_unref (out);

  /* Between the two best: only the best remains, same frame, same class. */
  g_object_set (h->element, "threshold", (s0 + s1) / 2.0f, NULL);
  out = gst_harness_push_and_pull (h, gst_buffer_copy (frame));
  meta = check_meta (out, 1, 1000);
  fail_unless_equals_int (gst_classification_meta_get_class_id (meta, 0), top1);
  fail_unless (fabs (gst_classification_meta_get_score (meta, 0) - s0) < 1e-5);
  gst_buffer_unref (out);

  /* Above the best: no results, but still a meta. */
  if (s0 < 1.0f) {
    g_object_set (h->element, "threshold", MIN (1.0f, s0 + 1e-6f), NULL);
    out = gst_harness_push_and_pull (h, gst_buffer_copy (frame));
    check_meta (out, 0, 1000);
    gst_buffer_unref (out);
  }

  gst_buffer_unref (frame);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_posts_one_message_per_frame_matching_the_meta)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (),
          "post-messages", TRUE, NULL));
  GstBus *bus = gst_bus_new ();
  GList *messages, *l;
  GstBuffer *outs[3];
  guint i;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1");
  for (i = 0; i < 3; i++) {
    GstBuffer *in = make_frame ("video/x-raw,format=I420,width=320,height=240",
        i == 1 ? "pattern=ball" : "pattern=smpte");

    GST_BUFFER_PTS (in) = i * 33 * GST_MSECOND;
    GST_BUFFER_DURATION (in) = 33 * GST_MSECOND;
    outs[i] = gst_harness_push_and_pull (h, in);
  }

  messages = pop_element_messages (bus, "resnet50classify");
  fail_unless_equals_int (g_list_length (messages), 3);
  for (l = messages, i = 0; l != NULL; l = l->next, i++) {
    const GstStructure *s = gst_message_get_structure (l->data);
    GstClassificationMeta *meta = check_meta (outs[i], 5, 1000);
    const GValue *ids, *labels, *scores;
    guint64 ts, dur, rt, inference;
    guint k;

    fail_unless (GST_MESSAGE_SRC (l->data) == GST_OBJECT (h->element));
    fail_unless (gst_structure_get_uint64 (s, "timestamp", &ts));
    fail_unless (gst_structure_get_uint64 (s, "duration", &dur));
    fail_unless (gst_structure_get_uint64 (s, "running-time", &rt));
    fail_unless (gst_structure_get_uint64 (s, "inference-time", &inference));
    fail_unless_equals_uint64 (ts, i * 33 * GST_MSECOND);
    fail_unless_equals_uint64 (dur, 33 * GST_MSECOND);
    /* The harness's segment starts at 0, so running time = PTS. */
    fail_unless_equals_uint64 (rt, i * 33 * GST_MSECOND);
    fail_unless_equals_uint64 (inference,
        gst_classification_meta_get_inference_time (meta));
    fail_unless_equals_string (gst_structure_get_string (s, "model"),
        gst_classification_meta_get_model_name (meta));

    ids = gst_structure_get_value (s, "class-ids");
    labels = gst_structure_get_value (s, "labels");
    scores = gst_structure_get_value (s, "scores");
    fail_unless (GST_VALUE_HOLDS_ARRAY (ids) && GST_VALUE_HOLDS_ARRAY (labels)
        && GST_VALUE_HOLDS_ARRAY (scores));
    fail_unless_equals_int (gst_value_array_get_size (ids), 5);
    fail_unless_equals_int (gst_value_array_get_size (labels), 5);
    fail_unless_equals_int (gst_value_array_get_size (scores), 5);
    for (k = 0; k < 5; k++) {
      const GValue *id = gst_value_array_get_value (ids, k);
      const GValue *label = gst_value_array_get_value (labels, k);
      const GValue *score = gst_value_array_get_value (scores, k);

      fail_unless (G_VALUE_HOLDS_UINT (id));
      fail_unless (G_VALUE_HOLDS_STRING (label));
      fail_unless (G_VALUE_HOLDS_DOUBLE (score));
      fail_unless_equals_int (g_value_get_uint (id),
          gst_classification_meta_get_class_id (meta, k));
      fail_unless_equals_string (g_value_get_string (label),
          gst_classification_meta_get_label (meta, k));
      fail_unless_equals_float (g_value_get_double (score),
          gst_classification_meta_get_score (meta, k));
    }
  }

  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  for (i = 0; i < 3; i++)
    gst_buffer_unref (outs[i]);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_posts_no_messages_by_default)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  GstBus *bus = gst_bus_new ();
  GList *messages;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  gst_buffer_unref (gst_harness_push_and_pull (h,
          make_frame ("video/x-raw,format=RGB,width=64,height=48", "")));
  messages = pop_element_messages (bus, "resnet50classify");
  fail_unless (messages == NULL);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- case 1: channel order and per-plane normalization ------------------- */

static void
check_uniform_frames (GstElement * element, const gdouble expected[3],
    gdouble tolerance, const gchar * preset)
{
  GstHarness *h = harness_for (element);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (packed_rgb_formats); i++) {
    gchar *caps = caps_string (packed_rgb_formats[i], 64, 48);
    gchar *what = g_strdup_printf ("%s, %s", preset, packed_rgb_formats[i]);
    GstBuffer *out;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h,
        make_solid_frame (packed_rgb_formats[i], 64, 48));
    check_meta (out, 5, 1000);
    check_uniform_tensor (h->element, expected, tolerance, what);
    gst_buffer_unref (out);
    g_free (what);
    g_free (caps);
  }
  gst_harness_teardown (h);
}

GST_START_TEST (test_uniform_frame_torchvision_planes_in_every_rgb_format)
{
  check_uniform_frames (make_classifier (TEST_MODEL (), NULL),
      expected_torchvision, 1e-5, "torchvision");
}

GST_END_TEST;

GST_START_TEST (test_uniform_frame_caffe_planes_in_every_rgb_format)
{
  /* caffe values are ~100, where one float32 ulp is ~8e-6. */
  check_uniform_frames (make_classifier (TEST_MODEL (), "preset", 1, NULL),
      expected_caffe, 1e-4, "caffe");
}

GST_END_TEST;

GST_START_TEST (test_mean_override_changes_only_its_plane)
{
  GstElement *element = make_classifier (TEST_MODEL (), NULL);
  const gdouble mean[] = { 0.485, 0.456, 0.5 };

  set_doubles (element, "mean", mean, 3);
  check_uniform_frames (element, expected_mean_override, 1e-5,
      "torchvision, mean override");
}

GST_END_TEST;

GST_START_TEST (test_std_override_scales_its_plane)
{
  GstElement *element = make_classifier (TEST_MODEL (), NULL);
  const gdouble std[] = { 0.229, 0.5, 0.225 };
  gdouble expected[3];

  memcpy (expected, expected_torchvision, sizeof (expected));
  expected[1] = (SOLID_G / 255.0 - 0.456) / 0.5;
  set_doubles (element, "std", std, 3);
  check_uniform_frames (element, expected, 1e-5, "torchvision, std override");
}

GST_END_TEST;

/* Model and preprocessing are built at start: a change while running must be
 * refused with a warning, never half-applied or silently dropped. */
GST_START_TEST (test_ready_only_properties_are_refused_while_playing)
{
  GstElement *element = make_classifier (TEST_MODEL (), NULL);
  GstHarness *h = harness_for (element);
  GstBus *bus = gst_bus_new ();
  gchar *caps = caps_string ("RGB", 64, 48);
  gchar *location = NULL;
  GstMessage *msg;
  GstBuffer *out;
  gint preset = -1;
  guint warnings = 0;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, make_solid_frame ("RGB", 64, 48));
  check_uniform_tensor (h->element, expected_torchvision, 1e-5, "before");
  gst_buffer_unref (out);

  g_object_set (h->element, "preset", 1, "model-location",
      "/nonexistent/model.onnx", NULL);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
    GError *err = NULL;

    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_SETTINGS), "%s", err->message);
    fail_unless (strstr (err->message, "cannot change while") != NULL,
        "%s", err->message);
    warnings++;
    g_error_free (err);
    gst_message_unref (msg);
  }
  fail_unless_equals_int (warnings, 2);
  g_object_get (h->element, "preset", &preset, "model-location", &location,
      NULL);
  fail_unless_equals_int (preset, 0);
  fail_unless_equals_string (location, TEST_MODEL ());

  /* Still torchvision: the refused caffe preset did not half-apply. */
  out = gst_harness_push_and_pull (h, make_solid_frame ("RGB", 64, 48));
  check_meta (out, 5, 1000);
  check_uniform_tensor (h->element, expected_torchvision, 1e-5, "after");
  gst_buffer_unref (out);

  g_free (location);
  g_free (caps);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- case 7: renegotiation mid-stream ----------------------------------- */

GST_START_TEST (test_caps_change_midstream_follows_new_caps)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  const struct
  {
    const gchar *format;
    gint width, height;
  } steps[] = {
    {"RGB", 640, 480}, {"BGR", 320, 240}, {"RGB", 640, 480},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (steps); i++) {
    gchar *caps = caps_string (steps[i].format, steps[i].width,
        steps[i].height);
    GstBuffer *out;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, make_solid_frame (steps[i].format,
            steps[i].width, steps[i].height));
    check_meta (out, 5, 1000);
    check_uniform_tensor (h->element, expected_torchvision, 1e-5, caps);
    gst_buffer_unref (out);
    g_free (caps);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_frame_size_changes_every_frame)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (),
          "post-messages", TRUE, NULL));
  GstBus *bus = gst_bus_new ();
  const gint sizes[][2] = { {224, 224}, {225, 223}, {7, 5}, {224, 224} };
  GList *messages;
  guint i;

  gst_element_set_bus (h->element, bus);
  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gchar *caps = caps_string ("RGB", sizes[i][0], sizes[i][1]);
    GstBuffer *out;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, make_frame (caps, "pattern=smpte"));
    check_meta (out, 5, 1000);
    gst_buffer_unref (out);
    g_free (caps);
  }
  messages = pop_element_messages (bus, "resnet50classify");
  fail_unless_equals_int (g_list_length (messages), G_N_ELEMENTS (sizes));
  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Pulls samples until one has @format at @width × @height, checking that
 * every sample on the way carries a meta. */
static void
pull_until_caps (GstElement * sink, const gchar * format, gint width,
    gint height)
{
  guint i;

  for (i = 0; i < 30; i++) {
    GstSample *sample = NULL;
    GstVideoInfo info;

    g_signal_emit_by_name (sink, "pull-sample", &sample);
    fail_unless (sample != NULL, "stream ended while waiting for %s %dx%d",
        format, width, height);
    fail_unless (gst_buffer_get_classification_meta (gst_sample_get_buffer
            (sample)) != NULL, "sample without meta");
    fail_unless (gst_video_info_from_caps (&info,
            gst_sample_get_caps (sample)));
    gst_sample_unref (sample);
    if (strcmp (GST_VIDEO_INFO_NAME (&info), format) == 0 &&
        GST_VIDEO_INFO_WIDTH (&info) == width &&
        GST_VIDEO_INFO_HEIGHT (&info) == height)
      return;
  }
  fail ("caps never switched to %s %dx%d", format, width, height);
}

static void
set_capsfilter (GstElement * capsfilter, const gchar * format, gint width,
    gint height)
{
  gchar *str = caps_string (format, width, height);
  GstCaps *caps = gst_caps_from_string (str);

  g_object_set (capsfilter, "caps", caps, NULL);
  gst_caps_unref (caps);
  g_free (str);
}

GST_START_TEST (test_capsfilter_switch_while_paused_and_playing)
{
  GstElement *pipeline, *cf, *classifier, *sink;
  GstBus *bus;
  GstMessage *msg;

  pipeline = gst_parse_launch ("videotestsrc pattern=solid-color "
      "foreground-color=" SOLID_ARGB " ! capsfilter name=cf "
      "caps=video/x-raw,format=RGB,width=640,height=480,framerate=30/1 ! "
      "resnet50classify name=classifier ! "
      "appsink name=sink sync=false max-buffers=1", NULL);
  fail_unless (pipeline != NULL);
  cf = gst_bin_get_by_name (GST_BIN (pipeline), "cf");
  classifier = gst_bin_get_by_name (GST_BIN (pipeline), "classifier");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (classifier, "model-location", TEST_MODEL (), NULL);

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  pull_until_caps (sink, "RGB", 640, 480);
  check_uniform_tensor (classifier, expected_torchvision, 1e-5, "RGB 640x480");

  /* PLAYING → PAUSED, new caps, back to PLAYING. */
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  set_capsfilter (cf, "BGR", 320, 240);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  pull_until_caps (sink, "BGR", 320, 240);
  check_uniform_tensor (classifier, expected_torchvision, 1e-5, "BGR 320x240");

  /* And back while PLAYING. */
  set_capsfilter (cf, "RGB", 640, 480);
  pull_until_caps (sink, "RGB", 640, 480);
  check_uniform_tensor (classifier, expected_torchvision, 1e-5,
      "RGB 640x480 again");

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg == NULL, "unexpected %" GST_PTR_FORMAT, msg);
  gst_object_unref (bus);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (cf);
  gst_object_unref (classifier);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* ---- state changes ------------------------------------------------------- */

static GstPadProbeReturn
count_meta_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  guint *counts = user_data;

  counts[0]++;
  if (gst_buffer_get_classification_meta (GST_PAD_PROBE_INFO_BUFFER (info)))
    counts[1]++;
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_null_playing_null_twice)
{
  GstElement *pipeline, *classifier, *sink;
  GstPad *pad;
  GstBus *bus;
  guint round;

  pipeline = gst_parse_launch ("videotestsrc num-buffers=3 ! "
      "video/x-raw,format=RGB,width=64,height=48 ! "
      "resnet50classify name=classifier ! fakesink name=sink", NULL);
  classifier = gst_bin_get_by_name (GST_BIN (pipeline), "classifier");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (classifier, "model-location", TEST_MODEL (), NULL);
  bus = gst_element_get_bus (pipeline);

  for (round = 0; round < 2; round++) {
    guint counts[2] = { 0, 0 };
    GstMessage *msg;
    gulong probe;

    pad = gst_element_get_static_pad (sink, "sink");
    probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        count_meta_probe, counts, NULL);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
        "round %u: %" GST_PTR_FORMAT, round, msg);
    gst_message_unref (msg);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_pad_remove_probe (pad, probe);
    gst_object_unref (pad);
    fail_unless_equals_int (counts[0], 3);
    fail_unless_equals_int (counts[1], 3);
  }

  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (classifier);
  gst_object_unref (pipeline);
}

GST_END_TEST;

GST_START_TEST (test_starts_after_a_failed_start)
{
  GstElement *element = make_classifier (NULL, NULL);
  GList *errors = start_expecting_failure (element);

  fail_unless_equals_int (g_list_length (errors), 1);
  g_list_free_full (errors, (GDestroyNotify) gst_message_unref);

  g_object_set (element, "model-location", TEST_MODEL (), NULL);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (element);
}

GST_END_TEST;

/* ---- case 21: labels ------------------------------------------------------ */

/* The label of class @id under a unique-labels file and @offset:
 * line id - offset, or "background" below the offset. */
static gchar *
expected_label (guint id, gint offset)
{
  if ((gint64) id < offset)
    return g_strdup ("background");
  return g_strdup_printf ("label-%04u", (guint) ((gint64) id - offset));
}

/* Checks that every reported label is line <class id> - @offset of a
 * unique-labels file of @n_labels lines, both in the meta and in the
 * message, while class ids stay raw output indices. With @top_k nearly all
 * classes, output 0 (below an offset of 1) must be among the results. */
static void
check_labels_follow_class_ids (const gchar * model, guint n_classes,
    guint n_labels, gint offset, guint top_k)
{
  gchar *labels = make_unique_labels (n_labels);
  GstHarness *h = harness_for (make_classifier (model, "labels-location",
          labels, "top-k", top_k, "post-messages", TRUE, "label-offset",
          offset, NULL));
  GstBus *bus = gst_bus_new ();
  const gchar *patterns[] = { "pattern=smpte", "pattern=ball",
    "pattern=snow"
  };
  GList *messages, *l;
  guint i, k;
  gboolean saw_zero = FALSE;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=160,height=120,framerate=30/1");
  for (i = 0; i < G_N_ELEMENTS (patterns); i++) {
    GstBuffer *out = gst_harness_push_and_pull (h,
        make_frame ("video/x-raw,format=RGB,width=160,height=120",
            patterns[i]));
    GstClassificationMeta *meta = check_meta (out, top_k, n_classes);

    for (k = 0; k < top_k; k++) {
      guint id = gst_classification_meta_get_class_id (meta, k);
      gchar *expected = expected_label (id, offset);

      saw_zero |= id == 0;
      fail_unless_equals_string (gst_classification_meta_get_label (meta, k),
          expected);
      g_free (expected);
    }
    gst_buffer_unref (out);
  }
  if (offset > 0 && top_k + 1 >= n_classes)
    fail_unless (saw_zero, "output 0 never reported: its label is untested");

  messages = pop_element_messages (bus, "resnet50classify");
  fail_unless_equals_int (g_list_length (messages), G_N_ELEMENTS (patterns));
  for (l = messages; l != NULL; l = l->next) {
    const GstStructure *s = gst_message_get_structure (l->data);
    const GValue *ids = gst_structure_get_value (s, "class-ids");
    const GValue *names = gst_structure_get_value (s, "labels");

    for (k = 0; k < gst_value_array_get_size (ids); k++) {
      gchar *expected =
          expected_label (g_value_get_uint (gst_value_array_get_value (ids,
                  k)), offset);

      fail_unless_equals_string (g_value_get_string (gst_value_array_get_value
              (names, k)), expected);
      g_free (expected);
    }
  }
  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  remove_temp_file (labels);
}

GST_START_TEST (test_labels_come_from_the_line_of_the_class_id)
{
  check_labels_follow_class_ids (TEST_MODEL (), 1000, 1000, 0, 10);
}

GST_END_TEST;

GST_START_TEST (test_1001_class_model_with_1001_labels_uses_raw_index)
{
  check_labels_follow_class_ids (env_path ("RN50_TEST_MODEL_1001"), 1001,
      1001, 0, 10);
}

GST_END_TEST;

/* Case 21 (b): output i named by line i - 1; output 0, which has no line,
 * is "background", never a read outside the list. */
GST_START_TEST (test_1001_class_model_with_label_offset_1_uses_line_before)
{
  check_labels_follow_class_ids (env_path ("RN50_TEST_MODEL_1001"), 1001,
      1000, 1, 1000);
}

GST_END_TEST;

/* A negative offset skips the list's first lines: a 1001-line list whose
 * line 0 is "background", with a 1000-output model. */
GST_START_TEST (test_negative_label_offset_skips_first_lines)
{
  check_labels_follow_class_ids (TEST_MODEL (), 1000, 1001, -1, 10);
}

GST_END_TEST;

GST_START_TEST (test_1001_class_model_with_builtin_labels_and_offset_1)
{
  GstHarness *h = harness_for (make_classifier (env_path
          ("RN50_TEST_MODEL_1001"), "top-k", 1001, "label-offset", 1, NULL));
  GstClassificationMeta *meta;
  GstBuffer *out;
  guint i;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h,
      make_frame ("video/x-raw,format=RGB,width=64,height=48", ""));
  /* Every output reported, background included. */
  meta = check_meta (out, 1001, 1001);
  for (i = 0; i < 1001; i++) {
    guint id = gst_classification_meta_get_class_id (meta, i);
    const gchar *label = gst_classification_meta_get_label (meta, i);
    const gchar *expected = id == 0 ? "background" : id == 1 ? "tench" :
        id == 282 ? "tabby" : id == 1000 ? "toilet tissue" : NULL;

    if (expected != NULL)
      fail_unless_equals_string (label, expected);
  }
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_builtin_labels_are_imagenet_names)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), "top-k", 1000,
          NULL));
  GstClassificationMeta *meta;
  GstBuffer *out;
  guint i;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h,
      make_frame ("video/x-raw,format=RGB,width=64,height=48", ""));
  meta = check_meta (out, 1000, 1000);
  /* A few names of torchvision's ImageNet-1k list, by index. */
  for (i = 0; i < 1000; i++) {
    guint id = gst_classification_meta_get_class_id (meta, i);
    const gchar *label = gst_classification_meta_get_label (meta, i);

    const gchar *expected = id == 0 ? "tench" : id == 281 ? "tabby" :
        id == 999 ? "toilet tissue" : NULL;

    if (expected != NULL)
      fail_unless_equals_string (label, expected);
  }
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- per-frame failure ---------------------------------------------------- */

/* A buffer shorter than its caps is never read: it passes on without
 * results, and the application hears about it once (per caps) as a
 * warning, not as an error that would stop a long-running pipeline. */
GST_START_TEST (test_buffer_smaller_than_caps_passes_with_one_warning)
{
  GstHarness *h = harness_for (make_classifier (TEST_MODEL (), NULL));
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GstBuffer *out;
  GError *err = NULL;
  guint n_warnings = 0, i;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  for (i = 0; i < 2; i++) {
    /* 100 bytes, then one byte short of the 64x48 RGB frame. */
    gsize size = i == 0 ? 100 : 64 * 48 * 3 - 1;
    fail_unless_equals_int (gst_harness_push (h,
            gst_buffer_new_allocate (NULL, size, NULL)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    fail_unless_equals_uint64 (gst_buffer_get_size (out), size);
    fail_unless (gst_buffer_get_classification_meta (out) == NULL);
    gst_buffer_unref (out);
  }
  /* A whole frame after them is classified as usual. */
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  check_meta (out, 5, 1000);
  gst_buffer_unref (out);

  while ((msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_WARNING | GST_MESSAGE_ERROR)) != NULL) {
    fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING,
        "unexpected error message");
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (err->domain == GST_STREAM_ERROR);
    fail_unless_equals_int (err->code, GST_STREAM_ERROR_FORMAT);
    fail_unless (strstr (err->message, "100 bytes") != NULL, "%s",
        err->message);
    g_clear_error (&err);
    gst_message_unref (msg);
    n_warnings++;
  }
  fail_unless_equals_int (n_warnings, 1);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- start-up errors: exactly one error, in the right domain ------------- */

GST_START_TEST (test_no_model_posts_resource_not_found)
{
  check_start_error (make_classifier (NULL, NULL), GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "model", NULL);
}

GST_END_TEST;

GST_START_TEST (test_missing_model_posts_resource_not_found_with_path)
{
  const gchar *path = "/nonexistent-rn50-dir/resnet50.onnx";

  check_start_error (make_classifier (path, NULL), GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, path, NULL);
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model_posts_library_init)
{
  GRand *rand = g_rand_new_with_seed (20240501);
  gchar garbage[4096];
  gchar *path;
  guint i;

  for (i = 0; i < sizeof (garbage); i++)
    garbage[i] = (gchar) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  path = temp_file ("garbage.onnx", garbage, sizeof (garbage));
  check_start_error (make_classifier (path, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_INIT, path, NULL);
  remove_temp_file (path);
}

GST_END_TEST;

GST_START_TEST (test_empty_model_file_posts_library_init)
{
  gchar *path = temp_file ("empty.onnx", "", 0);

  check_start_error (make_classifier (path, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_INIT, path, NULL);
  remove_temp_file (path);
}

GST_END_TEST;

GST_START_TEST (test_truncated_model_posts_library_init)
{
  gchar *contents = NULL;
  gsize length = 0;
  gchar *path;

  fail_unless (g_file_get_contents (TEST_MODEL (), &contents, &length, NULL));
  /* Cut inside the weights, as an interrupted download would. */
  path = temp_file ("truncated.onnx", contents, length * 3 / 5);
  g_free (contents);
  check_start_error (make_classifier (path, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_INIT, path, NULL);
  remove_temp_file (path);
}

GST_END_TEST;

GST_START_TEST (test_wrong_input_shape_model_posts_library_init)
{
  const gchar *path = env_path ("RN50_TEST_MODEL_WRONG_SHAPE");

  check_start_error (make_classifier (path, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_INIT, path, NULL);
}

GST_END_TEST;

GST_START_TEST (test_fewer_labels_than_classes_names_both_counts)
{
  gchar *labels = make_unique_labels (999);

  check_start_error (make_classifier (TEST_MODEL (), "labels-location",
          labels, NULL), GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "999", "1000", NULL);
  remove_temp_file (labels);
}

GST_END_TEST;

GST_START_TEST (test_1001_class_model_with_1000_labels_fails)
{
  gchar *labels = make_unique_labels (1000);

  check_start_error (make_classifier (env_path ("RN50_TEST_MODEL_1001"),
          "labels-location", labels, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_SETTINGS, "1000", "1001", NULL);
  remove_temp_file (labels);
}

GST_END_TEST;

GST_START_TEST (test_1001_class_model_with_builtin_labels_fails)
{
  check_start_error (make_classifier (env_path ("RN50_TEST_MODEL_1001"),
          NULL), GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, "1000",
      "1001", NULL);
}

GST_END_TEST;

GST_START_TEST (test_label_offset_that_does_not_fit_names_both_counts)
{
  gchar *labels = make_unique_labels (1000);

  /* 1000 lines + offset 2 fit 1002 outputs, not 1001. */
  check_start_error (make_classifier (env_path ("RN50_TEST_MODEL_1001"),
          "labels-location", labels, "label-offset", 2, NULL),
      GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, "1000", "1001",
      "label-offset", NULL);
  /* An offset on a model without a background class. */
  check_start_error (make_classifier (TEST_MODEL (), "labels-location",
          labels, "label-offset", 1, NULL), GST_LIBRARY_ERROR,
      GST_LIBRARY_ERROR_SETTINGS, "1000 labels", "1000 classes",
      "label-offset is 1", NULL);
  remove_temp_file (labels);
}

GST_END_TEST;

GST_START_TEST (test_1000_class_model_with_1001_labels_fails)
{
  gchar *labels = make_unique_labels (1001);

  check_start_error (make_classifier (TEST_MODEL (), "labels-location",
          labels, NULL), GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "1001", "1000", NULL);
  remove_temp_file (labels);
}

GST_END_TEST;

GST_START_TEST (test_missing_labels_file_posts_resource_not_found)
{
  const gchar *path = "/nonexistent-rn50-dir/labels.txt";

  check_start_error (make_classifier (TEST_MODEL (), "labels-location", path,
          NULL), GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, path, NULL);
}

GST_END_TEST;

GST_START_TEST (test_empty_labels_file_posts_library_settings)
{
  gchar *path = temp_file ("labels.txt", "", 0);

  check_start_error (make_classifier (TEST_MODEL (), "labels-location", path,
          NULL), GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, path, NULL);
  remove_temp_file (path);
}

GST_END_TEST;

static void
check_bad_override (const gchar * property, const gdouble * values, guint n)
{
  GstElement *element = make_classifier (TEST_MODEL (), NULL);

  set_doubles (element, property, values, n);
  check_start_error (element, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      property, NULL);
}

GST_START_TEST (test_mean_with_two_values_posts_library_settings)
{
  const gdouble mean[] = { 0.485, 0.456 };

  check_bad_override ("mean", mean, G_N_ELEMENTS (mean));
}

GST_END_TEST;

GST_START_TEST (test_mean_with_four_values_posts_library_settings)
{
  const gdouble mean[] = { 0.485, 0.456, 0.406, 0.5 };

  check_bad_override ("mean", mean, G_N_ELEMENTS (mean));
}

GST_END_TEST;

GST_START_TEST (test_std_with_one_value_posts_library_settings)
{
  const gdouble std[] = { 0.229 };

  check_bad_override ("std", std, G_N_ELEMENTS (std));
}

GST_END_TEST;

GST_START_TEST (test_std_zero_posts_library_settings)
{
  const gdouble std[] = { 0.229, 0.0, 0.225 };

  check_bad_override ("std", std, G_N_ELEMENTS (std));
}

GST_END_TEST;

GST_START_TEST (test_std_negative_posts_library_settings)
{
  const gdouble std[] = { 0.229, 0.224, -0.225 };

  check_bad_override ("std", std, G_N_ELEMENTS (std));
}

GST_END_TEST;

GST_START_TEST (test_bad_override_fails_without_loading_a_model)
{
  const gdouble std[] = { 0.0, 0.0, 0.0 };
  GstElement *element = make_classifier (NULL, NULL);

  /* Settings are checked before the model: the error names the setting,
   * not the missing model. */
  set_doubles (element, "std", std, 3);
  check_start_error (element, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "std", NULL);
}

GST_END_TEST;

static Suite *
resnet50classify_suite (void)
{
  Suite *s = suite_create ("resnet50classify");
  TCase *tc_interface = tcase_create ("interface");
  TCase *tc_meta = tcase_create ("meta");
  TCase *tc_tensor = tcase_create ("tensor");
  TCase *tc_caps = tcase_create ("renegotiation");
  TCase *tc_state = tcase_create ("state");
  TCase *tc_labels = tcase_create ("labels");
  TCase *tc_errors = tcase_create ("errors");

  suite_add_tcase (s, tc_interface);
  tcase_add_test (tc_interface, test_every_property_has_a_blurb_and_defaults);
  tcase_add_test (tc_interface, test_mean_and_std_round_trip);

  suite_add_tcase (s, tc_meta);
  tcase_add_test (tc_meta, test_attaches_meta_to_every_format_at_odd_size);
  tcase_add_test (tc_meta, test_attaches_meta_to_every_format_at_1x1);
  tcase_add_test (tc_meta, test_shared_input_buffer_is_not_modified);
  tcase_add_test (tc_meta, test_honours_video_meta_strides_and_offsets);
  tcase_add_test (tc_meta, test_softmax_model_outputs_are_not_softmaxed_again);
  tcase_add_test (tc_meta, test_top_k_is_clamped_and_scores_are_probabilities);
  tcase_add_test (tc_meta, test_threshold_drops_less_likely_classes);
  tcase_add_test (tc_meta, test_posts_one_message_per_frame_matching_the_meta);
  tcase_add_test (tc_meta, test_posts_no_messages_by_default);

  suite_add_tcase (s, tc_tensor);
  tcase_add_test (tc_tensor,
      test_uniform_frame_torchvision_planes_in_every_rgb_format);
  tcase_add_test (tc_tensor,
      test_uniform_frame_caffe_planes_in_every_rgb_format);
  tcase_add_test (tc_tensor, test_mean_override_changes_only_its_plane);
  tcase_add_test (tc_tensor, test_std_override_scales_its_plane);
  tcase_add_test (tc_tensor,
      test_ready_only_properties_are_refused_while_playing);

  suite_add_tcase (s, tc_caps);
  tcase_add_test (tc_caps, test_caps_change_midstream_follows_new_caps);
  tcase_add_test (tc_caps, test_frame_size_changes_every_frame);
  tcase_add_test (tc_caps, test_capsfilter_switch_while_paused_and_playing);

  suite_add_tcase (s, tc_state);
  tcase_add_test (tc_state, test_null_playing_null_twice);
  tcase_add_test (tc_state, test_starts_after_a_failed_start);
  tcase_add_test (tc_state, test_buffer_smaller_than_caps_passes_with_one_warning);

  suite_add_tcase (s, tc_labels);
  tcase_add_test (tc_labels, test_labels_come_from_the_line_of_the_class_id);
  tcase_add_test (tc_labels,
      test_1001_class_model_with_1001_labels_uses_raw_index);
  tcase_add_test (tc_labels, test_builtin_labels_are_imagenet_names);
  tcase_add_test (tc_labels,
      test_1001_class_model_with_label_offset_1_uses_line_before);
  tcase_add_test (tc_labels, test_negative_label_offset_skips_first_lines);
  tcase_add_test (tc_labels,
      test_1001_class_model_with_builtin_labels_and_offset_1);

  suite_add_tcase (s, tc_errors);
  tcase_add_test (tc_errors, test_no_model_posts_resource_not_found);
  tcase_add_test (tc_errors,
      test_missing_model_posts_resource_not_found_with_path);
  tcase_add_test (tc_errors, test_corrupt_model_posts_library_init);
  tcase_add_test (tc_errors, test_empty_model_file_posts_library_init);
  tcase_add_test (tc_errors, test_truncated_model_posts_library_init);
  tcase_add_test (tc_errors, test_wrong_input_shape_model_posts_library_init);
  tcase_add_test (tc_errors, test_fewer_labels_than_classes_names_both_counts);
  tcase_add_test (tc_errors, test_1001_class_model_with_1000_labels_fails);
  tcase_add_test (tc_errors, test_1001_class_model_with_builtin_labels_fails);
  tcase_add_test (tc_errors, test_1000_class_model_with_1001_labels_fails);
  tcase_add_test (tc_errors,
      test_label_offset_that_does_not_fit_names_both_counts);
  tcase_add_test (tc_errors, test_missing_labels_file_posts_resource_not_found);
  tcase_add_test (tc_errors, test_empty_labels_file_posts_library_settings);
  tcase_add_test (tc_errors, test_mean_with_two_values_posts_library_settings);
  tcase_add_test (tc_errors, test_mean_with_four_values_posts_library_settings);
  tcase_add_test (tc_errors, test_std_with_one_value_posts_library_settings);
  tcase_add_test (tc_errors, test_std_zero_posts_library_settings);
  tcase_add_test (tc_errors, test_std_negative_posts_library_settings);
  tcase_add_test (tc_errors, test_bad_override_fails_without_loading_a_model);

  return s;
}

GST_CHECK_MAIN (resnet50classify);
