// 2-D max and average pooling, global average pooling, and their gradients.
//
// Semantics follow PyTorch (ceil_mode=False, dilation 1):
// - oh = (h + 2*pad_h - kh) / stride_h + 1, likewise ow.
// - pad_h <= kh/2 and pad_w <= kw/2 (PyTorch rejects larger padding). Together with the
//   floor in oh/ow this guarantees every window holds at least one in-bounds element,
//   so a max is always an element of x and an exclude-pad average never divides by 0.
// - Max: padding is never a candidate. A window is scanned row by row and a value wins
//   only if it is strictly greater than the best so far, so ties go to the first in scan
//   order; a NaN always wins (and a later NaN replaces an earlier one), so NaN
//   propagates as in PyTorch.
// - Average: count_include_pad != 0 divides every window by kh*kw, i.e. padding counts as
//   zeros (PyTorch's default; with ceil_mode=False no window reaches past the padded
//   border, so this is PyTorch's divisor exactly); count_include_pad == 0 divides by the
//   number of in-bounds elements of the window.
//
// Threads: every loop runs over the n*c independent (h,w) planes; a thread owns its
// planes of y (forward) and of dx (backward), so overlapping windows that scatter into
// the same dx element are always handled by one thread and need no atomics.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <math.h>
#include <string.h>

// Below this many touched elements a parallel region costs more than it saves.
#define CK_POOL_PARALLEL_MIN 32768L

static void ck_pool2d_check(const ck_pool2d_params *p) {
    assert(p != NULL);
    assert(p->n >= 0 && p->c >= 0 && p->h >= 1 && p->w >= 1);
    assert(p->kh >= 1 && p->kw >= 1);
    assert(p->stride_h >= 1 && p->stride_w >= 1);
    assert(p->pad_h >= 0 && p->pad_w >= 0);
    assert(p->pad_h <= p->kh / 2 && p->pad_w <= p->kw / 2);
    assert(p->h + 2 * p->pad_h >= p->kh && p->w + 2 * p->pad_w >= p->kw);
    (void)p;
}

int ck_pool2d_out_h(const ck_pool2d_params *p) {
    ck_pool2d_check(p);
    return (p->h + 2 * p->pad_h - p->kh) / p->stride_h + 1;
}

int ck_pool2d_out_w(const ck_pool2d_params *p) {
    ck_pool2d_check(p);
    return (p->w + 2 * p->pad_w - p->kw) / p->stride_w + 1;
}

static inline int ck_min(int a, int b) { return a < b ? a : b; }
static inline int ck_max(int a, int b) { return a > b ? a : b; }

// 2x2 windows at stride 2 without padding (most CNNs' pooling): every window is
// in bounds and starts at an even row and column, so the general loop's bounds
// arithmetic goes away.
static inline int ck_pool2d_is_2x2_stride2(const ck_pool2d_params *p) {
    return p->kh == 2 && p->kw == 2 && p->stride_h == 2 && p->stride_w == 2 && p->pad_h == 0 && p->pad_w == 0;
}

// MARK: - 2x2 windows at stride 2 with AVX2
//
// A 2x2 stride-2 pooling reads row pairs (input rows 2*oy and 2*oy+1 of a plane) and
// writes one output row each; in (plane, oy) order the output rows are contiguous. The
// AVX2 loops take 8 outputs at a time: two rows of 16 inputs are loaded as vectors and
// split into their even and odd columns with one shuffle each (the four window elements
// of 8 windows), and the results are put back in order with one permute: the portable row
// loop vectorizes poorly and needs gathers at 7-wide output rows (figures:
// docs/performance.md, "Pooling 2x2 stride 2"). Without AVX2, and for outputs under 4
// wide, the portable loops below run instead.
//
// Rows shorter than a multiple of 8 outputs (7-wide rows, from 14x14 inputs) are finished
// with a full vector that spills into the next row pair's outputs, which that row pair then
// rewrites.
// That is only safe when the next row pair belongs to the same thread and outputs are at
// least 4 wide (the spill is then shorter than one row pair); each thread therefore owns a
// contiguous range of row pairs and finishes its last one in scalar.
//
// The backward pass of max pooling stays a scatter: a dense version (each window's four
// dx elements get dy or -0.0 by comparing argmax) reads and writes all of dx and measured
// twice as slow.
#if CK_X86  // AVX2, used when the CPU has it (ck_target.h)
#include <immintrin.h>
#define CK_POOL2D_AVX2 1
#define CK_POOL2D_AVX2_MIN_OW 4

