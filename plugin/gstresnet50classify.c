/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The resnet50classify element. It maps each frame read-only, hands it to
 * nn/ as a plain image view (preprocessing into the model's input tensor),
 * runs the ResNet-50, turns the scores into probabilities and the top-k
 * classes, and attaches them to the same buffer as a GstClassificationMeta
 * (optionally also posting them on the bus). The model and labels live from
 * start() to stop(); the preprocessor is rebuilt in set_caps() only when the
 * frame geometry or colour matrix changes, so the per-frame path creates
 * nothing but the meta and the optional message. */

/**
 * SECTION:element-resnet50classify
 * @title: resnet50classify
 *
 * Classifies every video frame with a ResNet-50 ONNX model run on the CPU
 * through oneDNN. Frames pass through untouched; each one leaves with a
 * #GstClassificationMeta holding the top-k class ids, labels and
 * probabilities, the model's name and the inference time (read it with the
 * gstreamer-classification-meta-1.0 library). With #post-messages set, the
 * same results are also posted as one element message per frame, named
 * `resnet50classify`, with the fields `timestamp`, `duration`,
 * `running-time`, `class-ids`, `labels`, `scores`, `model` and
 * `inference-time` (nanoseconds).
 *
 * The model must take one 1×3×224×224 float image (a torchvision export or
 * the ONNX model zoo's resnet50-v1-7.onnx). Frames are colour-converted
 * (honouring the caps' colorimetry for YUV), resized as #resize-mode says
 * and normalized as #preset, #mean and #std say.
 *
 * Problems that make classification impossible are reported when the
 * element starts (READY→PAUSED), as an error message and a failed state
 * change: no #model-location set or the file missing (RESOURCE NOT_FOUND),
 * an unreadable file (RESOURCE OPEN_READ), a file that is not a usable
 * ResNet-50 (LIBRARY INIT), a labels file whose line count plus
 * #label-offset differs from the model's class count, or a #mean / #std
 * without exactly three values or with a std ≤ 0 (LIBRARY SETTINGS). A
 * failure while classifying a frame is a STREAM FAILED error.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=cockatoo.mp4 ! decodebin ! videoconvert ! \
 *     resnet50classify model-location=resnet50.onnx post-messages=true ! fakesink
 * ]| Classifies every frame of a clip and prints one `resnet50classify`
 * message per frame with its top-5 classes.
 */

#include "gstresnet50classify.h"

#include <math.h>
#include <string.h>

#include <gst/video/video.h>
#include <gst/classification/classification-meta.h>

#include "labels.h"
#include "model.h"
#include "postprocess.h"
#include "preprocess.h"
#include "rn50-error.h"

GST_DEBUG_CATEGORY_STATIC (gst_resnet50_classify_debug);
#define GST_CAT_DEFAULT gst_resnet50_classify_debug

struct _GstResnet50Classify
{
  GstBaseTransform parent;

  /* Properties; read and written under the object lock. */
  gchar *model_location;
  gchar *labels_location;
  gint label_offset;
  guint top_k;
  gfloat threshold;
  gboolean post_messages;
  GstResnet50ClassifyResizeMode resize_mode;
  GstResnet50ClassifyPreset preset;
  gboolean preset_set;          /* TRUE once the application chose a preset */
  GArray *mean;                 /* gdouble per tensor plane; empty = preset */
  GArray *std;                  /* gdouble per tensor plane; empty = preset */
  guint batch_size;
  GstClockTime batch_timeout;
  guint threads;                /* 0 = all cores */
  gboolean spin_wait;

  /* From start() to stop(). Used by the streaming thread only, which never
   * runs concurrently with start() or stop(). */
  Rn50Model *model;
  Rn50Labels *labels;
  gint active_label_offset;     /* label-offset as it was at start() */
  guint active_batch_size;      /* batch-size as it was at start() */
  GstClockTime active_batch_timeout;
  gchar *model_name;
  guint n_classes;
  gboolean outputs_probabilities;
  Rn50PreprocessConfig pre_config;      /* preset + overrides, model input size */
  gsize tensor_n_floats;        /* C × H × W floats of the model input */
  gfloat *probs;                /* n_classes probabilities of the current frame */
  guint *top_ids;               /* n_classes slots for the top-k class ids */
  const gchar **top_labels;     /* n_classes slots, labels of top_ids */
  gfloat *top_scores;           /* n_classes slots, probabilities of top_ids */

  /* From set_caps(); streaming thread only. The preprocessor is rebuilt when
   * the pixel format, the size or the YUV matrix changes. */
  GstVideoInfo info;
  Rn50Preprocessor *pre;
  Rn50PixelFormat pre_format;
  guint pre_width;
  guint pre_height;
  Rn50YuvMatrix pre_yuv;
  gboolean warned_short_buffer; /* once per caps */
  GstClockTime frame_duration;  /* from the caps' framerate; object lock */

  /* Batching (batch-size > 1). Frames wait in @pending, in arrival order,
   * each with its preprocessed image in the model's input slot
   * @n_pending_images counted so far; frames that need no inference (GAP,
   * empty, unreadable) wait in line too so nothing is reordered. Touched
   * only with the sink pad's stream lock held: by the streaming thread in
   * submit_input_buffer()/generate_output()/sink_event(), and by the
   * flusher thread, which takes that lock. Classified frames move to
   * @ready, which generate_output() empties. */
  GArray *pending;              /* PendingFrame */
  guint n_pending_images;
  GQueue ready;                 /* GstBuffer, results attached */
  GstFlowReturn flusher_flow;   /* last push result of the flusher */

  /* The flusher thread runs a partial batch once its oldest frame has
   * waited batch-timeout, so a live stream never stalls waiting for frames
   * that come slowly. Its deadline and stop flag are guarded by
   * flush_lock. */
  GThread *flusher;
  GMutex flush_lock;
  GCond flush_cond;
  gint64 flush_deadline;        /* g_get_monotonic_time() µs, 0 = none */
  gboolean flusher_quit;

  /* The input-tensor property: a copy of the most recent model input, so
   * that reading the property never waits for a whole inference. Guarded by
   * tensor_lock. Kept across stop() so it can be read after EOS. */
  GMutex tensor_lock;
  gfloat *last_tensor;
  gsize last_tensor_n_floats;   /* 0 before the first frame */
};

#define DEFAULT_PROP_MODEL_LOCATION NULL
#define DEFAULT_PROP_LABELS_LOCATION NULL
#define DEFAULT_PROP_LABEL_OFFSET 0
/* Far beyond any real label list; keeps labels + offset within a guint. */
#define MAX_PROP_LABEL_OFFSET 65535
#define DEFAULT_PROP_TOP_K 5
/* Clamped to the model's class count at run time; the bound only keeps a
 * typo from asking for billions. 1000 was too low for 1001-output models. */
#define MAX_PROP_TOP_K 65536
#define DEFAULT_PROP_THRESHOLD 0.0f
#define DEFAULT_PROP_POST_MESSAGES FALSE
#define DEFAULT_PROP_RESIZE_MODE GST_RESNET50_CLASSIFY_RESIZE_CENTER_CROP
#define DEFAULT_PROP_PRESET GST_RESNET50_CLASSIFY_PRESET_TORCHVISION
#define DEFAULT_PROP_BATCH_SIZE 1
/* Enough for any CPU batch that still fits a frame's latency budget. */
#define MAX_PROP_BATCH_SIZE 64
/* A 30 fps camera fills a batch of 4-6 in this time; a file source fills
 * any batch well before it. */
#define DEFAULT_PROP_BATCH_TIMEOUT (200 * GST_MSECOND)
#define DEFAULT_PROP_THREADS 0
#define MAX_PROP_THREADS 1024
#define DEFAULT_PROP_SPIN_WAIT FALSE

/* One value per tensor plane in the mean and std overrides. */
#define N_TENSOR_PLANES 3

/* The label of outputs below label-offset, which have no line in the list
 * (index 0 of TF-slim's 1001-output ImageNet models). */
#define UNLABELLED_OUTPUT_LABEL "background"

enum
{
  PROP_0,
  PROP_MODEL_LOCATION,
  PROP_LABELS_LOCATION,
  PROP_LABEL_OFFSET,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_POST_MESSAGES,
  PROP_RESIZE_MODE,
  PROP_PRESET,
  PROP_MEAN,
  PROP_STD,
  PROP_INPUT_TENSOR,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_THREADS,
  PROP_SPIN_WAIT,
};

/* A frame waiting for its batch to be inferred. */
typedef struct
{
  GstBuffer *buffer;
  gboolean classify;            /* FALSE: passes through without results */
  guint slot;                   /* its image in the model input when classify */
} PendingFrame;

#define VIDEO_FORMATS \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, " \
  "I420, NV12, YUY2, GRAY8 }"

/* GST_VIDEO_CAPS_MAKE with the sides the preprocessor accepts, so that
 * negotiation (a scaler upstream) can avoid a size it would refuse. */
#define VIDEO_SIZE_RANGE "(int) [ 1, " G_STRINGIFY (RN50_MAX_FRAME_SIDE) " ]"
#define VIDEO_CAPS "video/x-raw, format = (string) " VIDEO_FORMATS \
    ", width = " VIDEO_SIZE_RANGE ", height = " VIDEO_SIZE_RANGE \
    ", framerate = " GST_VIDEO_FPS_RANGE

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (VIDEO_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (VIDEO_CAPS));

#define gst_resnet50_classify_parent_class parent_class
G_DEFINE_TYPE (GstResnet50Classify, gst_resnet50_classify,
    GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (resnet50classify, "resnet50classify",
    GST_RANK_NONE, GST_TYPE_RESNET50_CLASSIFY,
    GST_DEBUG_CATEGORY_INIT (gst_resnet50_classify_debug, "resnet50classify",
        0, "ResNet-50 video classifier"));

GType
gst_resnet50_classify_resize_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_RESNET50_CLASSIFY_RESIZE_CENTER_CROP,
          "Scale the shorter side to 256, then take the centred 224x224 crop",
        "center-crop"},
    {GST_RESNET50_CLASSIFY_RESIZE_STRETCH,
          "Scale the whole frame to 224x224, ignoring its aspect ratio",
        "stretch"},
    {GST_RESNET50_CLASSIFY_RESIZE_LETTERBOX,
          "Fit the whole frame inside 224x224, padding with the mean colour",
        "letterbox"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstResnet50ClassifyResizeMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_resnet50_classify_preset_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_RESNET50_CLASSIFY_PRESET_TORCHVISION,
          "torchvision: RGB, pixel/255, mean 0.485 0.456 0.406, "
          "std 0.229 0.224 0.225",
        "torchvision"},
    {GST_RESNET50_CLASSIFY_PRESET_CAFFE,
          "caffe: BGR, 0-255, mean 103.939 116.779 123.68, std 1",
        "caffe"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstResnet50ClassifyPreset", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Copies a GstValueArray into @array as doubles. Entries that cannot become
 * a double are stored as NaN, which start() rejects with a message naming the
 * property, rather than being dropped silently here. */
static void
gst_resnet50_classify_set_doubles (GArray * array, const GValue * value)
{
  guint i, n;

  g_array_set_size (array, 0);
  n = gst_value_array_get_size (value);
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (value, i);
    gdouble d = NAN;

    if (G_VALUE_HOLDS_DOUBLE (v)) {
      d = g_value_get_double (v);
    } else if (g_value_type_transformable (G_VALUE_TYPE (v), G_TYPE_DOUBLE)) {
      GValue dv = G_VALUE_INIT;

      g_value_init (&dv, G_TYPE_DOUBLE);
      if (g_value_transform (v, &dv))
        d = g_value_get_double (&dv);
      g_value_unset (&dv);
    }
    g_array_append_val (array, d);
  }
}

static void
gst_resnet50_classify_get_doubles (const GArray * array, GValue * value)
{
  guint i;

  for (i = 0; i < array->len; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, g_array_index (array, gdouble, i));
    gst_value_array_append_and_take_value (value, &v);
  }
}

