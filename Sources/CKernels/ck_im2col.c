// im2col / col2im: lower a convolution's input to columns so that the convolution is
// one GEMM, and scatter columns back (the adjoint, used by backward-data).
//
// Row r = (ci*kh + ki)*kw + kj of col holds, for every output position (oy,ox), the input
// x[ci][oy*stride_h - pad_h + ki*dil_h][ox*stride_w - pad_w + kj*dil_w], zero in the padding.
// The row order matches w (oc,c,kh,kw) flattened to (oc, c*kh*kw).
#include "ckernels.h"
#include "ck_im2col_internal.h"

#include <assert.h>
#include <string.h>

// The output columns ox in [*lo, *hi) whose input column ox*stride + offset lies in
// [0, w); everything outside reads padding.
static void ck_valid_range(int *lo, int *hi, int offset, int stride, int w, int ow) {
    // Smallest ox with ox*stride + offset >= 0.
    int first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    // Smallest ox with ox*stride + offset >= w.
    int last = (w - offset) <= 0 ? 0 : (w - offset + stride - 1) / stride;
    if (first > ow) first = ow;
    if (last > ow) last = ow;
    if (last < first) last = first;
    *lo = first;
    *hi = last;
}

// x is (h,w); col rows r = ki*kw + kj, each oh*ow long, ldcol apart.
void ck_im2col_channel(float *col, size_t ldcol, const float *x, const ck_lowering *g) {
    for (int ki = 0; ki < g->kh; ki++) {
        for (int kj = 0; kj < g->kw; kj++) {
            float *row = col + (size_t)(ki * g->kw + kj) * ldcol;
            const int col_offset = kj * g->dil_w - g->pad_w;
            int lo, hi;
            ck_valid_range(&lo, &hi, col_offset, g->stride_w, g->w, g->ow);
            for (int oy = 0; oy < g->oh; oy++) {
                float *out = row + (size_t)oy * g->ow;
                const int iy = oy * g->stride_h - g->pad_h + ki * g->dil_h;
                if (iy < 0 || iy >= g->h) {
                    memset(out, 0, sizeof(float) * (size_t)g->ow);
                    continue;
                }
                for (int ox = 0; ox < lo; ox++) out[ox] = 0.0f;
                if (hi > lo) {
                    // Only in-bounds addresses are formed: in points at input column lo.
                    const float *in = x + (size_t)iy * g->w + (lo * g->stride_w + col_offset);
                    if (g->stride_w == 1) {
                        memcpy(out + lo, in, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int ox = lo; ox < hi; ox++) out[ox] = in[(ox - lo) * g->stride_w];
                    }
                }
                for (int ox = hi; ox < g->ow; ox++) out[ox] = 0.0f;
            }
        }
    }
}

// x is (h,w) and accumulates; col rows r = ki*kw + kj, each oh*ow long, ldcol apart.
void ck_col2im_channel(float *x, const float *col, size_t ldcol, const ck_lowering *g) {
    for (int ki = 0; ki < g->kh; ki++) {
        for (int kj = 0; kj < g->kw; kj++) {
            const float *row = col + (size_t)(ki * g->kw + kj) * ldcol;
            const int col_offset = kj * g->dil_w - g->pad_w;
            int lo, hi;
            ck_valid_range(&lo, &hi, col_offset, g->stride_w, g->w, g->ow);
            for (int oy = 0; oy < g->oh; oy++) {
                const int iy = oy * g->stride_h - g->pad_h + ki * g->dil_h;
                if (iy < 0 || iy >= g->h) continue;
                if (hi <= lo) continue;
                const float *in = row + (size_t)oy * g->ow;
                float *out = x + (size_t)iy * g->w + (lo * g->stride_w + col_offset);
                for (int ox = lo; ox < hi; ox++) out[(ox - lo) * g->stride_w] += in[ox];
            }
        }
    }
}

static ck_lowering ck_make_lowering(int c, int h, int w, int kh, int kw,
                                    int stride_h, int stride_w, int pad_h, int pad_w,
                                    int dil_h, int dil_w) {
    assert(c >= 1 && h >= 1 && w >= 1 && kh >= 1 && kw >= 1);
    assert(stride_h >= 1 && stride_w >= 1 && pad_h >= 0 && pad_w >= 0 && dil_h >= 1 && dil_w >= 1);
    ck_conv2d_params p = {
        .n = 1, .c = c, .h = h, .w = w, .oc = 1, .kh = kh, .kw = kw,
        .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h, .pad_w = pad_w,
        .dil_h = dil_h, .dil_w = dil_w,
    };
    ck_lowering g = {
        .h = h, .w = w, .kh = kh, .kw = kw,
        .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h, .pad_w = pad_w,
        .dil_h = dil_h, .dil_w = dil_w,
        .oh = ck_conv2d_out_h(&p), .ow = ck_conv2d_out_w(&p),
    };
    assert(g.oh >= 1 && g.ow >= 1);
    return g;
}

// x is (c,h,w), col is (c*kh*kw, oh*ow). Each thread owns whole channels of col.
void ck_im2col(float *col, const float *x,
               int c, int h, int w, int kh, int kw,
               int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const ck_lowering g = ck_make_lowering(c, h, w, kh, kw, stride_h, stride_w,
                                           pad_h, pad_w, dil_h, dil_w);
    const size_t ohow = (size_t)g.oh * g.ow;
    const size_t rows_per_channel = (size_t)kh * kw;
    #pragma omp parallel for schedule(static) if ((size_t)c * rows_per_channel * ohow > 32768)
    for (int ci = 0; ci < c; ci++) {
        ck_im2col_channel(col + (size_t)ci * rows_per_channel * ohow, ohow,
                          x + (size_t)ci * h * w, &g);
    }
}

// x is (c,h,w) and accumulates, col is (c*kh*kw, oh*ow). Each thread owns whole channels
// of x, so overlapping windows never race.
void ck_col2im(float *x, const float *col,
               int c, int h, int w, int kh, int kw,
               int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const ck_lowering g = ck_make_lowering(c, h, w, kh, kw, stride_h, stride_w,
                                           pad_h, pad_w, dil_h, dil_w);
    const size_t ohow = (size_t)g.oh * g.ow;
    const size_t rows_per_channel = (size_t)kh * kw;
    #pragma omp parallel for schedule(static) if ((size_t)c * rows_per_channel * ohow > 32768)
    for (int ci = 0; ci < c; ci++) {
        ck_col2im_channel(x + (size_t)ci * h * w, col + (size_t)ci * rows_per_channel * ohow,
                          ohow, &g);
    }
}
