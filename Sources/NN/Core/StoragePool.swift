/// Recycles large tensor buffers by exact size, so a training loop, which frees and
/// re-allocates the same activation and gradient sizes every step, reuses them.
///
/// Why not just malloc: glibc serves these sizes from its heap once its dynamic mmap
/// threshold has risen, and fragmentation there kept a training run's peak several times
/// its live tensors; making glibc give memory back instead (a low trim or mmap threshold)
/// multiplied the page faults and slowed every step (figures in docs/performance.md).
/// Exact-size reuse has neither problem: after the first step no buffer is faulted in
/// again, and what is held is at most each size's high-water mark.
///
/// Buffers under `minimumBytes` go straight to the system allocator (fast enough, and they
/// do not fragment it much). At most `capacityBytes` sit idle in the pool; past that a
/// freed buffer is returned to the system.
enum StoragePool {
    static let minimumBytes = 1 << 20
    static let capacityBytes = 256 << 20

    private struct State {
        /// Idle buffers (addresses: raw pointers are not Sendable) by byte size.
        var idle: [Int: [UInt]] = [:]
        var idleBytes = 0
    }
    private static let state = Locked(State())

    /// A 64-byte-aligned, uninitialized buffer of `bytes` bytes.
    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= minimumBytes {
            let reused = state.withLock { s -> UInt? in
                guard let address = s.idle[bytes]?.popLast() else { return nil }
                s.idleBytes -= bytes
                return address
            }
            if let reused { return UnsafeMutableRawPointer(bitPattern: reused)! }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Gives back a buffer from `allocate(bytes:)` of the same size.
    static func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= minimumBytes {
            let kept = state.withLock { s -> Bool in
                guard s.idleBytes + bytes <= capacityBytes else { return false }
                s.idle[bytes, default: []].append(UInt(bitPattern: pointer))
                s.idleBytes += bytes
                return true
            }
            if kept { return }
        }
        pointer.deallocate()
    }
}
