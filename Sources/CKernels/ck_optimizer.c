// Optimizer steps in place over flat float buffers, following torch.optim's update rules
// (the single-tensor implementations). Every element is independent, so each step is one
// parallel region whose threads own contiguous slices of every buffer; the loop is a
// CK_MULTIVERSION worker over a thread's slice [begin, end), called from the region (see
// ck_target.h: the region's own body would be baseline code).
//
// Shared conventions, as in PyTorch's code:
// - maximize negates the raw gradient first; L2 weight decay is then added to the
//   negated gradient (so decay still pulls parameters towards zero when maximizing).
// - Scalar factors (bias corrections, decayed learning rates) are computed in double once
//   per call and rounded to float; the per-element math is float.
// - Options are loop-invariant branches, which the compiler unswitches out of the loops.
#include "ckernels.h"
#include "ck_threads_internal.h"
#include "ck_target.h"

#include <assert.h>
#include <math.h>

// Below this many elements the OpenMP fork/join costs more than the loop itself.
#define CK_OPTIMIZER_PARALLEL_MIN 32768

// The _many steps update a model's parameters in one parallel region, their elements taken
// end to end and divided evenly among the threads (PyTorch's multi-tensor "foreach"
// optimizers): a region per parameter left every one under the threshold above to a single
// thread, and cost a fork and join each. Each element is updated exactly as alone. The
// walk over the pieces is ck_target.h's, over the tensors' count fields (t may be NULL when
// n is 0).
#define CK_TOTAL(t, n) ((n) > 0 ? ck_total_of(&(t)[0].count, sizeof *(t), (n)) : 0)
#define CK_NEXT_PIECE(t, n, r, it) ((n) > 0 && ck_next_piece(&(t)[0].count, sizeof *(t), (n), (r), (it)))

// sqrtf may set errno (the build keeps -fmath-errno), which leaves it a library call that
// blocks vectorization of the whole loop; the element-wise builtin is the same correctly
// rounded IEEE square root without errno.
static inline float ck_sqrtf(float x) {
#if defined(__has_builtin) && __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(x);
#else
    return sqrtf(x);
#endif
}

// SGD's update of elements [begin, end).
static CK_MULTIVERSION
void ck_sgd_range(float *param, float *momentum_buf, const float *grad, long begin, long end, float lr,
                  float wd, float mu, float keep, float sign, int nesterov, int first) {
    if (mu == 0.0f) {
        for (long i = begin; i < end; i++) {
            float g = sign * grad[i];
            if (wd != 0.0f) g += wd * param[i];
            param[i] -= lr * g;
        }
    } else {
        for (long i = begin; i < end; i++) {
            float g = sign * grad[i];
            if (wd != 0.0f) g += wd * param[i];
            const float b = first ? g : mu * momentum_buf[i] + keep * g;
            momentum_buf[i] = b;
            param[i] -= lr * (nesterov ? g + mu * b : b);
        }
    }
}

// param, momentum_buf, grad are (count): the one-tensor case of ck_sgd_step_many.
void ck_sgd_step(float *param, float *momentum_buf, const float *grad, size_t count,
                 const ck_sgd_params *p, int64_t step) {
    const ck_param_buffers t = {param, grad, {momentum_buf, NULL, NULL}, count};
    ck_sgd_step_many(&t, 1, p, step);
}

