// GEMM: a thin, checked wrapper over OpenBLAS's cblas_sgemm (row-major), plus one shape
// class OpenBLAS handles poorly (below).
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

static int ck_sgemm_dot(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                        int m, int n, int k, float alpha, float beta);
static void ck_sgemm_row(float *c, const float *a, const float *b, int ldb, int n, int k, float alpha, float beta);
static int ck_sgemm_split(float *c, int ldc, const float *a, int lda, int trans_a, const float *b, int ldb,
                          int trans_b, int m, int n, int k, float alpha, float beta);

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
    if (!trans_a && trans_b && ck_sgemm_dot(c, ldc, a, lda, b, ldb, m, n, k, alpha, beta)) return;
    if (m == 1 && !trans_a && trans_b) {
        ck_sgemm_row(c, a, b, ldb, n, k, alpha, beta);
        return;
    }
    if (ck_sgemm_split(c, ldc, a, lda, trans_a, b, ldb, trans_b, m, n, k, alpha, beta)) return;
    cblas_sgemm(CblasRowMajor,
                trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// MARK: - A mid-sized GEMM, one single-threaded OpenBLAS call per OpenMP thread
//
// W1's and W2's dense layers (batch 64: 2-26 M multiply-adds) are short enough that handing
// them to OpenBLAS's pool costs a visible share: its workers sleep between GEMMs (see
// ck_threads.c) and are woken for each, and libomp's team, awake from the kernels before,
// spins meanwhile. Here the kernels' own team divides C's columns (or rows) and each thread
// runs OpenBLAS single-threaded on its part, so only one pool is ever busy. OpenBLAS's count
// is process-wide: it is held at 1 while any such split runs (a count of active splits, so
// concurrent callers do not restore it under each other); other GEMMs in that window run
// single-threaded, which is correct, only slower. Each element of C is the same sum as in
// the undivided call (OpenBLAS blocks k the same way for any column range).
#define CK_GEMM_SPLIT_MAX_MNK ((long)1 << 25)  // larger GEMMs amortize the pool's wake-up
#define CK_GEMM_SPLIT_MIN_MNK ((long)1 << 18)  // OpenBLAS runs these on one thread anyway
#define CK_GEMM_SPLIT_ALIGN 16                 // part boundaries, in columns or rows

static pthread_mutex_t ck_split_lock = PTHREAD_MUTEX_INITIALIZER;
static int ck_split_active = 0;

static int ck_sgemm_split(float *c, int ldc, const float *a, int lda, int trans_a, const float *b, int ldb,
                          int trans_b, int m, int n, int k, float alpha, float beta) {
    const long mnk = (long)m * n * k;
    if (mnk > CK_GEMM_SPLIT_MAX_MNK || mnk <= CK_GEMM_SPLIT_MIN_MNK || omp_in_parallel()) return 0;
    const int threads = ck_region_threads();
    const int by_columns = n >= m;
    const int extent = by_columns ? n : m;
    if (threads <= 1 || extent < threads * CK_GEMM_SPLIT_ALIGN) return 0;
    pthread_mutex_lock(&ck_split_lock);
    if (ck_split_active++ == 0) openblas_set_num_threads(1);
    pthread_mutex_unlock(&ck_split_lock);
    #pragma omp parallel num_threads(threads)
    {
        const ck_range r = ck_thread_range((extent + CK_GEMM_SPLIT_ALIGN - 1) / CK_GEMM_SPLIT_ALIGN);
        const int begin = (int)r.begin * CK_GEMM_SPLIT_ALIGN;
        const int end = (int)r.end * CK_GEMM_SPLIT_ALIGN < extent ? (int)r.end * CK_GEMM_SPLIT_ALIGN : extent;
        if (begin < end) {
            // This thread's columns of C and op(b), or its rows of C and op(a).
            const float *ap = by_columns ? a : trans_a ? a + begin : a + (size_t)begin * lda;
            const float *bp = !by_columns ? b : trans_b ? b + (size_t)begin * ldb : b + begin;
            float *cp = by_columns ? c + begin : c + (size_t)begin * ldc;
            cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                        by_columns ? m : end - begin, by_columns ? end - begin : n, k, alpha, ap, lda, bp, ldb,
                        beta, cp, ldc);
        }
    }
    // The count in force now (the user may have changed it meanwhile), as ck_set_num_threads sets it.
    pthread_mutex_lock(&ck_split_lock);
    if (--ck_split_active == 0) openblas_set_num_threads(ck_get_num_threads());
    pthread_mutex_unlock(&ck_split_lock);
    return 1;
}

