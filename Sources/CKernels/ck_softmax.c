// Row-wise softmax, log-softmax and fused softmax cross-entropy, forward and backward.
// Rows are independent, so OpenMP splits rows and each thread owns its output rows; each
// kernel's loop is a CK_MULTIVERSION worker over a thread's rows [begin, end), called from
// the region (see ck_target.h: the region's own body would be baseline code).
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <math.h>

// Below this many elements the OpenMP fork/join costs more than the work.
#define CK_SOFTMAX_PARALLEL_MIN 16384

static inline float row_max(const float *x, int cols) {
    float m = -INFINITY;
    for (int j = 0; j < cols; j++) m = fmaxf(m, x[j]);
    return m;
}

// y[j] = exp(x[j] - max) for one row; returns the sum of y. The sum runs in double so a
// long row of similar values does not lose the small terms.
static inline double row_exp_shifted(float *y, const float *x, int cols, float max) {
    double sum = 0.0;
    for (int j = 0; j < cols; j++) {
        y[j] = expf(x[j] - max);
        sum += y[j];
    }
    return sum;
}

static CK_MULTIVERSION void ck_softmax_forward_rows(float *y, const float *x, int cols, long begin,
                                                    long end) {
    for (long r = begin; r < end; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        const float inv = (float)(1.0 / row_exp_shifted(yr, xr, cols, row_max(xr, cols)));
        for (int j = 0; j < cols; j++) yr[j] *= inv;
    }
}

// x and y are (rows,cols).
void ck_softmax_forward(float *y, const float *x, int rows, int cols) {
    assert(rows >= 0 && cols > 0);
    #pragma omp parallel if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_softmax_forward_rows(y, x, cols, r.begin, r.end);
    }
}

static CK_MULTIVERSION void ck_softmax_backward_rows(float *dx, const float *dy, const float *y, int cols,
                                                     long begin, long end) {
    for (long r = begin; r < end; r++) {
        const size_t base = (size_t)r * cols;
        const float *dyr = dy + base, *yr = y + base;
        float *dxr = dx + base;
        float dot = 0.0f;
        // simd reduction: lets the compiler reorder the float sum and vectorize it.
        #pragma omp simd reduction(+:dot)
        for (int j = 0; j < cols; j++) dot += dyr[j] * yr[j];
        for (int j = 0; j < cols; j++) dxr[j] += yr[j] * (dyr[j] - dot);
    }
}

// dy, y, dx are (rows,cols); y is the softmax output.
void ck_softmax_backward(float *dx, const float *dy, const float *y, int rows, int cols) {
    assert(rows >= 0 && cols > 0);
    #pragma omp parallel if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_softmax_backward_rows(dx, dy, y, cols, r.begin, r.end);
    }
}

static CK_MULTIVERSION void ck_log_softmax_forward_rows(float *y, const float *x, int cols, long begin,
                                                        long end) {
    for (long r = begin; r < end; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        const float max = row_max(xr, cols);
        const float shift = max + (float)log(row_exp_shifted(yr, xr, cols, max));
        for (int j = 0; j < cols; j++) yr[j] = xr[j] - shift;
    }
}

// x and y are (rows,cols). y = (x - max) - log(sum exp(x - max)); exp(x - max) is
// written to y first as scratch, then overwritten.
void ck_log_softmax_forward(float *y, const float *x, int rows, int cols) {
    assert(rows >= 0 && cols > 0);
    #pragma omp parallel if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_log_softmax_forward_rows(y, x, cols, r.begin, r.end);
    }
}

static CK_MULTIVERSION void ck_log_softmax_backward_rows(float *dx, const float *dy, const float *y,
                                                         int cols, long begin, long end) {
    for (long r = begin; r < end; r++) {
        const size_t base = (size_t)r * cols;
        const float *dyr = dy + base, *yr = y + base;
        float *dxr = dx + base;
        float sum = 0.0f;
        #pragma omp simd reduction(+:sum)
        for (int j = 0; j < cols; j++) sum += dyr[j];
        for (int j = 0; j < cols; j++) dxr[j] += dyr[j] - expf(yr[j]) * sum;
    }
}

// dy, y, dx are (rows,cols); y is the log-softmax output, so exp(y) is the softmax.
void ck_log_softmax_backward(float *dx, const float *dy, const float *y, int rows, int cols) {
    assert(rows >= 0 && cols > 0);
    #pragma omp parallel if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_log_softmax_backward_rows(dx, dy, y, cols, r.begin, r.end);
    }
}

// Rows [begin, end) of ck_softmax_cross_entropy_forward; returns the sum of their losses.
static CK_MULTIVERSION double ck_softmax_cross_entropy_forward_rows(float *probs, const float *logits,
                                                                    const int32_t *labels, int cols,
                                                                    long begin, long end) {
    double total = 0.0;
    for (long r = begin; r < end; r++) {
        const float *xr = logits + (size_t)r * cols;
        float *pr = probs + (size_t)r * cols;
        const int32_t label = labels[r];
        assert(label >= 0 && label < cols);
        const float max = row_max(xr, cols);
        const double sum = row_exp_shifted(pr, xr, cols, max);
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < cols; j++) pr[j] *= inv;
        total += (double)max + log(sum) - (double)xr[label];
    }
    return total;
}

// logits and probs are (rows,cols), labels is (rows) with values in [0, cols).
// The loss of a row is logsumexp(x) - x[label] = (max + log(sum)) - x[label], which stays
// finite for any finite logits, where -log(probs[label]) would be log(0) once the label's
// probability underflows.
float ck_softmax_cross_entropy_forward(float *probs, const float *logits, const int32_t *labels,
                                       int rows, int cols) {
    assert(rows > 0 && cols > 0);
    double total = 0.0;
    // Each thread's rows summed in order, then the threads' sums: as the `parallel for`
    // reduction this replaced.
    #pragma omp parallel reduction(+:total) num_threads(ck_region_threads()) \
        if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN)
    {
        const ck_range r = ck_thread_range(rows);
        total += ck_softmax_cross_entropy_forward_rows(probs, logits, labels, cols, r.begin, r.end);
    }
    return (float)(total / rows);
}

static CK_MULTIVERSION void ck_softmax_cross_entropy_backward_rows(float *dlogits, const float *probs,
                                                                   const int32_t *labels, int cols,
                                                                   float scale, long begin, long end) {
    for (long r = begin; r < end; r++) {
        const size_t base = (size_t)r * cols;
        const float *pr = probs + base;
        float *dr = dlogits + base;
        const int32_t label = labels[r];
        assert(label >= 0 && label < cols);
        // probs[label] - 1 formed before scaling: for a confident row it is tiny, and
        // adding scale * p then subtracting scale would cancel it away.
        const float at_label = dr[label] + scale * (pr[label] - 1.0f);
        for (int j = 0; j < cols; j++) dr[j] += scale * pr[j];
        dr[label] = at_label;
    }
}

// probs and dlogits are (rows,cols), labels is (rows).
void ck_softmax_cross_entropy_backward(float *dlogits, const float *probs, const int32_t *labels,
                                       int rows, int cols, float scale) {
    assert(rows >= 0 && cols > 0);
    #pragma omp parallel if ((long)rows * cols > CK_SOFTMAX_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(rows);
        ck_softmax_cross_entropy_backward_rows(dlogits, probs, labels, cols, scale, r.begin, r.end);
    }
}
