import CKernels
import Foundation

/// A trainable tensor: a layer's weight or bias. Its value is a leaf of the autodiff graph
/// and `backward()` accumulates into its gradient until `zeroGradient()`.
public final class Parameter {
    private let node: Node
    private var storedValue: Tensor

    /// A parameter holding `value`.
    public init(_ value: Tensor) {
        node = Node(leafShape: value.shape)
        storedValue = Tensor(shape: value.shape, storage: value.storage, node: node)
    }

    /// The current value; assigning keeps the parameter's identity and gradient.
    public var value: Tensor {
        get { storedValue }
        set {
            precondition(newValue.shape == storedValue.shape,
                         "Parameter: cannot assign shape \(newValue.shape) to a parameter of shape \(storedValue.shape)")
            storedValue = Tensor(shape: newValue.shape, storage: newValue.storage, node: node)
        }
    }

    /// The leaf of the autodiff graph holding the gradient (backward reports it final).
    var gradientNode: Node { node }

    /// The shape of the value.
    public var shape: [Int] { storedValue.shape }

    /// The accumulated gradient (zeros if nothing has reached it).
    public var gradient: Tensor { node.gradientTensor() }

    /// Sets the accumulated gradient to zero.
    public func zeroGradient() { node.zeroGradient() }

    /// Calls `body` with the accumulated gradient (valid only inside `body`), without the
    /// copy `gradient` makes.
    func withGradient<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R {
        body(UnsafeBufferPointer(start: node.gradientBuffer(), count: Tensor.elementCount(shape)))
    }

    /// Calls `body` with the value to update in place and the gradient buffer (valid only
    /// inside `body`): what an optimizer step does.
    public func update(_ body: (_ value: UnsafeMutableBufferPointer<Float>,
                                _ gradient: UnsafeBufferPointer<Float>) -> Void) {
        let gradient = node.gradientBuffer()
        storedValue.withUnsafeMutableBufferPointer { value in
            body(value, UnsafeBufferPointer(start: gradient, count: value.count))
        }
    }
}

extension Parameter {
    /// The value (made unique first, copy-on-write) and the gradient buffer as pointers, for
    /// a kernel that updates many parameters in one call. The parameter holds both, so they
    /// stay valid until its value is reassigned or a backward or `zeroGradient()` runs: for
    /// the length of an optimizer step, not longer.
    func stepPointers() -> (value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>) {
        var pointers: (value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>)!
        update { value, gradient in pointers = (value.baseAddress!, gradient.baseAddress!) }
        return pointers
    }

    /// Whether every element of the accumulated gradient is finite: the trainer checks this
    /// before each update.
    public var gradientIsFinite: Bool {
        withGradient { gradient in
            guard let base = gradient.baseAddress else { return true }
            return ck_all_finite(base, gradient.count) != 0
        }
    }
}

/// A non-trainable tensor a layer keeps across calls and saves in checkpoints (batch
/// norm's running statistics).
public final class Buffer {
    /// The current value.
    public var value: Tensor
    /// A buffer holding `value`.
    public init(_ value: Tensor) { self.value = value.detached }
}

/// The generator layers draw their initial weights from unless given one: seeded with
/// `manualSeed(_:)`, like `torch.manual_seed`. Any thread may use it; calls are serialized.
public enum DefaultRandom {
    private static let shared = Locked(RandomGenerator(seed: 0x5EED))

    /// Whether this thread is inside `with`'s body (a nested `with` would lock again).
    private static let insideBody = ThreadLocalFlag()

    /// Reseeds the default generator.
    public static func manualSeed(_ seed: UInt64) {
        if insideBody.isSet { fatalError("DefaultRandom.manualSeed called inside DefaultRandom.with { }; \(notReentrant)") }
        shared.withLock { $0 = RandomGenerator(seed: seed) }
    }

    /// Runs `body` with the default generator, holding its lock.
    ///
    /// Not re-entrant, and a nested call traps with a message rather than deadlocking: the
    /// body has the generator `inout`, and Swift forbids a second access to it (the nested
    /// call's) while that one lasts, so a nested call could only see a stale generator and
    /// draw the same numbers twice. Building a layer inside `with` is such a nested call
    /// (its initializer draws from here): build layers outside, or pass the generator to
    /// `Initializer.make(_:using:)`.
    public static func with<R>(_ body: (inout RandomGenerator) -> R) -> R {
        // fatalError, not precondition: -O builds drop a precondition's message, and a
        // nested call is what this message must explain.
        if insideBody.isSet { fatalError("DefaultRandom.with called inside DefaultRandom.with { }; \(notReentrant)") }
        return shared.withLock { generator in
            insideBody.isSet = true
            defer { insideBody.isSet = false }
            return body(&generator)
        }
    }

    private static let notReentrant = """
        the body holds the generator inout, so a nested call could only draw from a stale \
        copy (the same numbers twice). Build layers outside the body, or draw from the \
        body's generator with Initializer.make(_:using:)
        """
}

/// A per-thread Boolean (a pthread key): which thread is inside a critical section.
final class ThreadLocalFlag: Sendable {
    private let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed (\(status))")
        self.key = key
    }

    /// This thread's value; false until it sets it.
    var isSet: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}

/// The name of the first of `parameters` whose accumulated gradient holds a NaN or an
/// infinity, or nil: one pass over all of them (`ck_first_nonfinite`).
func firstNonFiniteGradient(_ parameters: [(name: String, parameter: Parameter)]) -> String? {
    let buffers = parameters.map { Optional(UnsafePointer($0.parameter.gradientNode.gradientBuffer())) }
    let counts = parameters.map { Tensor.elementCount($0.parameter.shape) }
    let index = ck_first_nonfinite(buffers, counts, Int32(parameters.count))
    return index < 0 ? nil : parameters[Int(index)].name
}
