// Batch normalization over the channel axis of x (n,c,s), training and inference,
// forward and backward.
//
// Statistics (per channel, over the n*s values of that channel):
// - Computed with two passes (mean, then the sum of squared deviations from it), which
//   stays accurate when |mean| >> std, unlike E[x^2] - E[x]^2. A row of s values is
//   summed in float (8 lanes) relative to a per-channel shift, the n rows in double.
// - The normalisation uses the biased variance; the running variance is updated with the
//   unbiased one (divide by n*s - 1), as PyTorch does.
// - With n*s == 1 the unbiased variance is undefined (PyTorch raises "Expected more than
//   1 value per channel when training"; its ATen kernel would store NaN). This kernel
//   still normalises (the biased variance is 0, so y = beta) and updates the running mean,
//   but leaves the running variance unchanged: one value says nothing about the spread,
//   and a NaN or a pull towards 0 would poison inference. The Swift layer should reject
//   such batches like PyTorch; the kernel's choice only keeps the state finite.
//
// Traversal: channels are processed in blocks of up to CK_BN_MAX_BLOCK consecutive
// channels, and within a block row by row (i over n, then the block's channels, then s).
// For images (s large) a block is one or a few channels whose n runs of s floats are
// contiguous, and a block is sized to stay in L2 between the passes that re-read it. For
// (N,F) features (s == 1) a block is a wide contiguous slice of every row, so rows are
// streamed instead of walking down a column with stride c, and each pass has its own
// loop vectorised across the block's channels (the generic loop over s would run one
// iteration per element). Each OpenMP thread owns whole blocks of channels: it writes
// only its channels of y/dx and of the per-channel outputs. Each region calls a
// CK_MULTIVERSION worker with the thread's blocks (see ck_target.h: the region's own body
// would be baseline code).
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

// Below this many elements a parallel region costs more than it saves.
#define CK_BN_PARALLEL_MIN 32768L
// Upper bound of channels per block: the size of the per-block accumulators on the stack.
#define CK_BN_MAX_BLOCK 256
// A block of about this many floats (128 KiB) is still in L2 when the next pass reads it.
#define CK_BN_BLOCK_FLOATS 32768L

static inline int ck_bn_min(int a, int b) { return a < b ? a : b; }

// Channels per block for an (n,c,s) tensor.
static int ck_bn_block(int n, int c, int s) {
    const long per_channel = (long)n * s;
    // s == 1: as wide as allowed, for long contiguous runs of each row.
    long bc = s == 1 ? CK_BN_MAX_BLOCK : CK_BN_BLOCK_FLOATS / (per_channel > 0 ? per_channel : 1);
    if (bc > CK_BN_MAX_BLOCK) bc = CK_BN_MAX_BLOCK;
    // Never fewer blocks than threads when there are enough channels to go round.
    const int threads = ck_region_threads();
    const long share = ((long)c + threads - 1) / threads;
    if (bc > share) bc = share;
    return bc < 1 ? 1 : (int)bc;
}

