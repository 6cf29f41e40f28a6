// conv2d forward, backward-data and backward-filter by lowering to GEMM (im2col).
//
// x is (n,c,h,w), w is (oc,c,kh,kw) = (oc, ckk) with ckk = c*kh*kw, y is (n,oc,oh,ow).
// All GEMMs go through ck_sgemm, always outside OpenMP regions (OpenBLAS has its own
// pool); the OpenMP loops around them (lowering, scatters, col2im) give each thread whole
// planes or rows to write.
//
// Lowering: batched by chunks of images (sized below). The columns of a chunk's images sit
// side by side, col (ckk, nb*oh*ow), so each kernel is one GEMM per chunk:
//   forward          yt (oc, nb*ohow) = w (oc, ckk) x col, then scatter to NCHW (+ bias)
//   backward-data    col = w^T x dyt (dy gathered to (oc, nb*ohow)), then col2im
//   backward-filter  dw (oc, ckk) += dyt x col^T, dbias += row sums of dyt
// Batched rather than one GEMM per image: on a small image with few channels a GEMM per
// image is too short to run near OpenBLAS's rate (figures: docs/performance.md, "Design
// measurements behind the kernels"). A reduction of at most CK_CONV2D_SMALL_CKK (a first
// layer on a 1-channel image) goes image by image in all three passes instead (below).
#include "ckernels.h"
#include "ck_threads_internal.h"
#include "ck_lowering.h"
#include "ck_target.h"
#include "ck_conv2d_direct_internal.h"
#include "ck_conv2d_winograd_internal.h"
#include "ck_vec8.h"

#include <assert.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Geometry

static ck_lowering ck_conv2d_lowering(const ck_conv2d_params *p) {
    assert(p != NULL);
    assert(p->n >= 1 && p->c >= 1 && p->oc >= 1);
    return ck_lowering_make(p->h, p->w, p->kh, p->kw, p->stride_h, p->stride_w,
                            p->pad_h, p->pad_w, p->dil_h, p->dil_w);
}

// Image-by-image paths for short reductions (defined below).
static int ck_conv2d_use_small_path(const ck_conv2d_params *p, const ck_lowering *g);
static int ck_conv2d_forward_small(float *y, const float *x, const float *w, const float *bias,
                                   const ck_conv2d_params *p, const ck_lowering *g);
static int ck_conv2d_backward_data_small(float *dx, const float *dy, const float *w,
                                         const ck_conv2d_params *p, const ck_lowering *g, int accumulate);
static int ck_conv2d_backward_filter_small(float *dw, float *dbias, const float *dy, const float *x,
                                           const ck_conv2d_params *p, const ck_lowering *g);

// MARK: - Lowering in chunks of images

// The columns of nb images sit side by side: col is (ckk, nb*oh*ow), and the GEMM output
// (forward) or the gathered dy (backward) is (oc, nb*oh*ow). How many images a chunk holds
// trades the cache against the hand-offs between the two thread pools:
//   - With one thread there are no hand-offs, and a chunk is sized for the cache: its
//     workspace (col plus the (oc, nb*oh*ow) block) stays within 2 MiB, so the lowering's
//     writes, the GEMM's reads of them and the scatter or col2im after it stay in L2/L3.
//     (Twice that was no faster for a convolution alone and slowed whole training runs.)
//   - With more threads every chunk hands the cores from libomp to OpenBLAS and back
//     (lowering, GEMM, scatter). Each hand-off costs a wake-up of the pool that slept
//     (tens of microseconds) or a core shared with the one still spinning, so a chunk's
//     workspace may be 9 MiB and the GEMMs fewer and longer: a 32->64 3x3 convolution at
//     14x14, batch 64, runs in 2 chunks of 32 images at more than one thread and in 10 of 7
//     at one (the measurements: docs/performance.md, "conv2d chunks by thread count").
// Each chunk also holds at least CK_CONV2D_MIN_CHUNK_FLOPS of GEMM work (about 0.3 ms at
// the GEMM ceiling), so a cheap convolution (a 1->32 3x3 at 28x28, 29 MFLOP for a batch of
// 64) stays one chunk: split further it measured slower at 2 threads. The workspace is
// sized for the larger chunks whatever the thread count, so a thread count changed between
// a forward and its backward cannot overrun it (pages a 1-thread run never touches cost
// no memory).
#define CK_CONV2D_CHUNK_FLOATS_ONE_THREAD ((size_t)1 << 19)    // 2 MiB
#define CK_CONV2D_CHUNK_FLOATS_MORE_THREADS ((size_t)9 << 18)  // 9 MiB
#define CK_CONV2D_MIN_CHUNK_FLOPS 32e6

