// Threads: one call sets the thread count of OpenMP and OpenBLAS together.
//
// OpenBLAS (Debian's pthread build) keeps its own pool, and libomp keeps another. They
// never run at once here (BLAS is never called inside an OpenMP region), but an idle
// pool that spins steals a core from the busy one. libomp's workers are therefore told
// to sleep as soon as a parallel region ends (blocktime 0).
#include "ckernels.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

static int ck_threads_in_force = 0;

static int ck_core_count(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

void ck_set_num_threads(int n) {
    if (n <= 0) n = ck_core_count();
    kmp_set_blocktime(0);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    ck_threads_in_force = n;
}

int ck_get_num_threads(void) {
    if (ck_threads_in_force == 0) ck_set_num_threads(0);
    return ck_threads_in_force;
}
