// GEMM: a thin, checked wrapper over OpenBLAS's cblas_sgemm (row-major).
#include "ckernels.h"

#include <assert.h>
#include <cblas.h>

// c is (m,n), op(a) is (m,k), op(b) is (k,n).
void ck_sgemm(float *c, int ldc,
              const float *a, int lda, int trans_a,
              const float *b, int ldb, int trans_b,
              int m, int n, int k, float alpha, float beta) {
    assert(m >= 0 && n >= 0 && k >= 0);
    assert(ldc >= (n > 1 ? n : 1));
    assert(lda >= ((trans_a ? m : k) > 1 ? (trans_a ? m : k) : 1));
    assert(ldb >= ((trans_b ? k : n) > 1 ? (trans_b ? k : n) : 1));
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor,
                trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
