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

#include <string.h>

#include "dnnl-check.h"
#include "graph.h"
#include "keras-h5.h"
#include "onnx-loader.h"

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

typedef struct
{
  dnnl_primitive_t primitive;
  int n_args;
  dnnl_exec_arg_t args[RN50_MAX_ARGS];
  gint arg_buf[RN50_MAX_ARGS];  /* buf of each arg, -1 for weights etc. */
  char *label;
} Step;

struct _Rn50Model
{
  char *name;
  guint batch;
  guint channels, height, width;        /* per image */
  gsize input_elements;         /* per run: batch × C × H × W */
  guint num_classes;            /* per image */
  gboolean probabilities;

  float *input;
  float *output;
  guint8 *arena;
  gsize arena_bytes;
  guint8 *scratchpad;
  gsize scratchpad_bytes;

  dnnl_engine_t engine;
  dnnl_stream_t stream;
  GArray *steps;                /* Step */
  GPtrArray *memories;          /* every dnnl_memory_t we created */
  GPtrArray *scratch_memories;  /* per-step scratchpads, share one buffer */
};

/* Load-time state of the lowering. */
typedef struct
{
  Rn50Model *model;
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
  RN50_DNNL_CHECK (dnnl_memory_create (&buf.memory, md, L->model->engine,
          DNNL_MEMORY_NONE));
  g_ptr_array_add (L->model->memories, buf.memory);
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
  Rn50Model *model = L->model;
  Step step = { 0, };
  const dnnl_memory_desc_t *sp_md;
  gsize sp_size;
  const char *impl = NULL;
  dnnl_memory_t sp = NULL;
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
    RN50_DNNL_CHECK (dnnl_memory_create (&sp, sp_md, model->engine,
            DNNL_MEMORY_NONE));
    g_ptr_array_add (model->memories, sp);
    g_ptr_array_add (model->scratch_memories, sp);
    model->scratchpad_bytes = MAX (model->scratchpad_bytes, sp_size);
    step.args[step.n_args].arg = DNNL_ARG_SCRATCHPAD;
    step.args[step.n_args].memory = sp;
    step.arg_buf[step.n_args] = -1;
    step.n_args++;
  }
  RN50_DNNL_CHECK (dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str,
          0, &impl));
  step.label = g_strdup (label);
  g_debug ("step %u: %s [%s]", model->steps->len, label, impl);
  g_array_append_val (model->steps, step);
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
          &buf_at (L, src)->md, L->model->engine, md, L->model->engine,
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

/* A constant (weights, bias, statistics) in layout @md, reordered once from
 * the host tensor's plain layout @host_md on the model's stream. */
static gboolean
const_memory (Lower * L, const dnnl_memory_desc_t * md,
    const dnnl_memory_desc_t * host_md, const float *host,
    dnnl_memory_t * memory, GError ** error)
{
  Rn50Model *model = L->model;
  dnnl_memory_t src = NULL, dst = NULL;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_exec_arg_t args[2];
  gboolean ok = FALSE;

  RN50_DNNL_CHECK (dnnl_memory_create (&dst, md, model->engine,
          DNNL_MEMORY_ALLOCATE));
  RN50_DNNL_CHECK (dnnl_memory_create (&src, host_md, model->engine,
          (void *) host));
  RN50_DNNL_CHECK (dnnl_reorder_primitive_desc_create (&pd, host_md,
          model->engine, md, model->engine, NULL));
  RN50_DNNL_CHECK (dnnl_primitive_create (&reorder, pd));
  args[0].arg = DNNL_ARG_FROM;
  args[0].memory = src;
  args[1].arg = DNNL_ARG_TO;
  args[1].memory = dst;
  RN50_DNNL_CHECK (dnnl_primitive_execute (reorder, model->stream, 2, args));
  RN50_DNNL_CHECK (dnnl_stream_wait (model->stream));
  g_ptr_array_add (model->memories, dst);
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
          L->model->engine, NULL));
  ok = TRUE;