static void
gst_resnet50_classify_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  /* The model, labels and preprocessing are built when the element starts;
   * changing them while it runs would leave the property saying one thing
   * and the results another, so refuse, as filesrc does for its location. */
  if ((pspec->flags & GST_PARAM_MUTABLE_READY) &&
      GST_STATE (self) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("Property \"%s\" cannot change while the element is running; the "
            "change is ignored.", g_param_spec_get_name (pspec)),
        ("Set it in the NULL or READY state; it applies when the element "
            "starts."));
    return;
  }
  switch (prop_id) {
    case PROP_MODEL_LOCATION:
      g_free (self->model_location);
      self->model_location = g_value_dup_string (value);
      break;
    case PROP_LABELS_LOCATION:
      g_free (self->labels_location);
      self->labels_location = g_value_dup_string (value);
      break;
    case PROP_LABEL_OFFSET:
      self->label_offset = g_value_get_int (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_float (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_RESIZE_MODE:
      self->resize_mode = g_value_get_enum (value);
      break;
    case PROP_PRESET:
      self->preset = g_value_get_enum (value);
      self->preset_set = TRUE;
      break;
    case PROP_MEAN:
      gst_resnet50_classify_set_doubles (self->mean, value);
      break;
    case PROP_STD:
      gst_resnet50_classify_set_doubles (self->std, value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_BATCH_TIMEOUT:
      self->batch_timeout = g_value_get_uint64 (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_uint (value);
      break;
    case PROP_SPIN_WAIT:
      self->spin_wait = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_resnet50_classify_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (object);

  /* The tensor has its own lock, so it is read outside the object lock. */
  if (prop_id == PROP_INPUT_TENSOR) {
    GBytes *bytes = NULL;

    g_mutex_lock (&self->tensor_lock);
    if (self->last_tensor_n_floats > 0)
      bytes = g_bytes_new (self->last_tensor,
          self->last_tensor_n_floats * sizeof (gfloat));
    g_mutex_unlock (&self->tensor_lock);
    g_value_take_boxed (value, bytes);
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL_LOCATION:
      g_value_set_string (value, self->model_location);
      break;
    case PROP_LABELS_LOCATION:
      g_value_set_string (value, self->labels_location);
      break;
    case PROP_LABEL_OFFSET:
      g_value_set_int (value, self->label_offset);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_float (value, self->threshold);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_RESIZE_MODE:
      g_value_set_enum (value, self->resize_mode);
      break;
    case PROP_PRESET:
      g_value_set_enum (value, self->preset);
      break;
    case PROP_MEAN:
      gst_resnet50_classify_get_doubles (self->mean, value);
      break;
    case PROP_STD:
      gst_resnet50_classify_get_doubles (self->std, value);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint64 (value, self->batch_timeout);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    case PROP_SPIN_WAIT:
      g_value_set_boolean (value, self->spin_wait);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean gst_resnet50_classify_flusher_start (GstResnet50Classify *
    self, GError ** error);
static void gst_resnet50_classify_flusher_stop (GstResnet50Classify * self);

/* Frees everything start() and set_caps() created. Safe to call twice, and
 * on a half-finished start(). */
static void
gst_resnet50_classify_release (GstResnet50Classify * self)
{
  /* Waiting frames reference the model's input: drop them first. */
  gst_resnet50_classify_flusher_stop (self);
  self->active_batch_size = 0;
  g_clear_pointer (&self->pre, rn50_preprocessor_free);
  g_clear_pointer (&self->model, rn50_model_free);
  g_clear_pointer (&self->labels, rn50_labels_free);
  g_clear_pointer (&self->model_name, g_free);
  g_clear_pointer (&self->probs, g_free);
  g_clear_pointer (&self->top_ids, g_free);
  g_clear_pointer (&self->top_labels, g_free);
  g_clear_pointer (&self->top_scores, g_free);
  self->n_classes = 0;
  self->tensor_n_floats = 0;
}

/* Posts a model loading failure from nn/ as the error a user can act on:
 * the file (RESOURCE) or its content (LIBRARY INIT). */
static void
gst_resnet50_classify_post_model_error (GstResnet50Classify * self,
    const gchar * path, const GError * error)
{
  if (error->domain == RN50_ERROR && error->code == RN50_ERROR_NOT_FOUND) {
    if (g_file_test (path, G_FILE_TEST_EXISTS)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not read the model file \"%s\".", path),
          ("%s. %s", error->message,
              g_file_test (path, G_FILE_TEST_IS_REGULAR) ?
              "Check the file's permissions." :
              "Set model-location to an ONNX or Keras HDF5 file."));
    } else {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("The model file \"%s\" does not exist.", path),
          ("%s. Set model-location to a ResNet-50 ONNX file.", error->message));
    }
    return;
  }

  if (error->domain == RN50_ERROR && error->code == RN50_ERROR_SETTINGS) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("Could not use the model \"%s\": %s", path, error->message), (NULL));
    return;
  }

  /* Parse, unsupported op, shape and engine failures all mean this file
   * cannot be run as given; nn/'s message names the op, node or shape. */
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Could not load the model \"%s\": %s", path, error->message),
      ("The element runs ResNet-50 ONNX graphs with one Nx3x224x224 float "
          "input (torchvision exports, the ONNX model zoo's resnet50-v1/v2, "
          "Keras/DL4J ResNet50) and Keras ResNet50 HDF5 weight files."));
}

