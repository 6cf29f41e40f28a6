import CKernels

/// The thread count of the C kernels (OpenMP and OpenBLAS together).
public enum Threads {
    /// Sets the thread count for every kernel; `nil` or a value below 1 means all cores.
    public static func set(_ count: Int?) {
        ck_set_num_threads(Int32(count ?? 0))
    }

    /// The thread count in force.
    public static var count: Int { Int(ck_get_num_threads()) }
}
