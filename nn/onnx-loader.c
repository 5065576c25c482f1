/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading and validating an ONNX file. The file is mapped with GLib and
 * decoded by protobuf-c into Onnx__ModelProto; this module then checks the
 * parts that the graph builder will trust (graph present, opset known),
 * resolves external tensor data only inside the model's own directory, and
 * turns tensors into Rn50Tensor host buffers only after their size claims
 * agree with each other, so a truncated or hostile file can make us fail but
 * never allocate more than it actually carries. */
#include "onnx-loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

struct _Rn50Onnx
{
  Onnx__ModelProto *proto;
  gint64 opset;
  char *name;
  /* External data (see resolve_external_data()): real path → GMappedFile,
   * and the tensors whose raw_data now points into one of those mappings
   * (borrowed memory that protobuf-c must not free). */
  GHashTable *external_files;
  GPtrArray *external_tensors;
};

char *
rn50_dims_to_string (guint ndims, const gint64 * dims)
{
  GString *s;
  guint i;

  if (ndims == 0)
    return g_strdup ("scalar");

  s = g_string_new (NULL);
  for (i = 0; i < ndims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "x" : "", dims[i]);
  return g_string_free (s, FALSE);
}

static gsize
dtype_size (Rn50DType dtype)
{
  return dtype == RN50_DTYPE_FLOAT ? sizeof (float) : sizeof (gint64);
}

/* Element count of a shape, checking each dimension is positive and that
 * count × @elem_size bytes still fits in a gsize. */
static gboolean
dims_count (guint ndims, const gint64 * dims, gsize elem_size,
    const char *what, gsize * count, GError ** error)
{
  gsize n = 1;
  guint i;

  for (i = 0; i < ndims; i++) {
    if (dims[i] <= 0) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "%s has dimension %u = %" G_GINT64_FORMAT
          "; dimensions must be positive", what, i, dims[i]);
      return FALSE;
    }
    if ((guint64) dims[i] > G_MAXSIZE
        || !g_size_checked_mul (&n, n, (gsize) dims[i])) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "%s has too many elements (dimension %u = %" G_GINT64_FORMAT ")",
          what, i, dims[i]);
      return FALSE;
    }
  }
  if (n > G_MAXSIZE / elem_size) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "%s has too many elements (%" G_GSIZE_FORMAT ")", what, n);
    return FALSE;
  }
  *count = n;
  return TRUE;
}

Rn50Tensor *
rn50_tensor_new (Rn50DType dtype, guint ndims, const gint64 * dims,
    const char *what, GError ** error)
{
  Rn50Tensor *tensor;
  gsize count;

  if (ndims > RN50_TENSOR_MAX_DIMS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "%s has rank %u; at most %d dimensions are supported", what, ndims,
        RN50_TENSOR_MAX_DIMS);
    return NULL;
  }
  if (!dims_count (ndims, dims, dtype_size (dtype), what, &count, error))
    return NULL;

  tensor = g_new0 (Rn50Tensor, 1);
  tensor->dtype = dtype;
  tensor->ndims = ndims;
  if (ndims > 0)
    memcpy (tensor->dims, dims, ndims * sizeof (gint64));
  tensor->n_elements = count;
  tensor->data = g_malloc0 (count * dtype_size (dtype));
  return tensor;
}

Rn50Tensor *
rn50_tensor_copy (const Rn50Tensor * tensor)
{
  Rn50Tensor *copy = g_memdup2 (tensor, sizeof (Rn50Tensor));

  copy->data = g_memdup2 (tensor->data,
      tensor->n_elements * dtype_size (tensor->dtype));
  return copy;
}

void
rn50_tensor_free (Rn50Tensor * tensor)
{
  if (tensor == NULL)
    return;
  g_free (tensor->data);
  g_free (tensor);
}

static const char *
onnx_dtype_name (gint32 data_type)
{
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value
      (&onnx__tensor_proto__data_type__descriptor, data_type);

  return v ? v->name : "unknown";
}

/* Little-endian payload to host order; ONNX raw_data is always
 * little-endian whatever machine wrote it. */
static void
copy_le32 (guint32 * dst, const guint8 * src, gsize count)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  memcpy (dst, src, count * 4);
#else
  gsize i;

  for (i = 0; i < count; i++) {
    guint32 v;
    memcpy (&v, src + 4 * i, 4);
    dst[i] = GUINT32_FROM_LE (v);
  }