// x and y are (n,c,s); gamma, beta, save_mean, save_invstd, running_mean, running_var are (c).
// One block b of bc channels. With relu set, y = max(BN(x), 0): the ReLU in the same pass
// as the normalisation (inlined with relu constant, so the plain kernel keeps its loops).
static inline __attribute__((always_inline))
void ck_bn_forward_training(float *y, float *save_mean, float *save_invstd,
                            float *running_mean, float *running_var,
                            const float *x, const float *gamma, const float *beta,
                            int n, int c, int s, float momentum, float eps, int bc, int b, const int relu) {
    const long count = (long)n * s;
    {
        const int j0 = b * bc, nb = ck_bn_min(bc, c - j0);
        double mean[CK_BN_MAX_BLOCK], m2[CK_BN_MAX_BLOCK], scale[CK_BN_MAX_BLOCK];
        // Float passes (s > 1) work relative to a shift, the channel's first value: values
        // near it subtract exactly (Sterbenz), so a large common offset cancels before
        // anything is rounded. mean = shift + sum(x - shift) / count.
        float shift[CK_BN_MAX_BLOCK];
        for (int jj = 0; jj < nb; jj++) {
            mean[jj] = m2[jj] = 0.0;
            shift[jj] = s == 1 ? 0.0f : x[(size_t)(j0 + jj) * s];
        }

        for (int i = 0; i < n; i++) {
            const float *xr = x + ((size_t)i * c + j0) * s;
            if (s == 1) {
                #pragma omp simd
                for (int jj = 0; jj < nb; jj++) mean[jj] += xr[jj];
                continue;
            }
            // One row of s values sums in float (8 lanes), the rows in double.
            for (int jj = 0; jj < nb; jj++) {
                const float *restrict xs = xr + (size_t)jj * s;
                const float sh = shift[jj];
                float acc = 0.0f;
                #pragma omp simd reduction(+:acc)
                for (int k = 0; k < s; k++) acc += xs[k] - sh;
                mean[jj] += acc;
            }
        }
        for (int jj = 0; jj < nb; jj++) mean[jj] = (double)shift[jj] + mean[jj] / (double)count;

        for (int i = 0; i < n; i++) {
            const float *xr = x + ((size_t)i * c + j0) * s;
            if (s == 1) {
                #pragma omp simd
                for (int jj = 0; jj < nb; jj++) {
                    const double d = (double)xr[jj] - mean[jj];
                    m2[jj] += d * d;
                }
                continue;
            }
            for (int jj = 0; jj < nb; jj++) {
                // x - mean as (x - m) - r, m the mean rounded to float and r what it lost.
                const float *restrict xs = xr + (size_t)jj * s;
                const float m = (float)mean[jj], r = (float)(mean[jj] - (double)m);
                float acc = 0.0f;
                #pragma omp simd reduction(+:acc)
                for (int k = 0; k < s; k++) {
                    const float d = (xs[k] - m) - r;
                    acc += d * d;
                }
                m2[jj] += acc;
            }
        }

        for (int jj = 0; jj < nb; jj++) {
            const int j = j0 + jj;
            const double invstd = 1.0 / sqrt(m2[jj] / (double)count + (double)eps);
            save_mean[j] = (float)mean[jj];
            save_invstd[j] = (float)invstd;
            if (running_mean)
                running_mean[j] = (float)((1.0 - momentum) * running_mean[j] + (double)momentum * mean[jj]);
            if (running_var && count > 1)
                running_var[j] = (float)((1.0 - momentum) * running_var[j]
                                         + (double)momentum * (m2[jj] / (double)(count - 1)));
            scale[jj] = (double)gamma[j] * invstd;
        }

        // Centred before scaling, so the error stays relative to |x - mean| (as PyTorch's
        // float kernels; double only where s == 1 leaves nothing to vectorize over).
        for (int i = 0; i < n; i++) {
            const size_t row = ((size_t)i * c + j0) * s;
            if (s == 1) {
                #pragma omp simd
                for (int jj = 0; jj < nb; jj++) {
                    const float v = (float)(((double)x[row + jj] - mean[jj]) * scale[jj] + (double)beta[j0 + jj]);
                    y[row + jj] = relu ? fmaxf(v, 0.0f) : v;
                }
                continue;
            }
            for (int jj = 0; jj < nb; jj++) {
                const float *restrict xr = x + row + (size_t)jj * s;
                float *restrict yr = y + row + (size_t)jj * s;
                // (x - m) * scale + (beta - r * scale), r as above.
                const float m = (float)mean[jj], sc = (float)scale[jj];
                const float bt = (float)((double)beta[j0 + jj] - (mean[jj] - (double)m) * scale[jj]);
                #pragma omp simd
                for (int k = 0; k < s; k++) {
                    const float v = (xr[k] - m) * sc + bt;
                    yr[k] = relu ? fmaxf(v, 0.0f) : v;
                }
            }
        }
    }
}

// Blocks [begin, end): the worker the public forwards' region calls, with the block body
// inlined once with relu constant per branch.
static CK_MULTIVERSION
void ck_bn_forward_training_blocks(float *y, float *save_mean, float *save_invstd,
                                   float *running_mean, float *running_var,
                                   const float *x, const float *gamma, const float *beta,
                                   int n, int c, int s, float momentum, float eps, int bc, int relu,
                                   long begin, long end) {
    for (long b = begin; b < end; b++) {
        if (relu)
            ck_bn_forward_training(y, save_mean, save_invstd, running_mean, running_var, x, gamma,
                                   beta, n, c, s, momentum, eps, bc, (int)b, 1);
        else
            ck_bn_forward_training(y, save_mean, save_invstd, running_mean, running_var, x, gamma,
                                   beta, n, c, s, momentum, eps, bc, (int)b, 0);
    }
}