static int ck_conv2d_chunk_for(const ck_conv2d_params *p, const ck_lowering *g, int threads) {
    const size_t budget = threads > 1 ? CK_CONV2D_CHUNK_FLOATS_MORE_THREADS : CK_CONV2D_CHUNK_FLOATS_ONE_THREAD;
    const size_t per_image = ((size_t)p->c * p->kh * p->kw + (size_t)p->oc) * g->oh * g->ow;
    size_t max_nb = budget / per_image;
    const double flops_per_image = 2.0 * p->oc * p->c * p->kh * p->kw * g->oh * g->ow;
    const double min_nb = CK_CONV2D_MIN_CHUNK_FLOPS / flops_per_image;
    if ((double)max_nb < min_nb) max_nb = min_nb >= (double)p->n ? (size_t)p->n : (size_t)min_nb + 1;
    if (max_nb < 1) max_nb = 1;
    if (max_nb >= (size_t)p->n) return p->n;
    // Even chunks (7 images at most 6 a chunk: 4 + 3, not 6 + 1).
    const size_t chunks = ((size_t)p->n + max_nb - 1) / max_nb;
    return (int)(((size_t)p->n + chunks - 1) / chunks);
}

// The chunk at the thread count in force now.
static int ck_conv2d_chunk(const ck_conv2d_params *p, const ck_lowering *g) {
    return ck_conv2d_chunk_for(p, g, ck_region_threads());
}

int ck_conv2d_images_per_chunk(const ck_conv2d_params *p) {
    const ck_lowering g = ck_conv2d_lowering(p);
    return ck_conv2d_chunk(p, &g);
}

// Floats before backward-filter's columns: n*oc row sums in double, rounded up to 64 bytes
// so the columns keep the workspace's alignment.
static size_t ck_conv2d_row_sums_floats(const ck_conv2d_params *p) {
    const size_t floats = 2 * (size_t)p->n * p->oc;
    return (floats + 15) / 16 * 16;
}

size_t ck_conv2d_workspace_size(const ck_conv2d_params *p) {
    const ck_lowering g = ck_conv2d_lowering(p);
    const int one = ck_conv2d_chunk_for(p, &g, 1), more = ck_conv2d_chunk_for(p, &g, 2);
    const size_t cols = (size_t)(one > more ? one : more) * g.oh * g.ow;
    const size_t lowered = ck_conv2d_row_sums_floats(p) + ((size_t)p->c * p->kh * p->kw + (size_t)p->oc) * cols;
    // Direct 3x3 path (ck_conv2d_direct.c): sized whatever the mode, so a mode change
    // between sizing and a call cannot overrun.
    const size_t direct = ck_conv2d_direct_workspace_floats(p);
    return lowered > direct ? lowered : direct;
}

// col (ckk, nb*ohow) from images x (nb,c,h,w): image i fills columns [i*ohow, (i+1)*ohow).
// Each (image, channel) pair owns its kh*kw row segments.
static void ck_im2col_chunk(float *col, const float *x, int nb, const ck_conv2d_params *p,
                            const ck_lowering *g) {
    const size_t ohow = (size_t)g->oh * g->ow, cols = (size_t)nb * ohow;
    const size_t kk = (size_t)p->kh * p->kw, hw = (size_t)p->h * p->w;
    const int pairs = nb * p->c;
    #pragma omp parallel for schedule(static) num_threads(ck_region_threads())
    for (int i = 0; i < pairs; i++) {
        const int img = i / p->c, ci = i % p->c;
        ck_im2col_channel(col + ci * kk * cols + img * ohow, cols, x + (size_t)i * hw, g);
    }
}

