// Fill: every element of a buffer set to one value, the threads each taking a contiguous
// part. Used for zeroed tensors and for gradient buffers a pullback can only add into
// (parameters' gradients between steps, ops recorded without writing first gradients);
// large ones were filled by one thread while the others waited.
#include "ckernels.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Below this many elements (256 KiB) a fork/join costs more than the fill saves.
#define CK_FILL_PARALLEL_MIN 65536

void ck_fill(float *x, float value, size_t count) {
    assert(count == 0 || x != NULL);
    #pragma omp parallel for schedule(static) if (count >= CK_FILL_PARALLEL_MIN) num_threads(ck_region_threads())
    for (size_t i = 0; i < count; i++) x[i] = value;
}
