// The geometry of a convolution's lowering, below both ck_im2col.c and ck_conv2d.c: the
// output sizes, the ck_lowering of one channel plane, and the per-channel im2col and its
// adjoint col2im that both of them build on. Nothing here calls into either of them.
//
// Row r = ki*kw + kj of a channel's columns holds, for every output position (oy,ox), the
// input x[oy*stride_h - pad_h + ki*dil_h][ox*stride_w - pad_w + kj*dil_w], zero in the
// padding.
//
// col2im's adds are CK_MULTIVERSION: the kernels call them from inside OpenMP regions, whose
// own code is baseline (see ck_target.h). im2col is copies and zero fills (memcpy, memset,
// strided gathers): its clones had no vector code to gain.
#include "ckernels.h"
#include "ck_lowering.h"
#include "ck_target.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

// MARK: - Output sizes

// Floor division of a possibly negative span: a kernel wider than the padded input has
// no output, not one.
static int ck_conv_out_size(int in, int pad, int dil, int k, int stride) {
    const int span = in + 2 * pad - dil * (k - 1) - 1;
    if (span < 0) return 0;
    return span / stride + 1;
}

int ck_conv2d_out_h(const ck_conv2d_params *p) {
    assert(p != NULL && p->stride_h >= 1);
    return ck_conv_out_size(p->h, p->pad_h, p->dil_h, p->kh, p->stride_h);
}

int ck_conv2d_out_w(const ck_conv2d_params *p) {
    assert(p != NULL && p->stride_w >= 1);
    return ck_conv_out_size(p->w, p->pad_w, p->dil_w, p->kw, p->stride_w);
}

ck_lowering ck_lowering_make(int h, int w, int kh, int kw,
                             int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    assert(h >= 1 && w >= 1 && kh >= 1 && kw >= 1);
    assert(stride_h >= 1 && stride_w >= 1 && pad_h >= 0 && pad_w >= 0 && dil_h >= 1 && dil_w >= 1);
    ck_lowering g = {
        .h = h, .w = w, .kh = kh, .kw = kw,
        .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h, .pad_w = pad_w,
        .dil_h = dil_h, .dil_w = dil_w,
        .oh = ck_conv_out_size(h, pad_h, dil_h, kh, stride_h),
        .ow = ck_conv_out_size(w, pad_w, dil_w, kw, stride_w),
    };
    assert(g.oh >= 1 && g.ow >= 1);
    return g;
}

// MARK: - One channel

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

// Stride 1 with ow == w (a "same" width, e.g. 3x3 pad 1): output position (oy,ox) of row
// (ki,kj) reads input (oy + dy, ox + dx), so in flat terms the row is the image shifted by
// dy*w + dx. One long copy of the overlapping span fills it; what it wrongly picks up (the
// columns that wrap around to the neighbouring input row) and the rows out of range are
// then zeroed. [*oy0, *oy1) are the output rows with a valid input row, [*lo, *hi) the
// output columns with a valid input column.
typedef struct {
    ptrdiff_t off;      // flat input index minus flat output index
    size_t s0, s1;      // flat output span copied (or added) in one pass
    int oy0, oy1, lo, hi;
} ck_flat_shift;

static int ck_flat_shift_applies(const ck_lowering *g) {
    return g->stride_h == 1 && g->stride_w == 1 && g->ow == g->w;
}

static ck_flat_shift ck_flat_shift_make(const ck_lowering *g, int ki, int kj) {
    ck_flat_shift f;
    const int dy = ki * g->dil_h - g->pad_h, dx = kj * g->dil_w - g->pad_w;
    f.oy0 = dy >= 0 ? 0 : -dy;
    f.oy1 = g->h - dy < g->oh ? g->h - dy : g->oh;
    if (f.oy0 > g->oh) f.oy0 = g->oh;
    if (f.oy1 < f.oy0) f.oy1 = f.oy0;
    ck_valid_range(&f.lo, &f.hi, dx, 1, g->w, g->ow);
    f.off = (ptrdiff_t)dy * g->w + dx;
    // The flat span of the valid rows, clipped so that every input index is in [0, h*w).
    ptrdiff_t s0 = (ptrdiff_t)f.oy0 * g->ow, s1 = (ptrdiff_t)f.oy1 * g->ow;
    const ptrdiff_t hw = (ptrdiff_t)g->h * g->w;
    if (s0 + f.off < 0) s0 = -f.off;
    if (s1 + f.off > hw) s1 = hw - f.off;
    if (s1 <= s0) s0 = s1 = 0;  // nothing valid: an empty span
    f.s0 = (size_t)s0;
    f.s1 = (size_t)s1;
    return f;
}