// Copies a row and returns its sum in double, in eight partial sums: a reduction the
// compiler can vectorize without reassociating, accurate to float over a batch.
// CK_MULTIVERSION: called from a parallel region, whose own code is baseline (ck_target.h).
static CK_MULTIVERSION double ck_copy_and_sum(float *restrict dst, const float *restrict src, size_t len) {
    double part[8] = {0};
    size_t s = 0;
    for (; s + 8 <= len; s += 8) {
        for (int j = 0; j < 8; j++) {
            dst[s + j] = src[s + j];
            part[j] += src[s + j];
        }
    }
    double sum = 0.0;
    for (; s < len; s++) {
        dst[s] = src[s];
        sum += src[s];
    }
    for (int j = 0; j < 8; j++) sum += part[j];
    return sum;
}

// dyt (oc, nb*ohow) from dy (nb,oc,ohow); each thread owns whole rows. With row_sums,
// also row_sums[img*oc + o] = the sum of dy's (img, o) row (for the bias gradient).
static void ck_gather_rows(float *dyt, double *row_sums, const float *dy, int nb, int oc, size_t ohow) {
    const int pairs = nb * oc;
    const size_t cols = (size_t)nb * ohow;
    #pragma omp parallel for schedule(static) num_threads(ck_region_threads())
    for (int i = 0; i < pairs; i++) {
        const int img = i / oc, o = i % oc;
        float *dst = dyt + o * cols + img * ohow;
        const float *src = dy + (size_t)i * ohow;
        if (row_sums != NULL) {
            row_sums[i] = ck_copy_and_sum(dst, src, ohow);
        } else {
            memcpy(dst, src, sizeof(float) * ohow);
        }
    }
}

// Rows [begin, end) of the forward's scatter of yt (oc, nb, ohow) to (nb, oc, ohow), adding the bias.
static CK_MULTIVERSION
void ck_conv2d_scatter_rows(float *yc, const float *yt, const float *bias, int oc, size_t cols,
                            size_t ohow, long begin, long end) {
    for (long i = begin; i < end; i++) {
        const int img = (int)(i / oc), o = (int)(i % oc);
        const float *src = yt + o * cols + img * ohow;
        float *dst = yc + (size_t)i * ohow;
        const float b = bias != NULL ? bias[o] : 0.0f;
        for (size_t s = 0; s < ohow; s++) dst[s] = src[s] + b;
    }
}

void ck_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                       float *workspace, const ck_conv2d_params *p) {
    const ck_lowering g = ck_conv2d_lowering(p);
    assert(y != NULL && x != NULL && w != NULL && workspace != NULL);
    const int ckk = p->c * p->kh * p->kw, chunk = ck_conv2d_chunk(p, &g);
    const size_t ohow = (size_t)g.oh * g.ow, chw = (size_t)p->c * p->h * p->w;
    float *col = workspace;
    float *yt = workspace + (size_t)ckk * chunk * ohow;  // (oc, nb*ohow)
    // Winograd (ck_conv2d_winograd.c), then the direct 3x3 path (ck_conv2d_direct.c), where they apply and win.
    if (ck_conv2d_forward_uses_winograd(p) && ck_conv2d_winograd_forward(y, x, w, bias, p)) return;
    if (ck_conv2d_forward_uses_direct(p) && ck_conv2d_direct_forward(y, x, w, bias, workspace, p)) return;
    if (ck_conv2d_use_small_path(p, &g) && ck_conv2d_forward_small(y, x, w, bias, p, &g)) return;

    for (int n0 = 0; n0 < p->n; n0 += chunk) {
        const int nb = p->n - n0 < chunk ? p->n - n0 : chunk;
        const size_t cols = (size_t)nb * ohow;
        ck_im2col_chunk(col, x + n0 * chw, nb, p, &g);
        ck_sgemm(yt, (int)cols, w, ckk, 0, col, (int)cols, 0, p->oc, (int)cols, ckk, 1.0f, 0.0f);

        // Scatter (oc, nb, ohow) to (nb, oc, ohow), adding the bias on the way.
        float *yc = y + (size_t)n0 * p->oc * ohow;
        const int pairs = nb * p->oc;
        #pragma omp parallel num_threads(ck_region_threads())
        {
            const ck_range r = ck_thread_range(pairs);
            ck_conv2d_scatter_rows(yc, yt, bias, p->oc, cols, ohow, r.begin, r.end);
        }
    }
}