static void
gst_resnet50_classify_post_labels_error (GstResnet50Classify * self,
    const gchar * path, const GError * error)
{
  if (error->domain == RN50_ERROR && error->code == RN50_ERROR_NOT_FOUND) {
    if (g_file_test (path, G_FILE_TEST_EXISTS)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not read the labels file \"%s\".", path),
          ("%s", error->message));
    } else {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("The labels file \"%s\" does not exist.", path),
          ("%s. Set labels-location to a text file with one label per line, "
              "or unset it to use the built-in ImageNet names.",
              error->message));
    }
    return;
  }

  /* The file is there but is not a usable label list: a bad setting. */
  GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
      ("labels-location: \"%s\" is not a valid labels file: %s", path,
          error->message), ("Expected UTF-8 text with one label per line."));
}

/* Checks a mean or std override: empty (the preset's values) or exactly one
 * finite value per tensor plane, and a std must be > 0 since it divides. */
static gboolean
gst_resnet50_classify_check_override (GstResnet50Classify * self,
    const gchar * property, const GArray * values, gboolean is_std)
{
  guint i;

  if (values->len == 0)
    return TRUE;

  if (values->len != N_TENSOR_PLANES) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("Property \"%s\" needs exactly %u values (one per tensor plane), "
            "got %u.", property, N_TENSOR_PLANES, values->len),
        ("Set it as %s=\"<a,b,c>\", or leave it empty to use the preset's "
            "values.", property));
    return FALSE;
  }

  for (i = 0; i < values->len; i++) {
    gdouble v = g_array_index (values, gdouble, i);

    if (!isfinite (v) || (is_std && v <= 0.0)) {
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("Property \"%s\": value %u of %u is %g, but must be %s.",
              property, i + 1, values->len, v,
              is_std ? "a finite number greater than 0" : "a finite number"),
          ("Set it as %s=\"<a,b,c>\" with one value per tensor plane.",
              property));
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
gst_resnet50_classify_start (GstBaseTransform * trans)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);
  gchar *model_location = NULL;
  gchar *labels_location = NULL;
  GArray *mean = NULL;
  GArray *std = NULL;
  GstResnet50ClassifyPreset preset;
  gboolean preset_set;
  GstResnet50ClassifyResizeMode resize_mode;
  Rn50ModelConfig config = { 0, };
  GstClockTime batch_timeout;
  GError *error = NULL;
  GstClockTime t_load;
  guint channels = 0, height = 0, width = 0;
  guint n_labels, i;
  gint label_offset;
  gboolean ret = FALSE;

  /* Work on a snapshot: the settings may change while the model loads. */
  GST_OBJECT_LOCK (self);
  model_location = g_strdup (self->model_location);
  labels_location = g_strdup (self->labels_location);
  label_offset = self->label_offset;
  mean = g_array_copy (self->mean);
  std = g_array_copy (self->std);
  preset = self->preset;
  preset_set = self->preset_set;
  resize_mode = self->resize_mode;
  config.batch_size = self->batch_size;
  config.threads = self->threads;
  if (self->spin_wait)
    config.flags |= RN50_MODEL_FLAG_SPIN_WAIT;
  batch_timeout = self->batch_timeout;
  GST_OBJECT_UNLOCK (self);

  gst_resnet50_classify_release (self);

  /* Cheap checks first, so a typo does not cost a model load. */
  if (!gst_resnet50_classify_check_override (self, "mean", mean, FALSE) ||
      !gst_resnet50_classify_check_override (self, "std", std, TRUE))
    goto done;

  /* Like filesrc without a location: nothing to open is RESOURCE NOT_FOUND. */
  if (model_location == NULL || model_location[0] == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model file set."),
        ("Set model-location to a ResNet-50 ONNX file."));
    goto done;
  }

  t_load = gst_util_get_timestamp ();
  /* Elements of one process that load the same file with the same batch
   * and threads share one copy of the weights (nn/ keeps the cache). */
  self->model = rn50_model_new_with_config (model_location, &config, &error);
  if (self->model == NULL) {
    gst_resnet50_classify_post_model_error (self, model_location, error);
    goto done;
  }
  GST_INFO_OBJECT (self, "loaded %s in %" GST_TIME_FORMAT " (batch %u, %u "
      "threads)", model_location,
      GST_TIME_ARGS (gst_util_get_timestamp () - t_load), config.batch_size,
      rn50_model_get_threads (self->model));
  self->active_batch_size = config.batch_size;
  self->active_batch_timeout = batch_timeout;

  self->model_name = g_strdup (rn50_model_get_name (self->model));
  self->n_classes = rn50_model_get_num_classes (self->model);
  self->outputs_probabilities = rn50_model_outputs_probabilities (self->model);
  rn50_model_get_input_size (self->model, &channels, &height, &width);
  if (channels != N_TENSOR_PLANES || self->n_classes == 0) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not load the model \"%s\": it takes %u input channels and "
            "has %u classes; a colour image classifier is needed.",
            model_location, channels, self->n_classes), (NULL));
    goto done;
  }

  if (labels_location != NULL && labels_location[0] != '\0') {
    self->labels = rn50_labels_new_from_file (labels_location, &error);
    if (self->labels == NULL) {
      gst_resnet50_classify_post_labels_error (self, labels_location, error);
      goto done;
    }
  } else {
    self->labels = rn50_labels_new_imagenet ();
  }

  /* A count mismatch would silently name every class after a neighbour
   * (a 1001-output model with background at 0 and 1000 labels). Output i
   * is labelled by line i - label-offset, so the list must cover exactly
   * outputs label-offset .. n_classes - 1; then no index ever falls outside
   * it (the count is at least 1, and both sides stay far below G_MAXINT). */
  n_labels = rn50_labels_get_count (self->labels);
  if ((gint64) n_labels + label_offset != (gint64) self->n_classes) {
    if (label_offset != 0) {
      gchar *what = labels_location != NULL && labels_location[0] != '\0' ?
          g_strdup_printf ("labels file \"%s\"", labels_location) :
          g_strdup ("built-in ImageNet list");
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("The %s has %u labels and label-offset is %d, which fits a model "
              "with %" G_GINT64_FORMAT " classes, but the model \"%s\" has %u "
              "classes.", what, n_labels, label_offset,
              (gint64) n_labels + label_offset, self->model_name,
              self->n_classes),
          ("Output i is named by line i - label-offset: the line count plus "
              "label-offset must equal the model's class count."));
      g_free (what);
    } else if (labels_location != NULL && labels_location[0] != '\0') {
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("The labels file \"%s\" has %u labels but the model \"%s\" has "
              "%u classes.", labels_location, n_labels, self->model_name,
              self->n_classes),
          ("Give labels-location a file with exactly one line per model "
              "output, in output order."));
    } else {
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("The built-in ImageNet labels have %u names but the model \"%s\" "
              "has %u classes.", n_labels, self->model_name, self->n_classes),
          ("Set labels-location to a file with one label per model output."));
    }
    goto done;
  }
  self->active_label_offset = label_offset;

  /* Keras' ResNet50 weights were trained on caffe-style input (BGR, mean
   * subtraction, no scaling): feeding them torchvision's normalization gives
   * plausible-looking nonsense, so an HDF5 model defaults to caffe unless
   * the application chose a preset itself. */
  if (!preset_set && rn50_model_file_is_keras_h5 (model_location)) {
    GST_INFO_OBJECT (self, "Keras HDF5 weights: using the caffe preset");
    preset = GST_RESNET50_CLASSIFY_PRESET_CAFFE;
  }
  if (preset == GST_RESNET50_CLASSIFY_PRESET_CAFFE)
    rn50_preprocess_config_init_caffe (&self->pre_config, width, height);
  else
    rn50_preprocess_config_init_torchvision (&self->pre_config, width, height);
  for (i = 0; i < mean->len; i++)
    self->pre_config.mean[i] = g_array_index (mean, gdouble, i);
  for (i = 0; i < std->len; i++)
    self->pre_config.std[i] = g_array_index (std, gdouble, i);
  switch (resize_mode) {
    case GST_RESNET50_CLASSIFY_RESIZE_STRETCH:
      self->pre_config.resize_mode = RN50_RESIZE_STRETCH;
      break;
    case GST_RESNET50_CLASSIFY_RESIZE_LETTERBOX:
      self->pre_config.resize_mode = RN50_RESIZE_LETTERBOX;
      break;
    case GST_RESNET50_CLASSIFY_RESIZE_CENTER_CROP:
    default:
      self->pre_config.resize_mode = RN50_RESIZE_CENTER_CROP;
      break;
  }

  self->tensor_n_floats = (gsize) (channels * height * width);
  self->probs = g_new0 (gfloat, self->n_classes);
  self->top_ids = g_new0 (guint, self->n_classes);
  self->top_labels = g_new0 (const gchar *, self->n_classes);
  self->top_scores = g_new0 (gfloat, self->n_classes);

  g_mutex_lock (&self->tensor_lock);
  g_free (self->last_tensor);
  self->last_tensor = g_new0 (gfloat, self->tensor_n_floats);
  self->last_tensor_n_floats = 0;
  g_mutex_unlock (&self->tensor_lock);

  GST_INFO_OBJECT (self, "model \"%s\": %u classes, input %ux%ux%u%s",
      self->model_name, self->n_classes, channels, height, width,
      self->outputs_probabilities ? ", outputs probabilities" : "");

  if (self->active_batch_size > 1 &&
      !gst_resnet50_classify_flusher_start (self, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not start the batch flusher thread: %s", error->message),
        (NULL));
    goto done;
  }
  ret = TRUE;

