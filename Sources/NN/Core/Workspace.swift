/// Scratch memory for kernels that need a workspace (conv2d's lowered columns), reused
/// across calls instead of allocated per call.
///
/// Why: a convolution on a training batch needs megabytes of workspace in each forward
/// and backward call (the 32->64-channel 3x3 convolution on 14x14 images at batch 64, the
/// second of a 2-conv CNN, among the largest). A fresh allocation of that size is a fresh mmap whose pages the kernel zero-fills on first touch,
/// and blocks glibc keeps after freeing raise the peak resident set. One cached buffer,
/// grown to the largest size asked for, costs that once (figures in docs/performance.md).
///
/// A caller takes the buffer out of the cache for the duration of `body`, so concurrent
/// callers (tests run in parallel) each get their own; the larger one goes back.
enum Workspace {
    /// The cached buffer as (address, bytes); an address because raw pointers are not
    /// Sendable, and the buffer is owned by whoever holds the address.
    private static let cache = Locked<(address: UInt, bytes: Int)?>(nil)

    /// Calls `body` with at least `count` floats of uninitialized scratch memory, valid only
    /// inside `body`.
    static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var buffer = cache.withLock { cached -> (address: UInt, bytes: Int)? in
            defer { cached = nil }
            return cached
        }
        if let small = buffer, small.bytes < bytes {
            UnsafeMutableRawPointer(bitPattern: small.address)!.deallocate()
            buffer = nil
        }
        let taken = buffer ?? (UInt(bitPattern: UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)), bytes)
        let pointer = UnsafeMutableRawPointer(bitPattern: taken.address)!
        let result = body(pointer.bindMemory(to: Float.self, capacity: taken.bytes / MemoryLayout<Float>.stride))
        let surplus = cache.withLock { cached -> UInt? in
            guard let other = cached else {
                cached = taken
                return nil
            }
            // Another caller put one back meanwhile: keep the larger.
            if other.bytes < taken.bytes {
                cached = taken
                return other.address
            }
            return taken.address
        }
        if let surplus { UnsafeMutableRawPointer(bitPattern: surplus)!.deallocate() }
        return result
    }
}