// Packed weights hold both re-layouts a 3x3 stride-1 kernel can take, the direct one then
// Winograd's transform, so the choice between them stays the call's (and its bits those of
// ck_conv2d_forward).
size_t ck_conv2d_packed_size(const ck_conv2d_params *p) {
    assert(p != NULL);
    const size_t direct = ck_conv2d_direct_packed_floats(p);
    return direct > 0 ? direct + ck_conv2d_winograd_packed_floats(p) : 0;
}

void ck_conv2d_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p) {
    assert(packed != NULL && w != NULL && ck_conv2d_packed_size(p) > 0);
    ck_conv2d_direct_pack_forward(packed, w, bias, p);
    if (ck_conv2d_winograd_packed_floats(p) > 0) {
        ck_conv2d_winograd_pack_forward(packed + ck_conv2d_direct_packed_floats(p), w, bias, p);
    }
}

int ck_conv2d_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p) {
    assert(y != NULL && x != NULL && packed != NULL);
    if (ck_conv2d_forward_uses_winograd(p)) {
        return ck_conv2d_winograd_forward_packed(y, x, packed + ck_conv2d_direct_packed_floats(p), p);
    }
    return ck_conv2d_forward_uses_direct(p) && ck_conv2d_direct_forward_packed(y, x, packed, p);
}

void ck_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             float *workspace, const ck_conv2d_params *p, int accumulate) {
    const ck_lowering g = ck_conv2d_lowering(p);
    assert(dx != NULL && dy != NULL && w != NULL && workspace != NULL);
    const int ckk = p->c * p->kh * p->kw, chunk = ck_conv2d_chunk(p, &g);
    const size_t ohow = (size_t)g.oh * g.ow, hw = (size_t)p->h * p->w;
    const size_t kk = (size_t)p->kh * p->kw;
    float *col = workspace;
    float *dyt = workspace + (size_t)ckk * chunk * ohow;  // (oc, nb*ohow)
    // Winograd (ck_conv2d_winograd.c), then the direct 3x3 path (ck_conv2d_direct.c), where they apply and win.
    if (ck_conv2d_backward_data_uses_winograd(p) && ck_conv2d_winograd_backward_data(dx, dy, w, p, accumulate)) return;
    if (ck_conv2d_backward_data_uses_direct(p) && ck_conv2d_direct_backward_data(dx, dy, w, workspace, p, accumulate)) return;
    if (ck_conv2d_use_small_path(p, &g) && ck_conv2d_backward_data_small(dx, dy, w, p, &g, accumulate)) return;

    for (int n0 = 0; n0 < p->n; n0 += chunk) {
        const int nb = p->n - n0 < chunk ? p->n - n0 : chunk;
        const size_t cols = (size_t)nb * ohow;
        ck_gather_rows(dyt, NULL, dy + (size_t)n0 * p->oc * ohow, nb, p->oc, ohow);
        // col (ckk, nb*ohow) = w^T (ckk, oc) x dyt (oc, nb*ohow)
        ck_sgemm(col, (int)cols, w, ckk, 1, dyt, (int)cols, 0, ckk, (int)cols, p->oc, 1.0f, 0.0f);

        // Each (image, channel) plane of dx belongs to one thread (which zeroes it first when
        // not accumulating, while it is in that thread's cache).
        float *dxc = dx + (size_t)n0 * p->c * hw;
        const int pairs = nb * p->c;
        #pragma omp parallel for schedule(static) num_threads(ck_region_threads())
        for (int i = 0; i < pairs; i++) {
            const int img = i / p->c, ci = i % p->c;
            if (!accumulate) memset(dxc + (size_t)i * hw, 0, sizeof(float) * hw);
            ck_col2im_channel_scratch(dxc + (size_t)i * hw, col + ci * kk * cols + img * ohow, cols, &g);
        }
    }
}

