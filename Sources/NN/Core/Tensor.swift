import CKernels
import Foundation

/// One 64-byte-aligned buffer of `count` elements from `StoragePool`, uninitialized until
/// its owner writes it.
final class PooledStorage<Element> {
    let count: Int
    let pointer: UnsafeMutablePointer<Element>
    /// What keeps `pointer`'s memory alive when this storage does not own it (the storage it
    /// is a window into, or the owner of memory borrowed from outside the pool); nil when it
    /// owns `pointer` and returns it to the pool.
    private let owner: AnyObject?

    /// Uninitialized storage; every caller writes all `count` elements before reading.
    init(uninitializedCount count: Int) {
        precondition(count >= 0, "element count must be non-negative, got \(count)")
        self.count = count
        let raw = StoragePool.allocate(bytes: max(count, 1) * MemoryLayout<Element>.stride)
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        owner = nil
    }

    /// Elements `offset..<offset + count` of `base`, sharing its memory: writes through
    /// either are seen by both (data-parallel training keeps each gradient in its bucket).
    init(viewOf base: PooledStorage<Element>, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= base.count,
                     "storage view \(offset)..<\(offset + count) outside 0..<\(base.count)")
        self.count = count
        pointer = base.pointer + offset
        owner = base
    }

    /// `count` elements at `pointer` in memory that `owner` keeps valid (a gradient bucket in
    /// memory the ranks of a node share); never returned to the pool.
    init(borrowing pointer: UnsafeMutablePointer<Element>, count: Int, owner: AnyObject) {
        precondition(count >= 0, "element count must be non-negative, got \(count)")
        self.count = count
        self.pointer = pointer
        self.owner = owner
    }

    deinit {
        guard owner == nil else { return }
        StoragePool.release(UnsafeMutableRawPointer(pointer), bytes: max(count, 1) * MemoryLayout<Element>.stride)
    }
}

/// Float storage behind `Tensor`, shared between tensor values until one of them writes
/// (copy-on-write).
typealias TensorStorage = PooledStorage<Float>

/// Int32 storage for what an op saves for its backward pass (max pooling's argmax), from
/// the pool like tensors rather than a Swift array allocated and zero-filled per call.
typealias IndexStorage = PooledStorage<Int32>

extension PooledStorage where Element == Float {
    /// Storage of `count` copies of `value` (filled by the kernels' threads when large).
    convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        ck_fill(pointer, value, count)
    }

    /// An independent copy of this storage.
    func copy() -> TensorStorage {
        let other = TensorStorage(uninitializedCount: count)
        other.pointer.initialize(from: pointer, count: count)
        return other
    }
}

/// An n-dimensional array of `Float` with value semantics (copy-on-write), row-major and
/// contiguous; images are NCHW. A tensor computed from tensors that require gradients
/// remembers how it was made, so `backward()` on a scalar result can fill the gradients.
public struct Tensor {
    /// The extent of each dimension.
    public let shape: [Int]
    var storage: TensorStorage
    /// The autodiff node of this value; `nil` for a constant.
    var node: Node?

    init(shape: [Int], storage: TensorStorage, node: Node? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor shape \(shape) has a negative dimension")
        precondition(Tensor.elementCount(shape) == storage.count,
                     "shape \(shape) needs \(Tensor.elementCount(shape)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// The number of elements of a tensor of `shape`.
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    // MARK: Creation

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Tensor.elementCount(shape), repeating: value))
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A tensor of ones.
    public init(ones shape: [Int]) { self.init(repeating: 1, shape: shape) }

