// Sum to all: the arithmetic of an all-reduce over copies that one process can address
// (data-parallel ranks on one node, their gradient buckets in memory they all map). Each
// element is summed over the copies in copy order, scaled, and written back into every copy,
// so all copies end with the same bits. A rank calls it on its own slice of the buckets.
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>

// Below this many elements (256 KiB a copy) a fork/join costs more than the pass saves.
#define CK_SUM_TO_ALL_PARALLEL_MIN 65536

// Elements [begin, end): the region's body, a function of its own so that its AVX2/AVX-512
// clones apply (see ck_target.h). Two copies (two ranks) get a loop of their own: the
// general one's inner loop over the copies keeps the compiler from vectorizing over i.
static CK_MULTIVERSION void ck_sum_to_all_range(float *const *copies, int n, float scale, long begin, long end) {
    if (n == 2) {
        float *a = copies[0], *b = copies[1];
        for (long i = begin; i < end; i++) {
            const float s = (a[i] + b[i]) * scale;
            a[i] = s;
            b[i] = s;
        }
        return;
    }
    for (long i = begin; i < end; i++) {
        float s = copies[0][i];
        for (int k = 1; k < n; k++) s += copies[k][i];
        s *= scale;
        for (int k = 0; k < n; k++) copies[k][i] = s;
    }
}

void ck_sum_to_all(float *const *copies, int n, size_t count, float scale) {
    assert(n >= 1 && copies != NULL);
    for (int k = 0; k < n; k++) assert(count == 0 || copies[k] != NULL);
    #pragma omp parallel if (count >= CK_SUM_TO_ALL_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)count);
        ck_sum_to_all_range(copies, n, scale, r.begin, r.end);
    }
}