// MARK: - Short reductions (ckk = c*kh*kw <= CK_CONV2D_SMALL_CKK)
//
// A first layer on a 1-channel image (a 1->32 3x3 convolution at 28x28: ckk = 9) lowers to
// GEMMs OpenBLAS runs at a fraction of its rate: backward-filter is (oc x ckk) with an
// n*oh*ow-long reduction (32 x 9 x 50,176 at batch 64), backward-data is (ckk x n*oh*ow)
// with a 32-long one, and forward's reduction is 9 long. All three passes go image by image
// instead, with no hand-off to OpenBLAS's threads: an image's columns (ckk x oh*ow, 28 KB
// for 28x28) are lowered into a per-thread buffer that stays in L1 while every output
// channel uses it, so nothing batch-sized is written. Threads own whole images (forward with
// fewer images than threads: an image's output channels); backward-filter keeps
// per-thread partial sums (double) and adds them in thread order, so a result depends on
// the thread count only through that order. Geometries whose buffers would be large fall
// back to the chunked GEMM path.
#define CK_CONV2D_SMALL_CKK 16
#define CK_CONV2D_SMALL_MAX_COL_FLOATS ((size_t)1 << 15)  // 128 KiB per thread

static int ck_conv2d_use_small_path(const ck_conv2d_params *p, const ck_lowering *g) {
    const size_t ckk = (size_t)p->c * p->kh * p->kw;
    return ckk <= CK_CONV2D_SMALL_CKK && ckk * g->oh * g->ow <= CK_CONV2D_SMALL_MAX_COL_FLOATS;
}

// One buffer of an image's columns (ckk, oh*ow) per thread, or NULL.
static float *ck_small_thread_columns(int threads, const ck_conv2d_params *p, const ck_lowering *g) {
    return malloc((size_t)threads * p->c * p->kh * p->kw * g->oh * g->ow * sizeof(float));
}

// col (ckk, oh*ow) from one image x_img (c,h,w), in the calling thread.
static void ck_im2col_image(float *col, const float *x_img, const ck_conv2d_params *p, const ck_lowering *g) {
    const size_t ohow = (size_t)g->oh * g->ow, hw = (size_t)p->h * p->w, kk = (size_t)p->kh * p->kw;
    for (int ci = 0; ci < p->c; ci++) ck_im2col_channel(col + ci * kk * ohow, ohow, x_img + ci * hw, g);
}

// out[s] = b + sum over i < count of coef[i * coef_stride] * rows[i * len + s], s < len:
// 64 outputs at a time (then 16) held in registers while the rows go by, so each is stored
// once. Four independent 16-lane sums: with one, each output's count FMAs waited out each
// other's latency, and W2's conv1 forward ran 20-30% slower. Every output sums its terms in
// the same order either way.
// CK_MULTIVERSION: called from parallel regions, whose own code is baseline (ck_target.h).
// Outputs [s, s + 16 * groups) of ck_small_combine, groups (1 or 4) constant where inlined.
static inline __attribute__((always_inline)) void
ck_small_combine_block(float *restrict out, const float *restrict rows, size_t len, const float *restrict coef,
                       size_t coef_stride, int count, float b, size_t s, const int groups) {
    float acc[4][16];
    for (int q = 0; q < groups; q++)
        for (int j = 0; j < 16; j++) acc[q][j] = b;
    for (int i = 0; i < count; i++) {
        const float c = coef[(size_t)i * coef_stride];
        const float *restrict row = rows + (size_t)i * len + s;
        for (int q = 0; q < groups; q++) {
            #pragma omp simd
            for (int j = 0; j < 16; j++) acc[q][j] += c * row[16 * q + j];
        }
    }
    for (int q = 0; q < groups; q++)
        for (int j = 0; j < 16; j++) out[s + 16 * q + j] = acc[q][j];
}