// The top input row of row pair rp: plane rp / oh, output row rp % oh.
static inline const float *ck_pool2d_top_row(const float *x, long rp, int h, int w, int oh) {
    return x + (size_t)(rp / oh) * h * w + (size_t)(2 * (rp % oh)) * w;
}

// Outputs of row pair rp done by full vectors: all of them when another row pair of this
// thread follows (the last vector may spill into it), else only whole vectors.
static inline int ck_pool2d_vector_end(long rp, long end, int ow) {
    return rp + 1 < end ? ow : ow - ow % 8;
}

// The even and odd columns of 16 floats, each in the lane order 0 1 4 5 2 3 6 7;
// ck_pool2d_unpermute restores 0..7.
CK_TARGET_AVX2 static inline void ck_pool2d_split(const float *r, __m256 *even, __m256 *odd) {
    const __m256 lo = _mm256_loadu_ps(r), hi = _mm256_loadu_ps(r + 8);
    *even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    *odd = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}

// The four elements of 8 windows starting at output column ox: a, b from the top row
// (even, odd columns), c, d from the bottom row; lane order as ck_pool2d_split.
CK_TARGET_AVX2 static inline void ck_pool2d_windows(const float *r0, const float *r1, int ox,
                                     __m256 *a, __m256 *b, __m256 *c, __m256 *d) {
    ck_pool2d_split(r0 + 2 * ox, a, b);
    ck_pool2d_split(r1 + 2 * ox, c, d);
}