#endif
}

static void
copy_le64 (guint64 * dst, const guint8 * src, gsize count)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  memcpy (dst, src, count * 8);
#else
  gsize i;

  for (i = 0; i < count; i++) {
    guint64 v;
    memcpy (&v, src + 8 * i, 8);
    dst[i] = GUINT64_FROM_LE (v);
  }
#endif
}

Rn50Tensor *
rn50_onnx_tensor_decode (const Onnx__TensorProto * proto, GError ** error)
{
  Rn50Tensor *tensor = NULL;
  Rn50DType dtype;
  gsize file_elem_size, count, payload_count;
  char *what = NULL;
  char *shape = NULL;
  guint i;

  what = g_strdup_printf ("tensor '%s'", proto->name ? proto->name : "");

  if (proto->segment != NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "%s is split into segments, which is not supported", what);
    goto out;
  }
  /* rn50_onnx_load() resolves the external data of every tensor it can
   * reach (initializers, Constant values); one still marked EXTERNAL here
   * sits somewhere else (a subgraph) and is not supported. */
  if (proto->has_data_location && proto->data_location ==
      ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "%s keeps its data in an external file, which is only supported "
        "for initializers and Constant nodes of the main graph", what);
    goto out;
  }

  switch (proto->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
      dtype = RN50_DTYPE_FLOAT;
      file_elem_size = 4;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
      dtype = RN50_DTYPE_INT64;
      file_elem_size = 8;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
      dtype = RN50_DTYPE_INT64;
      file_elem_size = 4;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED:
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "%s has no data type", what);
      goto out;
    default:
      g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
          "%s has data type %s; only FLOAT, INT64 and INT32 tensors are "
          "supported", what, onnx_dtype_name (proto->data_type));
      goto out;
  }

  if (proto->n_dims > RN50_TENSOR_MAX_DIMS) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "%s has rank %" G_GSIZE_FORMAT "; at most %d dimensions are "
        "supported", what, proto->n_dims, RN50_TENSOR_MAX_DIMS);
    goto out;
  }
  /* Check the claims against each other before sizing anything by them. */
  if (!dims_count (proto->n_dims, proto->dims, 8, what, &count, error))
    goto out;
  shape = rn50_dims_to_string (proto->n_dims, proto->dims);

  if (proto->has_raw_data) {
    if (proto->raw_data.len / file_elem_size != count
        || proto->raw_data.len % file_elem_size != 0) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "%s (shape %s, %s) holds %" G_GSIZE_FORMAT " bytes of raw data, "
          "expected %" G_GSIZE_FORMAT, what, shape,
          onnx_dtype_name (proto->data_type), proto->raw_data.len,
          count * file_elem_size);
      goto out;
    }
  } else {
    switch (proto->data_type) {
      case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        payload_count = proto->n_float_data;
        break;
      case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        payload_count = proto->n_int64_data;
        break;
      default:
        payload_count = proto->n_int32_data;
        break;
    }
    if (payload_count != count) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
          "%s (shape %s, %s) holds %" G_GSIZE_FORMAT " values, expected %"
          G_GSIZE_FORMAT, what, shape, onnx_dtype_name (proto->data_type),
          payload_count, count);
      goto out;
    }
  }

  tensor = rn50_tensor_new (dtype, proto->n_dims, proto->dims, what, error);
  if (tensor == NULL)
    goto out;

  if (proto->has_raw_data) {
    if (proto->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
      copy_le32 (tensor->data, proto->raw_data.data, count);
    } else if (proto->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
      copy_le64 (tensor->data, proto->raw_data.data, count);
    } else {
      gint64 *dst = rn50_tensor_ints (tensor);
      for (i = 0; i < count; i++) {
        guint32 v;
        copy_le32 (&v, proto->raw_data.data + 4 * i, 1);
        dst[i] = (gint32) v;
      }
    }
  } else if (proto->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    memcpy (tensor->data, proto->float_data, count * sizeof (float));
  } else if (proto->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    memcpy (tensor->data, proto->int64_data, count * sizeof (gint64));
  } else {
    gint64 *dst = rn50_tensor_ints (tensor);
    for (i = 0; i < count; i++)
      dst[i] = proto->int32_data[i];
  }

out:
  g_free (shape);
  g_free (what);
  return tensor;
}

/* Exporters stamp every graph with the same default name (PyTorch:
 * "torch_jit", "torch-jit-export", "main_graph"), which says nothing about
 * which model produced a result; the file name does. */
