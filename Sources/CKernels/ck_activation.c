// Element-wise activations and PReLU, forward and backward.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <math.h>

// Below this many elements the OpenMP fork/join costs more than the loop itself.
#define CK_ELEMENTWISE_PARALLEL_MIN 32768

// One flat loop over the calling thread's slice [begin, end) (the enclosing worker's). The
// switch sits outside the loop so every body is branch-free (ternaries become selects) and
// the compiler can vectorize it.
#define CK_MAP(body) for (long i = begin; i < end; i++) { body; }

// The logistic function in a form that never overflows: exp(-|x|) <= 1, and the two
// branches are the same function rearranged.
static inline float ck_sigmoid(float x) {
    const float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// dx[i] += term, or dx[i] = term when not accumulating: two loops, so that the writing
// one never reads dx (its old contents may be anything, NaN included).
#define CK_MAP_GRADIENT(term)                 \
    if (accumulate) { CK_MAP(dx[i] += (term)); } \
    else { CK_MAP(dx[i] = (term)); }

// Elements [begin, end) of ck_activation_forward: its parallel region's body, a function of
// its own so that its AVX2/AVX-512 clones apply (see ck_target.h).
static CK_MULTIVERSION
void ck_activation_forward_range(float *y, const float *x, long begin, long end, ck_activation kind,
                                 float alpha) {
    switch (kind) {
    case CK_ACT_IDENTITY:
        CK_MAP(y[i] = x[i]);
        break;
    case CK_ACT_BINARY_STEP:
        CK_MAP(y[i] = x[i] >= 0.0f ? 1.0f : 0.0f);
        break;
    case CK_ACT_SIGMOID:
        CK_MAP(y[i] = ck_sigmoid(x[i]));
        break;
    case CK_ACT_TANH:
        CK_MAP(y[i] = tanhf(x[i]));
        break;
    case CK_ACT_ARCTAN:
        CK_MAP(y[i] = atanf(x[i]));
        break;
    case CK_ACT_RELU:
        CK_MAP(y[i] = x[i] < 0.0f ? 0.0f : x[i]);  // NaN passes through, as in PyTorch
        break;
    case CK_ACT_LEAKY_RELU:
        CK_MAP(y[i] = x[i] > 0.0f ? x[i] : alpha * x[i]);
        break;
    case CK_ACT_ELU:
        CK_MAP(y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]));
        break;
    case CK_ACT_SOFTPLUS:
        // max(x,0) + log1p(exp(-|x|)): no overflow for large x, no log(1) loss for small.
        CK_MAP(y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i]))));
        break;
    default:
        assert(!"ck_activation_forward: unknown activation kind");
    }
}

// x and y are (count).
void ck_activation_forward(float *y, const float *x, size_t count, ck_activation kind, float alpha) {
    assert(count == 0 || (y != NULL && x != NULL));
    #pragma omp parallel if (count > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_activation_forward_range(y, x, r.begin, r.end, kind, alpha);
    }
}

// Elements [begin, end) of ck_activation_backward (for every kind but the binary step), as
// ck_activation_forward_range.
static CK_MULTIVERSION
void ck_activation_backward_range(float *dx, const float *dy, const float *x, const float *y,
                                  long begin, long end, ck_activation kind, float alpha, int accumulate) {
    switch (kind) {
    case CK_ACT_IDENTITY:
        CK_MAP_GRADIENT(dy[i]);
        break;
    case CK_ACT_SIGMOID:
        CK_MAP_GRADIENT(dy[i] * y[i] * (1.0f - y[i]));
        break;
    case CK_ACT_TANH:
        CK_MAP_GRADIENT(dy[i] * (1.0f - y[i] * y[i]));
        break;
    case CK_ACT_ARCTAN:
        CK_MAP_GRADIENT(dy[i] / (1.0f + x[i] * x[i]));
        break;
    case CK_ACT_RELU:
        CK_MAP_GRADIENT(x[i] > 0.0f ? dy[i] : 0.0f);
        break;
    case CK_ACT_LEAKY_RELU:
        CK_MAP_GRADIENT(x[i] > 0.0f ? dy[i] : alpha * dy[i]);
        break;
    case CK_ACT_ELU:
        // For x <= 0, y = alpha * (exp(x) - 1), so alpha * exp(x) = y + alpha.
        CK_MAP_GRADIENT(x[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha));
        break;
    case CK_ACT_SOFTPLUS:
        // softplus' = sigmoid(x).
        CK_MAP_GRADIENT(dy[i] * ck_sigmoid(x[i]));
        break;
    default:
        assert(!"ck_activation_backward: unknown activation kind");
    }
}

// dy, x, y, dx are (count). Sigmoid, tanh and the negative side of ELU read y (no exp);
// the others read x. Derivatives at the kinks follow PyTorch: ReLU'(0) = 0,
// LeakyReLU'(0) = alpha, ELU'(0) = alpha.
void ck_activation_backward(float *dx, const float *dy, const float *x, const float *y,
                            size_t count, ck_activation kind, float alpha, int accumulate) {
    assert(count == 0 || (dx != NULL && dy != NULL && x != NULL));
    assert(count == 0 || y != NULL
           || (kind != CK_ACT_SIGMOID && kind != CK_ACT_TANH && kind != CK_ACT_ELU));
    if (kind == CK_ACT_BINARY_STEP) {
        // Derivative 0 everywhere: nothing to add.
        if (!accumulate) ck_fill(dx, 0.0f, count);
        return;
    }
    #pragma omp parallel if (count > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_activation_backward_range(dx, dy, x, y, r.begin, r.end, kind, alpha, accumulate);
    }
}

