// Private to CKernels: the direct 3x3 convolution (ck_conv2d_direct.c) as ck_conv2d.c's
// dispatch calls it. Not part of the public API (it lives outside include/).
#ifndef CK_CONV2D_DIRECT_INTERNAL_H
#define CK_CONV2D_DIRECT_INTERNAL_H

#include <stddef.h>

#include "ckernels.h"

/// Workspace floats the direct passes need (re-laid weights and a padded bias), 0 for a
/// geometry they do not compute; the same for either pass and any thread count or mode.
size_t ck_conv2d_direct_workspace_floats(const ck_conv2d_params *p);
/// Forward of a 3x3 pad-1 convolution, stride 1 or 2. Returns 0, having written nothing to y,
/// if its per-thread scratch cannot be allocated (the caller takes the lowering instead).
int ck_conv2d_direct_forward(float *y, const float *x, const float *w, const float *bias,
                             float *workspace, const ck_conv2d_params *p);
/// Floats of the forward's packed weights (re-laid weights, then the padded bias) for p's
/// channels and kernel, 0 where the direct kernel cannot take the kernel geometry.
size_t ck_conv2d_direct_packed_floats(const ck_conv2d_params *p);
/// Packs w (oc,c,3,3) and bias (oc, may be NULL) as the direct forward reads them.
void ck_conv2d_direct_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p);
/// The direct forward with weights packed by ck_conv2d_direct_pack_forward; the same failure rule.
int ck_conv2d_direct_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p);
/// Backward-data of the same (stride 2 by the four phases of dx); the same failure rule.
int ck_conv2d_direct_backward_data(float *dx, const float *dy, const float *w,
                                   float *workspace, const ck_conv2d_params *p, int accumulate);

/// Backward-filter of the same: dw += ..., dbias += ... (dbias may be NULL); the same
/// failure rule. Needs no workspace.
int ck_conv2d_direct_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                                     const ck_conv2d_params *p);

#endif // CK_CONV2D_DIRECT_INTERNAL_H