static gboolean
graph_name_is_meaningful (const char *name)
{
  static const char *const exporter_defaults[] = {
    "torch_jit", "torch-jit-export", "main_graph", "graph",
  };
  guint i;

  if (name == NULL || name[0] == '\0')
    return FALSE;
  for (i = 0; i < G_N_ELEMENTS (exporter_defaults); i++)
    if (strcmp (name, exporter_defaults[i]) == 0)
      return FALSE;
  return TRUE;
}

/* ---- external data --------------------------------------------------------
 *
 * ONNX files above 2 GB, and any model saved with
 * onnx.save_model (..., save_as_external_data=True), keep tensor payloads in
 * side files: data_location = EXTERNAL and key/value pairs `location` (a
 * path relative to the model's directory), `offset` and `length` (bytes).
 * The model is untrusted, so `location` may only name a regular file inside
 * the directory that holds the model: absolute paths, `..` components and
 * symbolic links that lead out of it are refused, so that a downloaded model
 * cannot make the element read /etc/passwd or a file of another user into
 * its weights. The side file is mapped, the byte range checked against its
 * size, and the tensor's raw_data pointed at the range: nothing is copied or
 * allocated from a size the file only claims (rn50_onnx_tensor_decode()
 * then checks the length against the dims as for embedded data). */

typedef struct
{
  const char *model_path;
  char *model_dir;              /* realpath of the model's directory */
  Rn50Onnx *onnx;
} ExternalCtx;

static const char *
external_entry (const Onnx__TensorProto * t, const char *key)
{
  gsize i;

  for (i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (e->key != NULL && g_str_equal (e->key, key))
      return e->value != NULL ? e->value : "";
  }
  return NULL;
}

/* A `location` names a file below the model's directory only if it is
 * relative and none of its components is "..". Backslashes count as
 * separators too: a model written on Windows uses them, and "..\\x" must
 * not slip through as one odd file name. */
static gboolean
external_location_is_confined (const char *location)
{
  g_auto (GStrv) parts = NULL;
  guint i;

  if (location[0] == '\0' || g_path_is_absolute (location)
      || location[0] == '\\' || strchr (location, ':') != NULL)
    return FALSE;
  parts = g_strsplit_set (location, "/\\", -1);
  for (i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

static gboolean
external_parse_size (const ExternalCtx * ctx, const char *what,
    const char *key, const char *value, guint64 * out, GError ** error)
{
  GError *num_error = NULL;

  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, out,
          &num_error)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s has external data %s '%s', which is not a byte count: %s",
        ctx->model_path, what, key, value, num_error->message);
    g_error_free (num_error);
    return FALSE;
  }
  return TRUE;
}

