// ckernels.h: the one public header of swift-nn's C kernels.
//
// Conventions:
// - float32, row-major, images in NCHW.
// - Arguments: outputs first, then inputs, then sizes/parameters.
// - Gradients, one rule for every backward kernel: parameter gradients (dw, dbias, dgamma,
//   dbeta, dalpha) are always ADDED into, so they sum over every use of a parameter until
//   the caller clears them. dx is added into as well, except by the kernels that take
//   `accumulate` (the hot ones whose dx is a whole activation-sized tensor: activations
//   but PReLU, batch norm in training, max pooling, conv2d backward-data, dropout): 1 adds
//   into dx, 0 WRITES it, ignoring what it held (NaN included), so the first gradient to
//   reach a tensor needs no zeroed buffer, which saves a pass over memory (PyTorch's
//   autograd assigns a first gradient the same way).
// - No hidden allocation of anything batch-sized: workspaces are arguments sized by the
//   matching *_size call (per-thread scratch of a few KB to 128 KB, for conv2d's
//   image-by-image paths and ck_sgemm's dot-product path, and of one padded image, at most
//   4 MiB, for conv2d's direct 3x3 path, is malloc'd within the call).
// - OpenMP parallelises outer loops where each thread owns what it writes; BLAS is never
//   called inside an OpenMP region. Sizes are checked with assert().
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// What the system must provide, checked here because every kernel includes this header
// first: a missing Debian package stops the build with its name, not "file not found".
// Package.swift defines CK_LIBOMP_MISSING when no libomp is in the linker's search path;
// SwiftPM caches that verdict, so after installing libomp the second message applies.
#if !__has_include(<cblas.h>)
#error "OpenBLAS's cblas.h not found: install libopenblas-dev (Debian/Ubuntu: apt-get install libopenblas-dev, or 'make deps')"
#endif
#ifdef CK_LIBOMP_MISSING
#error "libomp (LLVM's OpenMP runtime) not found: install libomp-dev (Debian/Ubuntu: apt-get install libomp-dev, or 'make deps'); if it is installed, SwiftPM kept the package manifest's result from before: rm -rf .build ~/.cache/org.swift.swiftpm/manifests"
#endif

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Threads
// Loading the library configures nothing: until ck_set_num_threads, the kernels' OpenMP
// regions use the default count below and OpenBLAS its own default (OPENBLAS_NUM_THREADS,
// else its CPU count), and both pools wait between kernels as they do by default.
// The count is process-wide: every kernel uses it whichever OS thread calls it (each
// OpenMP region passes it in num_threads), so results do not depend on the calling thread.

/// Sets the thread count of every kernel and of OpenBLAS, for the whole process; n <= 0
/// returns to the default (ck_default_threads). Set it between kernel calls, not during.
void ck_set_num_threads(int n);
/// The thread count in force: the last ck_set_num_threads's, else the default. Reading it
/// changes nothing.
int ck_get_num_threads(void);
/// The default count: OMP_NUM_THREADS when the user set it, else ck_available_cpus(),
/// read once per process.
int ck_default_threads(void);
/// The CPUs this process may use: its sched affinity mask, capped by its cgroup's CPU
/// quota (v2 cpu.max or v1 cfs quota/period, rounded up), not the online core count.
int ck_available_cpus(void);
/// The threads a kernel's parallel region gets when started from the calling thread now
/// (what the tests check on threads other than the one that set the count).
int ck_threads_in_region(void);
/// Tunes how the two thread pools wait between kernels, once per process (later calls do
/// nothing): libomp's workers spin 1 ms after a parallel region (kmp_set_blocktime), and
/// OpenBLAS's workers sleep right after each GEMM instead of spinning on (it sets
/// OPENBLAS_THREAD_TIMEOUT=4 in the process environment, has OpenBLAS re-read it and stops
/// OpenBLAS's pool, which restarts on the next GEMM). A KMP_BLOCKTIME or
/// OPENBLAS_THREAD_TIMEOUT already in the environment takes precedence: that pool is left
/// alone. Why: the two pools take turns hundreds of times a training step, and a pool
/// spinning while the other works takes one of its cores. At 2 threads the CNNs trained
/// about a third faster with these settings than with OpenBLAS's default spin, an MLP
/// (whose GEMMs are short) about a fifth slower (docs/performance.md, "The two thread
/// pools"). Call it once at startup, before the kernels run (Swift: Threads.set does).
void ck_configure_thread_waiting(void);

