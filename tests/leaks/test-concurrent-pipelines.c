/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Many instances of the element on one model at once (issue 5): four
 * pipelines run by four application threads, and one pipeline with two
 * elements behind a tee, all started together on the same model file, must
 * give for every frame exactly the classes and scores that one instance
 * alone gives. Built normally it checks the results; built with
 * -fsanitize=thread (tools/sanitize-suite tsan) ThreadSanitizer also
 * watches every access the plugin and nn/ make while the instances share
 * the process (and the network cache). Frames come from videotestsrc's
 * moving ball, so consecutive frames differ.
 *
 * Usage: test-concurrent-pipelines MODEL [FRAMES]   (plugin from
 * GST_PLUGIN_PATH_1_0, as every test here) */
#include <math.h>
#include <string.h>

#include <gst/gst.h>

#define N_THREADS 4

typedef struct
{
  guint64 pts;
  guint class_id;
  double score;
} FrameResult;

typedef struct
{
  const char *name;             /* element name the results come from */
  GArray *results;              /* FrameResult, in bus order */
} Collector;

static const char *model_path;
static guint n_frames = 8;

/* One source, converted to what the element takes. threads=1: the scores
 * must then be bit-identical whatever else runs (oneDNN's reductions follow
 * the thread count). */
#define SOURCE "videotestsrc pattern=ball num-buffers=%u ! " \
  "video/x-raw,format=RGB,width=320,height=240,framerate=30/1 ! "
#define CLASSIFIER "resnet50classify name=%s model-location=\"%s\" " \
  "post-messages=true threads=1 top-k=1"

static void
collect (GstMessage * msg, Collector * collectors, guint n)
{
  const GstStructure *s = gst_message_get_structure (msg);
  const char *src = GST_OBJECT_NAME (GST_MESSAGE_SRC (msg));
  const GValue *ids, *scores;
  FrameResult r = { 0, };
  guint i;

  if (s == NULL || !gst_structure_has_name (s, "resnet50classify"))
    return;
  ids = gst_structure_get_value (s, "class-ids");
  scores = gst_structure_get_value (s, "scores");
  g_assert_true (gst_structure_get_uint64 (s, "timestamp", &r.pts));
  g_assert_cmpuint (gst_value_array_get_size (ids), ==, 1);
  r.class_id = g_value_get_uint (gst_value_array_get_value (ids, 0));
  r.score = g_value_get_double (gst_value_array_get_value (scores, 0));
  for (i = 0; i < n; i++)
    if (g_str_equal (collectors[i].name, src))
      g_array_append_val (collectors[i].results, r);
}

/* Runs @description to EOS on the calling thread, collecting the
 * messages of each named classifier. */
static void
run_pipeline (const char *description, Collector * collectors, guint n)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  GstBus *bus;
  gboolean done = FALSE;

  g_assert_no_error (error);
  bus = gst_element_get_bus (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop (bus, 300 * GST_SECOND);

    g_assert_nonnull (msg);
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:{
        GError *err = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error (msg, &err, &dbg);
        g_error ("%s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
            err->message, dbg);
        break;
      }
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ELEMENT:
        collect (msg, collectors, n);
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

static char *
single_description (const char *name)
{
  g_autofree char *source = g_strdup_printf (SOURCE, n_frames);
  g_autofree char *classifier = g_strdup_printf (CLASSIFIER, name,
      model_path);

  return g_strdup_printf ("%s%s ! fakesink sync=false", source, classifier);
}

static gpointer
thread_main (gpointer data)
{
  Collector *c = data;
  g_autofree char *description = single_description (c->name);

  run_pipeline (description, c, 1);
  return NULL;
}

static void
assert_same_results (const Collector * c, const GArray * reference)
{
  guint i;

  g_test_message ("%s: %u frames", c->name, c->results->len);
  g_assert_cmpuint (c->results->len, ==, reference->len);
  for (i = 0; i < reference->len; i++) {
    const FrameResult *a = &g_array_index (c->results, FrameResult, i);
    const FrameResult *b = &g_array_index (reference, FrameResult, i);
    if (a->pts != b->pts || a->class_id != b->class_id || a->score != b->score)
      g_error ("%s, frame %u: pts %" G_GUINT64_FORMAT " class %u score %.9g; "
          "alone: pts %" G_GUINT64_FORMAT " class %u score %.9g", c->name, i,
          a->pts, a->class_id, a->score, b->pts, b->class_id, b->score);
  }
}

static void
test_concurrent_instances_match_a_single_instance (void)
{
  Collector reference = { "alone", g_array_new (FALSE, TRUE,
        sizeof (FrameResult))
  };
  Collector threaded[N_THREADS], teed[2] = {
    {"tee_a", g_array_new (FALSE, TRUE, sizeof (FrameResult))},
    {"tee_b", g_array_new (FALSE, TRUE, sizeof (FrameResult))},
  };
  GThread *threads[N_THREADS];
  g_autofree char *alone = single_description ("alone");
  g_autofree char *source = g_strdup_printf (SOURCE, n_frames);
  g_autofree char *a = g_strdup_printf (CLASSIFIER, "tee_a", model_path);
  g_autofree char *b = g_strdup_printf (CLASSIFIER, "tee_b", model_path);
  g_autofree char *tee = g_strdup_printf ("%s tee name=t "
      "t. ! queue ! %s ! fakesink sync=false "
      "t. ! queue ! %s ! fakesink sync=false", source, a, b);
  guint i;

  run_pipeline (alone, &reference, 1);
  g_assert_cmpuint (reference.results->len, ==, n_frames);
  /* Consecutive frames differ, so a swapped or stale result shows. */
  for (i = 1; i < reference.results->len; i++)
    g_assert_cmpuint (g_array_index (reference.results, FrameResult,
            i).pts, >, g_array_index (reference.results, FrameResult,
            i - 1).pts);

  for (i = 0; i < N_THREADS; i++) {
    threaded[i].name = g_strdup_printf ("thread%u", i);
    threaded[i].results = g_array_new (FALSE, TRUE, sizeof (FrameResult));
    threads[i] = g_thread_new (threaded[i].name, thread_main, &threaded[i]);
  }
  run_pipeline (tee, teed, 2);
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  for (i = 0; i < N_THREADS; i++) {
    assert_same_results (&threaded[i], reference.results);
    g_array_unref (threaded[i].results);
    g_free ((char *) threaded[i].name);
  }
  assert_same_results (&teed[0], reference.results);
  assert_same_results (&teed[1], reference.results);
  g_array_unref (teed[0].results);
  g_array_unref (teed[1].results);
  g_array_unref (reference.results);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s MODEL [FRAMES]\n", argv[0]);
    return 2;
  }
  model_path = argv[1];
  if (argc > 2)
    n_frames = g_ascii_strtoull (argv[2], NULL, 10);
  g_test_add_func ("/concurrency/instances-match-a-single-instance",
      test_concurrent_instances_match_a_single_instance);
  ret = g_test_run ();
  gst_deinit ();
  return ret;
}