// Elements [begin, end) of ck_add_relu_forward and ck_add_relu_backward (CK_MULTIVERSION
// workers, as above).
static CK_MULTIVERSION void ck_add_relu_forward_range(float *restrict y, const float *restrict a,
                                                      const float *restrict b, long begin, long end) {
    CK_MAP(const float s = a[i] + b[i]; y[i] = s < 0.0f ? 0.0f : s);  // NaN passes through, as ReLU
}

// da and db may be one buffer (a + a), so they are not restrict.
static CK_MULTIVERSION void ck_add_relu_backward_range(float *da, float *db, const float *restrict dy,
                                                       const float *restrict y, long begin, long end,
                                                       int accumulate_a, int accumulate_b) {
    // Four loops, so that no body branches on the flags and a written gradient is never read.
    if (accumulate_a && accumulate_b) {
        CK_MAP(const float g = y[i] > 0.0f ? dy[i] : 0.0f; da[i] += g; db[i] += g);
    } else if (accumulate_a) {
        CK_MAP(const float g = y[i] > 0.0f ? dy[i] : 0.0f; da[i] += g; db[i] = g);
    } else if (accumulate_b) {
        CK_MAP(const float g = y[i] > 0.0f ? dy[i] : 0.0f; da[i] = g; db[i] += g);
    } else {
        CK_MAP(const float g = y[i] > 0.0f ? dy[i] : 0.0f; da[i] = g; db[i] = g);
    }
}

// y = max(a + b, 0): a residual block's sum and its ReLU in one pass instead of two.
void ck_add_relu_forward(float *y, const float *a, const float *b, size_t count) {
    assert(count == 0 || (y != NULL && a != NULL && b != NULL));
    #pragma omp parallel if (count > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_add_relu_forward_range(y, a, b, r.begin, r.end);
    }
}

// da and db = dy where y > 0, else 0 (ReLU'(0) = 0), each written or added per its flag, in
// one pass over dy and y.
void ck_add_relu_backward(float *da, float *db, const float *dy, const float *y, size_t count,
                          int accumulate_a, int accumulate_b) {
    assert(count == 0 || (da != NULL && db != NULL && dy != NULL && y != NULL));
    #pragma omp parallel if (count > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_add_relu_backward_range(da, db, dy, y, r.begin, r.end, accumulate_a, accumulate_b);
    }
}

// Rows [begin, end) of ck_prelu_forward's (n*c, s) view (a CK_MULTIVERSION worker, as above).
static CK_MULTIVERSION
void ck_prelu_forward_rows(float *y, const float *x, const float *alpha, int c, int s, long begin, long end) {
    for (long row = begin; row < end; row++) {
        const float a = alpha[row % c];
        const float *xr = x + (size_t)row * s;
        float *yr = y + (size_t)row * s;
        for (int k = 0; k < s; k++) yr[k] = xr[k] > 0.0f ? xr[k] : a * xr[k];
    }
}

// x and y are (n,c,s), alpha is (c).
void ck_prelu_forward(float *y, const float *x, const float *alpha, int n, int c, int s) {
    assert(n >= 0 && c >= 0 && s >= 0);
    #pragma omp parallel if ((long)n * c * s > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)n * c);
        ck_prelu_forward_rows(y, x, alpha, c, s, r.begin, r.end);
    }
}

// Channels [begin, end) of ck_prelu_backward (a CK_MULTIVERSION worker, as above).
static CK_MULTIVERSION
void ck_prelu_backward_channels(float *dx, float *dalpha, const float *dy, const float *x,
                                const float *alpha, int n, int c, int s, long begin, long end) {
    for (long j = begin; j < end; j++) {
        const float a = alpha[j];
        float acc = 0.0f;
        for (int i = 0; i < n; i++) {
            const size_t base = ((size_t)i * c + j) * s;
            const float *dyr = dy + base, *xr = x + base;
            float *dxr = dx + base;
            // simd reduction: lets the compiler reorder the float sum and vectorize it.
            #pragma omp simd reduction(+:acc)
            for (int k = 0; k < s; k++) {
                const int positive = xr[k] > 0.0f;
                dxr[k] += positive ? dyr[k] : a * dyr[k];
                acc += positive ? 0.0f : dyr[k] * xr[k];
            }
        }
        dalpha[j] += acc;
    }
}

// dy, x, dx are (n,c,s); alpha, dalpha are (c). Each thread owns a slice of channels, so
// it owns both their dx rows and their dalpha entries: no reduction across threads.
void ck_prelu_backward(float *dx, float *dalpha, const float *dy, const float *x,
                       const float *alpha, int n, int c, int s) {
    assert(n >= 0 && c >= 0 && s >= 0);
    #pragma omp parallel if ((long)n * c * s > CK_ELEMENTWISE_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(c);
        ck_prelu_backward_channels(dx, dalpha, dy, x, alpha, n, c, s, r.begin, r.end);
    }
}
