// Fill: every element of a buffer set to one value, the threads each taking a contiguous
// part. Used for zeroed tensors and for gradient buffers a pullback can only add into
// (parameters' gradients between steps, ops recorded without writing first gradients);
// large ones were filled by one thread while the others waited.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Below this many elements (256 KiB) a fork/join costs more than the fill saves.
#define CK_FILL_PARALLEL_MIN 65536

// Elements [begin, end): the region's body, a function of its own so that its AVX2/AVX-512
// clones apply (see ck_target.h).
static CK_MULTIVERSION void ck_fill_range(float *x, float value, long begin, long end) {
    for (long i = begin; i < end; i++) x[i] = value;
}

void ck_fill(float *x, float value, size_t count) {
    assert(count == 0 || x != NULL);
    #pragma omp parallel if (count >= CK_FILL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_fill_range(x, value, r.begin, r.end);
    }
}
