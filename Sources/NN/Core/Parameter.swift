import Synchronization

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

    /// Calls `body` with the accumulated gradient to change in place (valid only inside
    /// `body`): data-parallel training replaces it with the average over ranks.
    func withMutableGradient<R>(_ body: (UnsafeMutableBufferPointer<Float>) -> R) -> R {
        body(UnsafeMutableBufferPointer(start: node.gradientBuffer(), count: Tensor.elementCount(shape)))
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

/// A non-trainable tensor a layer keeps across calls and saves in checkpoints (batch
/// norm's running statistics).
public final class Buffer {
    /// The current value.
    public var value: Tensor
    /// A buffer holding `value`.
    public init(_ value: Tensor) { self.value = value.detached }
}

/// The generator layers draw their initial weights from unless given one: seeded with
/// `manualSeed(_:)`, like `torch.manual_seed`.
public enum DefaultRandom {
    private static let shared = Mutex(RandomGenerator(seed: 0x5EED))

    /// Reseeds the default generator.
    public static func manualSeed(_ seed: UInt64) {
        shared.withLock { $0 = RandomGenerator(seed: seed) }
    }

    /// Runs `body` with the default generator.
    public static func with<R>(_ body: (inout RandomGenerator) -> R) -> R {
        shared.withLock { body(&$0) }
    }
}