CK_TARGET_AVX2 static inline __m256 ck_pool2d_unpermute(__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

// best/offset take v/its offset where v wins: v > best, or v is NaN (the scalar rule).
CK_TARGET_AVX2 static inline void ck_pool2d_max_step(__m256 *best, __m256 *offset, __m256 v, __m256 v_offset) {
    const __m256 wins = _mm256_or_ps(_mm256_cmp_ps(v, *best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    *best = _mm256_blendv_ps(*best, v, wins);
    *offset = _mm256_blendv_ps(*offset, v_offset, wins);
}

// Row pairs [begin, end) of the max pooling forward pass; outputs [0, vec_end) of a row
// by vectors, the rest in scalar (same scan as the general loop).
CK_TARGET_AVX2 static void ck_maxpool2d_2x2_forward_rows(float *y, int32_t *argmax, const float *x, long begin, long end,
                                          int h, int w, int oh, int ow) {
    // Offsets within the window as int32 bit patterns in float vectors (for blendv).
    const __m256 off1 = _mm256_castsi256_ps(_mm256_set1_epi32(1));
    const __m256 off_w = _mm256_castsi256_ps(_mm256_set1_epi32(w));
    const __m256 off_w1 = _mm256_castsi256_ps(_mm256_set1_epi32(w + 1));
    const __m256i columns = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (long rp = begin; rp < end; rp++) {
        const float *r0 = ck_pool2d_top_row(x, rp, h, w, oh), *r1 = r0 + w;
        float *yr = y + (size_t)rp * ow;
        int32_t *ar = argmax + (size_t)rp * ow;
        const int32_t base = 2 * (int32_t)(rp % oh) * w;   // r0's offset in its plane
        const int vec_end = ck_pool2d_vector_end(rp, end, ow);
        int ox = 0;
        for (; ox < vec_end; ox += 8) {
            __m256 a, b, c, d;
            ck_pool2d_windows(r0, r1, ox, &a, &b, &c, &d);
            __m256 best = a, offset = _mm256_setzero_ps();
            ck_pool2d_max_step(&best, &offset, b, off1);
            ck_pool2d_max_step(&best, &offset, c, off_w);
            ck_pool2d_max_step(&best, &offset, d, off_w1);
            const __m256i index = _mm256_add_epi32(_mm256_castps_si256(ck_pool2d_unpermute(offset)),
                                                   _mm256_add_epi32(_mm256_set1_epi32(base + 2 * ox), columns));
            _mm256_storeu_ps(yr + ox, ck_pool2d_unpermute(best));
            _mm256_storeu_si256((__m256i *)(ar + ox), index);
        }
        for (; ox < ow; ox++) {
            float best = r0[2 * ox];
            int32_t offset = 0;
            if (r0[2 * ox + 1] > best || isnan(r0[2 * ox + 1])) { best = r0[2 * ox + 1]; offset = 1; }
            if (r1[2 * ox] > best || isnan(r1[2 * ox])) { best = r1[2 * ox]; offset = w; }
            if (r1[2 * ox + 1] > best || isnan(r1[2 * ox + 1])) { best = r1[2 * ox + 1]; offset = w + 1; }
            yr[ox] = best;
            ar[ox] = base + 2 * ox + offset;
        }
    }
}

// Row pairs [begin, end) of the average pooling forward pass, adding in the general
// loop's order so results are bit-identical to it.
CK_TARGET_AVX2 static void ck_avgpool2d_2x2_forward_rows(float *y, const float *x, long begin, long end,
                                          int h, int w, int oh, int ow) {
    const __m256 quarter = _mm256_set1_ps(0.25f);
    for (long rp = begin; rp < end; rp++) {
        const float *r0 = ck_pool2d_top_row(x, rp, h, w, oh), *r1 = r0 + w;
        float *yr = y + (size_t)rp * ow;
        const int vec_end = ck_pool2d_vector_end(rp, end, ow);
        int ox = 0;
        for (; ox < vec_end; ox += 8) {
            __m256 a, b, c, d;
            ck_pool2d_windows(r0, r1, ox, &a, &b, &c, &d);
            const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a, b), c), d);
            _mm256_storeu_ps(yr + ox, ck_pool2d_unpermute(_mm256_mul_ps(sum, quarter)));
        }
        for (; ox < ow; ox++)
            yr[ox] = (((r0[2 * ox] + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) * 0.25f;
    }
}

#else
#define CK_POOL2D_AVX2 0
#endif

// Planes [begin, end) of the 2x2 stride-2 max pool without AVX2, by the general loop's
// scan (row by row; a value wins if strictly greater or NaN), written with selects instead
// of branches: on real activations the comparisons are unpredictable, and the branchy loop
// spent most of its time in mispredictions (figures: docs/performance.md, "Design
// measurements behind the kernels"). Starting from the window's first element is the same
// as starting from -inf: -inf never wins and its index is the first element's; a NaN first
// element wins either way.
static CK_MULTIVERSION
void ck_maxpool2d_2x2_forward_planes(float *y, int32_t *argmax, const float *x, int h, int w, int oh,
                                     int ow, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        const float *xp = x + (size_t)plane * h * w;
        float *yp = y + (size_t)plane * oh * ow;
        int32_t *ap = argmax + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *restrict r0 = xp + (size_t)(2 * oy) * w, *restrict r1 = r0 + w;
            float *restrict yr = yp + (size_t)oy * ow;
            int32_t *restrict ar = ap + (size_t)oy * ow;
            const int32_t base = 2 * oy * w;
            // `|` not `||`: no short-circuit branch, so the loop vectorizes.
            #pragma omp simd
            for (int ox = 0; ox < ow; ox++) {
                float best = r0[2 * ox];
                int32_t offset = 0;
                float v = r0[2 * ox + 1];
                int wins = (v > best) | (v != v);
                best = wins ? v : best; offset = wins ? 1 : offset;
                v = r1[2 * ox];
                wins = (v > best) | (v != v);
                best = wins ? v : best; offset = wins ? w : offset;
                v = r1[2 * ox + 1];
                wins = (v > best) | (v != v);
                best = wins ? v : best; offset = wins ? w + 1 : offset;
                yr[ox] = best;
                ar[ox] = base + 2 * ox + offset;
            }
        }
    }
}