out:
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
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
          L->model->engine, NULL));

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
          L->model->engine, NULL));
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
          L->model->engine, NULL));
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
          L->model->engine, NULL));
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
          L->model->engine, NULL));
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
          L->model->engine, NULL));
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
  gsize bytes = (gsize) L->model->batch * L->model->num_classes *
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
  Rn50Model *model = L->model;
  GArray *live = g_array_new (FALSE, FALSE, sizeof (Block));
  GPtrArray *born = g_ptr_array_new (), *dying = g_ptr_array_new ();
  guint s, i, a;
  gsize end = 0;

  for (i = 0; i < L->bufs->len; i++)
    buf_at (L, i)->first_step = buf_at (L, i)->last_step = -1;
  for (s = 0; s < model->steps->len; s++) {
    Step *step = &g_array_index (model->steps, Step, s);
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

  for (s = 0; s < model->steps->len; s++) {
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
  model->arena_bytes = end;
  g_array_unref (live);
  g_ptr_array_unref (born);
  g_ptr_array_unref (dying);
}

static gboolean
bind_buffers (Lower * L, GError ** error)
{
  Rn50Model *model = L->model;
  guint i;
  gboolean ok = FALSE;

  plan_arena (L);
  model->arena = g_aligned_alloc0 (MAX (model->arena_bytes, 1), 1, RN50_ALIGN);
  model->scratchpad = g_aligned_alloc0 (MAX (model->scratchpad_bytes, 1), 1,
      RN50_ALIGN);
  for (i = 0; i < L->bufs->len; i++) {
    Buf *buf = buf_at (L, i);
    Buf *root = buf_at (L, buf->root);
    void *handle;
    if (root->storage == STORAGE_INPUT)
      handle = model->input;
    else if (root->storage == STORAGE_OUTPUT)
      handle = model->output;
    else
      handle = model->arena + root->offset;
    RN50_DNNL_CHECK (dnnl_memory_set_data_handle (buf->memory, handle));
  }
  for (i = 0; i < model->scratch_memories->len; i++)
    RN50_DNNL_CHECK (dnnl_memory_set_data_handle
        (g_ptr_array_index (model->scratch_memories, i), model->scratchpad));
  ok = TRUE;

out:
  return ok;
}

static gboolean
lower_graph (Rn50Model * model, const Rn50Graph * graph, gboolean winograd,
    GError ** error)
{
  Lower L = { 0, };
  const Rn50Value *in = rn50_graph_value (graph, graph->input);
  dnnl_memory_desc_t md;
  gint id;
  guint i;
  gboolean ok = FALSE;

  L.model = model;
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
  if (!lower_output (&L, error) || !bind_buffers (&L, error))
    goto out;
  g_debug ("%s: %u primitives, arena %" G_GSIZE_FORMAT " KiB, scratchpad %"
      G_GSIZE_FORMAT " KiB", model->name, model->steps->len,
      model->arena_bytes / 1024, model->scratchpad_bytes / 1024);
  ok = TRUE;

out:
  if (L.attr != NULL)
    dnnl_primitive_attr_destroy (L.attr);
  g_array_unref (L.bufs);
  g_free (L.value_buf);
  g_free (L.value_alt);
  return ok;
}

Rn50Model *
rn50_model_new_full (const char *path, guint batch_size, Rn50ModelFlags flags,
    GError ** error)
{
  Rn50Model *model = NULL, *result = NULL;
  Rn50Onnx *onnx = NULL;
  Rn50Graph *graph = NULL;
  Rn50GraphOptions options = { 0, };
  const Rn50Value *in, *out_value;
  gsize n;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Keras HDF5 weights carry no graph: keras-h5.c knows the topology. */
  if (rn50_keras_h5_is_hdf5 (path))
    return rn50_model_new_from_keras_h5 (path, batch_size, flags, error);

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

  model = g_new0 (Rn50Model, 1);
  model->name = g_strdup (rn50_onnx_get_name (onnx));
  /* The protobuf (with its copy of the weights) is no longer needed. */
  g_clear_pointer (&onnx, rn50_onnx_free);

  in = rn50_graph_value (graph, graph->input);
  out_value = rn50_graph_value (graph, graph->output);
  model->batch = batch_size;
  model->channels = in->ndims > 1 ? in->dims[1] : 1;
  model->height = in->ndims > 2 ? in->dims[2] : 1;
  model->width = in->ndims > 3 ? in->dims[3] : 1;
  model->input_elements = batch_size * rn50_value_per_image (in);
  n = rn50_value_per_image (out_value);
  if (out_value->ndims < 2 || n > G_MAXUINT) {
    char *s = rn50_dims_to_string (out_value->ndims, out_value->dims);
    g_set_error (error, RN50_ERROR, RN50_ERROR_SHAPE,
        "model output '%s' has shape %s, expected N×classes",
        out_value->name, s);
    g_free (s);
    goto out;
  }
  model->num_classes = n;
  model->probabilities = graph->outputs_probabilities;
  model->input = g_aligned_alloc0 (model->input_elements, sizeof (float),
      RN50_ALIGN);
  model->output = g_aligned_alloc0 ((gsize) batch_size * n, sizeof (float),
      RN50_ALIGN);
  model->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  model->memories = g_ptr_array_new ();
  model->scratch_memories = g_ptr_array_new ();

  RN50_DNNL_CHECK (dnnl_engine_create (&model->engine, dnnl_cpu, 0));
  RN50_DNNL_CHECK (dnnl_stream_create (&model->stream, model->engine,
          dnnl_stream_default_flags));
  if (!lower_graph (model, graph,
          !(flags & RN50_MODEL_FLAG_DIRECT_CONVOLUTION), error))
    goto out;
  result = g_steal_pointer (&model);

out:
  rn50_model_free (model);
  rn50_graph_free (graph);
  rn50_onnx_free (onnx);
  return result;
}

Rn50Model *
rn50_model_new_from_file (const char *path, GError ** error)
{
  return rn50_model_new_full (path, 1, RN50_MODEL_FLAGS_NONE, error);
}

void
rn50_model_free (Rn50Model * model)
{
  guint i;

  if (model == NULL)
    return;
  if (model->steps != NULL) {
    for (i = 0; i < model->steps->len; i++) {
      Step *step = &g_array_index (model->steps, Step, i);
      dnnl_primitive_destroy (step->primitive);
      g_free (step->label);
    }
    g_array_unref (model->steps);
  }
  if (model->memories != NULL) {
    for (i = 0; i < model->memories->len; i++)
      dnnl_memory_destroy (g_ptr_array_index (model->memories, i));
    g_ptr_array_unref (model->memories);
  }
  if (model->scratch_memories != NULL)
    g_ptr_array_unref (model->scratch_memories);
  if (model->stream != NULL)
    dnnl_stream_destroy (model->stream);
  if (model->engine != NULL)
    dnnl_engine_destroy (model->engine);
  g_aligned_free (model->input);
  g_aligned_free (model->output);
  g_aligned_free (model->arena);
  g_aligned_free (model->scratchpad);
  g_free (model->name);
  g_free (model);
}

const char *
rn50_model_get_name (const Rn50Model * model)
{
  return model->name;
}

guint
rn50_model_get_num_classes (const Rn50Model * model)
{
  return model->num_classes;
}

gboolean
rn50_model_outputs_probabilities (const Rn50Model * model)
{
  return model->probabilities;
}

void
rn50_model_get_input_size (const Rn50Model * model, guint * channels,
    guint * height, guint * width)
{
  if (channels)
    *channels = model->channels;
  if (height)
    *height = model->height;
  if (width)
    *width = model->width;
}

guint
rn50_model_get_batch_size (const Rn50Model * model)
{
  return model->batch;
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
  const Step *step = NULL;
  guint i;
  gboolean ok = FALSE;

  for (i = 0; i < model->steps->len; i++) {
    step = &g_array_index (model->steps, Step, i);
    RN50_DNNL_CHECK (dnnl_primitive_execute (step->primitive, model->stream,
            step->n_args, step->args));
  }
  step = NULL;
  RN50_DNNL_CHECK (dnnl_stream_wait (model->stream));
  ok = TRUE;

out:
  if (!ok && step != NULL)
    g_prefix_error (error, "%s: ", step->label);
  return ok;
}

/* ---- Keras HDF5 weight files ------------------------------------------- */

/* Like the second half of rn50_model_new_full(), for a graph built by other
 * means than the ONNX loader. Takes ownership of @graph. */
static Rn50Model *
model_new_from_graph (Rn50Graph * graph, const char *name, guint batch_size,
    Rn50ModelFlags flags, GError ** error)
{
  Rn50Model *model = NULL, *result = NULL;
  const Rn50Value *in, *out_value;

  model = g_new0 (Rn50Model, 1);
  model->name = g_strdup (name);
  in = rn50_graph_value (graph, graph->input);
  out_value = rn50_graph_value (graph, graph->output);
  model->batch = batch_size;
  model->channels = in->dims[1];
  model->height = in->dims[2];
  model->width = in->dims[3];
  model->input_elements = batch_size * rn50_value_per_image (in);
  model->num_classes = rn50_value_per_image (out_value);
  model->probabilities = graph->outputs_probabilities;
  model->input = g_aligned_alloc0 (model->input_elements, sizeof (float),
      RN50_ALIGN);
  model->output = g_aligned_alloc0 ((gsize) batch_size * model->num_classes,
      sizeof (float), RN50_ALIGN);
  model->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  model->memories = g_ptr_array_new ();
  model->scratch_memories = g_ptr_array_new ();

  RN50_DNNL_CHECK (dnnl_engine_create (&model->engine, dnnl_cpu, 0));
  RN50_DNNL_CHECK (dnnl_stream_create (&model->stream, model->engine,
          dnnl_stream_default_flags));
  if (!lower_graph (model, graph,
          !(flags & RN50_MODEL_FLAG_DIRECT_CONVOLUTION), error))
    goto out;
  result = g_steal_pointer (&model);

out:
  rn50_model_free (model);
  rn50_graph_free (graph);
  return result;
}

Rn50Model *
rn50_model_new_from_keras_h5 (const char *path, guint batch_size,
    Rn50ModelFlags flags, GError ** error)
{
  Rn50Graph *graph;
  g_autofree char *name = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  graph = rn50_keras_graph_new_from_h5 (path, batch_size, error);
  if (graph == NULL)
    return NULL;
  name = g_path_get_basename (path);
  return model_new_from_graph (graph, name, batch_size, flags, error);
}

gboolean
rn50_model_file_is_keras_h5 (const char *path)
{
  g_return_val_if_fail (path != NULL, FALSE);
  return rn50_keras_h5_is_hdf5 (path);
}