static CK_MULTIVERSION void ck_small_combine(float *restrict out, const float *restrict rows, size_t len,
                                             const float *restrict coef, size_t coef_stride, int count, float b) {
    size_t s = 0;
    for (; s + 64 <= len; s += 64) ck_small_combine_block(out, rows, len, coef, coef_stride, count, b, s, 4);
    for (; s + 16 <= len; s += 16) ck_small_combine_block(out, rows, len, coef, coef_stride, count, b, s, 1);
    for (; s < len; s++) {
        float acc = b;
        for (int i = 0; i < count; i++) acc += coef[(size_t)i * coef_stride] * rows[(size_t)i * len + s];
        out[s] = acc;
    }
}

// y_img (oc, ohow) = w (oc, ckk) x col_img (ckk, ohow) + bias, image by image.
static int ck_conv2d_forward_small(float *y, const float *x, const float *w, const float *bias,
                                   const ck_conv2d_params *p, const ck_lowering *g) {
    const int ckk = p->c * p->kh * p->kw, threads = ck_region_threads();
    const size_t ohow = (size_t)g->oh * g->ow, chw = (size_t)p->c * p->h * p->w;
    float *cols = ck_small_thread_columns(threads, p, g);
    if (cols == NULL) return 0;
    // Fewer images than threads (batch 1 at inference): threads share an image's output
    // channels, each lowering the image itself. Either way each output element is the same
    // sum in the same order, so the bits do not depend on the split.
    const int by_channel = p->n < threads;
    const long tasks = by_channel ? (long)p->n * p->oc : p->n;
    #pragma omp parallel num_threads(threads)
    {
        float *col = cols + (size_t)omp_get_thread_num() * ckk * ohow;
        int lowered = -1;  // the image col holds
        #pragma omp for schedule(static)
        for (long t = 0; t < tasks; t++) {
            const int img = by_channel ? (int)(t / p->oc) : (int)t;
            const int o0 = by_channel ? (int)(t % p->oc) : 0, o1 = by_channel ? o0 + 1 : p->oc;
            if (img != lowered) {
                ck_im2col_image(col, x + (size_t)img * chw, p, g);
                lowered = img;
            }
            // Each output element sums its ckk products in registers: one store per element.
            for (int o = o0; o < o1; o++) {
                ck_small_combine(y + ((size_t)img * p->oc + o) * ohow, col, ohow, w + (size_t)o * ckk, 1, ckk,
                                 bias != NULL ? bias[o] : 0.0f);
            }
        }
    }
    free(cols);
    return 1;
}

// Two output channels' dot products with R (<= 9) rows of the image's columns, 8 pixels at a
// time: 2R + 2 accumulators (the last two the rows' plain sums, for dbias), so each load of
// dy or of a column feeds R or 2 FMAs instead of one (the dot product one pair of rows at a
// time was load-bound: 4.4% of W2 for a layer of 0.3% of its FLOPs). Sums in float over one
// image's pixels (8 lanes), as before; `ob` of the two channels are real (1 or 2).
static inline __attribute__((always_inline)) void ck_small_filter_rows(double *acc, const float *restrict dy0,
                                                                       const float *restrict dy1,
                                                                       const float *restrict col, size_t ohow,
                                                                       int ckk, int ob, double *bacc, const int R) {
    ck_v8 a0[9], a1[9], b0 = {0}, b1 = {0};
    for (int r = 0; r < R; r++) a0[r] = a1[r] = (ck_v8){0};
    size_t s = 0;
    for (; s + 8 <= ohow; s += 8) {
        const ck_v8 d0 = ck_v8_load(dy0 + s), d1 = ck_v8_load(dy1 + s);
        b0 += d0;
        b1 += d1;
        for (int r = 0; r < R; r++) {
            const ck_v8 c = ck_v8_load(col + (size_t)r * ohow + s);
            a0[r] += d0 * c;
            a1[r] += d1 * c;
        }
    }
    float t0[9], t1[9], bs0 = 0.0f, bs1 = 0.0f;
    for (int r = 0; r < R; r++) {
        t0[r] = t1[r] = 0.0f;
        for (int j = 0; j < 8; j++) {
            t0[r] += a0[r][j];
            t1[r] += a1[r][j];
        }
    }
    for (int j = 0; j < 8; j++) {
        bs0 += b0[j];
        bs1 += b1[j];
    }
    for (; s < ohow; s++) {
        for (int r = 0; r < R; r++) {
            t0[r] += dy0[s] * col[(size_t)r * ohow + s];
            t1[r] += dy1[s] * col[(size_t)r * ohow + s];
        }
        bs0 += dy0[s];
        bs1 += dy1[s];
    }
    for (int r = 0; r < R; r++) {
        acc[r] += t0[r];
        if (ob == 2) acc[(size_t)ckk + r] += t1[r];
    }
    if (bacc != NULL) {
        bacc[0] += bs0;
        if (ob == 2) bacc[1] += bs1;
    }
}