// MARK: - GEMM

/// c = alpha * op(a) * op(b) + beta * c, row-major, through OpenBLAS's cblas_sgemm (a
/// small c over a long reduction with a not transposed and b transposed goes through dot
/// products with k divided among the threads instead; see ck_gemm.c). op(a) is (m,k), op(b)
/// is (k,n), c is (m,n); lda/ldb/ldc are row strides of the matrices as stored (before
/// transposition). beta 0 ignores what c held.
void ck_sgemm(float *c, int ldc,
              const float *a, int lda, int trans_a,
              const float *b, int ldb, int trans_b,
              int m, int n, int k, float alpha, float beta);

// MARK: - Convolution geometry

/// Geometry of a 2-D convolution: x is (n,c,h,w), w is (oc,c,kh,kw), y is (n,oc,oh,ow)
/// with oh = (h + 2*pad_h - dil_h*(kh-1) - 1) / stride_h + 1 (likewise ow).
typedef struct {
    int n, c, h, w;
    int oc;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w;
} ck_conv2d_params;

int ck_conv2d_out_h(const ck_conv2d_params *p);
int ck_conv2d_out_w(const ck_conv2d_params *p);

// MARK: - im2col / col2im

/// One image: x is (c,h,w); col is (c*kh*kw, oh*ow). Padding reads as zero.
void ck_im2col(float *col, const float *x,
               int c, int h, int w, int kh, int kw,
               int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w);
/// Adjoint of ck_im2col: x (c,h,w) += the columns scattered back (padding dropped).
void ck_col2im(float *x, const float *col,
               int c, int h, int w, int kh, int kw,
               int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w);

// MARK: - conv2d

/// Floats of workspace the three conv2d kernels need for this geometry (at any thread
/// count). The workspace must be aligned to 8 bytes at least (backward-filter keeps sums in
/// double at its start).
size_t ck_conv2d_workspace_size(const ck_conv2d_params *p);

/// Images the GEMM path lowers at once (one GEMM per chunk) at the thread count in force.
int ck_conv2d_images_per_chunk(const ck_conv2d_params *p);

/// y (n,oc,oh,ow) = conv(x (n,c,h,w), w (oc,c,kh,kw)) + bias (oc) (bias may be NULL).
void ck_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                       float *workspace, const ck_conv2d_params *p);
/// dx (n,c,h,w) = conv_transpose(dy (n,oc,oh,ow), w), written or added per accumulate.
void ck_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             float *workspace, const ck_conv2d_params *p, int accumulate);
/// dw (oc,c,kh,kw) += correlation of dy with x; dbias (oc) += sum of dy (dbias may be NULL).
void ck_conv2d_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                               float *workspace, const ck_conv2d_params *p);

/// Floats of a forward's packed weights (ck_conv2d_pack_forward) for p's channels and
/// kernel geometry (n, h and w do not matter), 0 where no path reads packed weights.
size_t ck_conv2d_packed_size(const ck_conv2d_params *p);
/// packed (ck_conv2d_packed_size floats) = w (oc,c,kh,kw) and bias (oc, may be NULL)
/// re-laid as the direct 3x3 forward reads them (and, at stride 1, transformed as Winograd
/// reads them), which otherwise happens on every call:
/// for weights that do not change (an inference model), pack once and call
/// ck_conv2d_forward_packed.
void ck_conv2d_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p);
/// y = ck_conv2d_forward(x, w, bias) (the same bits) from weights packed by
/// ck_conv2d_pack_forward for the same channels and kernel, needing no workspace; returns 1.
/// Returns 0, having written nothing, where ck_conv2d_forward would not take the packed
/// path (neither ck_conv2d_forward_uses_direct nor ck_conv2d_forward_uses_winograd is 1, or
/// its per-thread scratch cannot be allocated): the caller then calls ck_conv2d_forward.
int ck_conv2d_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p);

