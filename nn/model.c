/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine: lowers the layer list of graph.c onto oneDNN primitives once,
 * at load, and runs them. Convolutions and inner products are created with
 * format_tag any so oneDNN picks its blocked layouts, activations stay in
 * those layouts from one convolution to the next (a reorder is inserted only
 * where a consumer wants another layout), weights are reordered into the
 * chosen layout once, and every activation lives at a fixed offset in one
 * arena whose slots are reused once a tensor is dead. rn50_model_run() then
 * executes the prebuilt list of primitives on the model's stream: no
 * allocation and no primitive creation per frame. */
#include "model.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <omp.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "dnnl-check.h"
#include "graph.h"
#include "keras-h5.h"
#include "onnx-loader.h"
#include "winograd.h"

/* oneDNN's preferred alignment for buffers it does not allocate itself. */
#define RN50_ALIGN 64
#define RN50_MAX_ARGS 8

typedef enum
{
  STORAGE_ARENA,
  STORAGE_INPUT,                /* the model's input tensor */
  STORAGE_OUTPUT,               /* the model's output tensor */
} Storage;

/* One oneDNN memory object over an activation. Several bufs can share
 * storage (views, in-place sums): they point at their root. */
typedef struct
{
  dnnl_memory_desc_t md;
  dnnl_memory_t memory;         /* handle set once the arena is planned */
  gint root;
  Storage storage;
  gint first_step, last_step;   /* on roots: lifetime in steps */
  gsize offset;                 /* on roots in the arena */
} Buf;

/* Step argument that is not an activation: a constant (weights, bias,
 * statistics) shared by every instance, or the step's scratchpad, which
 * each instance places in its own scratchpad buffer. */
#define ARG_CONSTANT (-1)
#define ARG_SCRATCHPAD (-2)

typedef struct
{
  dnnl_primitive_t primitive;
  int n_args;
  dnnl_exec_arg_t args[RN50_MAX_ARGS];  /* constants; activations unbound */
  gint arg_buf[RN50_MAX_ARGS];  /* buf of each arg, or ARG_* */
  dnnl_memory_desc_t scratchpad_md;     /* when an arg is ARG_SCRATCHPAD */
  /* Instead of @primitive: our Winograd convolution (args: SRC, DST, both
   * nChw8c), scratch in the instance's scratchpad. */
  Rn50Winograd *winograd;
  char *label;
} Step;

/* What several elements loading the same file share: the primitives, the
 * weights in oneDNN's layouts and the plan of where each activation lives.
 * Immutable once built, so any number of threads may execute its primitives
 * at once, each on its own Rn50Model (buffers, memory objects, stream);
 * oneDNN primitives are thread-safe when every execution brings its own
 * memory, scratchpad included. Reference-counted; the process-wide cache
 * below hands out one per (file, batch, threads, flags). */
typedef struct
{
  gint ref_count;               /* atomic */
  char *cache_key;              /* NULL when not in the cache */
  char *name;
  guint batch;
  guint threads;                /* OpenMP threads the primitives run with */
  guint channels, height, width;        /* per image */
  gsize input_elements;         /* per run: batch × C × H × W */
  guint num_classes;            /* per image */
  gboolean probabilities;
  gsize arena_bytes;            /* activations of one run, reused slots */
  gsize scratchpad_bytes;       /* largest scratchpad of any step */

  dnnl_engine_t engine;
  dnnl_stream_t stream;         /* load-time reorders of the weights */
  GArray *steps;                /* Step */
  GArray *bufs;                 /* Buf: layout and arena place of views */
  GPtrArray *memories;          /* every dnnl_memory_t created at load */
} Rn50Network;

/* One user of a network: its own input, output, activations, scratchpad
 * and stream. */
struct _Rn50Model
{
  Rn50Network *net;
  float *input;
  float *output;
  guint8 *arena;
  guint8 *scratchpad;
  dnnl_stream_t stream;
  dnnl_memory_t *buf_memories;  /* one per net->bufs */
  dnnl_memory_t *scratch_memories;      /* one per step, NULL if none */
  dnnl_exec_arg_t *args;        /* per step, RN50_MAX_ARGS each, bound */
  Rn50WinogradBinding **winograd_bindings;      /* per step, or NULL */
};

/* Load-time state of the lowering. */
typedef struct
{
  Rn50Network *net;
  const Rn50Graph *graph;
  GArray *bufs;                 /* Buf */
  gint *value_buf;              /* graph value → buf, -1 until produced */
  gint *value_alt;              /* graph value → copy in another layout */
  gboolean winograd;            /* try Winograd for 3×3 stride-1 convs */
  dnnl_primitive_attr_t attr;   /* scratchpad user mode, no post-ops */
} Lower;

static Buf *
buf_at (Lower * L, gint id)
{
  return &g_array_index (L->bufs, Buf, id);
}

static gboolean
new_buf (Lower * L, const dnnl_memory_desc_t * md, gint root, gint * id,
    GError ** error)
{
  Buf buf = { 0, };
  gboolean ok = FALSE;

  buf.md = *md;
  buf.storage = STORAGE_ARENA;
  buf.first_step = buf.last_step = -1;
  RN50_DNNL_CHECK (dnnl_memory_create (&buf.memory, md, L->net->engine,
          DNNL_MEMORY_NONE));
  g_ptr_array_add (L->net->memories, buf.memory);
  *id = L->bufs->len;
  buf.root = root >= 0 ? root : *id;
  g_array_append_val (L->bufs, buf);
  ok = TRUE;

out:
  return ok;
}

static dnnl_format_tag_t
plain_tag (int ndims)
{
  static const dnnl_format_tag_t tags[] = {
    dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde,
  };
  return ndims >= 1 && ndims <= 5 ? tags[ndims] : dnnl_format_tag_undef;
}

/* Dense row-major, what the user's buffers and a reshape need. */
static gboolean
md_is_plain (const dnnl_memory_desc_t * md)
{
  const dnnl_blocking_desc_t *blk = &md->format_desc.blocking;
  dnnl_dim_t stride = 1;
  int i;

  if (md->format_kind != dnnl_blocked || blk->inner_nblks != 0
      || md->offset0 != 0)
    return FALSE;
  for (i = md->ndims - 1; i >= 0; i--) {
    if (md->padded_dims[i] != md->dims[i] || md->padded_offsets[i] != 0)
      return FALSE;
    if (md->dims[i] != 1 && blk->strides[i] != stride)
      return FALSE;
    stride *= md->dims[i];
  }
  return TRUE;
}

static gboolean
plain_md (dnnl_memory_desc_t * md, guint ndims, const gint64 * dims,
    GError ** error)
{
  dnnl_dims_t d;
  guint i;
  gboolean ok = FALSE;

  for (i = 0; i < ndims; i++)
    d[i] = dims[i];
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (md, ndims, d, dnnl_f32,
          plain_tag (ndims)));
  ok = TRUE;

out:
  return ok;
}

static gboolean
any_md (dnnl_memory_desc_t * md, guint ndims, const dnnl_dim_t * dims,
    GError ** error)
{
  gboolean ok = FALSE;

  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (md, ndims, dims, dnnl_f32,
          dnnl_format_tag_any));
  ok = TRUE;

out:
  return ok;
}

static const dnnl_memory_desc_t *
pd_md (const_dnnl_primitive_desc_t pd, int arg)
{
  return dnnl_primitive_desc_query_md (pd, dnnl_query_exec_arg_md, arg);
}

/* Creates the primitive of @pd and appends a step running it with @args;
 * @arg_bufs says which args are activation bufs (for lifetimes), -1 for
 * constants. Adds the scratchpad argument when the primitive wants one. */
