import CKernels

/// The thread count of the C kernels (OpenMP and OpenBLAS together), and how their two
/// thread pools wait between kernels.
///
/// Loading the library configures nothing. Call `Threads.set(_:)` once at startup, before
/// training (the `nn` command and KernelBench do; `Trainer` does not): it sets the thread
/// count and, the first time, tunes the waiting. Without it the kernels still run, with
/// OpenMP's and OpenBLAS's own defaults.
public enum Threads {
    /// Sets the thread count for every kernel; `nil` or a value below 1 means all cores.
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

    /// The thread count in force: the last `set`'s, or before any, OpenMP's own
    /// (`OMP_NUM_THREADS`, else all cores). Reading it changes nothing.
    public static var count: Int { Int(ck_get_num_threads()) }
}
