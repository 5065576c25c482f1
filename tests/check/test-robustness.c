/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frames are untrusted input (issue 5): gst-check tests that feed the
 * resnet50classify element buffers a hostile or broken upstream could send
 * and check what leaves it. A buffer shorter than its caps (or than the
 * GstVideoMeta it carries) is refused with one warning and passed on without
 * a meta, and nothing is read past its end: such buffers are placed right in
 * front of a PROT_NONE page, so a single byte read too far kills the test;
 * valid frames packed without any padding in front of such a page are
 * classified as usual, in every format. GAP and zero-size buffers pass through untouched and uninterpreted. Frames
 * of 1×1 and 8192×8192 give a meta and a tensor whose regions hold the
 * colours of the picture. Padded rows described by a GstVideoMeta give the
 * same results as the packed frame. GstVideoCropMeta is either honoured or
 * not offered to upstream in the ALLOCATION query. Renegotiation through
 * appsrc (RGB 640×480 → BGR 320×240 → RGB 640×480) gives every buffer a
 * meta equal to a fresh element's on the same frame, channel order included.
 *
 * The model comes from RN50_TEST_MODEL (the generated 1000-class ResNet-50).
 * Expected values are computed here from the pixels (hand formulas) or from
 * another element instance that never saw the hostile input. */
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/classification/classification-meta.h>

/* The network input: 3 planes of 224×224 float32. */
#define TENSOR_SIDE 224
#define TENSOR_PLANE (TENSOR_SIDE * TENSOR_SIDE)
#define TENSOR_FLOATS (3 * TENSOR_PLANE)

/* Results compared per frame: the element's default top-k. */
#define TOP_K 5

/* Two element instances classifying the same pixels must agree: the same
 * code path gives the same floats; the margin only allows a different
 * oneDNN kernel choice (e.g. a batched path) to round differently. */
#define SCORE_TOLERANCE 1e-5

static const gdouble tv_mean[3] = { 0.485, 0.456, 0.406 };
static const gdouble tv_std[3] = { 0.229, 0.224, 0.225 };

/* ---- helpers---------------------------------------------------------- */

static const gchar *
test_model (void)
{
  const gchar *path = g_getenv ("RN50_TEST_MODEL");

  fail_unless (path != NULL && path[0] != '\0',
      "RN50_TEST_MODEL is not set: run the tests through meson test");
  return path;
}

static GstElement *
make_classifier (gboolean post_messages)
{
  GstElement *element = gst_element_factory_make ("resnet50classify", NULL);

  fail_unless (element != NULL, "resnet50classify not found");
  g_object_set (element, "model-location", test_model (),
      "post-messages", post_messages, NULL);
  return element;
}

/* A harness around a classifier posting messages, with its own bus so the
 * test can count warnings, errors and result messages. */
static GstHarness *
make_harness (GstBus ** bus)
{
  GstElement *element = make_classifier (TRUE);
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");

  gst_object_unref (element);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  return h;
}

static void
free_harness (GstHarness * h, GstBus * bus)
{
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

static gchar *
caps_string (const gchar * format, gint width, gint height)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=30/1", format, width, height);
}

/* Counts of the messages a test cares about, popped from @bus. */
typedef struct
{
  guint warnings;
  guint errors;
  guint results;                /* "resnet50classify" element messages */
  GQuark warning_domain;        /* of the last warning */
} BusCounts;

static BusCounts
pop_counts (GstBus * bus)
{
  BusCounts c = { 0, 0, 0, 0 };
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus)) != NULL) {
    GError *err = NULL;
    gchar *debug = NULL;

    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_WARNING:
        gst_message_parse_warning (msg, &err, &debug);
        GST_INFO ("warning: %s (%s)", err->message, debug);
        c.warnings++;
        c.warning_domain = err->domain;
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, &debug);
        GST_INFO ("error: %s (%s)", err->message, debug);
        c.errors++;
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_message_has_name (msg, "resnet50classify"))
          c.results++;
        break;
      default:
        break;
    }
    g_clear_error (&err);
    g_free (debug);
    gst_message_unref (msg);
  }
  return c;
}

/* The top-k of one classified frame. */
typedef struct
{
  guint n;
  guint ids[TOP_K];
  gfloat scores[TOP_K];
} Top;

/* Reads @buf's meta, checking it is well formed (TOP_K sorted
 * probabilities of the 1000-class model, a model name, a time). */
static Top
top_from_buffer (GstBuffer * buf, const gchar * what)
{
  GstClassificationMeta *meta = gst_buffer_get_classification_meta (buf);
  Top top;
  guint i;

  fail_unless (meta != NULL, "%s: buffer without classification meta", what);
  top.n = gst_classification_meta_get_n_results (meta);
  fail_unless_equals_int (top.n, TOP_K);
  for (i = 0; i < top.n; i++) {
    top.ids[i] = gst_classification_meta_get_class_id (meta, i);
    top.scores[i] = gst_classification_meta_get_score (meta, i);
    fail_unless (top.ids[i] < 1000, "%s: class id %u", what, top.ids[i]);
    fail_unless (isfinite (top.scores[i]) && top.scores[i] >= 0.0f &&
        top.scores[i] <= 1.0f, "%s: score %g", what, top.scores[i]);
    fail_unless (i == 0 || top.scores[i] <= top.scores[i - 1],
        "%s: scores not sorted", what);
    fail_unless (gst_classification_meta_get_label (meta, i) != NULL);
  }
  fail_unless (gst_classification_meta_get_model_name (meta) != NULL);
  fail_unless (gst_classification_meta_get_inference_time (meta) > 0);
  return top;
}