static void ck_im2col_channel_flat(float *col, size_t ldcol, const float *x, const ck_lowering *g) {
    const size_t ohow = (size_t)g->oh * g->ow;
    for (int ki = 0; ki < g->kh; ki++) {
        for (int kj = 0; kj < g->kw; kj++) {
            float *restrict row = col + (size_t)(ki * g->kw + kj) * ldcol;
            const ck_flat_shift f = ck_flat_shift_make(g, ki, kj);
            if (f.s1 > f.s0) memcpy(row + f.s0, x + ((ptrdiff_t)f.s0 + f.off), sizeof(float) * (f.s1 - f.s0));
            // Everything outside [s0, s1), then the wrapped columns of the valid rows.
            memset(row, 0, sizeof(float) * f.s0);
            memset(row + f.s1, 0, sizeof(float) * (ohow - f.s1));
            if (f.lo > 0 || f.hi < g->ow) {
                for (int oy = f.oy0; oy < f.oy1; oy++) {
                    float *out = row + (size_t)oy * g->ow;
                    for (int ox = 0; ox < f.lo; ox++) out[ox] = 0.0f;
                    for (int ox = f.hi; ox < g->ow; ox++) out[ox] = 0.0f;
                }
            }
        }
    }
}

// x is (h,w); col rows r = ki*kw + kj, each oh*ow long, ldcol apart.
void ck_im2col_channel(float *col, size_t ldcol, const float *x, const ck_lowering *g) {
    if (ck_flat_shift_applies(g)) {
        ck_im2col_channel_flat(col, ldcol, x, g);
        return;
    }
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

// The adjoint of ck_im2col_channel_flat: x[i + off] += row[i] over the flat span, except
// at the wrapped columns, which belong to no input position; they are skipped by adding
// the valid columns of the span's rows one row segment at a time when the row has wrapped
// columns, else the whole span in one loop.
static CK_MULTIVERSION void ck_col2im_channel_flat(float *restrict x, const float *col, size_t ldcol,
                                                   const ck_lowering *g, int scratch) {
    // scratch: col may be overwritten.
    for (int ki = 0; ki < g->kh; ki++) {
        for (int kj = 0; kj < g->kw; kj++) {
            const float *restrict row = col + (size_t)(ki * g->kw + kj) * ldcol;
            const ck_flat_shift f = ck_flat_shift_make(g, ki, kj);
            if (f.s1 == f.s0) continue;  // no input position is reached
            // xs[j] is x[s0 + j + off], rs[j] is row[s0 + j].
            float *restrict xs = x + ((ptrdiff_t)f.s0 + f.off);
            const float *restrict rs = row + f.s0;
            if (f.lo == 0 && f.hi == g->ow) {
                const size_t n = f.s1 - f.s0;
                for (size_t j = 0; j < n; j++) xs[j] += rs[j];
                continue;
            }
            if (scratch) {
                // Zero the wrapped columns in col, then add the whole span at once: they
                // add 0 to the input row they wrap to.
                float *w = (float *)row;
                for (int oy = f.oy0; oy < f.oy1; oy++) {
                    float *out = w + (size_t)oy * g->ow;
                    for (int ox = 0; ox < f.lo; ox++) out[ox] = 0.0f;
                    for (int ox = f.hi; ox < g->ow; ox++) out[ox] = 0.0f;
                }
                const size_t n = f.s1 - f.s0;
                for (size_t j = 0; j < n; j++) xs[j] += rs[j];
                continue;
            }
            for (int oy = f.oy0; oy < f.oy1; oy++) {
                size_t a = (size_t)oy * g->ow + f.lo, b = (size_t)oy * g->ow + f.hi;
                if (a < f.s0) a = f.s0;
                if (b > f.s1) b = f.s1;
                for (size_t i = a; i < b; i++) xs[i - f.s0] += rs[i - f.s0];
            }
        }
    }
}

// x is (h,w) and accumulates; col rows r = ki*kw + kj, each oh*ow long, ldcol apart.
CK_MULTIVERSION void ck_col2im_channel(float *x, const float *col, size_t ldcol, const ck_lowering *g) {
    if (ck_flat_shift_applies(g)) {
        ck_col2im_channel_flat(x, col, ldcol, g, 0);
        return;
    }
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

// As ck_col2im_channel, but col is scratch that may be overwritten (entries that map to no
// input position are set to zero).
void ck_col2im_channel_scratch(float *x, float *col, size_t ldcol, const ck_lowering *g) {
    if (ck_flat_shift_applies(g)) {
        ck_col2im_channel_flat(x, col, ldcol, g, 1);
        return;
    }
    ck_col2im_channel(x, col, ldcol, g);
}
