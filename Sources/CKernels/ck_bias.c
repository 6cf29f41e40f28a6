// Bias broadcast over a batch, and its gradient.
#include "ckernels.h"
#include "ck_threads_internal.h"

#include <assert.h>

// y is (n,c,s), bias is (c).
void ck_bias_add_forward(float *y, const float *bias, int n, int c, int s) {
    assert(n >= 0 && c >= 0 && s >= 0);
    #pragma omp parallel for schedule(static) if ((long)n * c * s > 32768) num_threads(ck_region_threads())
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < c; j++) {
            float *row = y + ((size_t)i * c + j) * s;
            const float b = bias[j];
            for (int k = 0; k < s; k++) row[k] += b;
        }
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
    #pragma omp parallel for schedule(static) if ((long)n * c * s > 32768) num_threads(ck_region_threads())
    for (int j = 0; j < c; j++) {
        float acc = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *row = dy + ((size_t)i * c + j) * s;
            for (int k = 0; k < s; k++) acc += row[k];
        }
        dbias[j] += acc;
    }
}