static gboolean
tops_equal (const Top * a, const Top * b)
{
  guint i;

  if (a->n != b->n)
    return FALSE;
  for (i = 0; i < a->n; i++) {
    if (a->ids[i] != b->ids[i] ||
        fabs (a->scores[i] - b->scores[i]) > SCORE_TOLERANCE)
      return FALSE;
  }
  return TRUE;
}

static void
check_tops_equal (const Top * got, const Top * expected, const gchar * what)
{
  if (!tops_equal (got, expected))
    fail ("%s: top-1 %u (%.7f) top-2 %u (%.7f), expected %u (%.7f) %u "
        "(%.7f)", what, got->ids[0], got->scores[0], got->ids[1],
        got->scores[1], expected->ids[0], expected->scores[0],
        expected->ids[1], expected->scores[1]);
}

/* A copy of the element's most recent network input, or NULL before its
 * first preprocessed frame. */
static GBytes *
get_tensor (GstElement * element)
{
  GBytes *tensor = NULL;

  g_object_get (element, "input-tensor", &tensor, NULL);
  return tensor;
}

/* ---- page-guarded buffers----------------------------------------------- */

/* A buffer whose last byte is the last byte before a PROT_NONE page: any
 * read past its end faults. */
typedef struct
{
  guint8 *base;
  gsize length;
} GuardedRegion;

static void
guarded_region_free (gpointer data)
{
  GuardedRegion *region = data;

  munmap (region->base, region->length);
  g_free (region);
}

static GstBuffer *
guarded_buffer_new (gsize size, guint8 fill)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gsize data_pages = (size + page - 1) / page;
  GuardedRegion *region = g_new0 (GuardedRegion, 1);
  guint8 *data;

  fail_unless (size > 0);
  region->length = (data_pages + 1) * page;
  region->base = mmap (NULL, region->length, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  fail_unless (region->base != MAP_FAILED);
  fail_unless (mprotect (region->base + data_pages * page, page,
          PROT_NONE) == 0);
  data = region->base + data_pages * page - size;
  memset (data, fill, size);
  return gst_buffer_new_wrapped_full (0, data, size, 0, size, region,
      guarded_region_free);
}

/* ---- frames------------------------------------------------------------ */

/* A packed 3-byte RGB or BGR picture of @w × @h whose three channels differ
 * everywhere (so a swapped channel order changes the network input), with
 * a pattern that depends on @seed (so consecutive frames differ). */
static GstBuffer *
make_picture (gboolean bgr, gint w, gint h, guint seed)
{
  GstVideoInfo info;
  GstBuffer *buf;
  GstMapInfo map;
  gint x, y;

  gst_video_info_set_format (&info, bgr ? GST_VIDEO_FORMAT_BGR :
      GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  memset (map.data, 0, map.size);
  for (y = 0; y < h; y++) {
    guint8 *row = map.data + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);

    for (x = 0; x < w; x++) {
      /* Coordinates normalized to the picture, so that a 640×480 and a
       * 320×240 frame show the same scene. */
      guint u = (guint) x * 256 / w, v = (guint) y * 256 / h;
      guint8 r = (guint8) (u + seed * 37);
      guint8 g = (guint8) (((u / 32 + v / 32 + seed) & 1) ? 220 : 30);
      guint8 b = (guint8) (255 - v);

      row[3 * x + 0] = bgr ? b : r;
      row[3 * x + 1] = g;
      row[3 * x + 2] = bgr ? r : b;
    }
  }
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* A copy of @tight (described by @info) laid out with @extra_stride bytes of
 * padding after every row and each plane at its own offset, the gaps filled
 * with @fill, described by a GstVideoMeta. */
static GstBuffer *
relayout_frame (GstBuffer * tight, const GstVideoInfo * info,
    guint extra_stride, guint8 fill)
{
  GstVideoInfo padded = *info;
  GstVideoFrame src, dst;
  GstBuffer *buf;
  gsize offset = 128;
  guint p;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    gint comps[GST_VIDEO_MAX_COMPONENTS];

    gst_video_format_info_component (info->finfo, p, comps);
    padded.stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (info, p) + extra_stride;
    padded.offset[p] = offset;
    offset += (gsize) padded.stride[p] *
        GST_VIDEO_INFO_COMP_HEIGHT (info, comps[0]) + 64;
  }
  padded.size = offset;

  buf = gst_buffer_new_allocate (NULL, padded.size, NULL);
  gst_buffer_memset (buf, 0, fill, padded.size);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_N_PLANES (info),
      padded.offset, padded.stride);
  fail_unless (gst_video_frame_map (&src, info, tight, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&dst, &padded, buf, GST_MAP_WRITE));
  fail_unless (gst_video_frame_copy (&dst, &src));
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  return buf;
}

/* One packed frame (no GstVideoMeta) of @caps from videotestsrc's smpte. */
static GstBuffer *
make_testsrc_frame (const gchar * caps)
{
  GstElement *pipeline, *sink;
  GstSample *sample = NULL;
  GstBuffer *buf;
  gchar *desc;

  desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=smpte ! %s ! "
      "appsink name=sink sync=false", caps);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "cannot build %s", desc);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  fail_unless (sample != NULL, "no frame from %s", desc);
  buf = gst_buffer_copy_deep (gst_sample_get_buffer (sample));
  /* A deep copy keeps the GstVideoMeta videotestsrc may have added; the
   * tests below want a plain packed frame. */
  while (gst_buffer_get_video_meta (buf) != NULL)
    gst_buffer_remove_meta (buf, (GstMeta *) gst_buffer_get_video_meta (buf));
  gst_sample_unref (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  return buf;
}

