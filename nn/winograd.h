/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Winograd convolution for ResNet-50's 3×3, stride-1, pad-1 layers, on CPUs
 * where oneDNN has no Winograd of its own (oneDNN 2.6's is AVX-512 only).
 * F(2×2,3×3) or F(4×4,3×3): our own input/output transforms (OpenMP, AVX2+FMA
 * when the CPU has them, portable vector code otherwise) around a oneDNN
 * batched matmul [α² × P×C]·[α² × C×K] (P = tiles per block of tile rows),
 * created once in rn50_winograd_new(). Activations
 * are oneDNN's nChw8c blocked layout, which is what oneDNN picks for f32
 * convolutions on AVX2 with format_tag any, so a Winograd layer can replace a
 * direct convolution in the middle of a graph without reorders.
 *
 * A prepared Rn50Winograd is read-only after rn50_winograd_new(): several
 * threads may execute it at once, each through its own binding (which owns
 * that thread's oneDNN memory objects over the caller's scratch buffer).
 * Execution allocates nothing. */
#pragma once

#include <glib.h>
#include <oneapi/dnnl/dnnl.h>

G_BEGIN_DECLS

typedef struct _Rn50Winograd Rn50Winograd;
typedef struct _Rn50WinogradBinding Rn50WinogradBinding;

typedef enum
{
  RN50_WINOGRAD_F2x2_3x3,       /* 4×4 input tiles, 16 products, 2.25× fewer multiplies */
  RN50_WINOGRAD_F4x4_3x3,       /* 6×6 input tiles, 36 products, 4× fewer multiplies */
} Rn50WinogradVariant;

/* A 3×3, stride 1, pad 1, dilation 1, groups 1 convolution of a batch of @n
 * images with @c input and @k output channels (both multiples of 8), @h×@w
 * pixels in and out. @weights: OIHW, @k×@c×3×3 float32. @bias: @k floats or
 * NULL (zero). @relu: apply ReLU after the bias. Both are copied / transformed
 * here; the caller may free them afterwards. @engine must outlive the result.
 * Fails with RN50_ERROR_SHAPE for shapes it cannot run and RN50_ERROR_ENGINE
 * when oneDNN refuses the matmul. */
Rn50Winograd *rn50_winograd_new (dnnl_engine_t engine,
    Rn50WinogradVariant variant, guint n, guint c, guint k, guint h, guint w,
    const float *weights, const float *bias, gboolean relu, GError ** error);

/* Bytes of scratch memory one executing context needs (transformed input,
 * matmul output and the matmul's own scratchpad). The buffer passed to
 * rn50_winograd_bind() must start on a 64-byte boundary. */
gsize rn50_winograd_get_scratch_bytes (const Rn50Winograd * wg);

/* Per-context oneDNN memory objects over @scratch (at least
 * rn50_winograd_get_scratch_bytes() bytes, 64-byte aligned, owned by the
 * caller and alive as long as the binding). */
Rn50WinogradBinding *rn50_winograd_bind (const Rn50Winograd * wg,
    void *scratch, GError ** error);
void rn50_winograd_binding_free (Rn50WinogradBinding * binding);

/* dst = relu?(conv (src, weights) + bias). @src and @dst are dense nChw8c
 * tensors of n×c×h×w and n×k×h×w floats; they must not overlap. @stream is a
 * CPU stream on the engine given to _new that belongs to the calling thread.
 * Uses at most omp_get_max_threads() threads of the calling thread. */
gboolean rn50_winograd_execute (const Rn50Winograd * wg,
    Rn50WinogradBinding * binding, dnnl_stream_t stream, const float *src,
    float *dst, GError ** error);

void rn50_winograd_free (Rn50Winograd * wg);

/* Name of the oneDNN implementation running the tile products (e.g.
 * "gemm:jit"), for logs and the benchmark. Owned by @wg. */
const char *rn50_winograd_get_matmul_impl (const Rn50Winograd * wg);

/* TRUE when the transforms run the AVX2+FMA code path (FALSE: portable). */
gboolean rn50_winograd_uses_avx2 (const Rn50Winograd * wg);

/* Switches @wg to the portable transforms even on an AVX2+FMA CPU, so tests
 * and the benchmark can check and time the fallback. Call before any
 * execute. */
void rn50_winograd_force_portable (Rn50Winograd * wg);

/* Measured choice between oneDNN's direct convolution and the two Winograd
 * variants for a 3×3 stride-1 pad-1 layer (see the table in winograd.c).
 * Returns TRUE and sets @variant when Winograd is faster; FALSE: use the
 * direct convolution. @threads: OpenMP threads the layer will run with. */
gboolean rn50_winograd_choose (guint n, guint c, guint k, guint h, guint w,
    guint threads, Rn50WinogradVariant * variant);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50Winograd, rn50_winograd_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Rn50WinogradBinding, rn50_winograd_binding_free)

G_END_DECLS
