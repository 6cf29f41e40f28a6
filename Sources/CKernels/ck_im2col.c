// im2col / col2im of a whole image: lower a convolution's input to columns so that the
// convolution is one GEMM, and scatter columns back (the adjoint, used by backward-data).
// Channel by channel, on the lowering of ck_lowering.c.
//
// Row r = (ci*kh + ki)*kw + kj of col holds, for every output position (oy,ox), the input
// x[ci][oy*stride_h - pad_h + ki*dil_h][ox*stride_w - pad_w + kj*dil_w], zero in the padding.
// The row order matches w (oc,c,kh,kw) flattened to (oc, c*kh*kw).
#include "ckernels.h"
#include "ck_threads_internal.h"
#include "ck_lowering.h"

#include <assert.h>
#include <stddef.h>

// x is (c,h,w), col is (c*kh*kw, oh*ow). Each thread owns whole channels of col.
void ck_im2col(float *col, const float *x,
               int c, int h, int w, int kh, int kw,
               int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    assert(c >= 1);
    const ck_lowering g = ck_lowering_make(h, w, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w);
    const size_t ohow = (size_t)g.oh * g.ow;
    const size_t rows_per_channel = (size_t)kh * kw;
    #pragma omp parallel for schedule(static) if ((size_t)c * rows_per_channel * ohow > 32768) num_threads(ck_region_threads())
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
    assert(c >= 1);
    const ck_lowering g = ck_lowering_make(h, w, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w);
    const size_t ohow = (size_t)g.oh * g.ow;
    const size_t rows_per_channel = (size_t)kh * kw;
    #pragma omp parallel for schedule(static) if ((size_t)c * rows_per_channel * ohow > 32768) num_threads(ck_region_threads())
    for (int ci = 0; ci < c; ci++) {
        ck_col2im_channel(x + (size_t)ci * h * w, col + (size_t)ci * rows_per_channel * ohow,
                          ohow, &g);
    }
}