void ck_sgd_step_many(const ck_param_buffers *t, int n, const ck_sgd_params *p, int64_t step) {
    assert(p != NULL && step >= 1 && n >= 0);
    assert(p->lr >= 0.0f && p->momentum >= 0.0f && p->weight_decay >= 0.0f);
    for (int i = 0; i < n; i++) assert(p->momentum == 0.0f || t[i].count == 0 || t[i].state[0] != NULL);
    // PyTorch rejects Nesterov without momentum or with dampening.
    assert(!p->nesterov || (p->momentum > 0.0f && p->dampening == 0.0f));
    const float lr = p->lr, wd = p->weight_decay, mu = p->momentum;
    const float keep = 1.0f - p->dampening;
    const float sign = p->maximize ? -1.0f : 1.0f;
    const int nesterov = p->nesterov;
    // PyTorch seeds the buffer with the first gradient itself (no dampening).
    const int first = step == 1;
    const long total = CK_TOTAL(t, n);
    #pragma omp parallel if (total > CK_OPTIMIZER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(total);
        for (ck_piece_walk it = {-1, 0, 0, 0}; CK_NEXT_PIECE(t, n, r, &it);) {
            const ck_param_buffers *b = &t[it.i];
            ck_sgd_range(b->param, b->state[0], b->grad, it.lo, it.hi, lr, wd, mu, keep, sign, nesterov, first);
        }
    }
}

// AdaGrad's update of elements [begin, end).
static CK_MULTIVERSION
void ck_adagrad_range(float *param, float *state_sum, const float *grad, long begin, long end,
                      float clr, float wd, float eps, float sign) {
    for (long i = begin; i < end; i++) {
        float g = sign * grad[i];
        if (wd != 0.0f) g += wd * param[i];
        const float s = state_sum[i] + g * g;
        state_sum[i] = s;
        param[i] -= clr * g / (ck_sqrtf(s) + eps);
    }
}

// param, state_sum, grad are (count).
void ck_adagrad_step(float *param, float *state_sum, const float *grad, size_t count,
                     const ck_adagrad_params *p, int64_t step) {
    assert(p != NULL && step >= 1);
    assert(p->lr >= 0.0f && p->lr_decay >= 0.0f && p->weight_decay >= 0.0f && p->eps >= 0.0f);
    assert(count == 0 || state_sum != NULL);
    const float clr = (float)((double)p->lr / (1.0 + (double)(step - 1) * (double)p->lr_decay));
    const float wd = p->weight_decay, eps = p->eps;
    const float sign = p->maximize ? -1.0f : 1.0f;
    #pragma omp parallel if (count > CK_OPTIMIZER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_adagrad_range(param, state_sum, grad, r.begin, r.end, clr, wd, eps, sign);
    }
}

// RMSProp's update of elements [begin, end).
static CK_MULTIVERSION
void ck_rmsprop_range(float *param, float *square_avg, float *momentum_buf, float *grad_avg,
                      const float *grad, long begin, long end, float lr, float alpha, float eps,
                      float wd, float mu, float one_minus_alpha, float sign, int centered, int use_momentum) {
    for (long i = begin; i < end; i++) {
        float g = sign * grad[i];
        if (wd != 0.0f) g += wd * param[i];
        const float v = alpha * square_avg[i] + one_minus_alpha * g * g;
        square_avg[i] = v;
        float var = v;
        if (centered) {
            const float mean = alpha * grad_avg[i] + one_minus_alpha * g;
            grad_avg[i] = mean;
            var = v - mean * mean;
        }
        const float update = g / (ck_sqrtf(var) + eps);
        if (use_momentum) {
            const float b = mu * momentum_buf[i] + update;
            momentum_buf[i] = b;
            param[i] -= lr * b;
        } else {
            param[i] -= lr * update;
        }
    }
}

// param, square_avg, momentum_buf, grad_avg, grad are (count). The buffers arrive
// zero-initialized on the first step (PyTorch starts them at zero), so no step count.
void ck_rmsprop_step(float *param, float *square_avg, float *momentum_buf, float *grad_avg,
                     const float *grad, size_t count, const ck_rmsprop_params *p) {
    assert(p != NULL);
    assert(p->lr >= 0.0f && p->alpha >= 0.0f && p->eps >= 0.0f);
    assert(p->weight_decay >= 0.0f && p->momentum >= 0.0f);
    assert(count == 0 || square_avg != NULL);
    assert(count == 0 || p->momentum == 0.0f || momentum_buf != NULL);
    assert(count == 0 || !p->centered || grad_avg != NULL);
    const float lr = p->lr, alpha = p->alpha, eps = p->eps;
    const float wd = p->weight_decay, mu = p->momentum;
    const float one_minus_alpha = 1.0f - alpha;
    const float sign = p->maximize ? -1.0f : 1.0f;
    const int centered = p->centered, use_momentum = mu > 0.0f;
    #pragma omp parallel if (count > CK_OPTIMIZER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_rmsprop_range(param, square_avg, momentum_buf, grad_avg, grad, r.begin, r.end, lr, alpha, eps,
                         wd, mu, one_minus_alpha, sign, centered, use_momentum);
    }
}