/// Which path a 3x3 pad-1 dilation-1 convolution of stride 1 (all three passes) or 2
/// (forward and backward-filter) takes: a direct convolution (ck_conv2d_direct.c) or the
/// GEMM lowering. AUTO (the default) takes the direct one where it measured faster; NEVER
/// and ALWAYS are for tests and benchmarks. Other geometries (and images whose padded copy would pass 4 MiB a
/// thread) always take the lowering. Set between calls, not during.
typedef enum {
    CK_CONV2D_DIRECT_AUTO = 0,
    CK_CONV2D_DIRECT_NEVER = 1,
    CK_CONV2D_DIRECT_ALWAYS = 2,
} ck_conv2d_direct_mode;
/// Sets the direct-convolution mode for the whole process (all threads).
void ck_conv2d_set_direct_mode(ck_conv2d_direct_mode mode);
/// The direct-convolution mode in force.
ck_conv2d_direct_mode ck_conv2d_get_direct_mode(void);
/// 1 if ck_conv2d_forward takes the direct path for p under the mode in force.
int ck_conv2d_forward_uses_direct(const ck_conv2d_params *p);
/// 1 if ck_conv2d_backward_data takes the direct path for p under the mode in force.
int ck_conv2d_backward_data_uses_direct(const ck_conv2d_params *p);
/// 1 if ck_conv2d_backward_filter takes the direct path for p under the mode in force.
int ck_conv2d_backward_filter_uses_direct(const ck_conv2d_params *p);

/// Whether the three passes of a 3x3 stride-1 pad-1 dilation-1 convolution take Winograd
/// (ck_conv2d_winograd.c: F(2x2, 3x3), 16 multiplications a 2x2 output tile where the direct
/// kernel makes 36, or F(4x4, 3x3), below). AUTO (the default) takes it where
/// it measured faster, and only while the direct mode is AUTO too; NEVER and ALWAYS are for
/// tests and benchmarks. Set between calls, not during.
typedef enum {
    CK_CONV2D_WINOGRAD_AUTO = 0,
    CK_CONV2D_WINOGRAD_NEVER = 1,
    CK_CONV2D_WINOGRAD_ALWAYS = 2,
} ck_conv2d_winograd_mode;
/// Sets the Winograd mode for the whole process (all threads).
void ck_conv2d_set_winograd_mode(ck_conv2d_winograd_mode mode);
/// The Winograd mode in force.
ck_conv2d_winograd_mode ck_conv2d_get_winograd_mode(void);
/// 1 if ck_conv2d_forward takes Winograd for p under the modes in force.
int ck_conv2d_forward_uses_winograd(const ck_conv2d_params *p);
/// 1 if ck_conv2d_backward_data takes Winograd for p under the modes in force.
int ck_conv2d_backward_data_uses_winograd(const ck_conv2d_params *p);
/// 1 if ck_conv2d_backward_filter takes Winograd for p under the modes in force.
int ck_conv2d_backward_filter_uses_winograd(const ck_conv2d_params *p);
/// The output tile of the Winograd passes: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3) (36
/// multiplications a 4x4 tile, where F(2x2) makes 64 and the direct kernel 144; larger
/// transform factors, so about 15 times F(2x2)'s rounding error). 0 (the default) takes the
/// tile that measured faster for the shape and pass; 2 and 4 are for tests and benchmarks
/// (4 falls back to 2 where its scratch would pass the kernel's limit). Set between calls,
/// not during.
void ck_conv2d_set_winograd_tile(int outputs);
/// The tile (2 or 4) the Winograd forward and backward-data take for p under the setting in
/// force, whether or not the modes send p to Winograd.
int ck_conv2d_winograd_tile(const ck_conv2d_params *p);
/// The same for the Winograd backward-filter.
int ck_conv2d_backward_filter_winograd_tile(const ck_conv2d_params *p);