/* Points @t's raw_data at its bytes in the side file. */
static gboolean
external_resolve_tensor (ExternalCtx * ctx, Onnx__TensorProto * t,
    GError ** error)
{
  gboolean external = t->has_data_location
      && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  const char *location, *value;
  g_autofree char *what = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *real = NULL;
  GMappedFile *file;
  guint64 offset = 0, length, size;
  GStatBuf st;

  if (!external && t->n_external_data == 0)
    return TRUE;
  what = g_strdup_printf ("tensor '%s'", t->name ? t->name : "");
  if (!external) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s has external_data entries but its data_location is not "
        "EXTERNAL", ctx->model_path, what);
    return FALSE;
  }
  if (t->has_raw_data || t->n_float_data > 0 || t->n_int32_data > 0
      || t->n_int64_data > 0 || t->n_double_data > 0 || t->n_uint64_data > 0
      || t->n_string_data > 0) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s is marked EXTERNAL but also carries embedded data",
        ctx->model_path, what);
    return FALSE;
  }
  location = external_entry (t, "location");
  if (location == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s is marked EXTERNAL but has no 'location' entry",
        ctx->model_path, what);
    return FALSE;
  }
  if (!external_location_is_confined (location)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s names external data file '%s', which is outside the "
        "model's directory; refused: external data must be a relative path "
        "without '..' next to the model", ctx->model_path, what, location);
    return FALSE;
  }

  /* Resolved once, on the first external tensor: models without external
   * data never look at their directory. */
  if (ctx->model_dir == NULL) {
    g_autofree char *dir = g_path_get_dirname (ctx->model_path);
    ctx->model_dir = realpath (dir, NULL);
    if (ctx->model_dir == NULL) {
      int errsv = errno;
      g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
          "'%s': cannot resolve the model's directory: %s", ctx->model_path,
          g_strerror (errsv));
      return FALSE;
    }
  }
  /* realpath() follows every symbolic link, so a link inside the directory
   * pointing elsewhere is caught by the prefix test below. */
  joined = g_build_filename (ctx->model_dir, location, NULL);
  real = realpath (joined, NULL);
  if (real == NULL) {
    int errsv = errno;
    g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
        "'%s': cannot read external data file '%s' of %s: %s",
        ctx->model_path, location, what, g_strerror (errsv));
    return FALSE;
  }
  if (!g_str_has_prefix (real, ctx->model_dir)
      || (real[strlen (ctx->model_dir)] != G_DIR_SEPARATOR
          && !g_str_equal (ctx->model_dir, "/"))) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': external data file '%s' of %s is a symbolic link to '%s', "
        "outside the model's directory '%s'; refused", ctx->model_path,
        location, what, real, ctx->model_dir);
    return FALSE;
  }
  if (g_stat (real, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
        "'%s': external data file '%s' of %s is not a regular file",
        ctx->model_path, location, what);
    return FALSE;
  }

  file = g_hash_table_lookup (ctx->onnx->external_files, real);
  if (file == NULL) {
    GError *map_error = NULL;
    file = g_mapped_file_new (real, FALSE, &map_error);
    if (file == NULL) {
      g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
          "'%s': cannot read external data file '%s' of %s: %s",
          ctx->model_path, location, what, map_error->message);
      g_error_free (map_error);
      return FALSE;
    }
    g_hash_table_insert (ctx->onnx->external_files, g_strdup (real), file);
  }
  size = g_mapped_file_get_length (file);

  value = external_entry (t, "offset");
  if (value != NULL && !external_parse_size (ctx, what, "offset", value,
          &offset, error))
    return FALSE;
  if (offset > size) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s starts at byte %" G_GUINT64_FORMAT " of external data "
        "file '%s', which has only %" G_GUINT64_FORMAT " bytes",
        ctx->model_path, what, offset, location, size);
    return FALSE;
  }
  length = size - offset;
  value = external_entry (t, "length");
  if (value != NULL && !external_parse_size (ctx, what, "length", value,
          &length, error))
    return FALSE;
  if (length > size - offset) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s': %s claims %" G_GUINT64_FORMAT " bytes at offset %"
        G_GUINT64_FORMAT " of external data file '%s', which has only %"
        G_GUINT64_FORMAT " bytes (truncated file?)", ctx->model_path, what,
        length, offset, location, size);
    return FALSE;
  }

  /* Borrowed: rn50_onnx_free() detaches it before protobuf-c frees the
   * message. An empty range of an empty file has no mapping at all. */
  t->raw_data.data = length > 0 ?
      (guint8 *) g_mapped_file_get_contents (file) + offset : NULL;
  t->raw_data.len = length;
  t->has_raw_data = TRUE;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
  g_ptr_array_add (ctx->onnx->external_tensors, t);
  return TRUE;
}

/* Every tensor the graph builder can decode: the initializers and the
 * values of Constant-like nodes (TENSOR and TENSORS attributes). */
static gboolean
resolve_external_data (Rn50Onnx * onnx, const char *path, GError ** error)
{
  Onnx__GraphProto *graph = onnx->proto->graph;
  ExternalCtx ctx = { path, NULL, onnx };
  gboolean ok = FALSE;
  gsize i, j, k;

  onnx->external_files = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, (GDestroyNotify) g_mapped_file_unref);
  onnx->external_tensors = g_ptr_array_new ();

  for (i = 0; i < graph->n_initializer; i++)
    if (!external_resolve_tensor (&ctx, graph->initializer[i], error))
      goto out;
  for (i = 0; i < graph->n_node; i++) {
    for (j = 0; j < graph->node[i]->n_attribute; j++) {
      Onnx__AttributeProto *attr = graph->node[i]->attribute[j];
      if (attr->t != NULL && !external_resolve_tensor (&ctx, attr->t, error))
        goto out;
      for (k = 0; k < attr->n_tensors; k++)
        if (!external_resolve_tensor (&ctx, attr->tensors[k], error))
          goto out;
    }
  }
  ok = TRUE;

out:
  free (ctx.model_dir);
  return ok;
}

