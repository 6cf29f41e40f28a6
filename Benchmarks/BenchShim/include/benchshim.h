// benchshim.h: what KernelBench measures the library against, called without any
// wrapper of ours: raw OpenBLAS sgemm and a plain parallel memory copy (the two ceilings).
#ifndef BENCHSHIM_H
#define BENCHSHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// cblas_sgemm, row-major, called directly (no checks, no wrapper): the GEMM wrapper's
/// baseline and the compute ceiling.
void bench_raw_sgemm(float *c, int ldc, const float *a, int lda, int trans_a,
                     const float *b, int ldb, int trans_b,
                     int m, int n, int k, float alpha, float beta);

/// dst = src over count floats, split into one contiguous slice per OpenMP thread: the
/// memory-bandwidth ceiling (count * 4 bytes read plus as many written).
void bench_parallel_copy(float *dst, const float *src, size_t count);

#ifdef __cplusplus
}
#endif

#endif // BENCHSHIM_H
