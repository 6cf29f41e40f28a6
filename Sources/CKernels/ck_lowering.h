// Private to CKernels: the geometry of a convolution's lowering (ck_lowering.c), the layer
// that ck_im2col.c and ck_conv2d.c both stand on; neither calls the other. Not part of the
// public API (it lives outside include/); ck_conv2d_out_h/w, declared in ckernels.h, are
// implemented there too.
#ifndef CK_LOWERING_H
#define CK_LOWERING_H

#include <stddef.h>

/// Geometry of one (h,w) channel plane lowered to kh*kw rows of oh*ow columns.
typedef struct {
    int h, w, kh, kw;
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    int oh, ow;
} ck_lowering;

/// The lowering of an (h,w) plane by a kh x kw window, with oh and ow as ck_conv2d_out_h/w
/// compute them; asserts the sizes are valid and that there is at least one output.
ck_lowering ck_lowering_make(int h, int w, int kh, int kw,
                             int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w);

/// One channel: x is (h,w); writes the kh*kw rows of col, row r at col + r*ldcol, each
/// oh*ow long. ldcol > oh*ow lets several images share one wide column matrix.
void ck_im2col_channel(float *col, size_t ldcol, const float *x, const ck_lowering *g);
/// Adjoint of ck_im2col_channel: x (h,w) += the kh*kw rows of col scattered back.
void ck_col2im_channel(float *x, const float *col, size_t ldcol, const ck_lowering *g);
/// The same, when col is scratch: it may be overwritten, which lets a stride-1 "same" layer
/// zero the entries that map to no input and add each row as one long span.
void ck_col2im_channel_scratch(float *x, float *col, size_t ldcol, const ck_lowering *g);

#endif // CK_LOWERING_H