/* ---- refused buffers----------------------------------------------------- */

/* Pushes @bad into a fresh classifier with caps @caps: the element must
 * post exactly one warning (STREAM domain) and no error, pass the buffer on
 * unchanged and without a meta or result message, and classify the next,
 * well-formed frame as usual. @bad must be page-guarded. */
static void
check_refused (const gchar * caps, GstBuffer * bad, const gchar * what)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  GstBuffer *out, *good;
  GstVideoInfo info;
  GstCaps *c = gst_caps_from_string (caps);
  gsize size = gst_buffer_get_size (bad);
  BusCounts counts;

  fail_unless (gst_video_info_from_caps (&info, c));
  gst_caps_unref (c);
  gst_harness_set_src_caps_str (h, caps);

  GST_BUFFER_PTS (bad) = 0;
  fail_unless_equals_int (gst_harness_push (h, bad), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL, "%s: the refused buffer was not passed on", what);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  fail_unless_equals_int (gst_buffer_get_size (out), size);
  fail_unless (gst_buffer_get_classification_meta (out) == NULL,
      "%s: a refused buffer carries a meta", what);
  gst_buffer_unref (out);

  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 1);
  fail_unless (counts.warning_domain == GST_STREAM_ERROR,
      "%s: warning in domain %s", what,
      g_quark_to_string (counts.warning_domain));
  fail_unless_equals_int (counts.results, 0);

  /* The stream goes on: a well-formed frame is classified. */
  good = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (good, 0, 0x80, GST_VIDEO_INFO_SIZE (&info));
  GST_BUFFER_PTS (good) = GST_SECOND;
  out = gst_harness_push_and_pull (h, good);
  fail_unless (out != NULL);
  top_from_buffer (out, what);
  gst_buffer_unref (out);
  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.results, 1);

  free_harness (h, bus);
}

GST_START_TEST (test_gray8_frame_without_row_padding_is_refused_with_warning)
{
  gchar *caps = caps_string ("GRAY8", 321, 241);
  GstVideoInfo info;

  /* The caps imply rows of 324 bytes (4-byte aligned); a sender that packs
   * the rows at 321 bytes sends 77361 instead of 78084 bytes. */
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 321, 241);
  fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), 324);
  fail_unless_equals_int (GST_VIDEO_INFO_SIZE (&info), 324 * 241);
  check_refused (caps, guarded_buffer_new (321 * 241, 0x55), "GRAY8 packed");
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_rgb_frame_one_byte_short_is_refused_with_warning)
{
  gchar *caps = caps_string ("RGB", 64, 48);

  check_refused (caps, guarded_buffer_new (64 * 48 * 3 - 1, 0x55),
      "RGB one byte short");
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_i420_frame_without_chroma_is_refused_with_warning)
{
  gchar *caps = caps_string ("I420", 64, 48);

  /* Only the luma plane: the chroma planes the caps promise are missing. */
  check_refused (caps, guarded_buffer_new (64 * 48, 0x55), "I420 luma only");
  g_free (caps);
}

GST_END_TEST;

/* A GstVideoMeta is upstream's word on the layout, and may be wrong too:
 * here its stride makes the last row end 4 KiB past the buffer. */
GST_START_TEST (test_video_meta_reaching_past_the_buffer_is_refused)
{
  gchar *caps = caps_string ("RGB", 64, 48);
  GstBuffer *bad = guarded_buffer_new (64 * 48 * 3, 0x55);
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { 64 * 3 + 4096 / 47 + 1 };

  fail_unless ((gsize) strides[0] * 47 + 64 * 3 > gst_buffer_get_size (bad));
  gst_buffer_add_video_meta_full (bad, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_RGB, 64, 48, 1, offsets, strides);
  check_refused (caps, bad, "video meta stride past the end");
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_video_meta_plane_offset_past_the_buffer_is_refused)
{
  gchar *caps = caps_string ("NV12", 64, 48);
  gsize size = 64 * 48 * 3 / 2;
  GstBuffer *bad = guarded_buffer_new (size, 0x55);
  /* The chroma plane starts where a packed one would, plus 64 bytes: its
   * last row runs past the end. */
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 0, 64 * 48 + 64 };
  gint strides[GST_VIDEO_MAX_PLANES] = { 64, 64 };

  gst_buffer_add_video_meta_full (bad, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_NV12, 64, 48, 2, offsets, strides);
  check_refused (caps, bad, "video meta chroma offset past the end");
  g_free (caps);
}

GST_END_TEST;

/* A meta that disagrees with the caps (smaller frame than negotiated) must
 * not reach gst_video_frame_map(), which would g_critical on it. */
GST_START_TEST (test_video_meta_smaller_than_caps_is_refused)
{
  gchar *caps = caps_string ("RGB", 64, 48);
  GstBuffer *bad = guarded_buffer_new (32 * 24 * 3, 0x55);

  gst_buffer_add_video_meta (bad, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_RGB, 32, 24);
  check_refused (caps, bad, "video meta 32x24 under 64x48 caps");
  g_free (caps);
}

GST_END_TEST;

GST_START_TEST (test_video_meta_of_another_format_is_refused)
{
  gchar *caps = caps_string ("RGB", 64, 48);
  GstBuffer *bad = guarded_buffer_new (64 * 48 * 4, 0x55);

  gst_buffer_add_video_meta (bad, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_BGRx, 64, 48);
  check_refused (caps, bad, "BGRx video meta under RGB caps");
  g_free (caps);
}

GST_END_TEST;