// MARK: - A small C with a long reduction
//
// OpenBLAS divides C among its threads and runs each reduction whole; a C of a few hundred
// elements over a reduction tens of thousands long (a convolution's backward-filter lowered
// to one GEMM: 32 x 9 x 50,176 for a 1->32 3x3 convolution at 28x28, batch 64) gives it
// little to divide, and it runs such shapes at a small fraction of its rate. When a is
// (m,k) and b is (n,k) (C = a b^T), every element of C is the dot product of two contiguous
// rows, so the threads divide k instead: each sums its slice of k for every element of C,
// 4 rows of a by 3 rows of b at a time in twelve 8-float accumulators, k in blocks that keep
// those rows in L1; the threads' partial sums are added in thread order (the result depends
// on the thread count only through that order). The class below is where every shape
// measured was faster than OpenBLAS at both 1 and 2 threads; larger C were faster only
// sometimes (the measurements: docs/performance.md, "Design measurements behind the
// kernels").
#define CK_GEMM_DOT_MAX_MN 1024      // at most this many elements of C
#define CK_GEMM_DOT_MIN_K 4096       // and a reduction at least this long
#define CK_GEMM_DOT_MIN_K_PER_THREAD 2048
#define CK_GEMM_DOT_K_BLOCK 512

#if CK_X86  // AVX2 + FMA, used when the CPU has them (ck_target.h)
#include <immintrin.h>
#include <omp.h>

