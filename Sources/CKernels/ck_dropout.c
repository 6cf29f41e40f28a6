// Inverted dropout as a mask multiply; the caller draws the mask (0 or 1/(1-p)), so the
// kernel is deterministic and holds no random state.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Below this many elements the OpenMP fork/join costs more than the loop itself.
#define CK_DROPOUT_PARALLEL_MIN 32768

// Elements [begin, end) of the forward and the backward: the bodies of their parallel
// regions, functions of their own so that their AVX2/AVX-512 clones apply (see ck_target.h).
static CK_MULTIVERSION void ck_dropout_forward_range(float *y, const float *x, const float *mask,
                                                     long begin, long end) {
    for (long i = begin; i < end; i++) y[i] = x[i] * mask[i];
}

static CK_MULTIVERSION void ck_dropout_backward_range(float *dx, const float *dy, const float *mask,
                                                      long begin, long end, int accumulate) {
    for (long i = begin; i < end; i++) dx[i] = (accumulate ? dx[i] : 0.0f) + dy[i] * mask[i];
}

// x, mask, y are (count).
void ck_dropout_forward(float *y, const float *x, const float *mask, size_t count) {
    assert(count == 0 || (y != NULL && x != NULL && mask != NULL));
    #pragma omp parallel if (count > CK_DROPOUT_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_dropout_forward_range(y, x, mask, r.begin, r.end);
    }
}

// dy, mask, dx are (count).
void ck_dropout_backward(float *dx, const float *dy, const float *mask, size_t count, int accumulate) {
    assert(count == 0 || (dx != NULL && dy != NULL && mask != NULL));
    #pragma omp parallel if (count > CK_DROPOUT_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_dropout_backward_range(dx, dy, mask, r.begin, r.end, accumulate);
    }
}
