// Threads: one call sets the thread count of OpenMP and OpenBLAS together, and one call
// configures how the two pools wait between kernels. Loading the library changes nothing;
// both are explicit calls (the Swift side's Threads.set makes both).
//
// OpenBLAS (Debian's pthread build) keeps its own pool, and libomp keeps another. They
// never run at once here (BLAS is never called inside an OpenMP region), but a pool that
// waits by spinning steals a core from the one that is working. A training step alternates
// between them a few hundred times (each conv chunk is lowering, GEMM, scatter), so how
// each pool waits decides the 2-thread speed:
//   - OpenBLAS's workers spin (sched_yield) for 2^28 cycles after each GEMM before they
//     sleep, i.e. through every OpenMP loop that follows. ck_configure_thread_waiting
//     makes them sleep at once (OPENBLAS_THREAD_TIMEOUT=4, the minimum: 2^4 cycles); a
//     GEMM then wakes them by a condition variable, which costs a few microseconds per call.
//   - libomp's workers spin for `blocktime` after a parallel region (200 ms by default).
//     With 0 they sleep after every region and each of the next one's wakes goes through a
//     futex; with 1 ms the back-to-back regions of a layer find them awake, and they are
//     asleep before a long GEMM needs the core.
// How these two values were chosen (training runs at other values): docs/performance.md,
// "The two thread pools". A user's own OPENBLAS_THREAD_TIMEOUT or KMP_BLOCKTIME is left in
// force.
#include "ckernels.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

// OpenBLAS reads its environment once when it loads, and its pool takes the spin timeout
// when it starts. These two exported functions (not in cblas.h; weak, so an OpenBLAS
// without them still links) re-read the environment and stop the pool, which restarts on
// the next threaded call with the new timeout. OpenBLAS's own fork handler restarts the
// pool the same way.
extern void openblas_read_env(void) __attribute__((weak));
extern void blas_thread_shutdown_(void) __attribute__((weak));

#define CK_OMP_BLOCKTIME_MS 1

// 0 until the first ck_set_num_threads.
static int ck_threads_in_force = 0;

static int ck_core_count(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

static void ck_configure_thread_waiting_once(void) {
    if (getenv("KMP_BLOCKTIME") == NULL) kmp_set_blocktime(CK_OMP_BLOCKTIME_MS);
    if (getenv("OPENBLAS_THREAD_TIMEOUT") == NULL && openblas_read_env != NULL && blas_thread_shutdown_ != NULL) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
        openblas_read_env();
        blas_thread_shutdown_();
    }
}

void ck_configure_thread_waiting(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ck_configure_thread_waiting_once);
}

void ck_set_num_threads(int n) {
    if (n <= 0) n = ck_core_count();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    ck_threads_in_force = n;
}

int ck_get_num_threads(void) {
    // Nothing set yet: report what OpenMP's loops use, and set nothing.
    return ck_threads_in_force != 0 ? ck_threads_in_force : omp_get_max_threads();
}
