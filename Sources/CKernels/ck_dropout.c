// Inverted dropout as a mask multiply; the caller draws the mask (0 or 1/(1-p)), so the
// kernel is deterministic and holds no random state.
#include "ckernels.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Below this many elements the OpenMP fork/join costs more than the loop itself.
#define CK_DROPOUT_PARALLEL_MIN 32768

// x, mask, y are (count).
void ck_dropout_forward(float *y, const float *x, const float *mask, size_t count) {
    assert(count == 0 || (y != NULL && x != NULL && mask != NULL));
    #pragma omp parallel for schedule(static) if (count > CK_DROPOUT_PARALLEL_MIN) num_threads(ck_region_threads())
    for (size_t i = 0; i < count; i++) y[i] = x[i] * mask[i];
}

// dy, mask, dx are (count).
void ck_dropout_backward(float *dx, const float *dy, const float *mask, size_t count, int accumulate) {
    assert(count == 0 || (dx != NULL && dy != NULL && mask != NULL));
    #pragma omp parallel for schedule(static) if (count > CK_DROPOUT_PARALLEL_MIN) num_threads(ck_region_threads())
    for (size_t i = 0; i < count; i++) dx[i] = (accumulate ? dx[i] : 0.0f) + dy[i] * mask[i];
}