// MARK: - Pooling

/// Geometry of 2-D pooling: x is (n,c,h,w), y is (n,c,oh,ow),
/// oh = (h + 2*pad_h - kh) / stride_h + 1 (likewise ow). Padding never wins a max.
typedef struct {
    int n, c, h, w;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
} ck_pool2d_params;

int ck_pool2d_out_h(const ck_pool2d_params *p);
int ck_pool2d_out_w(const ck_pool2d_params *p);

/// y = max over each window; argmax (n,c,oh,ow) records the winner's index within its
/// (h,w) plane (row * w + col).
void ck_maxpool2d_forward(float *y, int32_t *argmax, const float *x, const ck_pool2d_params *p);
/// dx = dy routed to the recorded argmax, written (zero where no window's maximum is) or
/// added per accumulate.
void ck_maxpool2d_backward(float *dx, const float *dy, const int32_t *argmax,
                           const ck_pool2d_params *p, int accumulate);
/// y = mean over each window; count_include_pad != 0 divides by kh*kw (PyTorch's default),
/// otherwise by the number of in-bounds elements.
void ck_avgpool2d_forward(float *y, const float *x, const ck_pool2d_params *p, int count_include_pad);
/// dx += dy spread evenly over each window (same divisor as forward).
void ck_avgpool2d_backward(float *dx, const float *dy, const ck_pool2d_params *p, int count_include_pad);
/// y (n,c) = mean of x (n,c,hw) over hw.
void ck_global_avgpool_forward(float *y, const float *x, int n, int c, int hw);
/// dx (n,c,hw) += dy (n,c) / hw.
void ck_global_avgpool_backward(float *dx, const float *dy, int n, int c, int hw);

// MARK: - Batch normalization

// x is (n,c,s): s = h*w for images, s = 1 for (N,F) features. Statistics per channel c
// over n*s values. The running variance uses the unbiased estimate (divide by n*s - 1),
// the normalisation the biased one, as PyTorch does:
//   running = (1 - momentum) * running + momentum * batch_statistic.

/// Training forward: saves the batch mean and 1/sqrt(var + eps) for backward and
/// updates the running statistics (running_mean/running_var may be NULL to skip).
void ck_batchnorm_forward_training(float *y, float *save_mean, float *save_invstd,
                                   float *running_mean, float *running_var,
                                   const float *x, const float *gamma, const float *beta,
                                   int n, int c, int s, float momentum, float eps);
/// Training forward followed by ReLU in the same pass: y = max(BN(x), 0); saves and
/// updates the statistics as ck_batchnorm_forward_training.
void ck_batchnorm_relu_forward_training(float *y, float *save_mean, float *save_invstd,
                                        float *running_mean, float *running_var,
                                        const float *x, const float *gamma, const float *beta,
                                        int n, int c, int s, float momentum, float eps);
/// Inference forward with the running statistics.
void ck_batchnorm_forward_inference(float *y, const float *x, const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var,
                                    int n, int c, int s, float eps);
/// Backward of the training forward (batch statistics): dgamma, dbeta += their gradients;
/// dx written or added per accumulate.
void ck_batchnorm_backward(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *x, const float *gamma,
                           const float *save_mean, const float *save_invstd,
                           int n, int c, int s, int accumulate);
/// Backward of ck_batchnorm_relu_forward_training: dy is the gradient of its output y,
/// counted where y > 0; dgamma, dbeta += their gradients; dx written or added per accumulate.
void ck_batchnorm_relu_backward(float *dx, float *dgamma, float *dbeta,
                                const float *dy, const float *y, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd,
                                int n, int c, int s, int accumulate);
/// Backward of the inference forward (statistics are constants): dx, dgamma, dbeta += their
/// gradients.
void ck_batchnorm_backward_inference(float *dx, float *dgamma, float *dbeta,
                                     const float *dy, const float *x, const float *gamma,
                                     const float *running_mean, const float *running_var,
                                     int n, int c, int s, float eps);

// MARK: - Element-wise activations