/* The bytes a reader of plane @p of @info needs per row: the widest
 * component's width × pixel stride (a YUY2 row of odd width ends with a
 * whole macropixel). */
static gsize
plane_row_bytes (const GstVideoInfo * info, guint p, guint * rows)
{
  gint comps[GST_VIDEO_MAX_COMPONENTS];
  gsize bytes = 0;
  guint i;

  *rows = 0;
  gst_video_format_info_component (info->finfo, p, comps);
  for (i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
    bytes = MAX (bytes, (gsize) GST_VIDEO_INFO_COMP_WIDTH (info, comps[i]) *
        GST_VIDEO_INFO_COMP_PSTRIDE (info, comps[i]));
    *rows = MAX (*rows, (guint) GST_VIDEO_INFO_COMP_HEIGHT (info, comps[i]));
  }
  return bytes;
}

/* @tight repacked with no padding at all (stride = row bytes, planes back
 * to back, described by a GstVideoMeta) so that its last byte is the last
 * one before a PROT_NONE page. */
static GstBuffer *
repack_at_guard_page (GstBuffer * tight, const GstVideoInfo * info)
{
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
  guint rows[GST_VIDEO_MAX_PLANES] = { 0 };
  gsize size = 0;
  GstVideoFrame src;
  GstBuffer *buf;
  GstMapInfo dst;
  guint p, y;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    strides[p] = (gint) plane_row_bytes (info, p, &rows[p]);
    offsets[p] = size;
    size += (gsize) strides[p] * rows[p];
  }
  buf = guarded_buffer_new (size, 0xaa);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_N_PLANES (info), offsets,
      strides);
  fail_unless (gst_video_frame_map (&src, info, tight, GST_MAP_READ));
  fail_unless (gst_buffer_map (buf, &dst, GST_MAP_WRITE));
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++)
    for (y = 0; y < rows[p]; y++)
      memcpy (dst.data + offsets[p] + (gsize) y * strides[p],
          (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&src, p) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&src, p), strides[p]);
  gst_buffer_unmap (buf, &dst);
  gst_video_frame_unmap (&src);
  return buf;
}

/* Valid frames with nothing after their last byte, in every format at an
 * odd size: classified as usual (same results as the padded frame), and
 * nothing past the end is read (SIMD tails, chroma of the last column). */
GST_START_TEST (test_unpadded_frames_ending_at_a_guard_page_are_classified)
{
  const gchar *formats[] = {
    "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB",
    "ABGR", "I420", "NV12", "YUY2", "GRAY8",
  };
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  BusCounts counts;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *caps = caps_string (formats[i], 321, 241);
    GstCaps *c = gst_caps_from_string (caps);
    GstBuffer *tight = make_testsrc_frame (caps);
    GstVideoInfo info;
    GstBuffer *out;
    Top expected, got;

    fail_unless (gst_video_info_from_caps (&info, c));
    gst_caps_unref (c);
    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, repack_at_guard_page (tight, &info));
    got = top_from_buffer (out, caps);
    gst_buffer_unref (out);
    out = gst_harness_push_and_pull (h, tight);
    expected = top_from_buffer (out, caps);
    gst_buffer_unref (out);
    check_tops_equal (&got, &expected, caps);
    g_free (caps);
  }
  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 0);
  fail_unless_equals_int (counts.results, 2 * G_N_ELEMENTS (formats));
  free_harness (h, bus);
}

GST_END_TEST;

/* A GstVideoMeta may describe a frame larger than the caps (a decoder's
 * padded surface); the caps' area is classified, as if it were cropped. */
GST_START_TEST (test_video_meta_larger_than_caps_classifies_caps_area)
{
  gchar *caps = caps_string ("RGB", 64, 48);
  GstBuffer *tight = make_picture (FALSE, 64, 48, 5);
  GstBuffer *big = gst_buffer_new_allocate (NULL, 96 * 3 * 64, NULL);
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  GstBuffer *out;
  GstMapInfo src, dst;
  GBytes *expected, *got;
  Top expected_top, other_top, got_top;
  BusCounts counts;
  gint y;

  /* The 64×48 picture in the top-left corner of a 96×64 frame of white. */
  fail_unless (gst_buffer_map (big, &dst, GST_MAP_WRITE));
  memset (dst.data, 0xff, dst.size);
  fail_unless (gst_buffer_map (tight, &src, GST_MAP_READ));
  for (y = 0; y < 48; y++)
    memcpy (dst.data + (gsize) y * 96 * 3, src.data + (gsize) y * 64 * 3,
        64 * 3);
  gst_buffer_unmap (tight, &src);
  gst_buffer_unmap (big, &dst);
  gst_buffer_add_video_meta (big, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_RGB, 96, 64);

  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, tight);
  expected_top = top_from_buffer (out, "tight 64x48");
  gst_buffer_unref (out);
  expected = get_tensor (h->element);

  /* Another picture in between, so that a frame the element failed to read
   * cannot pass for the right one by leaving the last input in place. */
  out = gst_harness_push_and_pull (h, make_picture (FALSE, 64, 48, 9));
  other_top = top_from_buffer (out, "another 64x48");
  gst_buffer_unref (out);
  fail_if (tops_equal (&expected_top, &other_top));

  out = gst_harness_push_and_pull (h, big);
  got_top = top_from_buffer (out, "64x48 inside a 96x64 video meta");
  gst_buffer_unref (out);
  got = get_tensor (h->element);
  fail_unless (g_bytes_equal (expected, got),
      "the caps' area of a larger GstVideoMeta frame was not classified");
  check_tops_equal (&got_top, &expected_top, "96x64 video meta");
  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 0);
  fail_unless_equals_int (counts.results, 3);

  g_bytes_unref (expected);
  g_bytes_unref (got);
  free_harness (h, bus);
  g_free (caps);
}