/* Frees the decoded message, first detaching the payloads that point into
 * external data mappings (protobuf-c would free() them). */
static void
onnx_proto_free (Onnx__ModelProto * proto, GPtrArray * external_tensors)
{
  guint i;

  if (external_tensors != NULL) {
    for (i = 0; i < external_tensors->len; i++) {
      Onnx__TensorProto *t = g_ptr_array_index (external_tensors, i);
      t->raw_data.data = NULL;
      t->raw_data.len = 0;
      t->has_raw_data = FALSE;
    }
  }
  if (proto != NULL)
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) proto, NULL);
}

Rn50Onnx *
rn50_onnx_load (const char *path, GError ** error)
{
  Rn50Onnx *onnx = NULL;
  GMappedFile *file = NULL;
  GError *read_error = NULL;
  Onnx__ModelProto *proto = NULL;
  const guint8 *bytes;
  gsize length;
  gboolean have_opset = FALSE;
  gint64 opset = 0;
  guint i;

  /* mmap() of a directory fails with a confusing "No such device", and of
   * a FIFO blocks. */
  if (!rn50_check_not_special_file (path, "model", error))
    goto out;
  /* Mapped rather than read: a ResNet-50 is ~100 MB and protobuf-c copies
   * what it keeps anyway. */
  file = g_mapped_file_new (path, FALSE, &read_error);
  if (file == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_NOT_FOUND,
        "cannot read model '%s': %s", path, read_error->message);
    g_clear_error (&read_error);
    goto out;
  }
  length = g_mapped_file_get_length (file);
  bytes = (const guint8 *) g_mapped_file_get_contents (file);
  if (bytes == NULL)
    bytes = (const guint8 *) "";        /* empty file: decodes to an empty proto */

  proto = (Onnx__ModelProto *)
      protobuf_c_message_unpack (&onnx__model_proto__descriptor, NULL,
      length, bytes);
  if (proto == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s' is not a valid ONNX model: protobuf decoding of its %"
        G_GSIZE_FORMAT " bytes failed (truncated or corrupt file)", path,
        length);
    goto out;
  }
  if (proto->graph == NULL) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s' holds no graph: not an ONNX model, or truncated", path);
    goto out;
  }

  for (i = 0; i < proto->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *set = proto->opset_import[i];
    if (set->domain == NULL || set->domain[0] == '\0'
        || g_str_equal (set->domain, "ai.onnx")) {
      have_opset = set->has_version;
      opset = set->version;
    }
  }
  if (!have_opset) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
        "'%s' declares no version of the ONNX operator set (truncated "
        "file?)", path);
    goto out;
  }
  if (opset < RN50_ONNX_MIN_OPSET || opset > RN50_ONNX_MAX_OPSET) {
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "'%s' uses ONNX opset %" G_GINT64_FORMAT "; supported opsets are "
        "%d to %d", path, opset, RN50_ONNX_MIN_OPSET, RN50_ONNX_MAX_OPSET);
    goto out;
  }

  onnx = g_new0 (Rn50Onnx, 1);
  onnx->proto = g_steal_pointer (&proto);
  onnx->opset = opset;
  if (graph_name_is_meaningful (onnx->proto->graph->name))
    onnx->name = g_strdup (onnx->proto->graph->name);
  else
    onnx->name = g_path_get_basename (path);
  if (!resolve_external_data (onnx, path, error))
    g_clear_pointer (&onnx, rn50_onnx_free);

out:
  onnx_proto_free (proto, NULL);
  if (file != NULL)
    g_mapped_file_unref (file);
  return onnx;
}

void
rn50_onnx_free (Rn50Onnx * onnx)
{
  if (onnx == NULL)
    return;
  /* Before the mappings the payloads point into go away. */
  onnx_proto_free (onnx->proto, onnx->external_tensors);
  if (onnx->external_tensors != NULL)
    g_ptr_array_unref (onnx->external_tensors);
  if (onnx->external_files != NULL)
    g_hash_table_unref (onnx->external_files);
  g_free (onnx->name);
  g_free (onnx);
}

const Onnx__GraphProto *
rn50_onnx_get_graph (const Rn50Onnx * onnx)
{
  return onnx->proto->graph;
}

gint64
rn50_onnx_get_opset (const Rn50Onnx * onnx)
{
  return onnx->opset;
}

const char *
rn50_onnx_get_name (const Rn50Onnx * onnx)
{
  return onnx->name;
}

