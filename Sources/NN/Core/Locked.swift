import Foundation

/// A value that threads share behind a pthread mutex: `withLock { value in ... }`, as
/// `Synchronization.Mutex` offers.
///
/// Why not `Mutex`: ThreadSanitizer does not see its lock (the lock's atomics and futex
/// calls run in the standard library, which is not instrumented), so every access it
/// guards reads as a data race under `make tsan`, at random. TSan intercepts
/// `pthread_mutex_lock`; uncontended, both cost a pair of atomic operations.
final class Locked<Value: Sendable>: @unchecked Sendable {
    /// Allocated once and never moved: a pthread mutex must keep its address.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Read and written only between lock and unlock.
    private var value: Value

    /// A lock guarding `value`.
    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed (\(status))")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Calls `body` with the value while holding the lock.
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