done:
  if (!ret)
    gst_resnet50_classify_release (self);
  g_clear_error (&error);
  g_free (model_location);
  g_free (labels_location);
  g_array_unref (mean);
  g_array_unref (std);
  return ret;
}

static gboolean
gst_resnet50_classify_stop (GstBaseTransform * trans)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);

  gst_resnet50_classify_release (self);
  return TRUE;
}

static gboolean
gst_resnet50_classify_pixel_format (GstVideoFormat format,
    Rn50PixelFormat * out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB:
      *out = RN50_PIXEL_FORMAT_RGB;
      return TRUE;
    case GST_VIDEO_FORMAT_BGR:
      *out = RN50_PIXEL_FORMAT_BGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
      *out = RN50_PIXEL_FORMAT_RGBX;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
      *out = RN50_PIXEL_FORMAT_BGRX;
      return TRUE;
    case GST_VIDEO_FORMAT_xRGB:
      *out = RN50_PIXEL_FORMAT_XRGB;
      return TRUE;
    case GST_VIDEO_FORMAT_xBGR:
      *out = RN50_PIXEL_FORMAT_XBGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBA:
      *out = RN50_PIXEL_FORMAT_RGBA;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRA:
      *out = RN50_PIXEL_FORMAT_BGRA;
      return TRUE;
    case GST_VIDEO_FORMAT_ARGB:
      *out = RN50_PIXEL_FORMAT_ARGB;
      return TRUE;
    case GST_VIDEO_FORMAT_ABGR:
      *out = RN50_PIXEL_FORMAT_ABGR;
      return TRUE;
    case GST_VIDEO_FORMAT_I420:
      *out = RN50_PIXEL_FORMAT_I420;
      return TRUE;
    case GST_VIDEO_FORMAT_NV12:
      *out = RN50_PIXEL_FORMAT_NV12;
      return TRUE;
    case GST_VIDEO_FORMAT_YUY2:
      *out = RN50_PIXEL_FORMAT_YUY2;
      return TRUE;
    case GST_VIDEO_FORMAT_GRAY8:
      *out = RN50_PIXEL_FORMAT_GRAY8;
      return TRUE;
    default:
      return FALSE;
  }
}

/* The YUV→RGB matrix the caps declare. Caps without colorimetry get
 * GstVideoInfo's defaults (BT.601 for SD sizes, BT.709 for HD, limited
 * range), the same ones videoconvert would use. */
static void
gst_resnet50_classify_yuv_matrix (const GstVideoInfo * info,
    Rn50YuvMatrix * yuv)
{
  if (!gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &yuv->kr,
          &yuv->kb)) {
    yuv->kr = 0.299;
    yuv->kb = 0.114;
  }
  yuv->full_range = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
}

/* videoconvert upsamples chroma as the GstVideoInfo's chroma_site says
 * (for caps without colorimetry, GStreamer 1.22 puts the size's default
 * there: cosited horizontally above 576 rows): follow the same field. */
static void
gst_resnet50_classify_chroma_siting (Rn50Preprocessor * pre,
    const GstVideoInfo * info)
{
  GstVideoChromaSite site = GST_VIDEO_INFO_CHROMA_SITE (info);

  if (!GST_VIDEO_INFO_IS_YUV (info))
    return;
  rn50_preprocessor_set_chroma_siting (pre,
      (site & GST_VIDEO_CHROMA_SITE_H_COSITED) != 0,
      (site & GST_VIDEO_CHROMA_SITE_V_COSITED) != 0);
}

static gboolean
gst_resnet50_classify_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);
  GstVideoInfo info;
  Rn50PixelFormat format;
  Rn50YuvMatrix yuv = { 0.0, 0.0, FALSE };
  gboolean is_yuv;
  Rn50Preprocessor *pre;
  GError *error = NULL;

  if (!gst_video_info_from_caps (&info, incaps) ||
      !gst_resnet50_classify_pixel_format (GST_VIDEO_INFO_FORMAT (&info),
          &format)) {
    GST_WARNING_OBJECT (self, "unusable caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  if (self->model == NULL) {
    GST_WARNING_OBJECT (self, "caps before start()");
    return FALSE;
  }

  self->warned_short_buffer = FALSE;
  GST_OBJECT_LOCK (self);
  self->frame_duration = GST_VIDEO_INFO_FPS_N (&info) > 0 &&
      GST_VIDEO_INFO_FPS_D (&info) > 0 ?
      gst_util_uint64_scale_int (GST_SECOND, GST_VIDEO_INFO_FPS_D (&info),
      GST_VIDEO_INFO_FPS_N (&info)) : GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);

  is_yuv = GST_VIDEO_INFO_IS_YUV (&info);
  if (is_yuv)
    gst_resnet50_classify_yuv_matrix (&info, &yuv);

  /* The preprocessor's filter tables depend only on these; anything else
   * (framerate, pixel aspect ratio) keeps it. */
  if (self->pre != NULL && self->pre_format == format &&
      self->pre_width == (guint) GST_VIDEO_INFO_WIDTH (&info) &&
      self->pre_height == (guint) GST_VIDEO_INFO_HEIGHT (&info) &&
      self->pre_yuv.kr == yuv.kr && self->pre_yuv.kb == yuv.kb &&
      self->pre_yuv.full_range == yuv.full_range) {
    gst_resnet50_classify_chroma_siting (self->pre, &info);
    self->info = info;
    return TRUE;
  }

  pre = rn50_preprocessor_new (&self->pre_config, format,
      GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
      is_yuv ? &yuv : NULL, &error);
  if (pre == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("Cannot preprocess %s frames of %dx%d: %s",
            GST_VIDEO_INFO_NAME (&info), GST_VIDEO_INFO_WIDTH (&info),
            GST_VIDEO_INFO_HEIGHT (&info), error->message), (NULL));
    g_clear_error (&error);
    return FALSE;
  }

  GST_DEBUG_OBJECT (self, "preprocessing %s %dx%d (Kr %.4f Kb %.4f %s range)",
      GST_VIDEO_INFO_NAME (&info), GST_VIDEO_INFO_WIDTH (&info),
      GST_VIDEO_INFO_HEIGHT (&info), yuv.kr, yuv.kb,
      yuv.full_range ? "full" : "limited");

  gst_resnet50_classify_chroma_siting (pre, &info);

  rn50_preprocessor_free (self->pre);
  self->pre = pre;
  self->pre_format = format;
  self->pre_width = GST_VIDEO_INFO_WIDTH (&info);
  self->pre_height = GST_VIDEO_INFO_HEIGHT (&info);
  self->pre_yuv = yuv;
  self->info = info;
  return TRUE;
}