GST_END_TEST;

/* ---- buffers that carry no picture--------------------------------------- */

/* Pushes @buf into a fresh classifier that has seen no frame: it must come
 * out unchanged (same size, flags and timestamps), with no meta, no message
 * of any kind, and no frame preprocessed (input-tensor stays NULL). */
static void
check_passes_without_inference (GstBuffer * buf, const gchar * what)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  gchar *caps = caps_string ("RGB", 64, 48);
  gsize size = gst_buffer_get_size (buf);
  GstBufferFlags flags = GST_BUFFER_FLAGS (buf);
  GstBuffer *out;
  GBytes *tensor;
  BusCounts counts;

  gst_harness_set_src_caps_str (h, caps);
  GST_BUFFER_PTS (buf) = 3 * GST_SECOND;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL, "%s: not passed on", what);
  fail_unless_equals_int (gst_buffer_get_size (out), size);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 3 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 30);
  fail_unless_equals_int (GST_BUFFER_FLAGS (out) & GST_BUFFER_FLAG_GAP,
      flags & GST_BUFFER_FLAG_GAP);
  fail_unless (gst_buffer_get_classification_meta (out) == NULL,
      "%s: got a meta", what);
  gst_buffer_unref (out);

  tensor = get_tensor (h->element);
  fail_unless (tensor == NULL, "%s: the frame was preprocessed", what);
  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 0);
  fail_unless_equals_int (counts.results, 0);

  free_harness (h, bus);
  g_free (caps);
}

GST_START_TEST (test_gap_buffer_passes_without_inference)
{
  /* A full-size GAP buffer: the content is filler, not a picture. */
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL);

  gst_buffer_memset (buf, 0, 0, 64 * 48 * 3);
  GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_GAP);
  check_passes_without_inference (buf, "GAP buffer");
}

GST_END_TEST;

GST_START_TEST (test_empty_gap_buffer_passes_without_inference)
{
  GstBuffer *buf = gst_buffer_new ();

  GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_GAP);
  check_passes_without_inference (buf, "empty GAP buffer");
}

GST_END_TEST;

GST_START_TEST (test_zero_size_buffer_passes_without_inference)
{
  check_passes_without_inference (gst_buffer_new (), "buffer without memory");
  check_passes_without_inference (gst_buffer_new_allocate (NULL, 0, NULL),
      "zero-size memory");
}

GST_END_TEST;

/* ---- extreme sizes------------------------------------------------------- */

/* Four colours, one per quadrant (top-left, top-right, bottom-left,
 * bottom-right), far apart so that any mix-up shows. */
static const guint8 quad_rgb[4][3] = {
  {200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {220, 220, 40},
};

/* The same idea in Y'CbCr for NV12 (Y, U, V), all inside limited range. */
static const guint8 quad_yuv[4][3] = {
  {80, 90, 220}, {150, 60, 50}, {50, 210, 120}, {200, 20, 150},
};

static GstBuffer *
make_quadrant_rgb (gint w, gint h)
{
  gsize stride = GST_ROUND_UP_4 ((gsize) w * 3);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, stride * h, NULL);
  GstMapInfo map;
  gint x, y;

  fail_unless (buf != NULL);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (y = 0; y < h; y++) {
    guint8 *row = map.data + stride * y;

    for (x = 0; x < w; x++) {
      guint q = (y >= h / 2 ? 2 : 0) + (x >= w / 2 ? 1 : 0);

      memcpy (row + 3 * x, quad_rgb[q], 3);
    }
  }
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* NV12 of @w × @h with the four quadrant colours, or all in colour
 * @uniform_q when it is 0..3. */
static GstBuffer *
make_quadrant_nv12 (gint w, gint h, gint uniform_q)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  gint x, y;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (buf != NULL);
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (y = 0; y < h; y++) {
    guint8 *luma = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = 0; x < w; x++) {
      guint q = uniform_q >= 0 ? (guint) uniform_q :
          (guint) ((y >= h / 2 ? 2 : 0) + (x >= w / 2 ? 1 : 0));

      luma[x] = quad_yuv[q][0];
    }
  }
  for (y = 0; y < (h + 1) / 2; y++) {
    guint8 *chroma = GST_VIDEO_FRAME_PLANE_DATA (&frame, 1) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1);

    for (x = 0; x < (w + 1) / 2; x++) {
      guint q = uniform_q >= 0 ? (guint) uniform_q :
          (guint) ((2 * y >= h / 2 ? 2 : 0) + (2 * x >= w / 2 ? 1 : 0));

      chroma[2 * x] = quad_yuv[q][1];
      chroma[2 * x + 1] = quad_yuv[q][2];
    }
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* The tensor pixel (x, y) of every plane must equal @expected (R, G, B
 * tensor values) within @tol, for all pixels of quadrant @q away from the
 * quadrant borders (a square frame is scaled to 256 and cropped to the
 * centred 224, so the borders fall on row and column 112). */