// acc (oc, ckk) += dy_img (oc, ohow) x col_img^T, then (with_bias) acc[oc*ckk + o] += the
// row sums of dy_img: one image of the small backward-filter, two output channels and up
// to 9 column rows at a time. CK_MULTIVERSION: called from a parallel region, whose own code
// is baseline (ck_target.h).
static CK_MULTIVERSION void ck_small_filter_image(double *acc, const float *dy_img, const float *col, int oc,
                                                  int ckk, size_t ohow, int with_bias) {
    for (int o = 0; o < oc; o += 2) {
        const int ob = oc - o >= 2 ? 2 : 1;
        const float *dy0 = dy_img + (size_t)o * ohow, *dy1 = ob == 2 ? dy0 + ohow : dy0;
        for (int r0 = 0; r0 < ckk; r0 += 9) {
            // dbias once, with the first rows.
            double *bacc = with_bias && r0 == 0 ? acc + (size_t)oc * ckk + o : NULL;
            double *dst = acc + (size_t)o * ckk + r0;
            const float *c = col + (size_t)r0 * ohow;
            switch (ckk - r0 < 9 ? ckk - r0 : 9) {
            case 9: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 9); break;
            case 8: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 8); break;
            case 7: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 7); break;
            case 6: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 6); break;
            case 5: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 5); break;
            case 4: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 4); break;
            case 3: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 3); break;
            case 2: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 2); break;
            default: ck_small_filter_rows(dst, dy0, dy1, c, ohow, ckk, ob, bacc, 1); break;
            }
        }
    }
}

// dw (oc, ckk) += sum over images of dy_img (oc, ohow) x col_img^T; dbias += row sums.
// Returns 0 (nothing done) if its buffers cannot be allocated.
static int ck_conv2d_backward_filter_small(float *dw, float *dbias, const float *dy, const float *x,
                                           const ck_conv2d_params *p, const ck_lowering *g) {
    const int ckk = p->c * p->kh * p->kw, threads = ck_region_threads();
    const size_t ohow = (size_t)g->oh * g->ow, chw = (size_t)p->c * p->h * p->w;
    const size_t sums = (size_t)p->oc * (ckk + 1);  // dw then dbias, per thread
    double *partial = calloc((size_t)threads * sums, sizeof(double));
    float *cols = ck_small_thread_columns(threads, p, g);
    if (partial == NULL || cols == NULL) {
        free(partial);
        free(cols);
        return 0;
    }
    #pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        double *acc = partial + (size_t)t * sums;
        float *col = cols + (size_t)t * ckk * ohow;
        #pragma omp for schedule(static)
        for (int img = 0; img < p->n; img++) {
            ck_im2col_image(col, x + (size_t)img * chw, p, g);
            ck_small_filter_image(acc, dy + (size_t)img * p->oc * ohow, col, p->oc, ckk, ohow, dbias != NULL);
        }
    }
    for (size_t i = 0; i < (size_t)p->oc * ckk; i++) {
        double total = 0.0;
        for (int t = 0; t < threads; t++) total += partial[(size_t)t * sums + i];
        dw[i] += (float)total;
    }
    if (dbias != NULL) {
        for (int o = 0; o < p->oc; o++) {
            double total = 0.0;
            for (int t = 0; t < threads; t++) total += partial[(size_t)t * sums + (size_t)p->oc * ckk + o];
            dbias[o] += (float)total;
        }
    }
    free(partial);
    free(cols);
    return 1;
}