// Both public forwards: the checks, then each thread's blocks of channels to the worker.
static void ck_bn_forward_training_run(float *y, float *save_mean, float *save_invstd,
                                       float *running_mean, float *running_var,
                                       const float *x, const float *gamma, const float *beta,
                                       int n, int c, int s, float momentum, float eps, int relu) {
    assert(n >= 1 && c >= 0 && s >= 1);
    assert(eps >= 0.0f && momentum >= 0.0f && momentum <= 1.0f);
    assert(y && save_mean && save_invstd && x && gamma && beta);
    const int bc = ck_bn_block(n, c, s);
    const int blocks = (c + bc - 1) / bc;
    #pragma omp parallel if ((long)n * c * s > CK_BN_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(blocks);
        ck_bn_forward_training_blocks(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta,
                                      n, c, s, momentum, eps, bc, relu, r.begin, r.end);
    }
}

void ck_batchnorm_forward_training(float *y, float *save_mean, float *save_invstd,
                                   float *running_mean, float *running_var,
                                   const float *x, const float *gamma, const float *beta,
                                   int n, int c, int s, float momentum, float eps) {
    ck_bn_forward_training_run(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta,
                               n, c, s, momentum, eps, 0);
}

void ck_batchnorm_relu_forward_training(float *y, float *save_mean, float *save_invstd,
                                        float *running_mean, float *running_var,
                                        const float *x, const float *gamma, const float *beta,
                                        int n, int c, int s, float momentum, float eps) {
    ck_bn_forward_training_run(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta,
                               n, c, s, momentum, eps, 1);
}

// Blocks [begin, end) of the inference forward of (N,F) features (s == 1).
static CK_MULTIVERSION
void ck_bn_forward_inference_feature_blocks(float *y, const float *x, const float *gamma, const float *beta,
                                            const float *running_mean, const float *running_var,
                                            int n, int c, float eps, int bc, long begin, long end) {
    for (long b = begin; b < end; b++) {
        const int j0 = (int)b * bc, nb = ck_bn_min(bc, c - j0);
        double scale[CK_BN_MAX_BLOCK];
        for (int jj = 0; jj < nb; jj++)
            scale[jj] = (double)gamma[j0 + jj] / sqrt((double)running_var[j0 + jj] + (double)eps);
        for (int i = 0; i < n; i++) {
            const size_t row = (size_t)i * c + j0;
            #pragma omp simd
            for (int jj = 0; jj < nb; jj++)
                y[row + jj] = (float)(((double)x[row + jj] - running_mean[j0 + jj]) * scale[jj]
                                      + (double)beta[j0 + jj]);
        }
    }
}

// Rows [begin, end) of the inference forward of images, (n*c, s) with scale per channel.
static CK_MULTIVERSION
void ck_bn_forward_inference_rows(float *y, const float *x, const float *beta, const float *running_mean,
                                  const float *scale, int c, int s, long begin, long end) {
    for (long r = begin; r < end; r++) {
        const int j = (int)(r % c);
        const float *restrict xr = x + (size_t)r * s;
        float *restrict yr = y + (size_t)r * s;
        const float m = running_mean[j], sc = scale[j], bt = beta[j];
        #pragma omp simd
        for (int k = 0; k < s; k++) yr[k] = (xr[k] - m) * sc + bt;
    }
}

