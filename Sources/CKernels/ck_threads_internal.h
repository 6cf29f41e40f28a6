// The thread count of every OpenMP region in the kernels (see ck_threads.c). Every
// `#pragma omp parallel` in this directory carries num_threads(ck_region_threads()) and
// every per-thread workspace is sized by it, so the count holds whichever OS thread calls
// a kernel: libomp's own count (omp_set_num_threads) is a setting of the calling thread.
#ifndef CK_THREADS_INTERNAL_H
#define CK_THREADS_INTERNAL_H

/// The process-wide count in force (ck_get_num_threads), after applying the configured
/// waiting (ck_configure_thread_waiting) to the calling thread the first time it asks.
int ck_region_threads(void);

#endif
