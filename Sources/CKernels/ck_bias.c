// Bias broadcast over a batch, and its gradient.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Images [begin, end) of ck_bias_add_forward: its parallel region's body, a function of its
// own so that its AVX2/AVX-512 clones apply (see ck_target.h).
static CK_MULTIVERSION
void ck_bias_add_forward_images(float *y, const float *bias, int c, int s, long begin, long end) {
    for (long i = begin; i < end; i++) {
        for (int j = 0; j < c; j++) {
            float *row = y + ((size_t)i * c + j) * s;
            const float b = bias[j];
            for (int k = 0; k < s; k++) row[k] += b;
        }
    }
}

// y is (n,c,s), bias is (c).
void ck_bias_add_forward(float *y, const float *bias, int n, int c, int s) {
    assert(n >= 0 && c >= 0 && s >= 0);
    #pragma omp parallel if ((long)n * c * s > 32768) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(n);
        ck_bias_add_forward_images(y, bias, c, s, r.begin, r.end);
    }
}

// Channels [begin, end) of ck_bias_add_backward (a CK_MULTIVERSION worker, as above).
static CK_MULTIVERSION
void ck_bias_add_backward_channels(float *dbias, const float *dy, int n, int c, int s, long begin, long end) {
    for (long j = begin; j < end; j++) {
        float acc = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *row = dy + ((size_t)i * c + j) * s;
            for (int k = 0; k < s; k++) acc += row[k];
        }
        dbias[j] += acc;
    }
}

// dy is (n,c,s), dbias is (c). Each thread owns a slice of channels.
void ck_bias_add_backward(float *dbias, const float *dy, int n, int c, int s) {
    assert(n >= 0 && c >= 0 && s >= 0);
    if (s == 1) {
        // A dense layer's bias: summing whole rows vectorizes; a column walk per channel does not.
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * c;
            for (int j = 0; j < c; j++) dbias[j] += row[j];
        }
        return;
    }
    #pragma omp parallel if ((long)n * c * s > 32768) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(c);
        ck_bias_add_backward_channels(dbias, dy, n, c, s, r.begin, r.end);
    }
}