/* Posts the results of one frame as an element message, for gst-launch -m
 * and applications that read the bus instead of the meta. */
static void
gst_resnet50_classify_post_results (GstResnet50Classify * self,
    GstBuffer * buf, guint n_top, GstClockTime inference_time)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GValue ids = G_VALUE_INIT;
  GValue labels = G_VALUE_INIT;
  GValue scores = G_VALUE_INIT;
  GstStructure *s;
  GstClockTime running_time;
  guint i;

  running_time = gst_segment_to_running_time (&trans->segment,
      GST_FORMAT_TIME, GST_BUFFER_PTS (buf));

  g_value_init (&ids, GST_TYPE_ARRAY);
  g_value_init (&labels, GST_TYPE_ARRAY);
  g_value_init (&scores, GST_TYPE_ARRAY);
  for (i = 0; i < n_top; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, G_TYPE_UINT);
    g_value_set_uint (&v, self->top_ids[i]);
    gst_value_array_append_and_take_value (&ids, &v);

    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, self->top_labels[i]);
    gst_value_array_append_and_take_value (&labels, &v);

    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, self->top_scores[i]);
    gst_value_array_append_and_take_value (&scores, &v);
  }

  s = gst_structure_new ("resnet50classify",
      "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS (buf),
      "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buf),
      "running-time", G_TYPE_UINT64, running_time,
      "model", G_TYPE_STRING, self->model_name,
      "inference-time", G_TYPE_UINT64, inference_time, NULL);
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "labels", &labels);
  gst_structure_take_value (s, "scores", &scores);

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* A GstVideoMeta, if @buf has one, must describe the negotiated format
 * with the same planes and at least the negotiated size. */
static gboolean
gst_resnet50_classify_video_meta_matches (const GstVideoInfo * info,
    GstBuffer * buf)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buf);

  return meta == NULL || (meta->format == GST_VIDEO_INFO_FORMAT (info) &&
      meta->n_planes == GST_VIDEO_INFO_N_PLANES (info) &&
      meta->width >= (guint) GST_VIDEO_INFO_WIDTH (info) &&
      meta->height >= (guint) GST_VIDEO_INFO_HEIGHT (info));
}

/* TRUE when every row the preprocessor reads, at the caps' size, lies in
 * the memory mapped for its plane: the plane starts inside the mapping, its
 * stride holds a row, and its last row ends before the mapping does. Row
 * bytes per plane are the widest component's width × pixel stride (bytes),
 * which covers packed 4:2:2 macropixels at odd widths. */
static gboolean
gst_resnet50_classify_frame_in_bounds (const GstVideoInfo * info,
    const GstVideoFrame * frame)
{
  guint p, i;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    const GstMapInfo *map = frame->meta != NULL ? &frame->map[p] :
        &frame->map[0];
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
    gint comps[GST_VIDEO_MAX_COMPONENTS];
    gsize row_bytes = 0, rows = 0, start;

    gst_video_format_info_component (info->finfo, p, comps);
    for (i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
      gsize bytes = (gsize) GST_VIDEO_INFO_COMP_WIDTH (info, comps[i]) *
          GST_VIDEO_INFO_COMP_PSTRIDE (info, comps[i]);

      row_bytes = MAX (row_bytes, bytes);
      rows = MAX (rows, (gsize) GST_VIDEO_INFO_COMP_HEIGHT (info, comps[i]));
    }
    if (rows == 0 || row_bytes == 0 || stride < 0 ||
        (gsize) stride < row_bytes || data < map->data ||
        data > map->data + map->size)
      return FALSE;
    start = (gsize) (data - map->data);
    /* rows and stride are below 2^31, so the product fits a 64-bit gsize. */
    if ((rows - 1) * (gsize) stride + row_bytes > map->size - start)
      return FALSE;
  }
  return TRUE;
}

/* Maps @buf and preprocesses it into @tensor (C×H×W floats). FALSE when
 * the frame is to pass through without results: a GAP or empty buffer
 * (nothing to classify), or one too small for the negotiated caps, which
 * is reported with a warning and never read. */
static gboolean
gst_resnet50_classify_preprocess (GstResnet50Classify * self, GstBuffer * buf,
    gfloat * tensor)
{
  GstVideoFrame frame = GST_VIDEO_FRAME_INIT;
  Rn50ImageView view;
  guint i;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP) ||
      gst_buffer_get_size (buf) == 0) {
    GST_LOG_OBJECT (self, "GAP or empty buffer at %" GST_TIME_FORMAT
        ": passed on without classification",
        GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    return FALSE;
  }

  /* gst_video_frame_map() checks a buffer without GstVideoMeta against the
   * caps' size, but trusts a GstVideoMeta's offsets and strides (and
   * g_critical()s when the meta disagrees with the caps): check the meta
   * first and every plane's extent after mapping, so nothing outside the
   * buffer is ever read. */
  if (!gst_resnet50_classify_video_meta_matches (&self->info, buf) ||
      !gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ) ||
      !gst_resnet50_classify_frame_in_bounds (&self->info, &frame)) {
    if (frame.buffer != NULL)
      gst_video_frame_unmap (&frame);
    if (!self->warned_short_buffer) {
      GST_ELEMENT_WARNING (self, STREAM, FORMAT,
          ("Skipping a %s %dx%d frame of %" G_GSIZE_FORMAT " bytes: the caps "
              "need %" G_GSIZE_FORMAT ".", GST_VIDEO_INFO_NAME (&self->info),
              GST_VIDEO_INFO_WIDTH (&self->info),
              GST_VIDEO_INFO_HEIGHT (&self->info), gst_buffer_get_size (buf),
              GST_VIDEO_INFO_SIZE (&self->info)),
          ("Such frames pass through without classification; upstream "
              "produces buffers that do not match its caps (missing row "
              "padding?) or a GstVideoMeta whose format, size, offsets or "
              "strides do not fit the caps and the buffer. Warned once per "
              "caps."));
      self->warned_short_buffer = TRUE;
    }
    GST_WARNING_OBJECT (self, "unmappable buffer of %" G_GSIZE_FORMAT
        " bytes at %" GST_TIME_FORMAT " skipped", gst_buffer_get_size (buf),
        GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    return FALSE;
  }

  /* Plane pointers and strides come from the mapped frame (and its
   * GstVideoMeta, if any), never from assumptions about the layout. */
  memset (&view, 0, sizeof (view));
  view.format = self->pre_format;
  /* The preprocessor is built for the caps' size; a GstVideoMeta may
   * describe a larger frame (padding), of which the caps' area is used. */
  view.width = GST_VIDEO_INFO_WIDTH (&self->info);
  view.height = GST_VIDEO_INFO_HEIGHT (&self->info);
  for (i = 0; i < GST_VIDEO_FRAME_N_PLANES (&frame) && i < 3; i++) {
    view.planes[i] = GST_VIDEO_FRAME_PLANE_DATA (&frame, i);
    view.strides[i] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, i);
  }
  rn50_preprocessor_run (self->pre, &view, tensor);
  gst_video_frame_unmap (&frame);

  g_mutex_lock (&self->tensor_lock);
  memcpy (self->last_tensor, tensor, self->tensor_n_floats * sizeof (gfloat));
  self->last_tensor_n_floats = self->tensor_n_floats;
  g_mutex_unlock (&self->tensor_lock);
  return TRUE;
}

/* Turns one image's raw model outputs into probabilities and the top-k, and
 * attaches them to @buf (writable) as meta and, if asked, as a message.
 * @inference_time is the wall time of the run that produced them (one
 * batch). */