// The 2x2 stride-2 max pool: AVX2 row pairs where they apply, else planes.
static void ck_maxpool2d_2x2_forward(float *y, int32_t *argmax, const float *x, long planes,
                                     int h, int w, int oh, int ow) {
#if CK_POOL2D_AVX2
    if (ow >= CK_POOL2D_AVX2_MIN_OW && ck_cpu_has_avx2_fma()) {
        #pragma omp parallel if (planes * h * w > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
        {
            const ck_range r = ck_thread_range(planes * oh);
            ck_maxpool2d_2x2_forward_rows(y, argmax, x, r.begin, r.end, h, w, oh, ow);
        }
        return;
    }
#endif
    #pragma omp parallel if (planes * h * w > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_maxpool2d_2x2_forward_planes(y, argmax, x, h, w, oh, ow, r.begin, r.end);
    }
}

// Planes [begin, end) of the general max pool.
static CK_MULTIVERSION
void ck_maxpool2d_forward_planes(float *y, int32_t *argmax, const float *x, const ck_pool2d_params *p,
                                 int h, int w, int oh, int ow, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        const float *xp = x + (size_t)plane * h * w;
        float *yp = y + (size_t)plane * oh * ow;
        int32_t *ap = argmax + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int hs = oy * p->stride_h - p->pad_h;
            const int h0 = ck_max(hs, 0), h1 = ck_min(hs + p->kh, h);
            for (int ox = 0; ox < ow; ox++) {
                const int ws = ox * p->stride_w - p->pad_w;
                const int w0 = ck_max(ws, 0), w1 = ck_min(ws + p->kw, w);
                float best = -INFINITY;
                int32_t best_index = h0 * w + w0;   // stands when every value is -inf
                for (int iy = h0; iy < h1; iy++) {
                    for (int ix = w0; ix < w1; ix++) {
                        const float v = xp[iy * w + ix];
                        if (v > best || isnan(v)) {
                            best = v;
                            best_index = iy * w + ix;
                        }
                    }
                }
                yp[oy * ow + ox] = best;
                ap[oy * ow + ox] = best_index;
            }
        }
    }
}

// x is (n,c,h,w); y and argmax are (n,c,oh,ow). argmax is the winner's row * w + col
// within its own (h,w) plane.
void ck_maxpool2d_forward(float *y, int32_t *argmax, const float *x, const ck_pool2d_params *p) {
    const int oh = ck_pool2d_out_h(p), ow = ck_pool2d_out_w(p);
    const int h = p->h, w = p->w;
    const long planes = (long)p->n * p->c;
    assert((long)h * w <= INT32_MAX);
    if (ck_pool2d_is_2x2_stride2(p)) {
        ck_maxpool2d_2x2_forward(y, argmax, x, planes, h, w, oh, ow);
        return;
    }
    #pragma omp parallel if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_maxpool2d_forward_planes(y, argmax, x, p, h, w, oh, ow, r.begin, r.end);
    }
}

// dy and argmax are (n,c,oh,ow); dx is (n,c,h,w). Without accumulate each plane is zeroed
// by its thread just before the scatter, while it is in that thread's cache.
void ck_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                           const ck_pool2d_params *p, int accumulate) {
    const int ohw = ck_pool2d_out_h(p) * ck_pool2d_out_w(p);
    const int hw = p->h * p->w;
    const long planes = (long)p->n * p->c;
    // A scatter (and a memset): no vector code for a CK_MULTIVERSION worker to gain.
    #pragma omp parallel for schedule(static) if (planes * (ohw + hw) > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    for (long plane = 0; plane < planes; plane++) {
        float *dxp = dx + (size_t)plane * hw;
        const float *dyp = dy + (size_t)plane * ohw;
        const int32_t *ap = argmax + (size_t)plane * ohw;
        if (!accumulate) memset(dxp, 0, sizeof(float) * hw);
        for (int o = 0; o < ohw; o++) {
            assert(ap[o] >= 0 && ap[o] < hw);
            dxp[ap[o]] += dyp[o];
        }
    }
}