    /// A tensor holding `scalars` (row-major) with `shape`.
    public init(_ scalars: [Float], shape: [Int]) {
        precondition(scalars.count == Tensor.elementCount(shape),
                     "\(scalars.count) scalars cannot fill shape \(shape) (\(Tensor.elementCount(shape)) elements)")
        let storage = TensorStorage(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: scalars.count) }
        self.init(shape: shape, storage: storage)
    }

    /// A one-element tensor of shape `[]`.
    public init(scalar: Float) { self.init([scalar], shape: []) }

    /// Values drawn from a normal distribution.
    public init(randomNormal shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                using generator: inout RandomGenerator) {
        let storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
        for i in 0..<storage.count { storage.pointer[i] = mean + standardDeviation * generator.nextNormal() }
        self.init(shape: shape, storage: storage)
    }

    /// Values drawn uniformly from `range` (its upper bound excluded).
    public init(randomUniform shape: [Int], in range: ClosedRange<Float> = 0...1,
                using generator: inout RandomGenerator) {
        let storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
        let low = range.lowerBound, width = range.upperBound - range.lowerBound
        for i in 0..<storage.count { storage.pointer[i] = low + width * generator.nextUnitFloat() }
        self.init(shape: shape, storage: storage)
    }

    /// A tensor of `shape` computed element by element by `body` into uninitialized memory.
    static func build(shape: [Int], _ body: (UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let storage = TensorStorage(uninitializedCount: elementCount(shape))
        body(storage.pointer, storage.count)
        return Tensor(shape: shape, storage: storage)
    }

    // MARK: Access

    /// The number of elements.
    public var count: Int { storage.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count)) }
    /// The only element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar needs a one-element tensor, shape is \(shape)")
        return storage.pointer[0]
    }

    /// Calls `body` with the elements; the pointer must not escape.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Calls `body` with writable elements, copying them first if they are shared.
    /// The pointer must not escape.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Calls `body` with a read-only pointer to the elements, for a kernel; the pointer is
    /// valid only inside `body`. There is no pointer property: Swift may end a tensor's
    /// lifetime right after its last use, so a pointer kept outside a closure could outlive
    /// the storage it points into. Take it once per kernel call, not per element.
    @inline(__always)
    func withUnsafePointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        // `self`, and so `storage`, stays alive for the whole call.
        try body(UnsafePointer(storage.pointer))
    }

    /// `withUnsafePointer` of two tensors at once.
    @inline(__always)
    static func withUnsafePointers<R>(
        _ a: Tensor, _ b: Tensor, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) rethrows -> R {
        try a.withUnsafePointer { pa in try b.withUnsafePointer { pb in try body(pa, pb) } }
    }

    /// `withUnsafePointer` of three tensors at once.
    @inline(__always)
    static func withUnsafePointers<R>(
        _ a: Tensor, _ b: Tensor, _ c: Tensor,
        _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) rethrows -> R {
        try withUnsafePointers(a, b) { pa, pb in try c.withUnsafePointer { pc in try body(pa, pb, pc) } }
    }

    /// The element at a multi-dimensional index.
    public subscript(_ index: Int...) -> Float {
        get {
            precondition(index.count == shape.count, "index \(index) does not fit shape \(shape)")
            var flat = 0
            for (d, i) in index.enumerated() {
                precondition(i >= 0 && i < shape[d], "index \(index) is out of bounds for shape \(shape)")
                flat = flat * shape[d] + i
            }
            return storage.pointer[flat]
        }
    }

    /// This value without its autodiff history (a constant).
    public var detached: Tensor { Tensor(shape: shape, storage: storage) }

    /// Whether gradients flow back through this value.
    public var requiresGradient: Bool { node != nil }

    /// A leaf copy of this value that collects a gradient in `gradient` after `backward()`.
    public func requiringGradient() -> Tensor {
        Tensor(shape: shape, storage: storage, node: Node(leafShape: shape))
    }

    /// The gradient accumulated in this leaf by `backward()` (zeros if none reached it).
    public var gradient: Tensor? {
        guard let node, node.isLeaf else { return nil }
        return node.gradientTensor()
    }
}

extension Optional where Wrapped == Tensor {
    /// `withUnsafePointer` of an optional tensor (an optional bias): nil when there is none.
    @inline(__always)
    func withUnsafePointer<R>(_ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        guard let tensor = self else { return try body(nil) }
        return try tensor.withUnsafePointer { try body($0) }
    }
}

extension Tensor: CustomStringConvertible {
    /// The shape and up to the first 8 elements, e.g. `Tensor[2, 3](0.1, 0.2, ...)`.
    public var description: String {
        let shown = (0..<min(count, 8)).map { String(format: "%.4g", storage.pointer[$0]) }
        let more = count > 8 ? ", ... (\(count) elements)" : ""
        let grad = requiresGradient ? ", requires gradient" : ""
        return "Tensor\(shape)(\(shown.joined(separator: ", "))\(more))\(grad)"
    }
}

extension Tensor: Equatable {
    /// Same shape and the same elements (autodiff history is ignored).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        for i in 0..<lhs.count where lhs.storage.pointer[i] != rhs.storage.pointer[i] { return false }
        return true
    }
}