static void
gst_resnet50_classify_attach_results (GstResnet50Classify * self,
    GstBuffer * buf, const gfloat * output, GstClockTime inference_time)
{
  gfloat threshold;
  gboolean post_messages;
  guint top_k, n_top, i;

  if (self->outputs_probabilities)
    memcpy (self->probs, output, self->n_classes * sizeof (gfloat));
  else
    rn50_softmax (output, self->probs, self->n_classes);

  GST_OBJECT_LOCK (self);
  top_k = MIN (self->top_k, self->n_classes);
  threshold = self->threshold;
  post_messages = self->post_messages;
  GST_OBJECT_UNLOCK (self);

  n_top = rn50_top_k (self->probs, self->n_classes, top_k, threshold,
      self->top_ids);
  for (i = 0; i < n_top; i++) {
    /* Class ids stay the model's raw output indices; only the label moves.
     * start() checked that every line index computed here is in the list. */
    gint64 line = (gint64) self->top_ids[i] - self->active_label_offset;
    const gchar *label = line >= 0 ? rn50_labels_get (self->labels,
        (guint) line) : NULL;

    self->top_labels[i] = label != NULL ? label : UNLABELLED_OUTPUT_LABEL;
    self->top_scores[i] = self->probs[self->top_ids[i]];
  }

  gst_buffer_add_classification_meta (buf, n_top, self->top_ids,
      self->top_labels, self->top_scores, self->model_name, inference_time);

  GST_LOG_OBJECT (self, "frame %" GST_TIME_FORMAT ": top-1 %u (%s) p=%.4f, "
      "inference %" GST_TIME_FORMAT, GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
      n_top > 0 ? self->top_ids[0] : G_MAXUINT,
      n_top > 0 ? self->top_labels[0] : "-",
      n_top > 0 ? self->top_scores[0] : 0.0f, GST_TIME_ARGS (inference_time));

  if (post_messages)
    gst_resnet50_classify_post_results (self, buf, n_top, inference_time);
}

/* Runs the model on its input tensor; on failure posts the error naming
 * the frame at @pts. */
static gboolean
gst_resnet50_classify_infer (GstResnet50Classify * self, GstClockTime pts,
    GstClockTime * inference_time)
{
  GError *error = NULL;
  GstClockTime t_start = gst_util_get_timestamp ();

  if (!rn50_model_run (self->model, &error)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Inference failed on the frame at %" GST_TIME_FORMAT ": %s",
            GST_TIME_ARGS (pts), error->message), (NULL));
    g_clear_error (&error);
    return FALSE;
  }
  *inference_time = gst_util_get_timestamp () - t_start;
  return TRUE;
}

/* batch-size 1: every frame is classified as it passes. */
static GstFlowReturn
gst_resnet50_classify_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);
  GstClockTime inference_time;

  /* Upstream reports the not-negotiated flow as an error itself. */
  if (G_UNLIKELY (self->model == NULL || self->pre == NULL)) {
    GST_ERROR_OBJECT (self, "buffer before the caps were set");
    return GST_FLOW_NOT_NEGOTIATED;
  }

  if (!gst_resnet50_classify_preprocess (self, buf,
          rn50_model_get_input (self->model)))
    return GST_FLOW_OK;
  if (!gst_resnet50_classify_infer (self, GST_BUFFER_PTS (buf),
          &inference_time))
    return GST_FLOW_ERROR;
  gst_resnet50_classify_attach_results (self, buf,
      rn50_model_get_output (self->model), inference_time);
  return GST_FLOW_OK;
}

/* ---- Batching (batch-size > 1) ------------------------------------------ */

/* Drops every waiting frame (flush, stop). Stream lock held. */
static void
gst_resnet50_classify_drop_pending (GstResnet50Classify * self)
{
  guint i;

  if (self->pending != NULL) {
    for (i = 0; i < self->pending->len; i++)
      gst_buffer_unref (g_array_index (self->pending, PendingFrame,
              i).buffer);
    g_array_set_size (self->pending, 0);
  }
  self->n_pending_images = 0;
  g_queue_clear_full (&self->ready, (GDestroyNotify) gst_buffer_unref);
  g_mutex_lock (&self->flush_lock);
  self->flush_deadline = 0;
  g_mutex_unlock (&self->flush_lock);
}

/* Infers the waiting images as one batch (slots past n_pending_images hold
 * stale images whose outputs are ignored) and moves every waiting frame,
 * results attached, to the ready queue in arrival order. Stream lock held. */
static GstFlowReturn
gst_resnet50_classify_run_batch (GstResnet50Classify * self)
{
  const gfloat *output;
  GstClockTime inference_time = 0;
  guint i;

  g_mutex_lock (&self->flush_lock);
  self->flush_deadline = 0;
  g_mutex_unlock (&self->flush_lock);

  if (self->n_pending_images > 0) {
    GstClockTime pts =
        GST_BUFFER_PTS (g_array_index (self->pending, PendingFrame,
            0).buffer);
    if (!gst_resnet50_classify_infer (self, pts, &inference_time)) {
      gst_resnet50_classify_drop_pending (self);
      return GST_FLOW_ERROR;
    }
    GST_DEBUG_OBJECT (self, "batch of %u/%u images in %" GST_TIME_FORMAT,
        self->n_pending_images, self->active_batch_size,
        GST_TIME_ARGS (inference_time));
  }

  output = rn50_model_get_output (self->model);
  for (i = 0; i < self->pending->len; i++) {
    PendingFrame *f = &g_array_index (self->pending, PendingFrame, i);
    GstBuffer *buf = f->buffer;
    if (f->classify) {
      buf = gst_buffer_make_writable (buf);
      gst_resnet50_classify_attach_results (self, buf,
          output + (gsize) f->slot * self->n_classes, inference_time);
    }
    g_queue_push_tail (&self->ready, buf);
  }
  g_array_set_size (self->pending, 0);
  self->n_pending_images = 0;
  return GST_FLOW_OK;
}

/* Runs a partial batch and pushes everything that was waiting, before a
 * serialized event or from the flusher. Stream lock held. */
static GstFlowReturn
gst_resnet50_classify_drain (GstResnet50Classify * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstFlowReturn ret = GST_FLOW_OK;
  GstBuffer *buf;

  if (self->pending == NULL || (self->pending->len == 0 &&
          g_queue_is_empty (&self->ready)))
    return GST_FLOW_OK;
  if (self->pending->len > 0)
    ret = gst_resnet50_classify_run_batch (self);
  while ((buf = g_queue_pop_head (&self->ready)) != NULL) {
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (trans->srcpad, buf);
    else
      gst_buffer_unref (buf);
  }
  return ret;
}

static GstFlowReturn
gst_resnet50_classify_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * buf)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);
  PendingFrame f = { buf, FALSE, 0 };
  GstFlowReturn ret;

  if (self->active_batch_size <= 1)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer
        (trans, is_discont, buf);

  if (G_UNLIKELY (self->model == NULL || self->pre == NULL)) {
    GST_ERROR_OBJECT (self, "buffer before the caps were set");
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }

  /* A push of the flusher failed (downstream flushing, unlinked, error):
   * tell upstream now, as a push from this thread would have. */
  ret = self->flusher_flow;
  self->flusher_flow = GST_FLOW_OK;
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buf);
    return ret;
  }

  f.slot = self->n_pending_images;
  f.classify = gst_resnet50_classify_preprocess (self, buf,
      rn50_model_get_input (self->model) + (gsize) f.slot *
      self->tensor_n_floats);
  if (!f.classify && self->pending->len == 0) {
    g_queue_push_tail (&self->ready, buf);
    return GST_FLOW_OK;
  }
  g_array_append_val (self->pending, f);
  if (!f.classify)
    return GST_FLOW_OK;

  self->n_pending_images++;
  if (self->n_pending_images == self->active_batch_size)
    return gst_resnet50_classify_run_batch (self);

  if (self->n_pending_images == 1 &&
      GST_CLOCK_TIME_IS_VALID (self->active_batch_timeout)) {
    g_mutex_lock (&self->flush_lock);
    self->flush_deadline = g_get_monotonic_time () +
        (gint64) (self->active_batch_timeout / GST_USECOND);
    g_cond_signal (&self->flush_cond);
    g_mutex_unlock (&self->flush_lock);
  }
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_resnet50_classify_generate_output (GstBaseTransform * trans,
    GstBuffer ** outbuf)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);

  if (self->active_batch_size <= 1)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->generate_output (trans,
        outbuf);
  *outbuf = g_queue_pop_head (&self->ready);
  return GST_FLOW_OK;
}

static gboolean
gst_resnet50_classify_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);

  if (self->active_batch_size > 1) {
    if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
      /* Frames from before a flush must not come out after it. */
      gst_resnet50_classify_drop_pending (self);
      self->flusher_flow = GST_FLOW_OK;
    } else if (GST_EVENT_IS_SERIALIZED (event)) {
      /* EOS, segment, caps, gap...: the frames before the event leave
       * before it, with their results (a partial batch if need be). */
      GstFlowReturn ret = gst_resnet50_classify_drain (self);
      if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING)
        GST_DEBUG_OBJECT (self, "drain before %s: %s",
            GST_EVENT_TYPE_NAME (event), gst_flow_get_name (ret));
    }
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* Latency a batch adds in a live pipeline: the first frame of a batch
 * waits for batch-size - 1 more frames, or for batch-timeout, whichever is
 * shorter. */