// x and y are (n,c,s); gamma, beta, running_mean, running_var are (c).
void ck_batchnorm_forward_inference(float *y, const float *x, const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var,
                                    int n, int c, int s, float eps) {
    assert(n >= 0 && c >= 0 && s >= 1);
    assert(eps >= 0.0f);
    assert(y && x && gamma && beta && running_mean && running_var);
    if (s == 1) {
        const int bc = ck_bn_block(n, c, s);
        const int blocks = (c + bc - 1) / bc;
        #pragma omp parallel if ((long)n * c > CK_BN_PARALLEL_MIN) num_threads(ck_region_threads())
        {
            const ck_range r = ck_thread_range(blocks);
            ck_bn_forward_inference_feature_blocks(y, x, gamma, beta, running_mean, running_var, n, c, eps, bc,
                                                   r.begin, r.end);
        }
        return;
    }
    // Images: one pass, so no channel blocks; the n*c rows of s values are split in
    // contiguous ranges and streamed in memory order, like an element-wise op (blocks of
    // channels walked the tensor in 1.5 KB pieces at 14x14, well below a copy's rate).
    // In float: one subtract and one FMA per element; the per-channel scale is exact to
    // float (computed in double); centring before scaling keeps the error relative to
    // |x - mean|, as in the double form (tests: float32 tolerance).
    float stack_scale[CK_BN_MAX_BLOCK];
    float *scale = c <= CK_BN_MAX_BLOCK ? stack_scale : malloc(sizeof(float) * (size_t)c);
    assert(scale != NULL);
    for (int j = 0; j < c; j++)
        scale[j] = (float)((double)gamma[j] / sqrt((double)running_var[j] + (double)eps));
    const long rows = (long)n * c;
    #pragma omp parallel if (rows * s > CK_BN_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_bn_forward_inference_rows(y, x, beta, running_mean, scale, c, s, r.begin, r.end);
    }
    if (scale != stack_scale) free(scale);
}

// dy, x and dx are (n,c,s); gamma, save_mean, save_invstd, dgamma, dbeta are (c).
// With xhat = (x - mean) * invstd and M = n*s, per channel:
//   dbeta += sum(dy), dgamma += sum(dy * xhat),
//   dx += gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)),
// the last because mean and invstd are themselves functions of x.
// One block b of bc channels. With relu set, dy is the gradient of y = max(BN(x), 0) and
// counts only where y > 0, as ReLU's own backward would have passed it.
static inline __attribute__((always_inline))
void ck_bn_backward(float *dx, float *dgamma, float *dbeta,
                    const float *dy, const float *y, const float *x, const float *gamma,
                    const float *save_mean, const float *save_invstd,
                    int n, int c, int s, int accumulate, int bc, int b, const int relu) {
    // The gradient reaching the normalisation at element i (a select, so loops vectorize).
    #define CK_BN_G(i) (relu ? (y[i] > 0.0f ? dy[i] : 0.0f) : dy[i])
    const double count = (double)n * s;
    {
        const int j0 = b * bc, nb = ck_bn_min(bc, c - j0);
        double sum_dy[CK_BN_MAX_BLOCK], sum_dy_xc[CK_BN_MAX_BLOCK];
        for (int jj = 0; jj < nb; jj++) sum_dy[jj] = sum_dy_xc[jj] = 0.0;

        for (int i = 0; i < n; i++) {
            const size_t row = ((size_t)i * c + j0) * s;
            if (s == 1) {
                #pragma omp simd
                for (int jj = 0; jj < nb; jj++) {
                    sum_dy[jj] += CK_BN_G(row + jj);
                    sum_dy_xc[jj] += (double)CK_BN_G(row + jj) * ((double)x[row + jj] - save_mean[j0 + jj]);
                }
                continue;
            }
            // A row's sums in float (s terms, across the vector's lanes), the rows' in double:
            // double throughout ran at half the vector width with two conversions a term.
            for (int jj = 0; jj < nb; jj++) {
                const float *xr = x + row + (size_t)jj * s;
                const size_t o = row + (size_t)jj * s;
                const float m = save_mean[j0 + jj];
                float a = 0.0f, bsum = 0.0f;
                #pragma omp simd reduction(+:a, bsum)
                for (int k = 0; k < s; k++) {
                    const float g = CK_BN_G(o + k);
                    a += g;
                    bsum += g * (xr[k] - m);
                }
                sum_dy[jj] += a;
                sum_dy_xc[jj] += bsum;
            }
        }

        // dx = A * dy + B * (x - mean) + C per channel.
        double ca[CK_BN_MAX_BLOCK], cb[CK_BN_MAX_BLOCK], cc[CK_BN_MAX_BLOCK];
        for (int jj = 0; jj < nb; jj++) {
            const int j = j0 + jj;
            const double invstd = save_invstd[j];
            dbeta[j] += (float)sum_dy[jj];
            dgamma[j] += (float)(sum_dy_xc[jj] * invstd);
            ca[jj] = (double)gamma[j] * invstd;
            cb[jj] = -ca[jj] * invstd * invstd * sum_dy_xc[jj] / count;
            cc[jj] = -ca[jj] * sum_dy[jj] / count;
        }

        for (int i = 0; i < n; i++) {
            const size_t row = ((size_t)i * c + j0) * s;
            // Each sum written or added by its own loop: the writing one never reads dx.
            if (s == 1) {
                #define CK_BN_DX_FEATURE (float)(ca[jj] * CK_BN_G(row + jj) \
                                                 + cb[jj] * ((double)x[row + jj] - save_mean[j0 + jj]) + cc[jj])
                if (accumulate) {
                    #pragma omp simd
                    for (int jj = 0; jj < nb; jj++) dx[row + jj] += CK_BN_DX_FEATURE;
                } else {
                    #pragma omp simd
                    for (int jj = 0; jj < nb; jj++) dx[row + jj] = CK_BN_DX_FEATURE;
                }
                #undef CK_BN_DX_FEATURE
                continue;
            }
            // In float (the sums above stay in double: in float they lost 1e-5 of dgamma and
            // dbeta): the coefficients are rounded once and x - mean is centred first, so the
            // error stays relative to each term, as in the forward's apply pass. In double this
            // pass ran at half the vector width and held the backward 1.3x slower.
            for (int jj = 0; jj < nb; jj++) {
                const float *xr = x + row + (size_t)jj * s;
                const size_t o = row + (size_t)jj * s;
                float *dxr = dx + o;
                const float m = save_mean[j0 + jj], a = (float)ca[jj], bq = (float)cb[jj], cq = (float)cc[jj];
                if (accumulate) {
                    #pragma omp simd
                    for (int k = 0; k < s; k++) dxr[k] += a * CK_BN_G(o + k) + bq * (xr[k] - m) + cq;
                } else {
                    #pragma omp simd
                    for (int k = 0; k < s; k++) dxr[k] = a * CK_BN_G(o + k) + bq * (xr[k] - m) + cq;
                }
            }
        }
    }
    #undef CK_BN_G
}