typedef enum {
    CK_ACT_IDENTITY = 0,
    CK_ACT_BINARY_STEP = 1,   // 1 if x >= 0 else 0; derivative 0
    CK_ACT_SIGMOID = 2,
    CK_ACT_TANH = 3,
    CK_ACT_ARCTAN = 4,
    CK_ACT_RELU = 5,
    CK_ACT_LEAKY_RELU = 6,    // x if x > 0 else alpha * x
    CK_ACT_ELU = 7,           // x if x > 0 else alpha * (exp(x) - 1)
    CK_ACT_SOFTPLUS = 8,      // log(1 + exp(x)), computed stably
} ck_activation;

/// y = f(x) over count elements (alpha is LeakyReLU's slope or ELU's scale).
void ck_activation_forward(float *y, const float *x, size_t count, ck_activation kind, float alpha);
/// dx = f'(x) * dy, written or added per accumulate; y is the forward output (used where
/// it is cheaper than x).
void ck_activation_backward(float *dx, const float *dy, const float *x, const float *y,
                            size_t count, ck_activation kind, float alpha, int accumulate);
/// y = max(a + b, 0) over count elements: a residual block's sum and ReLU in one pass.
void ck_add_relu_forward(float *y, const float *a, const float *b, size_t count);
/// da and db = dy where y > 0, else 0 (y: the forward's output), each written or added per
/// its flag, in one pass.
void ck_add_relu_backward(float *da, float *db, const float *dy, const float *y, size_t count,
                          int accumulate_a, int accumulate_b);
/// PReLU with one learnable slope per channel: x is (n,c,s), alpha is (c).
void ck_prelu_forward(float *y, const float *x, const float *alpha, int n, int c, int s);
/// dx += dy * (x > 0 ? 1 : alpha); dalpha (c) += sum of dy * x where x <= 0.
void ck_prelu_backward(float *dx, float *dalpha, const float *dy, const float *x,
                       const float *alpha, int n, int c, int s);

// MARK: - Softmax and cross-entropy

/// y (rows,cols) = softmax of each row of x, max-subtracted for stability.
void ck_softmax_forward(float *y, const float *x, int rows, int cols);
/// dx += y * (dy - sum(dy * y)) per row.
void ck_softmax_backward(float *dx, const float *dy, const float *y, int rows, int cols);
/// y = x - logsumexp(x) per row.
void ck_log_softmax_forward(float *y, const float *x, int rows, int cols);
/// dx += dy - exp(y) * sum(dy) per row (y is the log-softmax output).
void ck_log_softmax_backward(float *dx, const float *dy, const float *y, int rows, int cols);
/// Fused softmax + cross-entropy with integer labels in [0, cols): writes the softmax
/// probabilities (saved for backward) and returns the mean loss over rows.
float ck_softmax_cross_entropy_forward(float *probs, const float *logits, const int32_t *labels,
                                       int rows, int cols);
/// dlogits += scale * (probs - onehot(labels)); scale = dloss / rows for the mean.
void ck_softmax_cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels,
                                       int rows, int cols, float scale);

// MARK: - Fill, gather, finite check

/// x[i] = value for every i < count (threads share large buffers).
void ck_fill(float *x, float value, size_t count);

/// dst row r = src row indices[r] for r < rows, rows of `size` floats (a batch gathered from
/// a dataset; threads share large batches). Indices are not checked.
void ck_gather_batch(float *dst, const float *src, const int64_t *indices, int64_t rows, int64_t size);

/// 1 when every element of x[0..<count] is finite (no NaN, no infinity), else 0 (threads
/// share large buffers).
int ck_all_finite(const float *x, size_t count);
/// The index of the first of the n buffers (x[i] of counts[i] floats) holding a NaN or an
/// infinity, or -1 when all are finite: one parallel pass over all of them.
int ck_first_nonfinite(const float *const *x, const size_t *counts, int n);

// MARK: - Sum to all

