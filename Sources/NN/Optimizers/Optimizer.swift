import CKernels

/// Updates parameters from their gradients. Semantics follow PyTorch's `torch.optim`;
/// every step runs one fused C kernel per parameter over flat buffers.
public protocol Optimizer: AnyObject {
    /// The parameters updated by `step()`, in order.
    var parameters: [Parameter] { get }
    /// The learning rate; a schedule may change it between steps.
    var learningRate: Float { get set }
    /// Steps taken so far.
    var stepCount: Int { get }
    /// Applies one update from the accumulated gradients.
    func step()
    /// The optimizer's state tensors by name ("0.exp_avg": parameter 0's first moment),
    /// for checkpoints.
    var state: [String: Tensor] { get }
    /// Restores state saved by `state` (same parameters, same options) and the step count.
    func load(state: [String: Tensor], stepCount: Int) throws
}

extension Optimizer {
    /// Sets every parameter's gradient to zero (the same as `Layer.zeroGradients()` on the
    /// model these parameters come from).
    public func zeroGradients() {
        for parameter in parameters { parameter.zeroGradient() }
    }
}

/// A problem restoring an optimizer's state.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// Throws unless every key of `state` belongs to one of `kinds` (so the state of another
/// optimizer, e.g. Adam's moments offered to plain SGD, is refused rather than ignored).
func checkStateKeys(_ state: [String: Tensor], _ kinds: [StateBuffers], optimizer: String) throws {
    let known = Set(kinds.flatMap { kind in kind.tensors.indices.map { "\($0).\(kind.name)" } })
    if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
        throw OptimizerStateError(description: "optimizer state \"\(extra)\" does not belong to \(optimizer) with these options")
    }
}

/// Per-parameter state buffers of one kind (e.g. every parameter's momentum), zero-filled.
struct StateBuffers {
    let name: String
    var tensors: [Tensor]

    init(_ name: String, _ parameters: [Parameter], initialValue: Float = 0) {
        self.name = name
        tensors = parameters.map { Tensor(repeating: initialValue, shape: $0.shape) }
    }

    func export(into state: inout [String: Tensor]) {
        for (i, t) in tensors.enumerated() { state["\(i).\(name)"] = t }
    }

    mutating func load(from state: [String: Tensor]) throws {
        for i in tensors.indices {
            guard let t = state["\(i).\(name)"] else {
                throw OptimizerStateError(description: "optimizer state lacks \"\(i).\(name)\"")
            }
            guard t.shape == tensors[i].shape else {
                throw OptimizerStateError(description: "optimizer state \"\(i).\(name)\" has shape \(t.shape), parameter \(i) needs \(tensors[i].shape)")
            }
            tensors[i] = t.detached
        }
    }

    /// Calls `body` with parameter i's buffer, or nil when this kind is not kept.
    mutating func withOptionalBuffer<R>(_ i: Int, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        tensors.isEmpty ? body(nil) : withBuffer(i) { body($0) }
    }

    /// Calls `body` with a writable pointer to parameter i's buffer.
    mutating func withBuffer<R>(_ i: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        tensors[i].withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