// Blocks [begin, end) of the backward, as the forward's worker above (relu: y is the fused
// forward's output, whose mask the gradient passes through).
static CK_MULTIVERSION
void ck_bn_backward_blocks(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *y, const float *x, const float *gamma,
                           const float *save_mean, const float *save_invstd,
                           int n, int c, int s, int accumulate, int bc, int relu, long begin, long end) {
    for (long b = begin; b < end; b++) {
        if (relu)
            ck_bn_backward(dx, dgamma, dbeta, dy, y, x, gamma, save_mean, save_invstd, n, c, s,
                           accumulate, bc, (int)b, 1);
        else
            ck_bn_backward(dx, dgamma, dbeta, dy, y, x, gamma, save_mean, save_invstd, n, c, s,
                           accumulate, bc, (int)b, 0);
    }
}

// Both public backwards: the checks, then each thread's blocks of channels to the worker.
static void ck_bn_backward_run(float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *y, const float *x, const float *gamma,
                               const float *save_mean, const float *save_invstd,
                               int n, int c, int s, int accumulate, int relu) {
    assert(n >= 1 && c >= 0 && s >= 1);
    assert(dx && dgamma && dbeta && dy && x && gamma && save_mean && save_invstd);
    assert(!relu || y);
    const int bc = ck_bn_block(n, c, s);
    const int blocks = (c + bc - 1) / bc;
    #pragma omp parallel if ((long)n * c * s > CK_BN_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(blocks);
        ck_bn_backward_blocks(dx, dgamma, dbeta, dy, y, x, gamma, save_mean, save_invstd, n, c, s,
                              accumulate, bc, relu, r.begin, r.end);
    }
}