/// For every i < count: s = (copies[0][i] + copies[1][i] + ... + copies[n-1][i]) * scale, summed
/// in copy order, then copies[k][i] = s for every k: all n copies end with the same bits (an
/// all-reduce's arithmetic over buffers one process can address; scale 1/n for the mean).
/// Threads share large counts.
void ck_sum_to_all(float *const *copies, int n, size_t count, float scale);

// MARK: - Dropout

/// y = x * mask; mask holds 0 or 1/(1-p) (inverted dropout), drawn by the caller.
void ck_dropout_forward(float *y, const float *x, const float *mask, size_t count);
/// dx = dy * mask, written or added per accumulate.
void ck_dropout_backward(float *dx, const float *dy, const float *mask, size_t count, int accumulate);

// MARK: - Optimizer steps (torch.optim update rules, in place over flat buffers)
// As in PyTorch's code, maximize negates the raw gradient before L2 weight decay is added.

/// One parameter's buffers for an optimizer step over many parameters in one call: its
/// value, gradient and count, and the optimizer's per-element state in the order of the
/// one-tensor function's arguments (SGD: momentum_buf; Adam: exp_avg, exp_avg_sq,
/// max_exp_avg_sq), NULL where unused.
typedef struct {
    float *param;
    const float *grad;
    float *state[3];
    size_t count;
} ck_param_buffers;

/// SGD: g = (maximize ? -grad : grad) + weight_decay * param; with momentum,
/// buf = g on the first step, else momentum * buf + (1 - dampening) * g;
/// g = nesterov ? g + momentum * buf : buf; param -= lr * g.
typedef struct {
    float lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
} ck_sgd_params;
/// momentum_buf may be NULL when momentum == 0. step counts from 1.
void ck_sgd_step(float *param, float *momentum_buf, const float *grad, size_t count,
                 const ck_sgd_params *p, int64_t step);
/// ck_sgd_step on each of the n tensors, in one parallel region over all their elements.
void ck_sgd_step_many(const ck_param_buffers *tensors, int n, const ck_sgd_params *p, int64_t step);

/// AdaGrad: clr = lr / (1 + (step - 1) * lr_decay); sum += g^2; param -= clr * g / (sqrt(sum) + eps).
typedef struct {
    float lr, lr_decay, weight_decay, eps;
    int maximize;
} ck_adagrad_params;
void ck_adagrad_step(float *param, float *state_sum, const float *grad, size_t count,
                     const ck_adagrad_params *p, int64_t step);

/// RMSProp: v = alpha * v + (1 - alpha) * g^2; centered subtracts the squared mean of g;
/// with momentum, buf = momentum * buf + g / (sqrt(v~) + eps), param -= lr * buf;
/// else param -= lr * g / (sqrt(v~) + eps).
typedef struct {
    float lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} ck_rmsprop_params;
/// momentum_buf may be NULL when momentum == 0; grad_avg may be NULL unless centered.
void ck_rmsprop_step(float *param, float *square_avg, float *momentum_buf, float *grad_avg,
                     const float *grad, size_t count, const ck_rmsprop_params *p);

/// Adam / AdamW: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; with amsgrad vmax = max(vmax, v);
/// param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
/// Adam adds weight_decay * param to g; AdamW (decoupled) multiplies param by 1 - lr * wd first.
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    int amsgrad, maximize, decoupled_weight_decay;
} ck_adam_params;
/// max_exp_avg_sq may be NULL unless amsgrad. step counts from 1.
void ck_adam_step(float *param, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                  const float *grad, size_t count, const ck_adam_params *p, int64_t step);
/// ck_adam_step on each of the n tensors, in one parallel region over all their elements.
void ck_adam_step_many(const ck_param_buffers *tensors, int n, const ck_adam_params *p, int64_t step);

// MARK: - Bias helpers (dense layers)

/// y (n,c,s) += bias (c) broadcast over n and s.
void ck_bias_add_forward(float *y, const float *bias, int n, int c, int s);
/// dbias (c) += sum of dy (n,c,s) over n and s.
void ck_bias_add_backward(float *dbias, const float *dy, int n, int c, int s);

#ifdef __cplusplus
}
#endif

#endif // CKERNELS_H