// The divisor of a window whose in-bounds part is rows [h0,h1) and columns [w0,w1).
static inline float ck_avgpool_divisor(const ck_pool2d_params *p, int h0, int h1, int w0, int w1,
                                       int count_include_pad) {
    return count_include_pad ? (float)(p->kh * p->kw) : (float)((h1 - h0) * (w1 - w0));
}

// Planes [begin, end) of the 2x2 stride-2 average pool without AVX2.
static CK_MULTIVERSION
void ck_avgpool2d_2x2_forward_planes(float *y, const float *x, int h, int w, int oh, int ow, long begin,
                                     long end) {
    for (long plane = begin; plane < end; plane++) {
        const float *xp = x + (size_t)plane * h * w;
        float *yp = y + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)(2 * oy) * w, *r1 = r0 + w;
            float *yr = yp + (size_t)oy * ow;
            // The general loop's order of additions, so results are bit-identical.
            for (int ox = 0; ox < ow; ox++)
                yr[ox] = (((r0[2 * ox] + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) * 0.25f;
        }
    }
}

// Planes [begin, end) of the general average pool.
static CK_MULTIVERSION
void ck_avgpool2d_forward_planes(float *y, const float *x, const ck_pool2d_params *p, int h, int w, int oh,
                                 int ow, int count_include_pad, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        const float *xp = x + (size_t)plane * h * w;
        float *yp = y + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int hs = oy * p->stride_h - p->pad_h;
            const int h0 = ck_max(hs, 0), h1 = ck_min(hs + p->kh, h);
            for (int ox = 0; ox < ow; ox++) {
                const int ws = ox * p->stride_w - p->pad_w;
                const int w0 = ck_max(ws, 0), w1 = ck_min(ws + p->kw, w);
                float sum = 0.0f;   // at most kh*kw terms: float is exact enough
                for (int iy = h0; iy < h1; iy++)
                    for (int ix = w0; ix < w1; ix++) sum += xp[iy * w + ix];
                yp[oy * ow + ox] = sum / ck_avgpool_divisor(p, h0, h1, w0, w1, count_include_pad);
            }
        }
    }
}

// x is (n,c,h,w); y is (n,c,oh,ow).
void ck_avgpool2d_forward(float *y, const float *x, const ck_pool2d_params *p, int count_include_pad) {
    const int oh = ck_pool2d_out_h(p), ow = ck_pool2d_out_w(p);
    const int h = p->h, w = p->w;
    const long planes = (long)p->n * p->c;
    if (ck_pool2d_is_2x2_stride2(p)) {
        // No padding: every window has 4 elements whatever count_include_pad says.
#if CK_POOL2D_AVX2
        if (ow >= CK_POOL2D_AVX2_MIN_OW && ck_cpu_has_avx2_fma()) {
            #pragma omp parallel if (planes * h * w > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
            {
                const ck_range r = ck_thread_range(planes * oh);
                ck_avgpool2d_2x2_forward_rows(y, x, r.begin, r.end, h, w, oh, ow);
            }
            return;
        }
#endif
        #pragma omp parallel if (planes * h * w > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
        {
            const ck_range r = ck_thread_range(planes);
            ck_avgpool2d_2x2_forward_planes(y, x, h, w, oh, ow, r.begin, r.end);
        }
        return;
    }
    #pragma omp parallel if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_avgpool2d_forward_planes(y, x, p, h, w, oh, ow, count_include_pad, r.begin, r.end);
    }
}

