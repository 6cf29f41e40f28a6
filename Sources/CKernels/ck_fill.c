// Fill: every element of a buffer set to one value, the threads each taking a contiguous
// part. Used for zeroed tensors and for gradient buffers a pullback can only add into
// (parameters' gradients between steps, ops recorded without writing first gradients);
// large ones were filled by one thread while the others waited. Also the two other passes
// over memory that a training step makes outside its layers: gathering a batch's samples,
// and checking the gradients for NaN before the update; one thread ran each while the
// team's others spun (4% and 1% of W1's step at 2 threads).
#include "ckernels.h"
#include "ck_target.h"
#include "ck_threads_internal.h"

#include <assert.h>
#include <string.h>

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

// MARK: - Gather

// Below this many floats (64 KiB) one thread gathers.
#define CK_GATHER_PARALLEL_MIN 16384

void ck_gather_batch(float *dst, const float *src, const int64_t *indices, int64_t rows, int64_t size) {
    assert(rows == 0 || size == 0 || (dst != NULL && src != NULL && indices != NULL));
    #pragma omp parallel if (rows * size >= CK_GATHER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range((long)rows);
        for (long row = r.begin; row < r.end; row++) {
            memcpy(dst + row * size, src + indices[row] * size, (size_t)size * sizeof(float));
        }
    }
}

// MARK: - Finite check

#define CK_FINITE_PARALLEL_MIN 65536

// A float is NaN or an infinity exactly when its exponent bits are all ones, so the
// largest exponent field over the buffer says whether any is: an integer max, which the
// clones vectorize (a float sum of x * 0 would be one dependent chain without fast-math).
static CK_MULTIVERSION int ck_all_finite_range(const float *x, long begin, long end) {
    uint32_t top = 0;
    for (long i = begin; i < end; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        const uint32_t exponent = bits & 0x7F800000u;
        top = exponent > top ? exponent : top;
    }
    return top != 0x7F800000u;
}

int ck_all_finite(const float *x, size_t count) {
    assert(count == 0 || x != NULL);
    int finite = 1;
    #pragma omp parallel if (count >= CK_FINITE_PARALLEL_MIN) num_threads(ck_region_threads()) reduction(&& : finite)
    {
        const ck_range r = ck_thread_range((long)count);
        finite = ck_all_finite_range(x, r.begin, r.end);
    }
    return finite;
}

int ck_first_nonfinite(const float *const *x, const size_t *counts, int n) {
    assert(n >= 0);
    for (int i = 0; i < n; i++) assert(counts[i] == 0 || x[i] != NULL);
    // The buffers end to end, split evenly among the threads (one region, not one per buffer).
    const long total = ck_total_of(counts, sizeof *counts, n);
    int first = n;
    #pragma omp parallel if (total >= CK_FINITE_PARALLEL_MIN) num_threads(ck_region_threads()) reduction(min : first)
    {
        const ck_range r = ck_thread_range(total);
        for (ck_piece_walk it = {-1, 0, 0, 0}; ck_next_piece(counts, sizeof *counts, n, r, &it);) {
            if (!ck_all_finite_range(x[it.i], it.lo, it.hi)) {
                first = it.i;
                break;
            }
        }
    }
    return first < n ? first : -1;
}