static void
check_tensor_quadrants (GBytes * tensor, gdouble expected[4][3], gdouble tol,
    const gchar * what)
{
  const gfloat *t;
  gsize size;
  guint x, y, p;

  fail_unless (tensor != NULL, "%s: no tensor", what);
  t = g_bytes_get_data (tensor, &size);
  fail_unless_equals_int (size, TENSOR_FLOATS * sizeof (gfloat));
  for (y = 0; y < TENSOR_SIDE; y++) {
    if (y >= 112 - 4 && y < 112 + 4)
      continue;
    for (x = 0; x < TENSOR_SIDE; x++) {
      guint q = (y >= 112 ? 2 : 0) + (x >= 112 ? 1 : 0);

      if (x >= 112 - 4 && x < 112 + 4)
        continue;
      for (p = 0; p < 3; p++) {
        gfloat v = t[p * TENSOR_PLANE + y * TENSOR_SIDE + x];

        if (fabs (v - expected[q][p]) > tol)
          fail ("%s: plane %u at (%u, %u) is %.6f, expected %.6f (quadrant "
              "%u)", what, p, x, y, v, expected[q][p], q);
      }
    }
  }
}

/* Pushes @buf with @caps through @h, returns the tensor, checks the meta. */
static GBytes *
classify_for_tensor (GstHarness * h, const gchar * caps, GstBuffer * buf,
    const gchar * what)
{
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buf);
  fail_unless (out != NULL, "%s: no output", what);
  top_from_buffer (out, what);
  gst_buffer_unref (out);
  return get_tensor (h->element);
}

GST_START_TEST (test_1x1_and_8192x8192_rgb_frames)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  gdouble expected[4][3];
  GBytes *tensor;
  gchar *caps;
  guint q, p;
  BusCounts counts;

  /* Hand formula of the torchvision preset: (v / 255 - mean) / std. */
  for (q = 0; q < 4; q++)
    for (p = 0; p < 3; p++)
      expected[q][p] = (quad_rgb[q][p] / 255.0 - tv_mean[p]) / tv_std[p];

  caps = caps_string ("RGB", 8192, 8192);
  tensor = classify_for_tensor (h, caps, make_quadrant_rgb (8192, 8192),
      "RGB 8192x8192");
  check_tensor_quadrants (tensor, expected, 1e-4, "RGB 8192x8192");
  g_bytes_unref (tensor);
  g_free (caps);

  /* 1×1: the one pixel lies in the bottom-right quadrant (x, y >= 0 = w / 2)
   * and its colour fills the whole tensor. */
  for (q = 0; q < 3; q++)
    memcpy (expected[q], expected[3], sizeof (expected[3]));
  caps = caps_string ("RGB", 1, 1);
  tensor = classify_for_tensor (h, caps, make_quadrant_rgb (1, 1), "RGB 1x1");
  check_tensor_quadrants (tensor, expected, 1e-5, "RGB 1x1");
  g_bytes_unref (tensor);
  g_free (caps);

  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 0);
  fail_unless_equals_int (counts.results, 2);
  free_harness (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_1x1_and_8192x8192_nv12_frames)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  gdouble expected[4][3];
  GBytes *tensor;
  gchar *caps;
  guint q, p;
  BusCounts counts;

  /* The value of each quadrant colour in the tensor, from a small uniform
   * frame of that colour (the YUV conversion itself is checked against
   * videoconvert by the parity tests; here only the size matters). The
   * colorimetry is fixed so that every size uses the same matrix. */
  for (q = 0; q < 4; q++) {
    GstBuffer *small = make_quadrant_nv12 (16, 16, q);
    const gfloat *t;

    tensor = classify_for_tensor (h, "video/x-raw,format=NV12,width=16,"
        "height=16,framerate=30/1,colorimetry=bt709", small, "NV12 16x16");
    t = g_bytes_get_data (tensor, NULL);
    for (p = 0; p < 3; p++)
      expected[q][p] = t[p * TENSOR_PLANE + 100 * TENSOR_SIDE + 100];
    g_bytes_unref (tensor);
  }
  /* The quadrant colours must be told apart, or the check below is void. */
  fail_unless (fabs (expected[0][0] - expected[1][0]) > 0.5);

  tensor = classify_for_tensor (h, "video/x-raw,format=NV12,width=8192,"
      "height=8192,framerate=30/1,colorimetry=bt709",
      make_quadrant_nv12 (8192, 8192, -1), "NV12 8192x8192");
  check_tensor_quadrants (tensor, expected, 1e-3, "NV12 8192x8192");
  g_bytes_unref (tensor);

  for (q = 1; q < 4; q++)
    memcpy (expected[q], expected[0], sizeof (expected[0]));
  caps = g_strdup ("video/x-raw,format=NV12,width=1,height=1,"
      "framerate=30/1,colorimetry=bt709");
  tensor = classify_for_tensor (h, caps, make_quadrant_nv12 (1, 1, 0),
      "NV12 1x1");
  check_tensor_quadrants (tensor, expected, 1e-3, "NV12 1x1");
  g_bytes_unref (tensor);
  g_free (caps);

  counts = pop_counts (bus);
  fail_unless_equals_int (counts.errors, 0);
  fail_unless_equals_int (counts.warnings, 0);
  fail_unless_equals_int (counts.results, 6);
  free_harness (h, bus);
}

GST_END_TEST;

/* ---- layouts described by GstVideoMeta----------------------------------- */

GST_START_TEST (test_padded_rows_with_video_meta_give_same_results)
{
  const gchar *formats[] = { "RGB", "NV12", "GRAY8" };
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *caps = caps_string (formats[i], 641, 479 + (i == 1));
    GstCaps *c = gst_caps_from_string (caps);
    GstBuffer *tight = make_testsrc_frame (caps);
    GstVideoInfo info;
    GstBuffer *out;
    Top expected, got;
    guint fill;

    fail_unless (gst_video_info_from_caps (&info, c));
    gst_caps_unref (c);
    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, gst_buffer_ref (tight));
    expected = top_from_buffer (out, caps);
    gst_buffer_unref (out);

    /* Bright and dark padding, a small and a page-sized one. */
    for (fill = 0; fill < 2; fill++) {
      guint extra = fill ? 4096 + 3 : 7;

      out = gst_harness_push_and_pull (h,
          relayout_frame (tight, &info, extra, fill ? 0xff : 0x00));
      got = top_from_buffer (out, caps);
      check_tops_equal (&got, &expected, caps);
      gst_buffer_unref (out);
    }
    gst_buffer_unref (tight);
    g_free (caps);
  }
  fail_unless_equals_int (pop_counts (bus).warnings, 0);
  free_harness (h, bus);
}

