// ck_pad_phases.h: private to CKernels. The four-phase zero padding of one channel that the
// direct kernel's stride-2 passes (ck_conv2d_direct.c) and the Winograd kernel
// (ck_conv2d_winograd.c) read: a 3x3 pad-1 window stepped by 2 (a stride-2 output pixel, a
// 2x2 Winograd tile) then reads consecutive floats of each phase.
#ifndef CK_PAD_PHASES_H
#define CK_PAD_PHASES_H

#include <stddef.h>
#include <string.h>

#include "ck_vec8.h"

// Floats after each phase's rows: the vector stores below may pass a row's end by up to 8.
#define CK_PAD_PHASE_GAP 16

// Floats of one phase row: (w+1)/2 + 1 (the kernels read rows this far apart).
static inline int ck_pad_phase_row(int w) { return (w + 1) / 2 + 1; }

// Floats of one phase: (h+1)/2 + 1 rows, then the gap.
static inline size_t ck_pad_phase_floats(int h, int w) {
    return (size_t)((h + 1) / 2 + 1) * (size_t)ck_pad_phase_row(w) + CK_PAD_PHASE_GAP;
}

// One channel x (h, w) into the four phases of its zero-padded copy, `phase` floats apart
// (ck_pad_phase_floats): phase (a, b) holds padded[2r + a][2s + b] = x[2r+a-1][2s+b-1] (0 off
// the image) at r*rw + s, for r <= (h+1)/2 and s < rw = (w+1)/2 + 1. Every float of the four
// phases is written, the gaps too, so the lanes the kernels read past an image row and
// multiply by zero (backward-filter) or drop hold numbers, never NaN from stale scratch.
// An image row is de-interleaved 16 floats at a time (its even columns to the odd padded
// columns, its odd ones to the even padded columns after the left zero) wherever 16 floats
// from there lie in the channel: lanes past the row's end land in the next row (written
// after), the gap after the phase, or on padded columns past the image (zeroed after).
static inline __attribute__((always_inline)) void ck_pad_phases(float *restrict xp, const float *restrict x, int h,
                                                                int w, size_t phase) {
    const int rw = ck_pad_phase_row(w), th = (h + 1) / 2;
    const size_t hw = (size_t)h * w, rows = (size_t)(th + 1) * rw;
    for (int p = 0; p < 4; p++) memset(xp + p * phase + rows, 0, sizeof(float) * (phase - rows));
    for (int a = 0; a < 2; a++) {
        for (int r = 0; r <= th; r++) {
            float *restrict even = xp + (size_t)(2 * a) * phase + (size_t)r * rw, *restrict odd = even + phase;
            const int iy = 2 * r + a - 1;
            if (iy < 0 || iy >= h) {
                memset(even, 0, sizeof(float) * (size_t)rw);
                memset(odd, 0, sizeof(float) * (size_t)rw);
                continue;
            }
            const float *restrict row = x + (size_t)iy * w;
            even[0] = 0.0f;
            int k = 0;
            for (; k < w && (size_t)iy * w + k + 16 <= hw; k += 16) {
                const ck_v8 lo = ck_v8_load(row + k), hi = ck_v8_load(row + k + 8);
                ck_v8_store(odd + k / 2, __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14));
                ck_v8_store(even + k / 2 + 1, __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15));
            }
            // Scalar (the channel's last rows): no AVX-512 gathers or scatters (microcoded
            // on AMD; ck_conv2d_direct.c).
            #pragma clang loop vectorize(disable)
            for (; k < w; k++) {
                if (k & 1) even[k / 2 + 1] = row[k];
                else odd[k / 2] = row[k];
            }
            // The padded columns past the image: from w/2 + 1 on (even) and (w+1)/2 on (odd).
            for (int s = w / 2 + 1; s < rw; s++) even[s] = 0.0f;
            for (int s = (w + 1) / 2; s < rw; s++) odd[s] = 0.0f;
        }
    }
}

#endif // CK_PAD_PHASES_H
