// ck_vec8.h: private to CKernels. The 8-float vector of the convolution kernels
// (ck_conv2d_direct.c, ck_conv2d_winograd.c) and the transposing copy of their register tiles.
//
// Written with GCC/clang vector extensions, not intrinsics: the same source builds for any
// x86-64 or aarch64 target (a vector wider than the target's is split by the compiler).
#ifndef CK_VEC8_H
#define CK_VEC8_H

#include <stddef.h>

typedef float ck_v8 __attribute__((vector_size(32)));
// The same vector at float alignment, for unaligned loads and stores (the workspace and the
// scratch need no alignment beyond float). Macros, not functions: a function passing an
// 8-float vector by value draws -Wpsabi on an x86-64 target without AVX.
typedef float ck_v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define ck_v8_load(p) ((ck_v8)(*(const ck_v8u *)(p)))
#define ck_v8_store(p, v) (*(ck_v8u *)(p) = (v))

// Transposes the 8x8 block r (row i = r[i]) in registers: three rounds of shuffles.
static inline void ck_v8_transpose(ck_v8 r[8]) {
    ck_v8 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

// The register blocks' tile (slot by `lanes` channels) into planes (channel by nslots), by
// 8x8 transposes. Slots from `slots` on hold no pixel; the transposes may read them
// (unwritten), and nothing reads what they become.
static inline __attribute__((always_inline)) void ck_tile_to_planes(float *restrict planes, const float *restrict tile,
                                                                    int slots, int lanes, int nslots) {
    for (int q8 = 0; q8 < slots; q8 += 8) {
        for (int v = 0; v < lanes; v += 8) {
            ck_v8 r[8];
            for (int i = 0; i < 8; i++) r[i] = ck_v8_load(tile + (size_t)(q8 + i) * lanes + v);
            ck_v8_transpose(r);
            for (int j = 0; j < 8; j++) ck_v8_store(planes + (size_t)(v + j) * nslots + q8, r[j]);
        }
    }
}

#endif // CK_VEC8_H