GST_END_TEST;

/* ---- GstVideoCropMeta---------------------------------------------------- */

/* Asks the element, as upstream would, which metas it accepts while its
 * downstream accepts GstVideoMeta and GstVideoCropMeta. If it advertises
 * the crop meta, it must honour it: a frame whose crop rectangle holds a
 * picture and whose surroundings are noise must give the tensor of the
 * cropped picture alone. If it does not, nothing else is required. */
GST_START_TEST (test_crop_meta_is_honoured_or_not_advertised)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  gchar *caps_str = caps_string ("RGB", 320, 240);
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstQuery *query;
  gboolean advertised;

  gst_harness_add_propose_allocation_meta (h, GST_VIDEO_META_API_TYPE, NULL);
  gst_harness_add_propose_allocation_meta (h, GST_VIDEO_CROP_META_API_TYPE,
      NULL);
  gst_harness_set_src_caps_str (h, caps_str);

  query = gst_query_new_allocation (caps, TRUE);
  fail_unless (gst_pad_peer_query (h->srcpad, query),
      "the element does not answer the ALLOCATION query");
  advertised = gst_query_find_allocation_meta (query,
      GST_VIDEO_CROP_META_API_TYPE, NULL);
  GST_INFO ("crop meta advertised: %d", advertised);
  /* GstVideoMeta is honoured (see the padded-rows test), so refusing it
   * would only cost upstream a copy of every padded frame. */
  fail_unless (gst_query_find_allocation_meta (query,
          GST_VIDEO_META_API_TYPE, NULL),
      "GstVideoMeta is not advertised although downstream accepts it");
  gst_query_unref (query);

  if (advertised) {
    /* A 160×120 picture at (80, 60) inside a 320×240 frame of noise. */
    GstBuffer *inner = make_picture (FALSE, 160, 120, 3);
    GstBuffer *frame = gst_buffer_new_allocate (NULL, 320 * 240 * 3, NULL);
    GstVideoCropMeta *crop;
    GstMapInfo src, dst;
    GBytes *expected, *got;
    GstBuffer *out;
    gint y;
    guint i;

    fail_unless (gst_buffer_map (frame, &dst, GST_MAP_WRITE));
    for (i = 0; i < dst.size; i++)
      dst.data[i] = (guint8) g_random_int ();
    fail_unless (gst_buffer_map (inner, &src, GST_MAP_READ));
    for (y = 0; y < 120; y++)
      memcpy (dst.data + (gsize) (60 + y) * 960 + 80 * 3,
          src.data + (gsize) y * 480, 480);
    gst_buffer_unmap (inner, &src);
    gst_buffer_unmap (frame, &dst);
    crop = gst_buffer_add_video_crop_meta (frame);
    crop->x = 80;
    crop->y = 60;
    crop->width = 160;
    crop->height = 120;

    gst_buffer_unref (gst_harness_push_and_pull (h, frame));
    got = get_tensor (h->element);

    {
      GstBus *bus2;
      GstHarness *ref = make_harness (&bus2);

      gst_harness_set_src_caps_str (ref,
          "video/x-raw,format=RGB,width=160,height=120,framerate=30/1");
      out = gst_harness_push_and_pull (ref, inner);
      gst_buffer_unref (out);
      expected = get_tensor (ref->element);
      free_harness (ref, bus2);
    }
    fail_unless (g_bytes_equal (expected, got),
        "GstVideoCropMeta is advertised but the crop is not honoured");
    g_bytes_unref (expected);
    g_bytes_unref (got);
  }

  gst_caps_unref (caps);
  g_free (caps_str);
  free_harness (h, bus);
}

GST_END_TEST;

/* ---- renegotiation through appsrc---------------------------------------- */

/* The top-k of a fresh classifier for one frame. */
static Top
fresh_top (const gchar * caps, GstBuffer * frame, const gchar * what)
{
  GstBus *bus;
  GstHarness *h = make_harness (&bus);
  GstBuffer *out;
  Top top;

  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, frame);
  top = top_from_buffer (out, what);
  gst_buffer_unref (out);
  free_harness (h, bus);
  return top;
}

#define FRAMES_PER_STEP 2

