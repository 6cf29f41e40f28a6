// Private to CKernels: the per-channel lowering that ck_im2col/ck_col2im and the conv2d
// kernels share. Not part of the public API (it lives outside include/).
#ifndef CK_IM2COL_INTERNAL_H
#define CK_IM2COL_INTERNAL_H

#include <stddef.h>

/// Geometry of one (h,w) channel plane lowered to kh*kw rows of oh*ow columns.
typedef struct {
    int h, w, kh, kw;
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    int oh, ow;
} ck_lowering;

/// One channel: x is (h,w); writes the kh*kw rows of col, row r at col + r*ldcol, each
/// oh*ow long. ldcol > oh*ow lets several images share one wide column matrix.
void ck_im2col_channel(float *col, size_t ldcol, const float *x, const ck_lowering *g);
/// Adjoint of ck_im2col_channel: x (h,w) += the kh*kw rows of col scattered back.
void ck_col2im_channel(float *x, const float *col, size_t ldcol, const ck_lowering *g);
/// The same, when col is scratch: it may be overwritten, which lets a stride-1 "same" layer
/// zero the entries that map to no input and add each row as one long span.
void ck_col2im_channel_scratch(float *x, float *col, size_t ldcol, const ck_lowering *g);

#endif // CK_IM2COL_INTERNAL_H