static gboolean
add_step (Lower * L, const_dnnl_primitive_desc_t pd, const char *label,
    int n_args, const int *arg_kinds, const dnnl_memory_t * mems,
    const gint * arg_bufs, GError ** error)
{
  Rn50Network *net = L->net;
  Step step = { 0, };
  const dnnl_memory_desc_t *sp_md;
  gsize sp_size;
  const char *impl = NULL;
  int i;
  gboolean ok = FALSE;

  if (n_args >= RN50_MAX_ARGS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_ENGINE,
        "%s: internal error: %d arguments", label, n_args);
    goto out;
  }
  RN50_DNNL_CHECK (dnnl_primitive_create (&step.primitive, pd));
  for (i = 0; i < n_args; i++) {
    step.args[i].arg = arg_kinds[i];
    step.args[i].memory = mems[i];
    step.arg_buf[i] = arg_bufs[i];
  }
  step.n_args = n_args;

  sp_md = dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
  sp_size = sp_md ? dnnl_memory_desc_get_size (sp_md) : 0;
  if (sp_size > 0) {
    /* Each instance binds its own memory over its own scratchpad. */
    net->scratchpad_bytes = MAX (net->scratchpad_bytes, sp_size);
    step.scratchpad_md = *sp_md;
    step.args[step.n_args].arg = DNNL_ARG_SCRATCHPAD;
    step.args[step.n_args].memory = NULL;
    step.arg_buf[step.n_args] = ARG_SCRATCHPAD;
    step.n_args++;
  }
  RN50_DNNL_CHECK (dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str,
          0, &impl));
  step.label = g_strdup (label);
  g_debug ("step %u: %s [%s]", net->steps->len, label, impl);
  g_array_append_val (net->steps, step);
  step.primitive = NULL;
  ok = TRUE;

out:
  if (step.primitive != NULL)
    dnnl_primitive_destroy (step.primitive);
  return ok;
}

