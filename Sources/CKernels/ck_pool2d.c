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

#include <assert.h>
#include <math.h>

// Below this many touched elements a parallel region costs more than it saves.
#define CK_POOL_PARALLEL_MIN 32768L
// Largest plane (outputs) the short-row max pooling keeps a window table for on the stack.
#define CK_POOL_SHORT_ROWS_MAX 4096

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

// 2x2 windows at stride 2 without padding (W2's and most CNNs' pooling): every window is
// in bounds and starts at an even row and column, so the general loop's bounds
// arithmetic goes away.
static inline int ck_pool2d_is_2x2_stride2(const ck_pool2d_params *p) {
    return p->kh == 2 && p->kw == 2 && p->stride_h == 2 && p->stride_w == 2 && p->pad_h == 0 && p->pad_w == 0;
}

// The general loop's scan (row by row; a value wins if strictly greater or NaN), written
// with selects instead of branches: on real activations the comparisons are
// unpredictable, and the branchy loop measured 5 ns per input element (W2's first pool,
// 64x32x28x28: 7.9 ms, 1.2 GB/s), mostly mispredictions. Starting from the window's first
// element is the same as starting from -inf: -inf never wins and its index is the
// first element's; a NaN first element wins either way.
static void ck_maxpool2d_2x2_forward_short_rows(float *y, int32_t *argmax, const float *x, long planes,
                                                int h, int w, int oh, int ow);

static void ck_maxpool2d_2x2_forward(float *y, int32_t *argmax, const float *x, long planes,
                                     int h, int w, int oh, int ow) {
    if (ow < 8 && (size_t)oh * ow <= CK_POOL_SHORT_ROWS_MAX) {
        ck_maxpool2d_2x2_forward_short_rows(y, argmax, x, planes, h, w, oh, ow);
        return;
    }
    #pragma omp parallel for schedule(static) if (planes * h * w > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
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

// Output rows shorter than a vector (W2's second pool: 14x14 -> 7x7) leave the row loop
// above scalar. Here each plane is one flat loop over its oh*ow outputs, the windows found
// through a table of their top-left offsets (computed once a call), so the loads become
// gathers and the loop runs 8 lanes wide. Same scan order and NaN rule as above; the scan
// is written out again on purpose: an inline helper shared by both loops, returning the
// offset through a pointer, cost the row loop a third of its speed (64x32x28x28: 38-40 ->
// 26-27 GB/s).
static void ck_maxpool2d_2x2_forward_short_rows(float *y, int32_t *argmax, const float *x, long planes,
                                                int h, int w, int oh, int ow) {
    int32_t start[CK_POOL_SHORT_ROWS_MAX];
    const int outputs = oh * ow;
    for (int j = 0; j < outputs; j++) start[j] = 2 * (j / ow) * w + 2 * (j % ow);
    #pragma omp parallel for schedule(static) if (planes * h * w > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const float *restrict xp = x + (size_t)plane * h * w;
        float *restrict yp = y + (size_t)plane * outputs;
        int32_t *restrict ap = argmax + (size_t)plane * outputs;
        #pragma omp simd
        for (int j = 0; j < outputs; j++) {
            const int32_t base = start[j];
            float best = xp[base];
            int32_t offset = 0;
            float v = xp[base + 1];
            int wins = (v > best) | (v != v);
            best = wins ? v : best; offset = wins ? 1 : offset;
            v = xp[base + w];
            wins = (v > best) | (v != v);
            best = wins ? v : best; offset = wins ? w : offset;
            v = xp[base + w + 1];
            wins = (v > best) | (v != v);
            best = wins ? v : best; offset = wins ? w + 1 : offset;
            yp[j] = best;
            ap[j] = base + offset;
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
    #pragma omp parallel for schedule(static) if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
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

// dy and argmax are (n,c,oh,ow); dx is (n,c,h,w).
void ck_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                           const ck_pool2d_params *p) {
    const int ohw = ck_pool2d_out_h(p) * ck_pool2d_out_w(p);
    const int hw = p->h * p->w;
    const long planes = (long)p->n * p->c;
    #pragma omp parallel for schedule(static) if (planes * (ohw + hw) > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
        float *dxp = dx + (size_t)plane * hw;
        const float *dyp = dy + (size_t)plane * ohw;
        const int32_t *ap = argmax + (size_t)plane * ohw;
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

// x is (n,c,h,w); y is (n,c,oh,ow).
void ck_avgpool2d_forward(float *y, const float *x, const ck_pool2d_params *p, int count_include_pad) {
    const int oh = ck_pool2d_out_h(p), ow = ck_pool2d_out_w(p);
    const int h = p->h, w = p->w;
    const long planes = (long)p->n * p->c;
    if (ck_pool2d_is_2x2_stride2(p)) {
        // No padding: every window has 4 elements whatever count_include_pad says.
        #pragma omp parallel for schedule(static) if (planes * h * w > CK_POOL_PARALLEL_MIN)
        for (long plane = 0; plane < planes; plane++) {
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
        return;
    }
    #pragma omp parallel for schedule(static) if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
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

// dy is (n,c,oh,ow); dx is (n,c,h,w).
void ck_avgpool2d_backward(float *dx, const float *dy, const ck_pool2d_params *p, int count_include_pad) {
    const int oh = ck_pool2d_out_h(p), ow = ck_pool2d_out_w(p);
    const int h = p->h, w = p->w;
    const long planes = (long)p->n * p->c;
    if (ck_pool2d_is_2x2_stride2(p)) {
        #pragma omp parallel for schedule(static) if (planes * h * w > CK_POOL_PARALLEL_MIN)
        for (long plane = 0; plane < planes; plane++) {
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
        return;
    }
    #pragma omp parallel for schedule(static) if (planes * oh * ow * p->kh * p->kw > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
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

// x is (n,c,hw); y is (n,c).
void ck_global_avgpool_forward(float *y, const float *x, int n, int c, int hw) {
    assert(n >= 0 && c >= 0 && hw >= 1);
    const long planes = (long)n * c;
    #pragma omp parallel for schedule(static) if (planes * hw > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const float *xp = x + (size_t)plane * hw;
        // Double, because hw can be large; the simd reduction lets it vectorise anyway.
        double sum = 0.0;
        #pragma omp simd reduction(+:sum)
        for (int k = 0; k < hw; k++) sum += xp[k];
        y[plane] = (float)(sum / hw);
    }
}

// dy is (n,c); dx is (n,c,hw).
void ck_global_avgpool_backward(float *dx, const float *dy, int n, int c, int hw) {
    assert(n >= 0 && c >= 0 && hw >= 1);
    const long planes = (long)n * c;
    #pragma omp parallel for schedule(static) if (planes * hw > CK_POOL_PARALLEL_MIN)
    for (long plane = 0; plane < planes; plane++) {
        float *dxp = dx + (size_t)plane * hw;
        const float g = dy[plane] / (float)hw;
        for (int k = 0; k < hw; k++) dxp[k] += g;
    }
}