// dx_img += col2im(w^T (ckk, oc) x dy_img (oc, ohow)), image by image (dx_img zeroed
// first when not accumulating).
static int ck_conv2d_backward_data_small(float *dx, const float *dy, const float *w,
                                         const ck_conv2d_params *p, const ck_lowering *g, int accumulate) {
    const int ckk = p->c * p->kh * p->kw, threads = ck_region_threads();
    const size_t ohow = (size_t)g->oh * g->ow, hw = (size_t)p->h * p->w, kk = (size_t)p->kh * p->kw;
    float *cols = ck_small_thread_columns(threads, p, g);
    if (cols == NULL) return 0;
    #pragma omp parallel num_threads(threads)
    {
        float *col = cols + (size_t)omp_get_thread_num() * ckk * ohow;
        #pragma omp for schedule(static)
        for (int img = 0; img < p->n; img++) {
            // col row r = sum over o of w[o][r] * dy row o, summed in registers per element.
            const float *dyi = dy + (size_t)img * p->oc * ohow;
            for (int r = 0; r < ckk; r++) {
                ck_small_combine(col + (size_t)r * ohow, dyi, ohow, w + r, ckk, p->oc, 0.0f);
            }
            float *dxi = dx + (size_t)img * p->c * hw;
            if (!accumulate) memset(dxi, 0, sizeof(float) * p->c * hw);
            for (int ci = 0; ci < p->c; ci++) {
                ck_col2im_channel_scratch(dxi + ci * hw, col + ci * kk * ohow, ohow, g);
            }
        }
    }
    free(cols);
    return 1;
}

void ck_conv2d_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                               float *workspace, const ck_conv2d_params *p) {
    const ck_lowering g = ck_conv2d_lowering(p);
    assert(dw != NULL && dy != NULL && x != NULL && workspace != NULL);
    assert((uintptr_t)workspace % sizeof(double) == 0);
    const int ckk = p->c * p->kh * p->kw, chunk = ck_conv2d_chunk(p, &g);
    const size_t ohow = (size_t)g.oh * g.ow, chw = (size_t)p->c * p->h * p->w;
    // The bias gradient's per-(image, channel) sums come first in the workspace, then the
    // chunk's columns and gathered dy.
    double *row_sums = dbias != NULL ? (double *)workspace : NULL;
    float *col = workspace + ck_conv2d_row_sums_floats(p);
    float *dyt = col + (size_t)ckk * chunk * ohow;  // (oc, nb*ohow)
    // Winograd (ck_conv2d_winograd.c), then the direct 3x3 path (ck_conv2d_direct.c), where they apply and win.
    if (ck_conv2d_backward_filter_uses_winograd(p) && ck_conv2d_winograd_backward_filter(dw, dbias, dy, x, p)) return;
    if (ck_conv2d_backward_filter_uses_direct(p) && ck_conv2d_direct_backward_filter(dw, dbias, dy, x, p)) return;
    if (ck_conv2d_use_small_path(p, &g) && ck_conv2d_backward_filter_small(dw, dbias, dy, x, p, &g)) return;

    for (int n0 = 0; n0 < p->n; n0 += chunk) {
        const int nb = p->n - n0 < chunk ? p->n - n0 : chunk;
        const size_t cols = (size_t)nb * ohow;
        ck_im2col_chunk(col, x + n0 * chw, nb, p, &g);
        ck_gather_rows(dyt, row_sums != NULL ? row_sums + (size_t)n0 * p->oc : NULL,
                       dy + (size_t)n0 * p->oc * ohow, nb, p->oc, ohow);
        // dw (oc, ckk) += dyt (oc, nb*ohow) x col^T (nb*ohow, ckk)
        ck_sgemm(dw, ckk, dyt, (int)cols, 0, col, (int)cols, 1, p->oc, ckk, (int)cols, 1.0f, 1.0f);
    }
    if (dbias != NULL) {
        // dbias[o] += the sum over images of the (image, o) row sums, in image order.
        for (int o = 0; o < p->oc; o++) {
            double sum = 0.0;
            for (int img = 0; img < p->n; img++) sum += row_sums[(size_t)img * p->oc + o];
            dbias[o] += (float)sum;
        }
    }
}