// Adam's update of elements [begin, end).
static CK_MULTIVERSION
void ck_adam_range(float *param, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                   const float *grad, long begin, long end, float step_size, float inv_sqrt_bc2,
                   float b1, float b2, float eps, float one_minus_b1, float one_minus_b2, float sign,
                   float l2, float shrink, int amsgrad) {
    for (long i = begin; i < end; i++) {
        float g = sign * grad[i];
        float w = param[i];
        if (l2 != 0.0f) g += l2 * w;
        if (shrink != 1.0f) w *= shrink;
        const float m = b1 * exp_avg[i] + one_minus_b1 * g;
        const float v = b2 * exp_avg_sq[i] + one_minus_b2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        float vhat = v;
        if (amsgrad) {
            vhat = fmaxf(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = vhat;
        }
        param[i] = w - step_size * m / (ck_sqrtf(vhat) * inv_sqrt_bc2 + eps);
    }
}

// param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad are (count): the one-tensor case of
// ck_adam_step_many.
void ck_adam_step(float *param, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                  const float *grad, size_t count, const ck_adam_params *p, int64_t step) {
    const ck_param_buffers t = {param, grad, {exp_avg, exp_avg_sq, max_exp_avg_sq}, count};
    ck_adam_step_many(&t, 1, p, step);
}

void ck_adam_step_many(const ck_param_buffers *t, int n, const ck_adam_params *p, int64_t step) {
    assert(p != NULL && step >= 1 && n >= 0);
    assert(p->lr >= 0.0f && p->eps >= 0.0f && p->weight_decay >= 0.0f);
    assert(p->beta1 >= 0.0f && p->beta1 < 1.0f && p->beta2 >= 0.0f && p->beta2 < 1.0f);
    for (int i = 0; i < n; i++) {
        assert(t[i].count == 0 || (t[i].state[0] != NULL && t[i].state[1] != NULL));
        assert(t[i].count == 0 || !p->amsgrad || t[i].state[2] != NULL);
    }
    const double bias_correction1 = 1.0 - pow((double)p->beta1, (double)step);
    const double bias_correction2 = 1.0 - pow((double)p->beta2, (double)step);
    const float step_size = (float)((double)p->lr / bias_correction1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bias_correction2));
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
    const float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
    const float sign = p->maximize ? -1.0f : 1.0f;
    const int decoupled = p->decoupled_weight_decay, amsgrad = p->amsgrad;
    // Adam folds decay into the gradient (L2); AdamW shrinks the parameter directly.
    const float l2 = decoupled ? 0.0f : p->weight_decay;
    const float shrink = decoupled ? (float)(1.0 - (double)p->lr * (double)p->weight_decay) : 1.0f;
    const long total = CK_TOTAL(t, n);
    #pragma omp parallel if (total > CK_OPTIMIZER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(total);
        for (ck_piece_walk it = {-1, 0, 0, 0}; CK_NEXT_PIECE(t, n, r, &it);) {
            const ck_param_buffers *b = &t[it.i];
            ck_adam_range(b->param, b->state[0], b->state[1], b->state[2], b->grad, it.lo, it.hi, step_size,
                          inv_sqrt_bc2, b1, b2, eps, one_minus_b1, one_minus_b2, sign, l2, shrink, amsgrad);
        }
    }
}
