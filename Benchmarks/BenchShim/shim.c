// The two ceilings of KernelBench, written so nothing of ours sits between the benchmark
// and OpenBLAS or the memory system.
#include "benchshim.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

void bench_raw_sgemm(float *c, int ldc, const float *a, int lda, int trans_a,
                     const float *b, int ldb, int trans_b,
                     int m, int n, int k, float alpha, float beta) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Slices are 64-byte aligned so no two threads share a cache line of dst.
void bench_parallel_copy(float *dst, const float *src, size_t count) {
    #pragma omp parallel
    {
        const size_t threads = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t slice = (count + threads - 1) / threads;
        slice = (slice + 15) & ~(size_t)15;
        const size_t begin = t * slice < count ? t * slice : count;
        const size_t end = begin + slice < count ? begin + slice : count;
        if (end > begin) memcpy(dst + begin, src + begin, sizeof(float) * (end - begin));
    }
}