static GstClockTime
gst_resnet50_classify_batch_latency (GstResnet50Classify * self)
{
  GstClockTime wait, frame_duration;
  guint batch;

  GST_OBJECT_LOCK (self);
  batch = self->active_batch_size > 0 ? self->active_batch_size :
      self->batch_size;
  wait = self->active_batch_size > 0 ? self->active_batch_timeout :
      self->batch_timeout;
  frame_duration = self->frame_duration;
  GST_OBJECT_UNLOCK (self);

  if (batch <= 1)
    return 0;
  if (GST_CLOCK_TIME_IS_VALID (frame_duration) &&
      (!GST_CLOCK_TIME_IS_VALID (wait) ||
          (batch - 1) * frame_duration < wait))
    wait = (batch - 1) * frame_duration;
  return wait;
}

static gboolean
gst_resnet50_classify_src_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (trans);
  gboolean ret;

  ret = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
  if (ret && direction == GST_PAD_SRC &&
      GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, ours = gst_resnet50_classify_batch_latency (self);

    gst_query_parse_latency (query, &live, &min, &max);
    if (!GST_CLOCK_TIME_IS_VALID (ours)) {
      /* No timeout and no framerate: a batch may wait for ever. */
      GST_ELEMENT_WARNING (self, CORE, CLOCK,
          ("batch-size %u with no batch-timeout has no bounded latency.",
              self->batch_size), ("Set batch-timeout for live sources."));
      ours = 0;
    }
    GST_DEBUG_OBJECT (self, "upstream latency live %d min %" GST_TIME_FORMAT
        " max %" GST_TIME_FORMAT ", adding %" GST_TIME_FORMAT, live,
        GST_TIME_ARGS (min), GST_TIME_ARGS (max), GST_TIME_ARGS (ours));
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    gst_query_set_latency (query, live, min, max);
  }
  return ret;
}

/* The flusher: sleeps until the oldest waiting frame's deadline, then runs
 * the partial batch and pushes it, holding the stream lock like the
 * streaming thread does, so the two never interleave. */
static gpointer
gst_resnet50_classify_flusher_loop (gpointer data)
{
  GstResnet50Classify *self = data;
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

  g_mutex_lock (&self->flush_lock);
  while (!self->flusher_quit) {
    gint64 deadline = self->flush_deadline;
    if (deadline == 0) {
      g_cond_wait (&self->flush_cond, &self->flush_lock);
      continue;
    }
    if (g_get_monotonic_time () < deadline) {
      g_cond_wait_until (&self->flush_cond, &self->flush_lock, deadline);
      continue;
    }
    g_mutex_unlock (&self->flush_lock);

    GST_PAD_STREAM_LOCK (trans->sinkpad);
    g_mutex_lock (&self->flush_lock);
    /* The streaming thread may have run the batch meanwhile. */
    deadline = self->flush_deadline;
    g_mutex_unlock (&self->flush_lock);
    if (deadline != 0 && g_get_monotonic_time () >= deadline) {
      GstFlowReturn ret;
      GST_DEBUG_OBJECT (self, "batch-timeout: running %u of %u images",
          self->n_pending_images, self->active_batch_size);
      ret = gst_resnet50_classify_drain (self);
      if (ret != GST_FLOW_OK)
        self->flusher_flow = ret;
    }
    GST_PAD_STREAM_UNLOCK (trans->sinkpad);

    g_mutex_lock (&self->flush_lock);
  }
  g_mutex_unlock (&self->flush_lock);
  return NULL;
}

static gboolean
gst_resnet50_classify_flusher_start (GstResnet50Classify * self,
    GError ** error)
{
  gchar *name = g_strdup_printf ("%s:flush", GST_OBJECT_NAME (self));

  self->pending = g_array_sized_new (FALSE, FALSE, sizeof (PendingFrame),
      self->active_batch_size);
  self->flusher_flow = GST_FLOW_OK;
  self->flusher_quit = FALSE;
  self->flush_deadline = 0;
  self->flusher = g_thread_try_new (name, gst_resnet50_classify_flusher_loop,
      self, error);
  g_free (name);
  return self->flusher != NULL;
}

/* Called from stop() (streaming already stopped) and on failed starts. */
static void
gst_resnet50_classify_flusher_stop (GstResnet50Classify * self)
{
  if (self->flusher != NULL) {
    g_mutex_lock (&self->flush_lock);
    self->flusher_quit = TRUE;
    g_cond_signal (&self->flush_cond);
    g_mutex_unlock (&self->flush_lock);
    g_thread_join (self->flusher);
    self->flusher = NULL;
  }
  gst_resnet50_classify_drop_pending (self);
  g_clear_pointer (&self->pending, g_array_unref);
}

/* Upstream learns from this query which metas it may leave for us to
 * apply. The query is answered by downstream (frames pass in place), which
 * may accept GstVideoCropMeta; but the classifier looks at the whole frame,
 * so with a crop left to downstream the results would describe pixels the
 * application never shows. Refusing the crop meta makes upstream crop the
 * pixels itself (videocrop, decoders), and both then see the same picture. */
static gboolean
gst_resnet50_classify_propose_allocation (GstBaseTransform * trans,
    GstQuery * decide_query, GstQuery * query)
{
  guint index;

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->propose_allocation (trans,
          decide_query, query))
    return FALSE;
  while (gst_query_find_allocation_meta (query, GST_VIDEO_CROP_META_API_TYPE,
          &index))
    gst_query_remove_nth_allocation_meta (query, index);
  return TRUE;
}

