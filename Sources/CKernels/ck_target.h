// ck_target.h: the kernels' use of the CPU's vector extensions, chosen at run time.
//
// The package compiles the kernels for each architecture's baseline (x86-64: SSE2), never
// -march=native, so one binary runs on any x86-64 machine (and the same sources compile for
// aarch64). On x86-64 the hot functions are also compiled for newer CPUs and the best
// version is picked at run time:
// - CK_MULTIVERSION on a function: clones for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA)
//   and the baseline; the dynamic loader picks one (an ifunc) from the CPU's features.
//   Put it on the function that does the work INSIDE an OpenMP region: clang compiles a
//   `#pragma omp parallel` body as a separate function that does not inherit the clone's
//   target (checked in the object code with clang 21), so a clone of the function that
//   opens the region gains nothing there.
//   The region hands each thread its share, ck_thread_range below, and calls the worker.
// - CK_TARGET_AVX2 on code written with AVX2/FMA intrinsics (and the inline helpers it
//   calls); call it only when ck_cpu_has_avx2_fma() is true.
// Elsewhere (aarch64) CK_X86 is 0 and both macros expand to nothing.
#ifndef CK_TARGET_H
#define CK_TARGET_H

#include <omp.h>

#if defined(__x86_64__) && !defined(CK_NO_MULTIVERSION)
#define CK_X86 1
#define CK_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define CK_TARGET_AVX2 __attribute__((target("avx2,fma")))
/// 1 if the CPU runs AVX2 and FMA (cached by the runtime's CPU model; cheap to call).
static inline int ck_cpu_has_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
#define CK_X86 0
#define CK_MULTIVERSION
#define CK_TARGET_AVX2
static inline int ck_cpu_has_avx2_fma(void) { return 0; }
#endif

/// One thread's iterations [begin, end) of a loop.
typedef struct { long begin, end; } ck_range;

/// The calling OpenMP thread's share of iterations [0, count) as `schedule(static)` deals
/// them in libomp (contiguous chunks of ceil(count / threads), in thread order), so a region
/// whose loop moved into a CK_MULTIVERSION worker splits the work, and orders any per-thread
/// partial sums, as its `parallel for` did. Outside a region: all of [0, count).
static inline ck_range ck_thread_range(long count) {
    const long threads = omp_get_num_threads(), t = omp_get_thread_num();
    const long chunk = (count + threads - 1) / threads;
    const long begin = t * chunk < count ? t * chunk : count;
    return (ck_range){begin, count - begin > chunk ? begin + chunk : count};
}

/// For loops over n buffers taken end to end, whose element counts are size_t fields
/// `stride` bytes apart from `counts` (an array of counts, or the count field of an array of
/// structs): their total, and a walk over the pieces of them that a thread's range covers.
static inline long ck_total_of(const void *counts, size_t stride, int n) {
    long total = 0;
    for (int i = 0; i < n; i++) total += (long)*(const size_t *)((const char *)counts + (size_t)i * stride);
    return total;
}

/// Buffer i's elements [lo, hi) in a walk; start it at {-1, 0, 0, 0}.
typedef struct { int i; long offset, lo, hi; } ck_piece_walk;

/// Advances `it` to the next buffer the range r covers part of; 0 when there is none.
static inline int ck_next_piece(const void *counts, size_t stride, int n, ck_range r, ck_piece_walk *it) {
    for (;;) {
        if (it->i >= 0) it->offset += (long)*(const size_t *)((const char *)counts + (size_t)it->i * stride);
        if (++it->i >= n || it->offset >= r.end) return 0;
        const long count = (long)*(const size_t *)((const char *)counts + (size_t)it->i * stride);
        it->lo = r.begin > it->offset ? r.begin - it->offset : 0;
        it->hi = r.end < it->offset + count ? r.end - it->offset : count;
        if (it->lo < it->hi) return 1;
    }
}

#endif // CK_TARGET_H