CK_TARGET_AVX2 static inline float ck_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// out[i*ldo + j] += sum over kk in [k0, k1) of a[i*lda + kk] * b[j*ldb + kk] for i < MI,
// j < NJ. Always inlined with constant MI and NJ, so the accumulators stay in registers.
CK_TARGET_AVX2 static inline __attribute__((always_inline)) void
ck_dot_block(int MI, int NJ, float *out, int ldo, const float *a, int lda, const float *b, int ldb,
             int k0, int k1) {
    __m256 acc[4][3];
    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++) acc[i][j] = _mm256_setzero_ps();
    int kk = k0;
    for (; kk + 8 <= k1; kk += 8) {
        __m256 bv[3];
        for (int j = 0; j < NJ; j++) bv[j] = _mm256_loadu_ps(b + (size_t)j * ldb + kk);
        for (int i = 0; i < MI; i++) {
            const __m256 av = _mm256_loadu_ps(a + (size_t)i * lda + kk);
            for (int j = 0; j < NJ; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MI; i++) {
        for (int j = 0; j < NJ; j++) {
            float s = ck_hsum256(acc[i][j]);
            for (int t = kk; t < k1; t++) s += a[(size_t)i * lda + t] * b[(size_t)j * ldb + t];
            out[i * ldo + j] += s;
        }
    }
}

// out (m,n) += a[:, k0:k1] b[:, k0:k1]^T, k in blocks, 4x3 tiles and their edges.
CK_TARGET_AVX2 static void ck_dot_slice(float *out, const float *a, int lda, const float *b, int ldb, int m, int n,
                         int k0, int k1) {
    for (int kb = k0; kb < k1; kb += CK_GEMM_DOT_K_BLOCK) {
        const int ke = kb + CK_GEMM_DOT_K_BLOCK < k1 ? kb + CK_GEMM_DOT_K_BLOCK : k1;
        for (int i = 0; i < m; i += 4) {
            const int mi = m - i < 4 ? m - i : 4;
            for (int j = 0; j < n; j += 3) {
                const int nj = n - j < 3 ? n - j : 3;
                float *o = out + i * n + j;
                const float *ai = a + (size_t)i * lda, *bj = b + (size_t)j * ldb;
                switch (mi * 4 + nj) {
                case 4 * 4 + 3: ck_dot_block(4, 3, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 4 * 4 + 2: ck_dot_block(4, 2, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 4 * 4 + 1: ck_dot_block(4, 1, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 3 * 4 + 3: ck_dot_block(3, 3, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 3 * 4 + 2: ck_dot_block(3, 2, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 3 * 4 + 1: ck_dot_block(3, 1, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 2 * 4 + 3: ck_dot_block(2, 3, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 2 * 4 + 2: ck_dot_block(2, 2, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 2 * 4 + 1: ck_dot_block(2, 1, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 1 * 4 + 3: ck_dot_block(1, 3, o, n, ai, lda, bj, ldb, kb, ke); break;
                case 1 * 4 + 2: ck_dot_block(1, 2, o, n, ai, lda, bj, ldb, kb, ke); break;
                default:        ck_dot_block(1, 1, o, n, ai, lda, bj, ldb, kb, ke); break;
                }
            }
        }
    }
}

// c = alpha a b^T + beta c for a (m,k), b (n,k). Returns 0 (nothing done) for shapes
// outside the class above, or if the partial sums cannot be allocated.
static int ck_sgemm_dot(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                        int m, int n, int k, float alpha, float beta) {
    if ((long)m * n > CK_GEMM_DOT_MAX_MN || k < CK_GEMM_DOT_MIN_K || !ck_cpu_has_avx2_fma()) return 0;
    const int max_threads = ck_region_threads();
    const int threads = k / CK_GEMM_DOT_MIN_K_PER_THREAD < max_threads ? k / CK_GEMM_DOT_MIN_K_PER_THREAD
                                                                      : max_threads;
    const size_t mn = (size_t)m * n;
    float *partial = calloc((size_t)threads * mn, sizeof(float));
    if (partial == NULL) return 0;
    #pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        // Slices of k in multiples of 8, the last one taking the rest.
        const int per = (k / nt) / 8 * 8;
        const int k0 = t * per, k1 = t == nt - 1 ? k : k0 + per;
        ck_dot_slice(partial + (size_t)t * mn, a, lda, b, ldb, m, n, k0, k1);
    }
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int t = 0; t < threads; t++) s += partial[(size_t)t * mn + (size_t)i * n + j];
            float *cij = c + (size_t)i * ldc + j;
            // beta 0 ignores what c held (NaN included), as BLAS does.
            *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
        }
    }
    free(partial);
    return 1;
}
#else
static int ck_sgemm_dot(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                        int m, int n, int k, float alpha, float beta) {
    (void)c; (void)ldc; (void)a; (void)lda; (void)b; (void)ldb;
    (void)m; (void)n; (void)k; (void)alpha; (void)beta;
    return 0;
}
#endif

// MARK: - One row of C (a dense layer at batch 1)
//
// c (1,n) = a (1,k) b^T, b (n,k): a matrix-vector product, as a server's batch-1 requests
// make. OpenBLAS runs it on one thread (its sgemm with m = 1), and its sgemv, which does
// divide c, wakes OpenBLAS's pool, asleep between GEMMs (ck_configure_thread_waiting), on
// every call: slower than one thread at batch-1 latency. The product streams b once (1.6 MB
// for W2's 3136 -> 128 layer, from L3), so here the kernels' own OpenMP threads, awake
// from the layers before, divide the rows of b. Each c[j] is one thread's sum in a fixed
// order (16 lanes over k, then the lanes in order, then the tail), so the bits do not
// depend on the thread count. Figures: docs/performance.md, "Serving latency, same window
// as PyTorch".
#define CK_GEMM_ROW_PARALLEL_MIN ((long)1 << 16)  // multiply-adds below which one thread runs it
#define CK_GEMM_ROW_LANES 16

// dot(a, b_j) for the rows b_j of b, j in [begin, end), 4 rows at a time (a read once for
// four), each row's sum the same as alone.
static CK_MULTIVERSION void ck_sgemm_row_range(float *restrict c, const float *restrict a, const float *restrict b,
                                               int ldb, int k, float alpha, float beta, long begin, long end) {
    const int kb = k / CK_GEMM_ROW_LANES * CK_GEMM_ROW_LANES;
    for (long j0 = begin; j0 < end; j0 += 4) {
        const int rows = end - j0 < 4 ? (int)(end - j0) : 4;
        float lanes[4][CK_GEMM_ROW_LANES] = {{0}};
        if (rows == 4) {
            const float *restrict b0 = b + (size_t)j0 * ldb, *restrict b1 = b0 + ldb;
            const float *restrict b2 = b1 + ldb, *restrict b3 = b2 + ldb;
            for (int i = 0; i < kb; i += CK_GEMM_ROW_LANES) {
                for (int l = 0; l < CK_GEMM_ROW_LANES; l++) {
                    const float x = a[i + l];
                    lanes[0][l] += x * b0[i + l];
                    lanes[1][l] += x * b1[i + l];
                    lanes[2][l] += x * b2[i + l];
                    lanes[3][l] += x * b3[i + l];
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                const float *restrict br = b + (size_t)(j0 + r) * ldb;
                for (int i = 0; i < kb; i += CK_GEMM_ROW_LANES) {
                    for (int l = 0; l < CK_GEMM_ROW_LANES; l++) lanes[r][l] += a[i + l] * br[i + l];
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            const float *br = b + (size_t)(j0 + r) * ldb;
            float sum = 0.0f;
            for (int l = 0; l < CK_GEMM_ROW_LANES; l++) sum += lanes[r][l];
            for (int i = kb; i < k; i++) sum += a[i] * br[i];
            float *cj = c + j0 + r;
            *cj = beta == 0.0f ? alpha * sum : alpha * sum + beta * *cj;  // beta 0 ignores c, NaN included
        }
    }
}

static void ck_sgemm_row(float *c, const float *a, const float *b, int ldb, int n, int k, float alpha, float beta) {
    const int threads = (long)n * k >= CK_GEMM_ROW_PARALLEL_MIN ? ck_region_threads() : 1;
    if (threads <= 1) {
        ck_sgemm_row_range(c, a, b, ldb, k, alpha, beta, 0, n);
        return;
    }
    #pragma omp parallel num_threads(threads)
    {
        // Whole groups of 4 rows a thread (a group split between threads would still give
        // the same bits, but read a twice).
        const ck_range r = ck_thread_range((n + 3) / 4);
        const long end = 4 * r.end < n ? 4 * r.end : n;
        ck_sgemm_row_range(c, a, b, ldb, k, alpha, beta, 4 * r.begin, end);
    }
}