// Planes [begin, end) of the 2x2 stride-2 average pool backward.
static CK_MULTIVERSION
void ck_avgpool2d_2x2_backward_planes(float *dx, const float *dy, int h, int w, int oh, int ow, long begin,
                                      long end) {
    for (long plane = begin; plane < end; plane++) {
        float *dxp = dx + (size_t)plane * h * w;
        const float *dyp = dy + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            float *r0 = dxp + (size_t)(2 * oy) * w, *r1 = r0 + w;
            const float *gr = dyp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                const float g = gr[ox] / 4.0f;
                r0[2 * ox] += g; r0[2 * ox + 1] += g;
                r1[2 * ox] += g; r1[2 * ox + 1] += g;
            }
        }
    }
}

// Planes [begin, end) of the general average pool backward.
static CK_MULTIVERSION
void ck_avgpool2d_backward_planes(float *dx, const float *dy, const ck_pool2d_params *p, int h, int w,
                                  int oh, int ow, int count_include_pad, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        float *dxp = dx + (size_t)plane * h * w;
        const float *dyp = dy + (size_t)plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int hs = oy * p->stride_h - p->pad_h;
            const int h0 = ck_max(hs, 0), h1 = ck_min(hs + p->kh, h);
            for (int ox = 0; ox < ow; ox++) {
                const int ws = ox * p->stride_w - p->pad_w;
                const int w0 = ck_max(ws, 0), w1 = ck_min(ws + p->kw, w);
                const float g = dyp[oy * ow + ox] / ck_avgpool_divisor(p, h0, h1, w0, w1, count_include_pad);
                for (int iy = h0; iy < h1; iy++)
                    for (int ix = w0; ix < w1; ix++) dxp[iy * w + ix] += g;
            }
        }
    }
}

// dy is (n,c,oh,ow); dx is (n,c,h,w).
void ck_avgpool2d_backward(float *dx, const float *dy, const ck_pool2d_params *p, int count_include_pad) {
    const int oh = ck_pool2d_out_h(p), ow = ck_pool2d_out_w(p);
    const int h = p->h, w = p->w;
    const long planes = (long)p->n * p->c;
    if (ck_pool2d_is_2x2_stride2(p)) {
        #pragma omp parallel if (planes * h * w > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
        {
            const ck_range r = ck_thread_range(planes);
            ck_avgpool2d_2x2_backward_planes(dx, dy, h, w, oh, ow, r.begin, r.end);
        }
        return;
    }
    #pragma omp parallel if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_avgpool2d_backward_planes(dx, dy, p, h, w, oh, ow, count_include_pad, r.begin, r.end);
    }
}

// Planes [begin, end) of the global average pool.
static CK_MULTIVERSION
void ck_global_avgpool_forward_planes(float *y, const float *x, int hw, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        const float *xp = x + (size_t)plane * hw;
        // Double, because hw can be large; the simd reduction lets it vectorise anyway.
        double sum = 0.0;
        #pragma omp simd reduction(+:sum)
        for (int k = 0; k < hw; k++) sum += xp[k];
        y[plane] = (float)(sum / hw);
    }
}

// x is (n,c,hw); y is (n,c).
void ck_global_avgpool_forward(float *y, const float *x, int n, int c, int hw) {
    assert(n >= 0 && c >= 0 && hw >= 1);
    const long planes = (long)n * c;
    #pragma omp parallel if (planes * hw > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_global_avgpool_forward_planes(y, x, hw, r.begin, r.end);
    }
}

// Planes [begin, end) of the global average pool backward.
static CK_MULTIVERSION
void ck_global_avgpool_backward_planes(float *dx, const float *dy, int hw, long begin, long end) {
    for (long plane = begin; plane < end; plane++) {
        float *dxp = dx + (size_t)plane * hw;
        const float g = dy[plane] / (float)hw;
        for (int k = 0; k < hw; k++) dxp[k] += g;
    }
}

// dy is (n,c); dx is (n,c,hw).
void ck_global_avgpool_backward(float *dx, const float *dy, int n, int c, int hw) {
    assert(n >= 0 && c >= 0 && hw >= 1);
    const long planes = (long)n * c;
    #pragma omp parallel if (planes * hw > CK_POOL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(planes);
        ck_global_avgpool_backward_planes(dx, dy, hw, r.begin, r.end);
    }
}