/* Appends a reorder step from buf @src into a new buf of layout @md. */
static gboolean
add_reorder (Lower * L, gint src, const dnnl_memory_desc_t * md,
    const char *label, gint * dst, GError ** error)
{
  dnnl_primitive_desc_t pd = NULL;
  int kinds[2] = { DNNL_ARG_FROM, DNNL_ARG_TO };
  dnnl_memory_t mems[2];
  gint bufs[2];
  char *what = NULL;
  gboolean ok = FALSE;

  if (!new_buf (L, md, -1, dst, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_reorder_primitive_desc_create (&pd,
          &buf_at (L, src)->md, L->net->engine, md, L->net->engine,
          L->attr));
  mems[0] = buf_at (L, src)->memory;
  mems[1] = buf_at (L, *dst)->memory;
  bufs[0] = src;
  bufs[1] = *dst;
  what = g_strdup_printf ("%s: reorder", label);
  if (!add_step (L, pd, what, 2, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  g_free (what);
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

/* The buf holding graph value @v in whatever layout its producer chose.
 * Views (Flatten, Reshape) are a reshaped memory descriptor over their
 * base's storage, which needs the base in plain row-major layout. */
static gboolean
value_buffer (Lower * L, gint v, gint * id, GError ** error)
{
  const Rn50Value *value = rn50_graph_value (L->graph, v);
  const Rn50Value *base_value;
  dnnl_memory_desc_t plain, view;
  dnnl_dims_t dims;
  gint base;
  guint i;
  gboolean ok = FALSE;

  if (L->value_buf[v] >= 0) {
    *id = L->value_buf[v];
    return TRUE;
  }
  if (value->view_of < 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_ENGINE,
        "internal error: tensor '%s' is read before it is computed",
        value->name);
    return FALSE;
  }
  base_value = rn50_graph_value (L->graph, value->view_of);
  if (!value_buffer (L, value->view_of, &base, error))
    goto out;
  if (!md_is_plain (&buf_at (L, base)->md)) {
    if (!plain_md (&plain, base_value->ndims, base_value->dims, error)
        || !add_reorder (L, base, &plain, value->name, &base, error))
      goto out;
  }
  for (i = 0; i < value->ndims; i++)
    dims[i] = value->dims[i];
  RN50_DNNL_CHECK (dnnl_memory_desc_reshape (&view, &buf_at (L, base)->md,
          value->ndims, dims));
  if (!new_buf (L, &view, buf_at (L, base)->root, id, error))
    goto out;
  L->value_buf[v] = *id;
  ok = TRUE;

out:
  return ok;
}

/* Value @v in layout @md: its own buf when the layouts agree, else a
 * reordered copy, made once and shared by every reader wanting it. */
static gboolean
value_in_layout (Lower * L, gint v, const dnnl_memory_desc_t * md,
    const char *label, gint * id, GError ** error)
{
  gint own;

  if (!value_buffer (L, v, &own, error))
    return FALSE;
  if (dnnl_memory_desc_equal (&buf_at (L, own)->md, md)) {
    *id = own;
    return TRUE;
  }
  if (L->value_alt[v] >= 0
      && dnnl_memory_desc_equal (&buf_at (L, L->value_alt[v])->md, md)) {
    *id = L->value_alt[v];
    return TRUE;
  }
  if (!add_reorder (L, own, md, label, id, error))
    return FALSE;
  L->value_alt[v] = *id;
  return TRUE;
}

static void flush_denormal_floats (float *data, gsize n);

/* A constant (weights, bias, statistics) in layout @md, reordered once from
 * the host tensor's plain layout @host_md on the model's stream. */
static gboolean
const_memory (Lower * L, const dnnl_memory_desc_t * md,
    const dnnl_memory_desc_t * host_md, const float *host,
    dnnl_memory_t * memory, GError ** error)
{
  Rn50Network *net = L->net;
  dnnl_memory_t src = NULL, dst = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_exec_arg_t args[2];
  void *data = NULL;
  gboolean ok = FALSE;

  RN50_DNNL_CHECK (dnnl_memory_create (&dst, md, net->engine,
          DNNL_MEMORY_ALLOCATE));
  RN50_DNNL_CHECK (dnnl_memory_create (&src, host_md, net->engine,
          (void *) host));
  RN50_DNNL_CHECK (dnnl_reorder_primitive_desc_create (&pd, host_md,
          net->engine, md, net->engine, NULL));
  RN50_DNNL_CHECK (dnnl_primitive_create (&reorder, pd));
  args[0].arg = DNNL_ARG_FROM;
  args[0].memory = src;
  args[1].arg = DNNL_ARG_TO;
  args[1].memory = dst;
  RN50_DNNL_CHECK (dnnl_primitive_execute (reorder, net->stream, 2, args));
  RN50_DNNL_CHECK (dnnl_stream_wait (net->stream));
  RN50_DNNL_CHECK (dnnl_memory_get_data_handle (dst, &data));
  flush_denormal_floats (data, dnnl_memory_desc_get_size (md) / sizeof (float));
  g_ptr_array_add (net->memories, dst);
  *memory = g_steal_pointer (&dst);
  ok = TRUE;

out:
  if (reorder != NULL)
    dnnl_primitive_destroy (reorder);
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  if (src != NULL)
    dnnl_memory_destroy (src);
  if (dst != NULL)
    dnnl_memory_destroy (dst);
  return ok;
}

/* Primitive attributes: shared user scratchpad, and the layer's post-ops
 * (residual sum first, then ReLU, matching Add→Relu in the graph). */
static gboolean
make_attr (Lower * L, const Rn50Layer * layer, dnnl_primitive_attr_t * attr,
    GError ** error)
{
  dnnl_post_ops_t ops = NULL;
  gboolean ok = FALSE;

  RN50_DNNL_CHECK (dnnl_primitive_attr_create (attr));
  RN50_DNNL_CHECK (dnnl_primitive_attr_set_scratchpad_mode (*attr,
          dnnl_scratchpad_mode_user));
  if (layer->sum_src >= 0 || layer->relu) {
    RN50_DNNL_CHECK (dnnl_post_ops_create (&ops));
    if (layer->sum_src >= 0)
      RN50_DNNL_CHECK (dnnl_post_ops_append_sum (ops, 1.0f));
    if (layer->relu)
      RN50_DNNL_CHECK (dnnl_post_ops_append_eltwise (ops, 1.0f,
              dnnl_eltwise_relu, 0.0f, 0.0f));
    RN50_DNNL_CHECK (dnnl_primitive_attr_set_post_ops (*attr, ops));
  }
  ok = TRUE;

out:
  if (ops != NULL)
    dnnl_post_ops_destroy (ops);
  return ok;
}

/* The new activation @v produced in layout @md. */
static gboolean
produce (Lower * L, gint v, const dnnl_memory_desc_t * md, gint * id,
    GError ** error)
{
  if (!new_buf (L, md, -1, id, error))
    return FALSE;
  L->value_buf[v] = *id;
  return TRUE;
}

/* Weight dims as oneDNN wants them: OC × IC × KH × KW, or grouped
 * G × OC/G × IC/G × KH × KW. Returns the rank. */
static int
conv_weight_dims (const Rn50Layer * layer, dnnl_dims_t w_dims)
{
  const Rn50Tensor *w = layer->weights;
  int i;

  if (layer->groups > 1) {
    w_dims[0] = layer->groups;
    w_dims[1] = w->dims[0] / layer->groups;
    for (i = 1; i < 4; i++)
      w_dims[i + 1] = w->dims[i];
    return 5;
  }
  for (i = 0; i < 4; i++)
    w_dims[i] = w->dims[i];
  return 4;
}

/* The convolution's primitive descriptor for algorithm @alg, every memory
 * descriptor left to oneDNN (format_tag any). */
static gboolean
conv_pd_new (Lower * L, const Rn50Layer * layer, dnnl_alg_kind_t alg,
    dnnl_primitive_desc_t * pd, GError ** error)
{
  const Rn50Value *x = rn50_graph_value (L->graph, layer->src);
  const Rn50Value *y = rn50_graph_value (L->graph, layer->dst);
  dnnl_convolution_desc_t desc;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
  dnnl_dims_t src_dims, w_dims, b_dims, dst_dims, strides, dil, pl, pr;
  int w_ndims, i;
  gboolean ok = FALSE;

  for (i = 0; i < 4; i++) {
    src_dims[i] = x->dims[i];
    dst_dims[i] = y->dims[i];
  }
  w_ndims = conv_weight_dims (layer, w_dims);
  b_dims[0] = layer->weights->dims[0];
  for (i = 0; i < 2; i++) {
    strides[i] = layer->strides[i];
    dil[i] = layer->dilations[i] - 1;   /* oneDNN counts skipped pixels */
    pl[i] = layer->pads_begin[i];
    pr[i] = layer->pads_end[i];
  }
  if (!any_md (&src_md, 4, src_dims, error)
      || !any_md (&w_md, w_ndims, w_dims, error)
      || !any_md (&b_md, 1, b_dims, error)
      || !any_md (&dst_md, 4, dst_dims, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_dilated_convolution_forward_desc_init (&desc,
          dnnl_forward_inference, alg, &src_md, &w_md,
          layer->bias ? &b_md : NULL, &dst_md, strides, dil, pl, pr));
  if (!make_attr (L, layer, &attr, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (pd, &desc, attr,
          L->net->engine, NULL));
  ok = TRUE;

out:
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
  return ok;
}

/* A 3×3 stride-1 pad-1 convolution as our Winograd (nn/winograd.c), for
 * CPUs where oneDNN has none, when rn50_winograd_choose()'s measurements say
 * it beats the direct convolution for this shape. Activations in and out
 * are nChw8c, the layout oneDNN's AVX2 convolutions pick for these channel
 * counts, so no reorder appears around it. FALSE with no error: not
 * applicable, use direct. */
static gboolean
lower_conv_winograd (Lower * L, const Rn50Layer * layer, gboolean * done,
    GError ** error)
{
  const Rn50Value *x = rn50_graph_value (L->graph, layer->src);
  Rn50WinogradVariant variant;
  Rn50Winograd *wg = NULL;
  Step step = { 0, };
  dnnl_memory_desc_t md;
  dnnl_dims_t dims;
  gint src, dst;
  int i;
  gboolean ok = FALSE;

  *done = FALSE;
  if (layer->kernel[0] != 3 || layer->kernel[1] != 3
      || layer->strides[0] != 1 || layer->strides[1] != 1
      || layer->dilations[0] != 1 || layer->dilations[1] != 1
      || layer->groups != 1 || layer->sum_src >= 0 || x->ndims != 4
      || layer->pads_begin[0] != 1 || layer->pads_begin[1] != 1
      || layer->pads_end[0] != 1 || layer->pads_end[1] != 1
      || !rn50_winograd_choose (x->dims[0], x->dims[1],
          layer->weights->dims[0], x->dims[2], x->dims[3], L->net->threads,
          &variant))
    return TRUE;

  wg = rn50_winograd_new (L->net->engine, variant, x->dims[0], x->dims[1],
      layer->weights->dims[0], x->dims[2], x->dims[3],
      rn50_tensor_floats (layer->weights),
      layer->bias ? rn50_tensor_floats (layer->bias) : NULL, layer->relu,
      error);
  if (wg == NULL)
    goto out;

  for (i = 0; i < 4; i++)
    dims[i] = x->dims[i];
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&md, 4, dims, dnnl_f32,
          dnnl_nChw8c));
  if (!value_in_layout (L, layer->src, &md, layer->label, &src, error))
    goto out;
  dims[1] = layer->weights->dims[0];
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&md, 4, dims, dnnl_f32,
          dnnl_nChw8c));
  if (!produce (L, layer->dst, &md, &dst, error))
    goto out;

  step.n_args = 2;
  step.args[0].arg = DNNL_ARG_SRC;
  step.args[0].memory = buf_at (L, src)->memory;
  step.arg_buf[0] = src;
  step.args[1].arg = DNNL_ARG_DST;
  step.args[1].memory = buf_at (L, dst)->memory;
  step.arg_buf[1] = dst;
  L->net->scratchpad_bytes = MAX (L->net->scratchpad_bytes,
      rn50_winograd_get_scratch_bytes (wg));
  step.label = g_strdup (layer->label);
  g_debug ("step %u: %s [winograd F(%s,3x3), matmul %s, %s transforms]",
      L->net->steps->len, layer->label,
      variant == RN50_WINOGRAD_F4x4_3x3 ? "4x4" : "2x2",
      rn50_winograd_get_matmul_impl (wg),
      rn50_winograd_uses_avx2 (wg) ? "avx2" : "portable");
  step.winograd = g_steal_pointer (&wg);
  g_array_append_val (L->net->steps, step);
  *done = TRUE;
  ok = TRUE;

out:
  rn50_winograd_free (wg);
  return ok;
}

static gboolean
lower_conv (Lower * L, const Rn50Layer * layer, GError ** error)
{
  const Rn50Tensor *w = layer->weights;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t w_host, b_host;
  dnnl_dims_t w_dims, b_dims;
  dnnl_memory_t w_mem = NULL, b_mem = NULL;
  int kinds[5];
  dnnl_memory_t mems[5];
  gint bufs[5], src, dst;
  int n = 0, w_ndims;
  gboolean ok = FALSE;

  /* 3×3 stride-1 convolutions (half of ResNet-50's time) run ~2× faster
   * as Winograd F(4×4, 3×3) where oneDNN has it (AVX-512); its extra
   * rounding is ~1e-6 of the logits, far inside parity tolerances. Other
   * CPUs and shapes use direct convolution. */
  if (L->winograd && layer->kernel[0] == 3 && layer->kernel[1] == 3
      && layer->strides[0] == 1 && layer->strides[1] == 1
      && layer->dilations[0] == 1 && layer->dilations[1] == 1
      && layer->groups == 1) {
    GError *wino_error = NULL;
    if (!conv_pd_new (L, layer, dnnl_convolution_winograd, &pd, &wino_error)) {
      g_debug ("%s: no Winograd convolution here, using direct: %s",
          layer->label, wino_error->message);
      g_clear_error (&wino_error);
    }
  }
  if (pd == NULL && L->winograd) {
    gboolean done;
    if (!lower_conv_winograd (L, layer, &done, error))
      goto out;
    if (done) {
      ok = TRUE;
      goto out;
    }
  }
  if (pd == NULL
      && !conv_pd_new (L, layer, dnnl_convolution_direct, &pd, error))
    goto out;

  w_ndims = conv_weight_dims (layer, w_dims);
  b_dims[0] = w->dims[0];
  if (!value_in_layout (L, layer->src, pd_md (pd, DNNL_ARG_SRC), layer->label,
          &src, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&w_host, w_ndims, w_dims,
          dnnl_f32, w_ndims == 5 ? dnnl_goihw : dnnl_oihw));
  if (!const_memory (L, pd_md (pd, DNNL_ARG_WEIGHTS), &w_host,
          rn50_tensor_floats (w), &w_mem, error))
    goto out;
  if (layer->bias) {
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&b_host, 1, b_dims,
            dnnl_f32, dnnl_x));
    if (!const_memory (L, pd_md (pd, DNNL_ARG_BIAS), &b_host,
            rn50_tensor_floats (layer->bias), &b_mem, error))
      goto out;
  }

  if (layer->sum_src >= 0) {
    /* The sum post-op accumulates into dst: dst is the other operand's
     * buffer (graph.c made sure nobody reads it afterwards), or a copy of
     * it in the layout the convolution writes. */
    if (!value_in_layout (L, layer->sum_src, pd_md (pd, DNNL_ARG_DST),
            layer->label, &dst, error))
      goto out;
    L->value_buf[layer->dst] = dst;
  } else if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error)) {
    goto out;
  }

  kinds[n] = DNNL_ARG_SRC;
  mems[n] = buf_at (L, src)->memory;
  bufs[n++] = src;
  kinds[n] = DNNL_ARG_WEIGHTS;
  mems[n] = w_mem;
  bufs[n++] = -1;
  if (b_mem != NULL) {
    kinds[n] = DNNL_ARG_BIAS;
    mems[n] = b_mem;
    bufs[n++] = -1;
  }
  kinds[n] = DNNL_ARG_DST;
  mems[n] = buf_at (L, dst)->memory;
  bufs[n++] = dst;
  if (!add_step (L, pd, layer->label, n, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_inner_product (Lower * L, const Rn50Layer * layer, GError ** error)
{
  const Rn50Value *x = rn50_graph_value (L->graph, layer->src);
  const Rn50Value *y = rn50_graph_value (L->graph, layer->dst);
  const Rn50Value *base;
  const Rn50Tensor *w = layer->weights;
  dnnl_inner_product_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_memory_desc_t w_md, b_md, dst_md, w_host, b_host;
  dnnl_dims_t w_dims, b_dims, dst_dims;
  dnnl_memory_t w_mem = NULL, b_mem = NULL;
  int kinds[4];
  dnnl_memory_t mems[4];
  gint bufs[4], src, dst, src_value = layer->src;
  int n = 0, ndims = 2, i;
  gboolean ok = FALSE;

  /* N×C×H×W flattened to N×(C·H·W) is read as it is, with 4-D weights:
   * oneDNN's inner product takes the blocked pooled tensor directly, so
   * the flatten costs no reorder. Row-major flattening of NCHW matches the
   * OC×C×H×W weight order. */
  base = x->view_of >= 0 ? rn50_graph_value (L->graph, x->view_of) : NULL;
  if (base != NULL && base->ndims == 4 && x->ndims == 2
      && base->dims[0] == x->dims[0]) {
    src_value = x->view_of;
    ndims = 4;
  }
  if (!value_buffer (L, src_value, &src, error))
    goto out;

  w_dims[0] = w->dims[0];
  if (ndims == 4) {
    for (i = 1; i < 4; i++)
      w_dims[i] = base->dims[i];
  } else {
    w_dims[1] = w->dims[1];
  }
  b_dims[0] = w->dims[0];
  dst_dims[0] = y->dims[0];
  dst_dims[1] = y->dims[1];
  if (!any_md (&w_md, ndims, w_dims, error)
      || !any_md (&b_md, 1, b_dims, error)
      || !any_md (&dst_md, 2, dst_dims, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_inner_product_forward_desc_init (&desc,
          dnnl_forward_inference, &buf_at (L, src)->md, &w_md,
          layer->bias ? &b_md : NULL, &dst_md));
  if (!make_attr (L, layer, &attr, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, attr,
          L->net->engine, NULL));

  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&w_host, ndims, w_dims,
          dnnl_f32, ndims == 4 ? dnnl_oihw : dnnl_oi));
  if (!const_memory (L, pd_md (pd, DNNL_ARG_WEIGHTS), &w_host,
          rn50_tensor_floats (w), &w_mem, error))
    goto out;
  if (layer->bias) {
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&b_host, 1, b_dims,
            dnnl_f32, dnnl_x));
    if (!const_memory (L, pd_md (pd, DNNL_ARG_BIAS), &b_host,
            rn50_tensor_floats (layer->bias), &b_mem, error))
      goto out;
  }
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;

  kinds[n] = DNNL_ARG_SRC;
  mems[n] = buf_at (L, src)->memory;
  bufs[n++] = src;
  kinds[n] = DNNL_ARG_WEIGHTS;
  mems[n] = w_mem;
  bufs[n++] = -1;
  if (b_mem != NULL) {
    kinds[n] = DNNL_ARG_BIAS;
    mems[n] = b_mem;
    bufs[n++] = -1;
  }
  kinds[n] = DNNL_ARG_DST;
  mems[n] = buf_at (L, dst)->memory;
  bufs[n++] = dst;
  if (!add_step (L, pd, layer->label, n, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_batch_norm (Lower * L, const Rn50Layer * layer, GError ** error)
{
  dnnl_batch_normalization_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t host;
  dnnl_dims_t c_dims;
  const Rn50Tensor *params[4] = { layer->mean, layer->var, layer->scale,
    layer->shift
  };
  int kinds[6] = { DNNL_ARG_SRC, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
    DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST
  };
  dnnl_memory_t mems[6];
  gint bufs[6] = { -1, -1, -1, -1, -1, -1 }, src, dst;
  unsigned flags;
  int i;
  gboolean ok = FALSE;

  if (!value_buffer (L, layer->src, &src, error))
    goto out;
  flags = dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift;
  if (layer->relu)
    flags |= dnnl_fuse_norm_relu;
  RN50_DNNL_CHECK (dnnl_batch_normalization_forward_desc_init (&desc,
          dnnl_forward_inference, &buf_at (L, src)->md, layer->epsilon, flags));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, L->attr,
          L->net->engine, NULL));
  c_dims[0] = layer->mean->n_elements;
  RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&host, 1, c_dims, dnnl_f32,
          dnnl_x));
  for (i = 0; i < 4; i++)
    if (!const_memory (L, pd_md (pd, kinds[i + 1]), &host,
            rn50_tensor_floats (params[i]), &mems[i + 1], error))
      goto out;
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;
  mems[0] = buf_at (L, src)->memory;
  bufs[0] = src;
  mems[5] = buf_at (L, dst)->memory;
  bufs[5] = dst;
  if (!add_step (L, pd, layer->label, 6, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_relu (Lower * L, const Rn50Layer * layer, GError ** error)
{
  dnnl_eltwise_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  int kinds[2] = { DNNL_ARG_SRC, DNNL_ARG_DST };
  dnnl_memory_t mems[2];
  gint bufs[2], src, dst;
  gboolean ok = FALSE;

  if (!value_buffer (L, layer->src, &src, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_eltwise_forward_desc_init (&desc,
          dnnl_forward_inference, dnnl_eltwise_relu, &buf_at (L, src)->md,
          0.0f, 0.0f));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, L->attr,
          L->net->engine, NULL));
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;
  mems[0] = buf_at (L, src)->memory;
  mems[1] = buf_at (L, dst)->memory;
  bufs[0] = src;
  bufs[1] = dst;
  if (!add_step (L, pd, layer->label, 2, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_add (Lower * L, const Rn50Layer * layer, GError ** error)
{
  const Rn50Value *y = rn50_graph_value (L->graph, layer->dst);
  dnnl_binary_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_memory_desc_t src1_md, dst_md;
  dnnl_dims_t dims;
  int kinds[3] = { DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST };
  dnnl_memory_t mems[3];
  gint bufs[3], src0, src1 = -1, dst;
  guint i;
  gboolean ok = FALSE;

  if (!value_buffer (L, layer->src, &src0, error))
    goto out;
  if (layer->src1 >= 0) {
    if (!value_buffer (L, layer->src1, &src1, error))
      goto out;
    src1_md = buf_at (L, src1)->md;
  } else {
    /* The constant, right-aligned against dst and padded with 1s, which
     * oneDNN broadcasts. */
    const Rn50Tensor *c = layer->constant;
    for (i = 0; i < y->ndims; i++) {
      gint ci = (gint) i - (gint) (y->ndims - c->ndims);
      dims[i] = ci >= 0 ? c->dims[ci] : 1;
    }
    RN50_DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src1_md, y->ndims, dims,
            dnnl_f32, plain_tag (y->ndims)));
  }
  for (i = 0; i < y->ndims; i++)
    dims[i] = y->dims[i];
  if (!any_md (&dst_md, y->ndims, dims, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_binary_desc_init (&desc, dnnl_binary_add,
          &buf_at (L, src0)->md, &src1_md, &dst_md));
  if (!make_attr (L, layer, &attr, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, attr,
          L->net->engine, NULL));
  if (layer->src1 < 0) {
    if (!const_memory (L, &src1_md, &src1_md,
            rn50_tensor_floats (layer->constant), &mems[1], error))
      goto out;
  } else {
    mems[1] = buf_at (L, src1)->memory;
  }
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;
  mems[0] = buf_at (L, src0)->memory;
  mems[2] = buf_at (L, dst)->memory;
  bufs[0] = src0;
  bufs[1] = src1;
  bufs[2] = dst;
  if (!add_step (L, pd, layer->label, 3, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_pool (Lower * L, const Rn50Layer * layer, GError ** error)
{
  const Rn50Value *y = rn50_graph_value (L->graph, layer->dst);
  dnnl_pooling_v2_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t dst_md;
  dnnl_dims_t dims, strides, kernel, dil, pl, pr;
  dnnl_alg_kind_t alg;
  int kinds[2] = { DNNL_ARG_SRC, DNNL_ARG_DST };
  dnnl_memory_t mems[2];
  gint bufs[2], src, dst;
  int i;
  gboolean ok = FALSE;

  if (!value_buffer (L, layer->src, &src, error))
    goto out;
  for (i = 0; i < 4; i++)
    dims[i] = y->dims[i];
  for (i = 0; i < 2; i++) {
    strides[i] = layer->strides[i];
    kernel[i] = layer->kernel[i];
    dil[i] = layer->dilations[i] - 1;
    pl[i] = layer->pads_begin[i];
    pr[i] = layer->pads_end[i];
  }
  if (layer->kind == RN50_LAYER_MAX_POOL)
    alg = dnnl_pooling_max;
  else if (layer->count_include_pad)
    alg = dnnl_pooling_avg_include_padding;
  else
    alg = dnnl_pooling_avg_exclude_padding;
  if (!any_md (&dst_md, 4, dims, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_pooling_v2_forward_desc_init (&desc,
          dnnl_forward_inference, alg, &buf_at (L, src)->md, &dst_md, strides,
          kernel, dil, pl, pr));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, L->attr,
          L->net->engine, NULL));
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;
  mems[0] = buf_at (L, src)->memory;
  mems[1] = buf_at (L, dst)->memory;
  bufs[0] = src;
  bufs[1] = dst;
  if (!add_step (L, pd, layer->label, 2, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

static gboolean
lower_softmax (Lower * L, const Rn50Layer * layer, GError ** error)
{
  const Rn50Value *y = rn50_graph_value (L->graph, layer->dst);
  dnnl_softmax_v2_desc_t desc;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t dst_md;
  dnnl_dims_t dims;
  int kinds[2] = { DNNL_ARG_SRC, DNNL_ARG_DST };
  dnnl_memory_t mems[2];
  gint bufs[2], src, dst;
  guint i;
  gboolean ok = FALSE;

  if (!value_buffer (L, layer->src, &src, error))
    goto out;
  for (i = 0; i < y->ndims; i++)
    dims[i] = y->dims[i];
  if (!any_md (&dst_md, y->ndims, dims, error))
    goto out;
  RN50_DNNL_CHECK (dnnl_softmax_v2_forward_desc_init (&desc,
          dnnl_forward_inference, dnnl_softmax_accurate,
          &buf_at (L, src)->md, &dst_md, layer->axis));
  RN50_DNNL_CHECK (dnnl_primitive_desc_create (&pd, &desc, L->attr,
          L->net->engine, NULL));
  if (!produce (L, layer->dst, pd_md (pd, DNNL_ARG_DST), &dst, error))
    goto out;
  mems[0] = buf_at (L, src)->memory;
  mems[1] = buf_at (L, dst)->memory;
  bufs[0] = src;
  bufs[1] = dst;
  if (!add_step (L, pd, layer->label, 2, kinds, mems, bufs, error))
    goto out;
  ok = TRUE;

out:
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  return ok;
}

/* The graph output in the model's plain N×classes output buffer: the last
 * primitive writes there directly when its layout is already plain, else a
 * final reorder copies it there. */
static gboolean
lower_output (Lower * L, GError ** error)
{
  const Rn50Value *v = rn50_graph_value (L->graph, L->graph->output);
  dnnl_memory_desc_t plain;
  gint id;
  Buf *root;
  gsize bytes = (gsize) L->net->batch * L->net->num_classes *
      sizeof (float);

  if (!value_buffer (L, L->graph->output, &id, error))
    return FALSE;
  root = buf_at (L, buf_at (L, id)->root);
  if (md_is_plain (&buf_at (L, id)->md) && root->storage == STORAGE_ARENA
      && dnnl_memory_desc_get_size (&root->md) == bytes) {
    root->storage = STORAGE_OUTPUT;
    return TRUE;
  }
  if (!plain_md (&plain, v->ndims, v->dims, error)
      || !add_reorder (L, id, &plain, "output", &id, error))
    return FALSE;
  buf_at (L, id)->storage = STORAGE_OUTPUT;
  return TRUE;
}

typedef struct
{
  gsize offset, size;
} Block;

static gint
block_cmp (gconstpointer a, gconstpointer b)
{
  const Block *x = a, *y = b;

  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Gives every arena root an offset such that tensors alive at the same
 * step never overlap: first fit over the live blocks, in step order. Reuse
 * keeps the working set small enough to stay in cache between layers. */
static void
plan_arena (Lower * L)
{
  Rn50Network *net = L->net;
  GArray *live = g_array_new (FALSE, FALSE, sizeof (Block));
  GPtrArray *born = g_ptr_array_new (), *dying = g_ptr_array_new ();
  guint s, i, a;
  gsize end = 0;

  for (i = 0; i < L->bufs->len; i++)
    buf_at (L, i)->first_step = buf_at (L, i)->last_step = -1;
  for (s = 0; s < net->steps->len; s++) {
    Step *step = &g_array_index (net->steps, Step, s);
    for (a = 0; a < (guint) step->n_args; a++) {
      Buf *root;
      if (step->arg_buf[a] < 0)
        continue;
      root = buf_at (L, buf_at (L, step->arg_buf[a])->root);
      if (root->first_step < 0)
        root->first_step = s;
      root->last_step = s;
    }
  }

  for (s = 0; s < net->steps->len; s++) {
    g_ptr_array_set_size (born, 0);
    g_ptr_array_set_size (dying, 0);
    for (i = 0; i < L->bufs->len; i++) {
      Buf *buf = buf_at (L, i);
      if (buf->root != (gint) i || buf->storage != STORAGE_ARENA)
        continue;
      if (buf->first_step == (gint) s)
        g_ptr_array_add (born, buf);
      if (buf->last_step == (gint) s)
        g_ptr_array_add (dying, buf);
    }
    for (i = 0; i < born->len; i++) {
      Buf *buf = g_ptr_array_index (born, i);
      gsize size = dnnl_memory_desc_get_size (&buf->md);
      gsize at = 0;
      Block blk;
      size = (size + RN50_ALIGN - 1) / RN50_ALIGN * RN50_ALIGN;
      for (a = 0; a < live->len; a++) {
        Block *b = &g_array_index (live, Block, a);
        if (b->offset >= at + size)
          break;
        at = MAX (at, b->offset + b->size);
      }
      buf->offset = at;
      blk.offset = at;
      blk.size = size;
      g_array_append_val (live, blk);
      g_array_sort (live, block_cmp);
      end = MAX (end, at + size);
    }
    for (i = 0; i < dying->len; i++) {
      Buf *buf = g_ptr_array_index (dying, i);
      for (a = 0; a < live->len; a++)
        if (g_array_index (live, Block, a).offset == buf->offset) {
          g_array_remove_index (live, a);
          break;
        }
    }
  }
  net->arena_bytes = end;
  g_array_unref (live);
  g_ptr_array_unref (born);
  g_ptr_array_unref (dying);
}

static gboolean
lower_graph (Rn50Network * net, const Rn50Graph * graph, gboolean winograd,
    GError ** error)
{
  Lower L = { 0, };
  const Rn50Value *in = rn50_graph_value (graph, graph->input);
  dnnl_memory_desc_t md;
  gint id;
  guint i;
  gboolean ok = FALSE;

  L.net = net;
  L.graph = graph;
  L.winograd = winograd;
  L.bufs = g_array_new (FALSE, TRUE, sizeof (Buf));
  L.value_buf = g_new (gint, graph->values->len);
  L.value_alt = g_new (gint, graph->values->len);
  for (i = 0; i < graph->values->len; i++)
    L.value_buf[i] = L.value_alt[i] = -1;
  RN50_DNNL_CHECK (dnnl_primitive_attr_create (&L.attr));
  RN50_DNNL_CHECK (dnnl_primitive_attr_set_scratchpad_mode (L.attr,
          dnnl_scratchpad_mode_user));

  /* The user's plain N×C×H×W tensor; the first convolution reads it as it
   * is or through one reorder into its preferred layout. */
  if (!plain_md (&md, in->ndims, in->dims, error)
      || !new_buf (&L, &md, -1, &id, error))
    goto out;
  buf_at (&L, id)->storage = STORAGE_INPUT;
  L.value_buf[graph->input] = id;

  for (i = 0; i < graph->layers->len; i++) {
    const Rn50Layer *layer = rn50_graph_layer (graph, i);
    gboolean done;
    switch (layer->kind) {
      case RN50_LAYER_CONV:
        done = lower_conv (&L, layer, error);
        break;
      case RN50_LAYER_INNER_PRODUCT:
        done = lower_inner_product (&L, layer, error);
        break;
      case RN50_LAYER_BATCH_NORM:
        done = lower_batch_norm (&L, layer, error);
        break;
      case RN50_LAYER_RELU:
        done = lower_relu (&L, layer, error);
        break;
      case RN50_LAYER_ADD:
        done = lower_add (&L, layer, error);
        break;
      case RN50_LAYER_MAX_POOL:
      case RN50_LAYER_AVG_POOL:
        done = lower_pool (&L, layer, error);
        break;
      case RN50_LAYER_SOFTMAX:
        done = lower_softmax (&L, layer, error);
        break;
      default:
        g_set_error (error, RN50_ERROR, RN50_ERROR_ENGINE,
            "%s: internal error: layer kind %d cannot be lowered",
            layer->label, layer->kind);
        done = FALSE;
        break;
    }
    if (!done) {
      /* oneDNN's own message says which call failed; say which node. */
      if (error != NULL && *error != NULL && (*error)->code ==
          RN50_ERROR_ENGINE)
        g_prefix_error (error, "%s: ", layer->label);
      goto out;
    }
  }
  if (!lower_output (&L, error))
    goto out;
  plan_arena (&L);
  net->bufs = g_steal_pointer (&L.bufs);
  g_debug ("%s: %u primitives, arena %" G_GSIZE_FORMAT " KiB, scratchpad %"
      G_GSIZE_FORMAT " KiB", net->name, net->steps->len,
      net->arena_bytes / 1024, net->scratchpad_bytes / 1024);
  ok = TRUE;

out:
  if (L.attr != NULL)
    dnnl_primitive_attr_destroy (L.attr);
  if (L.bufs != NULL)
    g_array_unref (L.bufs);
  g_free (L.value_buf);
  g_free (L.value_alt);
  return ok;
}

/* ---- Threads and denormals --------------------------------------------- */

/* oneDNN (OpenMP build) sizes its kernels' thread teams from
 * omp_get_max_threads() of the thread that creates a primitive and of the
 * thread that executes it. Both are a per-thread OpenMP setting, so the
 * model sets it around its own work and gives the caller's back: a host
 * application's own OpenMP code keeps its setting. */
static int
threads_enter (guint threads)
{
  int previous = omp_get_max_threads ();

  omp_set_num_threads ((int) threads);
  return previous;
}

static void
threads_leave (int previous)
{
  omp_set_num_threads (previous);
}

/* MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6): with them a
 * denormal activation costs no microcode assist (~100 cycles each), so the
 * speed of a run does not depend on the weights or the pixels. Set on the
 * calling thread for the run (its old value restored after) and on every
 * OpenMP worker that will run kernels (the workers belong to the OpenMP
 * runtime and keep the setting). */
#define RN50_MXCSR_FTZ_DAZ 0x8040u

static guint
denormals_flush_enter (guint threads)
{
#if defined(__SSE2__)
  guint previous = _mm_getcsr ();

  _mm_setcsr (previous | RN50_MXCSR_FTZ_DAZ);
#pragma omp parallel num_threads(threads)
  _mm_setcsr (_mm_getcsr () | RN50_MXCSR_FTZ_DAZ);
  return previous;
#else
  return 0;
#endif
}

static void
denormals_flush_leave (guint previous)
{
#if defined(__SSE2__)
  _mm_setcsr (previous);
#endif
}

/* Weights that BatchNorm folding or a careless exporter left denormal
 * (|x| < FLT_MIN) contribute nothing measurable but would be flushed anyway
 * on every run; zero them once at load so the stored weights are exactly
 * what the kernels compute with. Works on any layout: padding is zero. */
static void
flush_denormal_floats (float *data, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    if (data[i] != 0.0f && fabsf (data[i]) < FLT_MIN)
      data[i] = 0.0f;
}

/* ---- Networks and their process-wide cache ----------------------------- */

static Rn50Network *
network_ref (Rn50Network * net)
{
  g_atomic_int_inc (&net->ref_count);
  return net;
}

/* Guards the cache and the reference counts of cached networks, so that a
 * lookup never revives a network whose last reference is being dropped. */
static GMutex network_cache_lock;
static GHashTable *network_cache;       /* key → Rn50Network (weak) */

static void
network_destroy (Rn50Network * net)
{
  guint i;

  if (net->steps != NULL) {
    for (i = 0; i < net->steps->len; i++) {
      Step *step = &g_array_index (net->steps, Step, i);
      if (step->primitive != NULL)
        dnnl_primitive_destroy (step->primitive);
      rn50_winograd_free (step->winograd);
      g_free (step->label);
    }
    g_array_unref (net->steps);
  }
  if (net->bufs != NULL)
    g_array_unref (net->bufs);
  if (net->memories != NULL) {
    for (i = 0; i < net->memories->len; i++)
      dnnl_memory_destroy (g_ptr_array_index (net->memories, i));
    g_ptr_array_unref (net->memories);
  }
  if (net->stream != NULL)
    dnnl_stream_destroy (net->stream);
  if (net->engine != NULL)
    dnnl_engine_destroy (net->engine);
  g_free (net->cache_key);
  g_free (net->name);
  g_free (net);
}

static void
network_unref (Rn50Network * net)
{
  if (net == NULL)
    return;
  g_mutex_lock (&network_cache_lock);
  if (!g_atomic_int_dec_and_test (&net->ref_count)) {
    g_mutex_unlock (&network_cache_lock);
    return;
  }
  if (net->cache_key != NULL && network_cache != NULL
      && g_hash_table_lookup (network_cache, net->cache_key) == net)
    g_hash_table_remove (network_cache, net->cache_key);
  g_mutex_unlock (&network_cache_lock);
  network_destroy (net);
}

/* Lowers @graph (which the network does not keep) for @batch_size images
 * and @threads OpenMP threads. */
static Rn50Network *
network_new_from_graph (const Rn50Graph * graph, const char *name,
    guint batch_size, guint threads, Rn50ModelFlags flags, GError ** error)
{
  Rn50Network *net = NULL, *result = NULL;
  const Rn50Value *in = rn50_graph_value (graph, graph->input);
  const Rn50Value *out_value = rn50_graph_value (graph, graph->output);
  gsize n;
  int previous_threads = threads_enter (threads);

  net = g_new0 (Rn50Network, 1);
  net->ref_count = 1;
  net->name = g_strdup (name);
  net->batch = batch_size;
  net->threads = threads;
  net->channels = in->ndims > 1 ? in->dims[1] : 1;
  net->height = in->ndims > 2 ? in->dims[2] : 1;
  net->width = in->ndims > 3 ? in->dims[3] : 1;
  net->input_elements = batch_size * rn50_value_per_image (in);
  n = rn50_value_per_image (out_value);
  if (out_value->ndims < 2 || n > G_MAXUINT) {
    char *s = rn50_dims_to_string (out_value->ndims, out_value->dims);
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model output '%s' has shape %s, expected N×classes",
        out_value->name, s);
    g_free (s);
    goto out;
  }
  net->num_classes = n;
  net->probabilities = graph->outputs_probabilities;
  net->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  net->memories = g_ptr_array_new ();

  RN50_DNNL_CHECK (dnnl_engine_create (&net->engine, dnnl_cpu, 0));
  RN50_DNNL_CHECK (dnnl_stream_create (&net->stream, net->engine,
          dnnl_stream_default_flags));
  if (!lower_graph (net, graph,
          !(flags & RN50_MODEL_FLAG_DIRECT_CONVOLUTION), error))
    goto out;
  result = g_steal_pointer (&net);

out:
  threads_leave (previous_threads);
  if (net != NULL)
    network_destroy (net);
  return result;
}

static Rn50Network *
network_new_from_file (const char *path, guint batch_size, guint threads,
    Rn50ModelFlags flags, GError ** error)
{
  Rn50Network *net = NULL;
  Rn50Onnx *onnx = NULL;
  Rn50Graph *graph = NULL;
  Rn50GraphOptions options = { 0, };
  g_autofree char *name = NULL;

  /* Before the HDF5 probe below opens the path. */
  if (!rn50_check_not_special_file (path, "model", error))
    return NULL;

  /* Keras HDF5 weights carry no graph: keras-h5.c knows the topology. */
  if (rn50_keras_h5_is_hdf5 (path)) {
    name = g_path_get_basename (path);
    graph = rn50_keras_graph_new_from_h5 (path, batch_size, error);
    if (graph != NULL)
      net = network_new_from_graph (graph, name, batch_size, threads, flags,
          error);
    goto out;
  }

  onnx = rn50_onnx_load (path, error);
  if (onnx == NULL)
    goto out;
  options.batch = batch_size;
  if (!(flags & RN50_MODEL_FLAG_ANY_INPUT_SHAPE)) {
    options.channels = 3;
    options.height = 224;
    options.width = 224;
  }
  graph = rn50_graph_new_from_onnx (onnx, &options, error);
  if (graph == NULL)
    goto out;
  /* The protobuf holds a copy of every weight that the graph no longer
   * needs: drop it before lowering makes a third copy (peak memory). */
  name = g_strdup (rn50_onnx_get_name (onnx));
  g_clear_pointer (&onnx, rn50_onnx_free);
  net = network_new_from_graph (graph, name, batch_size, threads, flags,
      error);

out:
  rn50_graph_free (graph);
  rn50_onnx_free (onnx);
  return net;
}

/* With RN50_MODEL_FLAG_SPIN_WAIT loading runs on a thread of its own that
 * exits when the network is built. Why: libgomp gives every thread that
 * opens a parallel region (oneDNN's weight reorders at load do) a pool of
 * worker threads that lives until that thread exits, and counts idle
 * pools' workers as busy. With more OpenMP threads than cores it stops
 * spin-waiting between parallel regions, so every one of a run's ~80
 * regions pays a futex wake-up. Measured on 2 cores at batch 1, 2 threads:
 * 34.6 ms per image with workers that sleep against 27.8 ms with workers
 * that spin (rn50-infer with OMP_WAIT_POLICY=passive vs active); the
 * element fed from memory gave 29.5 frames/s loading on the application
 * thread and 35.5 on a short-lived one. But with one core taken by another
 * process, spinning workers made a run 14x slower (738 vs 55 ms): the
 * caller chooses (see model.h). */
typedef struct
{
  const char *path;
  guint batch_size;
  guint threads;
  Rn50ModelFlags flags;
  GError *error;
  Rn50Network *net;
} LoadJob;

static gpointer
load_job_run (gpointer data)
{
  LoadJob *job = data;

  job->net = network_new_from_file (job->path, job->batch_size, job->threads,
      job->flags, &job->error);
  return NULL;
}

static Rn50Network *
network_load (const char *path, guint batch_size, guint threads,
    Rn50ModelFlags flags, GError ** error)
{
  LoadJob job = { path, batch_size, threads, flags, NULL, NULL };
  GThread *thread = NULL;

  if (flags & RN50_MODEL_FLAG_SPIN_WAIT)
    thread = g_thread_try_new ("rn50-load", load_job_run, &job, NULL);
  /* Not asked for, or no thread to be had (e.g. a capped address space):
   * load right here. */
  if (thread == NULL)
    load_job_run (&job);
  else
    g_thread_join (thread);
  if (job.error != NULL)
    g_propagate_error (error, job.error);
  return job.net;
}

/* The cache key: the file's identity (device, inode, size, modification
 * time, so a file replaced on disk is loaded afresh) and every setting the
 * lowering depends on. NULL when the file cannot be examined: then the
 * loader reports why. */
static char *
network_cache_key (const char *path, guint batch_size, guint threads,
    Rn50ModelFlags flags)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return NULL;
  return g_strdup_printf ("dev=%" G_GUINT64_FORMAT ",ino=%" G_GUINT64_FORMAT
      ",size=%" G_GINT64_FORMAT ",mtime=%" G_GINT64_FORMAT ".%09ld,batch=%u,"
      "threads=%u,flags=%u", (guint64) st.st_dev, (guint64) st.st_ino,
      (gint64) st.st_size, (gint64) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
      batch_size, threads, (guint) flags);
}

/* The network for these settings: the cached one if another user already
 * loaded it, else loaded now and cached. Loading holds the cache lock, so
 * two elements starting together on one file load it once. */
static Rn50Network *
network_get (const char *path, guint batch_size, guint threads,
    Rn50ModelFlags flags, GError ** error)
{
  char *key = network_cache_key (path, batch_size, threads,
      flags & ~RN50_MODEL_FLAG_SPIN_WAIT);
  Rn50Network *net = NULL;

  if (key == NULL)
    return network_load (path, batch_size, threads, flags, error);

  g_mutex_lock (&network_cache_lock);
  if (network_cache == NULL)
    network_cache = g_hash_table_new (g_str_hash, g_str_equal);
  net = g_hash_table_lookup (network_cache, key);
  if (net != NULL) {
    network_ref (net);
    g_free (key);
  } else {
    net = network_load (path, batch_size, threads, flags, error);
    if (net != NULL) {
      net->cache_key = key;
      g_hash_table_insert (network_cache, net->cache_key, net);
    } else {
      g_free (key);
    }
  }
  g_mutex_unlock (&network_cache_lock);
  return net;
}

/* ---- Models: one user's buffers over a shared network ------------------ */

static Rn50Model *
model_new_for_network (Rn50Network * net, GError ** error)
{
  Rn50Model *model = g_new0 (Rn50Model, 1), *result = NULL;
  guint i;
  int a;

  model->net = net;
  model->input = g_aligned_alloc0 (net->input_elements, sizeof (float),
      RN50_ALIGN);
  model->output = g_aligned_alloc0 ((gsize) net->batch * net->num_classes,
      sizeof (float), RN50_ALIGN);
  model->arena = g_aligned_alloc0 (MAX (net->arena_bytes, 1), 1, RN50_ALIGN);
  model->scratchpad = g_aligned_alloc0 (MAX (net->scratchpad_bytes, 1), 1,
      RN50_ALIGN);
  model->buf_memories = g_new0 (dnnl_memory_t, net->bufs->len);
  model->scratch_memories = g_new0 (dnnl_memory_t, net->steps->len);
  model->args = g_new0 (dnnl_exec_arg_t, net->steps->len * RN50_MAX_ARGS);
  model->winograd_bindings = g_new0 (Rn50WinogradBinding *, net->steps->len);
  RN50_DNNL_CHECK (dnnl_stream_create (&model->stream, net->engine,
          dnnl_stream_default_flags));

  for (i = 0; i < net->bufs->len; i++) {
    const Buf *buf = &g_array_index (net->bufs, Buf, i);
    const Buf *root = &g_array_index (net->bufs, Buf, buf->root);
    void *handle;
    if (root->storage == STORAGE_INPUT)
      handle = model->input;
    else if (root->storage == STORAGE_OUTPUT)
      handle = model->output;
    else
      handle = model->arena + root->offset;
    RN50_DNNL_CHECK (dnnl_memory_create (&model->buf_memories[i], &buf->md,
            net->engine, handle));
  }
  for (i = 0; i < net->steps->len; i++) {
    const Step *step = &g_array_index (net->steps, Step, i);
    dnnl_exec_arg_t *args = model->args + (gsize) i * RN50_MAX_ARGS;
    if (step->winograd != NULL) {
      model->winograd_bindings[i] = rn50_winograd_bind (step->winograd,
          model->scratchpad, error);
      if (model->winograd_bindings[i] == NULL)
        goto out;
    }
    for (a = 0; a < step->n_args; a++) {
      args[a].arg = step->args[a].arg;
      if (step->arg_buf[a] >= 0) {
        args[a].memory = model->buf_memories[step->arg_buf[a]];
      } else if (step->arg_buf[a] == ARG_SCRATCHPAD) {
        RN50_DNNL_CHECK (dnnl_memory_create (&model->scratch_memories[i],
                &step->scratchpad_md, net->engine, model->scratchpad));
        args[a].memory = model->scratch_memories[i];
      } else {
        args[a].memory = step->args[a].memory;
      }
    }
  }
  result = g_steal_pointer (&model);

out:
  if (model != NULL) {
    model->net = NULL;          /* the caller still owns its reference */
    rn50_model_free (model);
  }
  return result;
}

Rn50Model *
rn50_model_new_with_config (const char *path, const Rn50ModelConfig * config,
    GError ** error)
{
  Rn50Network *net;
  Rn50Model *model;
  guint threads;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->batch_size >= 1, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  threads = config->threads > 0 ? config->threads : rn50_model_default_threads ();
  net = network_get (path, config->batch_size, threads, config->flags, error);
  if (net == NULL)
    return NULL;
  model = model_new_for_network (net, error);
  if (model == NULL)
    network_unref (net);
  return model;
}

Rn50Model *
rn50_model_new_full (const char *path, guint batch_size, Rn50ModelFlags flags,
    GError ** error)
{
  Rn50ModelConfig config = { batch_size, 0, flags };

  return rn50_model_new_with_config (path, &config, error);
}

Rn50Model *
rn50_model_new_from_file (const char *path, GError ** error)
{
  return rn50_model_new_full (path, 1, RN50_MODEL_FLAGS_NONE, error);
}

guint
rn50_model_default_threads (void)
{
  /* The standard OpenMP knob wins when set, as users of any OpenMP program
   * expect; its first value is the outer team size. */
  const char *env = g_getenv ("OMP_NUM_THREADS");
  guint64 n = 0;

  if (env != NULL && g_ascii_isdigit (env[0]))
    n = g_ascii_strtoull (env, NULL, 10);
  if (n >= 1 && n <= 1024)
    return (guint) n;
  return MAX (omp_get_num_procs (), 1);
}

void
rn50_model_free (Rn50Model * model)
{
  guint i;

  if (model == NULL)
    return;
  if (model->buf_memories != NULL) {
    for (i = 0; i < model->net->bufs->len; i++)
      if (model->buf_memories[i] != NULL)
        dnnl_memory_destroy (model->buf_memories[i]);
  }
  if (model->scratch_memories != NULL) {
    for (i = 0; i < model->net->steps->len; i++)
      if (model->scratch_memories[i] != NULL)
        dnnl_memory_destroy (model->scratch_memories[i]);
  }
  if (model->winograd_bindings != NULL) {
    for (i = 0; i < model->net->steps->len; i++)
      rn50_winograd_binding_free (model->winograd_bindings[i]);
  }
  if (model->stream != NULL)
    dnnl_stream_destroy (model->stream);
  g_free (model->winograd_bindings);
  g_free (model->buf_memories);
  g_free (model->scratch_memories);
  g_free (model->args);
  g_aligned_free (model->input);
  g_aligned_free (model->output);
  g_aligned_free (model->arena);
  g_aligned_free (model->scratchpad);
  network_unref (model->net);
  g_free (model);
}

gboolean
rn50_model_shares_weights (const Rn50Model * a, const Rn50Model * b)
{
  return a->net == b->net;
}

const char *
rn50_model_get_name (const Rn50Model * model)
{
  return model->net->name;
}

guint
rn50_model_get_num_classes (const Rn50Model * model)
{
  return model->net->num_classes;
}

gboolean
rn50_model_outputs_probabilities (const Rn50Model * model)
{
  return model->net->probabilities;
}

void
rn50_model_get_input_size (const Rn50Model * model, guint * channels,
    guint * height, guint * width)
{
  if (channels)
    *channels = model->net->channels;
  if (height)
    *height = model->net->height;
  if (width)
    *width = model->net->width;
}

guint
rn50_model_get_batch_size (const Rn50Model * model)
{
  return model->net->batch;
}

guint
rn50_model_get_threads (const Rn50Model * model)
{
  return model->net->threads;
}

float *
rn50_model_get_input (Rn50Model * model)
{
  return model->input;
}

const float *
rn50_model_get_output (const Rn50Model * model)
{
  return model->output;
}

gboolean
rn50_model_run (Rn50Model * model, GError ** error)
{
  const Rn50Network *net = model->net;
  const Step *step = NULL;
  int previous_threads = threads_enter (net->threads);
  guint previous_csr = denormals_flush_enter (net->threads);
  guint i;
  gboolean ok = FALSE;

  for (i = 0; i < net->steps->len; i++) {
    const dnnl_exec_arg_t *args = model->args + (gsize) i * RN50_MAX_ARGS;
    step = &g_array_index (net->steps, Step, i);
    if (step->winograd != NULL) {
      void *src = NULL, *dst = NULL;
      RN50_DNNL_CHECK (dnnl_memory_get_data_handle (args[0].memory, &src));
      RN50_DNNL_CHECK (dnnl_memory_get_data_handle (args[1].memory, &dst));
      if (!rn50_winograd_execute (step->winograd,
              model->winograd_bindings[i], model->stream, src, dst, error))
        goto out;
      continue;
    }
    RN50_DNNL_CHECK (dnnl_primitive_execute (step->primitive, model->stream,
            step->n_args, args));
  }
  step = NULL;
  RN50_DNNL_CHECK (dnnl_stream_wait (model->stream));
  ok = TRUE;

out:
  denormals_flush_leave (previous_csr);
  threads_leave (previous_threads);
  if (!ok && step != NULL)
    g_prefix_error (error, "%s: ", step->label);
  return ok;
}

/* ---- Keras HDF5 weight files ------------------------------------------- */

gboolean
rn50_model_file_is_keras_h5 (const char *path)
{
  g_return_val_if_fail (path != NULL, FALSE);
  return rn50_keras_h5_is_hdf5 (path);
}