void ck_batchnorm_backward(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *x, const float *gamma,
                           const float *save_mean, const float *save_invstd,
                           int n, int c, int s, int accumulate) {
    ck_bn_backward_run(dx, dgamma, dbeta, dy, NULL, x, gamma, save_mean, save_invstd, n, c, s, accumulate, 0);
}

void ck_batchnorm_relu_backward(float *dx, float *dgamma, float *dbeta,
                                const float *dy, const float *y, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd,
                                int n, int c, int s, int accumulate) {
    ck_bn_backward_run(dx, dgamma, dbeta, dy, y, x, gamma, save_mean, save_invstd, n, c, s, accumulate, 1);
}

// Blocks [begin, end) of the inference backward.
static CK_MULTIVERSION
void ck_bn_backward_inference_blocks(float *dx, float *dgamma, float *dbeta,
                                     const float *dy, const float *x, const float *gamma,
                                     const float *running_mean, const float *running_var,
                                     int n, int c, int s, float eps, int bc, long begin, long end) {
    for (long b = begin; b < end; b++) {
        const int j0 = (int)b * bc, nb = ck_bn_min(bc, c - j0);
        double invstd[CK_BN_MAX_BLOCK], sum_dy[CK_BN_MAX_BLOCK], sum_dy_xc[CK_BN_MAX_BLOCK];
        float scale[CK_BN_MAX_BLOCK];
        for (int jj = 0; jj < nb; jj++) {
            invstd[jj] = 1.0 / sqrt((double)running_var[j0 + jj] + (double)eps);
            scale[jj] = (float)((double)gamma[j0 + jj] * invstd[jj]);
            sum_dy[jj] = sum_dy_xc[jj] = 0.0;
        }
        // One pass: dx needs no reduction, so it is added to while the sums are gathered.
        for (int i = 0; i < n; i++) {
            const size_t row = ((size_t)i * c + j0) * s;
            if (s == 1) {
                #pragma omp simd
                for (int jj = 0; jj < nb; jj++) {
                    dx[row + jj] += scale[jj] * dy[row + jj];
                    sum_dy[jj] += dy[row + jj];
                    sum_dy_xc[jj] += (double)dy[row + jj] * ((double)x[row + jj] - running_mean[j0 + jj]);
                }
                continue;
            }
            for (int jj = 0; jj < nb; jj++) {
                const float *xr = x + row + (size_t)jj * s;
                const float *dyr = dy + row + (size_t)jj * s;
                float *dxr = dx + row + (size_t)jj * s;
                const double m = running_mean[j0 + jj];
                const float g = scale[jj];
                double a = 0.0, bsum = 0.0;
                #pragma omp simd reduction(+:a, bsum)
                for (int k = 0; k < s; k++) {
                    dxr[k] += g * dyr[k];
                    a += dyr[k];
                    bsum += (double)dyr[k] * ((double)xr[k] - m);
                }
                sum_dy[jj] += a;
                sum_dy_xc[jj] += bsum;
            }
        }
        for (int jj = 0; jj < nb; jj++) {
            dbeta[j0 + jj] += (float)sum_dy[jj];
            dgamma[j0 + jj] += (float)(sum_dy_xc[jj] * invstd[jj]);
        }
    }
}

// dy, x and dx are (n,c,s); gamma, running_mean, running_var, dgamma, dbeta are (c).
// The statistics are constants here, so y is affine in x per channel:
//   dx += gamma * invstd * dy, dgamma += sum(dy * (x - mean) * invstd), dbeta += sum(dy).
void ck_batchnorm_backward_inference(float *dx, float *dgamma, float *dbeta,
                                     const float *dy, const float *x, const float *gamma,
                                     const float *running_mean, const float *running_var,
                                     int n, int c, int s, float eps) {
    assert(n >= 0 && c >= 0 && s >= 1);
    assert(eps >= 0.0f);
    assert(dx && dgamma && dbeta && dy && x && gamma && running_mean && running_var);
    const int bc = ck_bn_block(n, c, s);
    const int blocks = (c + bc - 1) / bc;
    #pragma omp parallel if ((long)n * c * s > CK_BN_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(blocks);
        ck_bn_backward_inference_blocks(dx, dgamma, dbeta, dy, x, gamma, running_mean, running_var, n, c, s,
                                        eps, bc, r.begin, r.end);
    }
}