char *
rn50_onnx_node_describe (const Onnx__NodeProto * node)
{
  const char *op = node->op_type ? node->op_type : "";

  if (node->name != NULL && node->name[0] != '\0')
    return g_strdup_printf ("node '%s' (%s)", node->name, op);
  if (node->n_output > 0 && node->output[0] != NULL)
    return g_strdup_printf ("node producing '%s' (%s)", node->output[0], op);
  return g_strdup_printf ("unnamed node (%s)", op);
}

const Onnx__AttributeProto *
rn50_onnx_node_find_attr (const Onnx__NodeProto * node, const char *name)
{
  guint i;

  for (i = 0; i < node->n_attribute; i++) {
    const Onnx__AttributeProto *attr = node->attribute[i];
    if (attr->name != NULL && g_str_equal (attr->name, name))
      return attr;
  }
  return NULL;
}

/* IR versions before 0.0.2 did not set `type`; accept an untyped attribute
 * when the field for the wanted type is the one that is present. */
static gboolean
attr_check_type (const Onnx__NodeProto * node,
    const Onnx__AttributeProto * attr, Onnx__AttributeProto__AttributeType want,
    gboolean untyped_ok, GError ** error)
{
  char *desc;

  if (attr->type == want
      || (attr->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
          && untyped_ok))
    return TRUE;

  desc = rn50_onnx_node_describe (node);
  g_set_error (error, RN50_ERROR, RN50_ERROR_PARSE,
      "%s: attribute '%s' has type %d, expected %d", desc, attr->name,
      attr->type, want);
  g_free (desc);
  return FALSE;
}

gboolean
rn50_onnx_node_get_int (const Onnx__NodeProto * node, const char *name,
    gint64 default_value, gint64 * value, GError ** error)
{
  const Onnx__AttributeProto *attr = rn50_onnx_node_find_attr (node, name);

  if (attr == NULL) {
    *value = default_value;
    return TRUE;
  }
  if (!attr_check_type (node, attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
          attr->has_i, error))
    return FALSE;
  *value = attr->i;
  return TRUE;
}

gboolean
rn50_onnx_node_get_float (const Onnx__NodeProto * node, const char *name,
    float default_value, float *value, GError ** error)
{
  const Onnx__AttributeProto *attr = rn50_onnx_node_find_attr (node, name);

  if (attr == NULL) {
    *value = default_value;
    return TRUE;
  }
  if (!attr_check_type (node, attr,
          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, attr->has_f, error))
    return FALSE;
  *value = attr->f;
  return TRUE;
}

gboolean
rn50_onnx_node_get_ints (const Onnx__NodeProto * node, const char *name,
    gint64 * values, guint max_count, guint * count, GError ** error)
{
  const Onnx__AttributeProto *attr = rn50_onnx_node_find_attr (node, name);
  char *desc;

  *count = 0;
  if (attr == NULL)
    return TRUE;
  if (!attr_check_type (node, attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
          attr->n_ints > 0, error))
    return FALSE;
  if (attr->n_ints > max_count) {
    desc = rn50_onnx_node_describe (node);
    g_set_error (error, RN50_ERROR, RN50_ERROR_UNSUPPORTED,
        "%s: attribute '%s' has %" G_GSIZE_FORMAT " values; at most %u are "
        "supported", desc, name, attr->n_ints, max_count);
    g_free (desc);
    return FALSE;
  }
  if (attr->n_ints > 0)
    memcpy (values, attr->ints, attr->n_ints * sizeof (gint64));
  *count = attr->n_ints;
  return TRUE;
}

gboolean
rn50_onnx_node_get_string (const Onnx__NodeProto * node, const char *name,
    const char *default_value, char **value, GError ** error)
{
  const Onnx__AttributeProto *attr = rn50_onnx_node_find_attr (node, name);

  if (attr == NULL) {
    *value = g_strdup (default_value);
    return TRUE;
  }
  if (!attr_check_type (node, attr,
          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, attr->has_s, error))
    return FALSE;
  /* A STRING attribute whose value was left out decodes with s.data NULL,
   * and g_strndup (NULL, 0) is NULL: callers compare the result, so give
   * them the empty string (found by tests/fuzz). */
  if (attr->s.data == NULL || attr->s.len == 0)
    *value = g_strdup ("");
  else
    *value = g_strndup ((const char *) attr->s.data, attr->s.len);
  return TRUE;
}
