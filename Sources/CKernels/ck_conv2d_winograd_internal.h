// Private to CKernels: the Winograd F(2x2, 3x3) convolution (ck_conv2d_winograd.c) as
// ck_conv2d.c's dispatch calls it. Not part of the public API (it lives outside include/).
#ifndef CK_CONV2D_WINOGRAD_INTERNAL_H
#define CK_CONV2D_WINOGRAD_INTERNAL_H

#include "ckernels.h"

/// Forward of a 3x3 stride-1 pad-1 convolution. Returns 0, having written nothing to y, if
/// its filter transform or per-thread scratch cannot be allocated (the caller then takes
/// the direct kernel or the lowering).
int ck_conv2d_winograd_forward(float *y, const float *x, const float *w, const float *bias,
                               const ck_conv2d_params *p);
/// Backward-data of the same, written or added per accumulate; the same failure rule.
int ck_conv2d_winograd_backward_data(float *dx, const float *dy, const float *w, const ck_conv2d_params *p,
                                     int accumulate);

/// Backward-filter of the same: dw += ..., dbias += ... (dbias may be NULL); the same
/// failure rule.
int ck_conv2d_winograd_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                                       const ck_conv2d_params *p);
/// Floats of the forward's packed filter (transformed filter, then the padded bias) for p's
/// channels and kernel, 0 for a kernel geometry Winograd does not take.
size_t ck_conv2d_winograd_packed_floats(const ck_conv2d_params *p);
/// Packs w (oc,c,3,3) and bias (oc, may be NULL) as the Winograd forward reads them.
void ck_conv2d_winograd_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p);
/// The Winograd forward with a filter packed by ck_conv2d_winograd_pack_forward (the same
/// bits as ck_conv2d_winograd_forward); the same failure rule.
int ck_conv2d_winograd_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p);

#endif // CK_CONV2D_WINOGRAD_INTERNAL_H