GST_START_TEST (test_appsrc_renegotiation_matches_fresh_elements)
{
  const struct
  {
    gboolean bgr;
    gint width, height;
  } steps[] = {
    {FALSE, 640, 480}, {TRUE, 320, 240}, {FALSE, 640, 480},
  };
  GstElement *pipeline, *src, *classifier, *sink;
  GstBus *bus;
  GstMessage *msg;
  guint s, f, n_samples = 0;
  GstFlowReturn flow;

  pipeline = gst_parse_launch ("appsrc name=src format=time ! "
      "resnet50classify name=c ! appsink name=sink sync=false", NULL);
  fail_unless (pipeline != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  classifier = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (classifier, "model-location", test_model (), NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);

  for (s = 0; s < G_N_ELEMENTS (steps); s++) {
    gchar *caps_str = caps_string (steps[s].bgr ? "BGR" : "RGB",
        steps[s].width, steps[s].height);
    GstCaps *caps = gst_caps_from_string (caps_str);

    g_object_set (src, "caps", caps, NULL);
    for (f = 0; f < FRAMES_PER_STEP; f++) {
      guint seed = s * FRAMES_PER_STEP + f;
      GstBuffer *buf = make_picture (steps[s].bgr, steps[s].width,
          steps[s].height, seed);
      GstSample *sample = NULL;
      GstVideoInfo info;
      Top got, expected;
      gchar *what = g_strdup_printf ("step %u frame %u (%s)", s, f, caps_str);

      GST_BUFFER_PTS (buf) = seed * GST_SECOND / 30;
      GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
      /* The signal takes its own reference; @buf stays ours. */
      g_signal_emit_by_name (src, "push-buffer", buf, &flow);
      fail_unless_equals_int (flow, GST_FLOW_OK);

      g_signal_emit_by_name (sink, "pull-sample", &sample);
      fail_unless (sample != NULL, "%s: no sample", what);
      n_samples++;
      fail_unless (gst_video_info_from_caps (&info,
              gst_sample_get_caps (sample)));
      fail_unless_equals_string (GST_VIDEO_INFO_NAME (&info),
          steps[s].bgr ? "BGR" : "RGB");
      fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), steps[s].width);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (gst_sample_get_buffer
              (sample)), seed * GST_SECOND / 30);
      got = top_from_buffer (gst_sample_get_buffer (sample), what);
      gst_sample_unref (sample);

      /* A fresh element on the same bytes and caps. */
      expected = fresh_top (caps_str, gst_buffer_ref (buf), what);
      check_tops_equal (&got, &expected, what);

      if (steps[s].bgr) {
        /* Channel order: the BGR frame is the same picture as the RGB
         * frame of the same seed, so the RGB reading must agree, while
         * the BGR bytes read as RGB (R and B swapped) must not. */
        gchar *rgb_caps = caps_string ("RGB", steps[s].width,
            steps[s].height);
        Top as_rgb = fresh_top (rgb_caps, make_picture (FALSE,
                steps[s].width, steps[s].height, seed), what);
        Top swapped = fresh_top (rgb_caps, gst_buffer_ref (buf), what);

        check_tops_equal (&got, &as_rgb, what);
        fail_if (tops_equal (&got, &swapped),
            "%s: swapping R and B does not change the results, so this "
            "test cannot see the channel order", what);
        g_free (rgb_caps);
      }
      gst_buffer_unref (buf);
      g_free (what);
    }
    gst_caps_unref (caps);
    g_free (caps_str);
  }

  g_signal_emit_by_name (src, "end-of-stream", &flow);
  fail_unless_equals_int (flow, GST_FLOW_OK);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "expected EOS, got %" GST_PTR_FORMAT, msg);
  gst_message_unref (msg);
  fail_unless_equals_int (n_samples, G_N_ELEMENTS (steps) * FRAMES_PER_STEP);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (classifier);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static Suite *
robustness_suite (void)
{
  Suite *s = suite_create ("resnet50classify-robustness");

  /* gst-check fails a test on GStreamer's and GLib's criticals; nn/ logs
   * its argument checks (g_return_if_fail) in its own domain, and such a
   * check failing means a frame was silently not preprocessed. */
  g_log_set_fatal_mask ("rn50", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  TCase *tc_refused = tcase_create ("refused");
  TCase *tc_empty = tcase_create ("no-picture");
  TCase *tc_sizes = tcase_create ("sizes");
  TCase *tc_layout = tcase_create ("layout");
  TCase *tc_caps = tcase_create ("renegotiation");

  suite_add_tcase (s, tc_refused);
  tcase_add_test (tc_refused,
      test_gray8_frame_without_row_padding_is_refused_with_warning);
  tcase_add_test (tc_refused,
      test_rgb_frame_one_byte_short_is_refused_with_warning);
  tcase_add_test (tc_refused,
      test_i420_frame_without_chroma_is_refused_with_warning);
  tcase_add_test (tc_refused,
      test_video_meta_reaching_past_the_buffer_is_refused);
  tcase_add_test (tc_refused,
      test_video_meta_plane_offset_past_the_buffer_is_refused);
  tcase_add_test (tc_refused, test_video_meta_smaller_than_caps_is_refused);
  tcase_add_test (tc_refused, test_video_meta_of_another_format_is_refused);
  tcase_add_test (tc_refused,
      test_video_meta_larger_than_caps_classifies_caps_area);
  tcase_add_test (tc_refused,
      test_unpadded_frames_ending_at_a_guard_page_are_classified);

  suite_add_tcase (s, tc_empty);
  tcase_add_test (tc_empty, test_gap_buffer_passes_without_inference);
  tcase_add_test (tc_empty, test_empty_gap_buffer_passes_without_inference);
  tcase_add_test (tc_empty, test_zero_size_buffer_passes_without_inference);

  suite_add_tcase (s, tc_sizes);
  tcase_add_test (tc_sizes, test_1x1_and_8192x8192_rgb_frames);
  tcase_add_test (tc_sizes, test_1x1_and_8192x8192_nv12_frames);

  suite_add_tcase (s, tc_layout);
  tcase_add_test (tc_layout,
      test_padded_rows_with_video_meta_give_same_results);
  tcase_add_test (tc_layout, test_crop_meta_is_honoured_or_not_advertised);

  suite_add_tcase (s, tc_caps);
  tcase_add_test (tc_caps, test_appsrc_renegotiation_matches_fresh_elements);

  return s;
}

GST_CHECK_MAIN (robustness);
