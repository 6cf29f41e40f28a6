import CKernels

/// The thread count of the C kernels (OpenMP and OpenBLAS together), and how their two
/// thread pools wait between kernels.
///
/// The count is one setting for the whole process: every kernel uses it, whichever thread
/// or task calls it, so a count set on the main thread holds inside a detached task, N
/// concurrent callers start at most N x count kernel threads, and results do not depend on
/// the calling thread. Before any `set` the count is the default: `OMP_NUM_THREADS` if the
/// user set it, else `available` (the CPUs this process may use).
///
/// Loading the library configures nothing. Call `Threads.set(_:)` once at startup, before
/// training (the `nn` command and KernelBench do; `Trainer` does not): it sets the thread
/// count and, the first time, tunes the waiting. Without it the kernels still run, at the
/// default count, with the pools' own waiting and OpenBLAS at its own default count.
public enum Threads {
    /// Sets the thread count of every kernel and of OpenBLAS, for the whole process; `nil`
    /// or a value below 1 returns to the default (`OMP_NUM_THREADS`, else `available`).
    /// Call it between kernel calls, not while another task runs one.
    ///
    /// The first call in a process also tunes how the two pools wait between kernels
    /// (`ck_configure_thread_waiting`): libomp's workers spin 1 ms after a parallel region
    /// before they sleep, and OpenBLAS's workers sleep right after each GEMM instead of
    /// spinning through the OpenMP loops that follow (it sets `OPENBLAS_THREAD_TIMEOUT=4` in
    /// the process environment and restarts OpenBLAS's pool). A `KMP_BLOCKTIME` or
    /// `OPENBLAS_THREAD_TIMEOUT` already in the environment takes precedence. Why: a training
    /// step hands the cores from one pool to the other hundreds of times, and a pool spinning
    /// while the other works takes one of its cores. At 2 threads the CNNs trained about a
    /// third faster with these settings than with OpenBLAS's default spin, an MLP (whose
    /// GEMMs are short) about a fifth slower (docs/performance.md, "The two thread pools").
    public static func set(_ count: Int?) {
        ck_configure_thread_waiting()
        ck_set_num_threads(Int32(count ?? 0))
    }

    /// The thread count in force on every thread: the last `set`'s, else the default.
    /// Reading it changes nothing.
    public static var count: Int { Int(ck_get_num_threads()) }

    /// The CPUs this process may use: its affinity mask (taskset, cpusets), capped by its
    /// cgroup's CPU quota (a container's CPU limit), rather than the machine's online cores.
    public static var available: Int { Int(ck_available_cpus()) }

    /// The threads a kernel gets when the calling thread starts one now: `count` on every
    /// thread and task (a check, and a diagnostic for servers).
    public static var inKernel: Int { Int(ck_threads_in_region()) }
}
