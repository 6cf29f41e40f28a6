// Threads: one process-wide thread count that every kernel uses, whichever OS thread calls
// it, and one call that configures how the two thread pools wait between kernels. Loading
// the library changes nothing; both are explicit calls (the Swift side's Threads.set makes
// both).
//
// Why a count of our own: omp_set_num_threads and kmp_set_blocktime set libomp's settings
// of the calling OS thread only. A kernel run from a Swift task on another thread would use
// libomp's default team (all cores), N concurrent callers would start N x cores threads,
// and the k-split GEMM and conv chunking (which depend on the count) would give results
// that differ in the last bits with the calling thread. So every parallel region passes
// num_threads(ck_region_threads()), which reads this process-wide count, and the first
// region a thread starts after ck_configure_thread_waiting applies the blocktime to that
// thread. OpenBLAS's count is process-wide already (openblas_set_num_threads).
//
// The default count, before any ck_set_num_threads or after one with n <= 0, is the user's
// OMP_NUM_THREADS when set, else the CPUs this process may use: its sched affinity mask,
// capped by its cgroup's CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us),
// rounded up, as a container's CPU limit sets it. The online core count ignores both.
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
#define _GNU_SOURCE
#include "ckernels.h"
#include "ck_threads_internal.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// OpenBLAS reads its environment once when it loads, and its pool takes the spin timeout
// when it starts. These two exported functions (not in cblas.h; weak, so an OpenBLAS
// without them still links) re-read the environment and stop the pool, which restarts on
// the next threaded call with the new timeout. OpenBLAS's own fork handler restarts the
// pool the same way.
extern void openblas_read_env(void) __attribute__((weak));
extern void blas_thread_shutdown_(void) __attribute__((weak));

#define CK_OMP_BLOCKTIME_MS 1

// The count ck_set_num_threads set; 0: none (the default is in force).
static atomic_int ck_threads_requested = 0;
// 1 once ck_configure_thread_waiting has decided that libomp's blocktime is ours to set
// (no KMP_BLOCKTIME in the environment); each thread then applies it to itself once.
static atomic_int ck_blocktime_configured = 0;
static _Thread_local int ck_thread_has_blocktime = 0;

// MARK: - The CPUs this process may use

// The CPUs in the affinity mask (taskset, cpuset cgroups), else the online cores.
static int ck_affinity_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

// Reads up to two integers from the first line of `path` (a "max" word reads as -1).
// Returns how many it read.
static int ck_read_quota_line(const char *path, long *a, long *b) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    char word[2][32] = {{0}};
    const int read = fscanf(f, "%31s %31s", word[0], word[1]);
    fclose(f);
    long *out[2] = {a, b};
    for (int i = 0; i < read && i < 2; i++) *out[i] = strcmp(word[i], "max") == 0 ? -1 : atol(word[i]);
    return read < 0 ? 0 : read;
}

// The CPU quota (rounded up) of the cgroup at `dir` and of its ancestors up to `root`, the
// smallest one; INT_MAX if none is limited. `v2` picks cpu.max over cpu.cfs_*.
static int ck_cgroup_quota(const char *root, const char *relative, int v2) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s", root, strcmp(relative, "/") == 0 ? "" : relative);
    int limit = INT_MAX;
    for (;;) {
        char path[PATH_MAX + 32];
        long quota = -1, period = 0;
        if (v2) {
            snprintf(path, sizeof path, "%s/cpu.max", dir);
            if (ck_read_quota_line(path, &quota, &period) < 2) quota = -1;
        } else {
            snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
            if (ck_read_quota_line(path, &quota, NULL) == 1) {
                snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
                if (ck_read_quota_line(path, &period, NULL) != 1) quota = -1;
            }
        }
        if (quota > 0 && period > 0) {
            const long cpus = (quota + period - 1) / period;
            if (cpus < limit) limit = cpus < 1 ? 1 : (int)cpus;
        }
        if (strlen(dir) <= strlen(root)) break;
        char *slash = strrchr(dir, '/');
        if (slash == NULL) break;
        *slash = '\0';
    }
    return limit;
}

// The CPU quota of this process's cgroup, from /proc/self/cgroup; INT_MAX if unlimited.
static int ck_cgroup_cpus(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f == NULL) return INT_MAX;
    int limit = INT_MAX;
    char line[PATH_MAX + 64];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        // "hierarchy-id:controllers:path"
        char *first = strchr(line, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (second == NULL) continue;
        *second = '\0';
        const char *controllers = first + 1, *path = second + 1;
        int quota = INT_MAX;
        if (strcmp(line, "0") == 0 && *controllers == '\0') {
            quota = ck_cgroup_quota("/sys/fs/cgroup", path, 1);
        } else {
            // v1: a hierarchy whose controller list has "cpu" (e.g. "cpu,cpuacct").
            char list[256];
            snprintf(list, sizeof list, ",%s,", controllers);
            if (strstr(list, ",cpu,") == NULL) continue;
            const char *mounts[] = {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"};
            for (int i = 0; i < 2 && quota == INT_MAX; i++) {
                if (access(mounts[i], R_OK) == 0) quota = ck_cgroup_quota(mounts[i], path, 0);
            }
        }
        if (quota < limit) limit = quota;
    }
    fclose(f);
    return limit;
}

int ck_available_cpus(void) {
    const int affinity = ck_affinity_cpus(), quota = ck_cgroup_cpus();
    return quota < affinity ? quota : affinity;
}

// MARK: - The count in force

static int ck_default_count = 1;

static void ck_compute_default_threads(void) {
    // A user's OMP_NUM_THREADS ("4", or a nested list "4,2": its first level) wins.
    const char *env = getenv("OMP_NUM_THREADS");
    if (env != NULL) {
        const long n = strtol(env, NULL, 10);
        if (n > 0 && n <= 4096) {
            ck_default_count = (int)n;
            return;
        }
    }
    ck_default_count = ck_available_cpus();
}

int ck_default_threads(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ck_compute_default_threads);
    return ck_default_count;
}

int ck_get_num_threads(void) {
    const int requested = atomic_load_explicit(&ck_threads_requested, memory_order_relaxed);
    return requested > 0 ? requested : ck_default_threads();
}

void ck_set_num_threads(int n) {
    atomic_store_explicit(&ck_threads_requested, n > 0 ? n : 0, memory_order_relaxed);
    openblas_set_num_threads(ck_get_num_threads());
}

int ck_region_threads(void) {
    // Once per OS thread after ck_configure_thread_waiting: libomp's blocktime is a setting
    // of the calling thread's teams, so each thread that starts regions needs its own call.
    if (!ck_thread_has_blocktime && atomic_load_explicit(&ck_blocktime_configured, memory_order_acquire)) {
        kmp_set_blocktime(CK_OMP_BLOCKTIME_MS);
        ck_thread_has_blocktime = 1;
    }
    return ck_get_num_threads();
}

// MARK: - How the pools wait

static void ck_configure_thread_waiting_once(void) {
    if (getenv("KMP_BLOCKTIME") == NULL) {
        kmp_set_blocktime(CK_OMP_BLOCKTIME_MS);
        ck_thread_has_blocktime = 1;
        atomic_store_explicit(&ck_blocktime_configured, 1, memory_order_release);
    }
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

int ck_threads_in_region(void) {
    int team = 0;
    #pragma omp parallel num_threads(ck_region_threads())
    {
        #pragma omp single
        team = omp_get_num_threads();
    }
    return team;
}