static void
gst_resnet50_classify_finalize (GObject * object)
{
  GstResnet50Classify *self = GST_RESNET50_CLASSIFY (object);

  gst_resnet50_classify_release (self);
  g_free (self->model_location);
  g_free (self->labels_location);
  g_array_unref (self->mean);
  g_array_unref (self->std);
  g_free (self->last_tensor);
  g_mutex_clear (&self->tensor_lock);
  g_mutex_clear (&self->flush_lock);
  g_cond_clear (&self->flush_cond);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_resnet50_classify_class_init (GstResnet50ClassifyClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_resnet50_classify_set_property;
  gobject_class->get_property = gst_resnet50_classify_get_property;
  gobject_class->finalize = gst_resnet50_classify_finalize;

  /**
   * GstResnet50Classify:model-location:
   *
   * Path of the model: an ONNX file or Keras ResNet50 HDF5 weights.
   * Required; read when the element starts.
   */
  g_object_class_install_property (gobject_class, PROP_MODEL_LOCATION,
      g_param_spec_string ("model-location", "Model location",
          "Path of the ResNet-50 model: an ONNX file (Nx3x224x224 float input) "
          "or Keras ResNet50 HDF5 weights; required, read when the element "
          "starts",
          DEFAULT_PROP_MODEL_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:labels-location:
   *
   * Text file with one label per model output, in output order. Unset: the
   * 1000 ImageNet-1k class names built into the element.
   */
  g_object_class_install_property (gobject_class, PROP_LABELS_LOCATION,
      g_param_spec_string ("labels-location", "Labels location",
          "Text file with one class label per line, one line per model "
          "output (default: the built-in ImageNet-1k names)",
          DEFAULT_PROP_LABELS_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:label-offset:
   *
   * Where the labels start in the model's outputs: output i is named by line
   * i - label-offset of the labels, so 1 pairs a 1001-output model whose
   * index 0 is "background" (TF-slim's) with a 1000-line list (or with the
   * built-in ImageNet names). Outputs below the offset are reported with the
   * label "background". A negative offset skips the list's first lines.
   * The line count plus the offset must equal the model's class count, or
   * the element refuses to start (LIBRARY SETTINGS, naming both counts).
   * Class ids in the meta and messages stay the model's raw output indices.
   */
  g_object_class_install_property (gobject_class, PROP_LABEL_OFFSET,
      g_param_spec_int ("label-offset", "Label offset",
          "Model output i is named by line i - label-offset of the labels "
          "(1: a 1001-output model with background at index 0 and 1000 "
          "labels); outputs below it are labelled \"background\"",
          -MAX_PROP_LABEL_OFFSET, MAX_PROP_LABEL_OFFSET,
          DEFAULT_PROP_LABEL_OFFSET,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:top-k:
   *
   * How many of the best classes each frame reports, at most the model's
   * class count.
   */
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Number of best classes reported per frame (clamped to the "
          "model's class count)", 1, MAX_PROP_TOP_K, DEFAULT_PROP_TOP_K,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstResnet50Classify:threshold:
   *
   * Classes whose probability is below this are not reported, so a frame
   * may report fewer than #top-k classes, or none.
   */
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Minimum probability for a class to be reported", 0.0f, 1.0f,
          DEFAULT_PROP_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstResnet50Classify:post-messages:
   *
   * Post one `resnet50classify` element message per frame with its
   * results.
   */
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a \"resnet50classify\" element message with the results of "
          "every frame", DEFAULT_PROP_POST_MESSAGES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstResnet50Classify:resize-mode:
   *
   * How the frame is brought to the network's 224×224 input. All modes
   * filter with antialiasing when shrinking, as PIL and torchvision do.
   */
  g_object_class_install_property (gobject_class, PROP_RESIZE_MODE,
      g_param_spec_enum ("resize-mode", "Resize mode",
          "How frames are resized to the network input",
          GST_TYPE_RESNET50_CLASSIFY_RESIZE_MODE, DEFAULT_PROP_RESIZE_MODE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:preset:
   *
   * Channel order, scale and normalization the model was trained with.
   */
  g_object_class_install_property (gobject_class, PROP_PRESET,
      g_param_spec_enum ("preset", "Preset",
          "Channel order, pixel scale, mean and std the model expects "
          "(default: torchvision, or caffe for Keras HDF5 weight files)",
          GST_TYPE_RESNET50_CLASSIFY_PRESET, DEFAULT_PROP_PRESET,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:mean:
   *
   * Per-plane means replacing the preset's, in tensor plane order (R,G,B
   * for torchvision, B,G,R for caffe) and in the preset's pixel scale.
   * Empty: the preset's values. Anything but exactly three finite values
   * makes the element fail to start.
   */
  g_object_class_install_property (gobject_class, PROP_MEAN,
      gst_param_spec_array ("mean", "Mean",
          "Per tensor plane means replacing the preset's, e.g. "
          "\"<0.485,0.456,0.406>\" (empty: preset values; otherwise exactly "
          "3 values)",
          g_param_spec_double ("value", "Value", "Mean of one tensor plane",
              -G_MAXDOUBLE, G_MAXDOUBLE, 0.0,
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:std:
   *
   * Per-plane standard deviations replacing the preset's, in tensor plane
   * order. Empty: the preset's values. Anything but exactly three values
   * greater than 0 makes the element fail to start.
   */
  g_object_class_install_property (gobject_class, PROP_STD,
      gst_param_spec_array ("std", "Std",
          "Per tensor plane standard deviations replacing the preset's, e.g. "
          "\"<0.229,0.224,0.225>\" (empty: preset values; otherwise exactly "
          "3 values > 0)",
          g_param_spec_double ("value", "Value",
              "Standard deviation of one tensor plane", -G_MAXDOUBLE,
              G_MAXDOUBLE, 1.0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:input-tensor:
   *
   * The most recent network input: C×H×W (3×224×224) float32 values in
   * native byte order, plane-major (NCHW with N = 1), after normalization.
   * NULL until the first frame after a start. A test and debugging hook.
   */
  g_object_class_install_property (gobject_class, PROP_INPUT_TENSOR,
      g_param_spec_boxed ("input-tensor", "Input tensor",
          "Most recent preprocessed network input: 3x224x224 native-endian "
          "float32, NCHW (NULL before the first frame; for tests and "
          "debugging)", G_TYPE_BYTES,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstResnet50Classify:batch-size:
   *
   * Frames inferred together in one run of the network. Above 1, frames
   * wait until the batch is full, then leave in their original order,
   * each with its own results. A partial batch runs at EOS, before any
   * other serialized event (segment, caps, gap) and once its first frame
   * has waited #batch-timeout; a flush drops it. Batches raise throughput
   * on many cores at the cost of latency, which the element reports in the
   * LATENCY query.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "Frames inferred together; frames keep their order and their own "
          "results (a partial batch runs at EOS, on events and after "
          "batch-timeout)", 1, MAX_PROP_BATCH_SIZE, DEFAULT_PROP_BATCH_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:batch-timeout:
   *
   * Longest time, in nanoseconds, that the first frame of a batch waits for
   * the rest before the partial batch runs (wall clock). -1: wait until the
   * batch is full or an event comes.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_TIMEOUT,
      g_param_spec_uint64 ("batch-timeout", "Batch timeout",
          "Longest wait in ns for a batch to fill before a partial batch "
          "runs (-1 = wait for a full batch or an event)", 0, G_MAXUINT64,
          DEFAULT_PROP_BATCH_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:threads:
   *
   * Compute threads of this element's inference (0: the OMP_NUM_THREADS
   * environment variable if set, else one per core). Elements
   * of one process that load the same file with the same batch-size and
   * threads share one copy of the weights.
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads",
          "Compute threads for inference (0 = OMP_NUM_THREADS if set, else "
          "one per core)", 0,
          MAX_PROP_THREADS, DEFAULT_PROP_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstResnet50Classify:spin-wait:
   *
   * Let the compute threads busy-wait between the steps of an inference
   * instead of sleeping after a short spin. Faster on a machine whose
   * cores this pipeline has to itself (batch 1, 2 threads on 2 cores:
   * ~17 % more frames/s); many times slower when other processes compete
   * for the cores, hence off by default. OpenMP decides process-wide: with
   * more OpenMP threads than cores (several elements, or an application
   * that uses OpenMP itself) the threads sleep anyway.
   */
  g_object_class_install_property (gobject_class, PROP_SPIN_WAIT,
      g_param_spec_boolean ("spin-wait", "Spin wait",
          "Compute threads busy-wait between inference steps: faster on "
          "dedicated cores, much slower on shared ones",
          DEFAULT_PROP_SPIN_WAIT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ResNet-50 classifier", "Filter/Analyzer/Video",
      "Classifies each video frame with a ResNet-50 ONNX model on the CPU "
      "(oneDNN) and attaches the top-k classes as a GstClassificationMeta",
      "resnet50classify developers");
  /* gst-inspect-1.0 prints every metadata key, so this shows the example
   * launch line of the documentation block to command-line users too. */
  gst_element_class_add_static_metadata (element_class, "example",
      "gst-launch-1.0 -m filesrc location=cockatoo.mp4 ! decodebin ! "
      "videoconvert ! resnet50classify model-location=resnet50.onnx "
      "post-messages=true ! fakesink");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_resnet50_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_resnet50_classify_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_resnet50_classify_set_caps);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_resnet50_classify_transform_ip);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_resnet50_classify_submit_input_buffer);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_resnet50_classify_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_resnet50_classify_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_resnet50_classify_src_query);
  trans_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_resnet50_classify_propose_allocation);
  /* The meta is added to every buffer, so never skip transform_ip. */
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_RESNET50_CLASSIFY_RESIZE_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_RESNET50_CLASSIFY_PRESET, 0);
}

static void
gst_resnet50_classify_init (GstResnet50Classify * self)
{
  self->model_location = g_strdup (DEFAULT_PROP_MODEL_LOCATION);
  self->labels_location = g_strdup (DEFAULT_PROP_LABELS_LOCATION);
  self->label_offset = DEFAULT_PROP_LABEL_OFFSET;
  self->top_k = DEFAULT_PROP_TOP_K;
  self->threshold = DEFAULT_PROP_THRESHOLD;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->resize_mode = DEFAULT_PROP_RESIZE_MODE;
  self->preset = DEFAULT_PROP_PRESET;
  self->mean = g_array_new (FALSE, FALSE, sizeof (gdouble));
  self->std = g_array_new (FALSE, FALSE, sizeof (gdouble));
  self->batch_size = DEFAULT_PROP_BATCH_SIZE;
  self->batch_timeout = DEFAULT_PROP_BATCH_TIMEOUT;
  self->threads = DEFAULT_PROP_THREADS;
  self->spin_wait = DEFAULT_PROP_SPIN_WAIT;
  self->frame_duration = GST_CLOCK_TIME_NONE;
  g_mutex_init (&self->tensor_lock);
  g_mutex_init (&self->flush_lock);
  g_cond_init (&self->flush_cond);
  g_queue_init (&self->ready);

  /* Frames are only read: work on the input buffer, never a new one, and
   * stay out of passthrough so every buffer gets its meta. */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
