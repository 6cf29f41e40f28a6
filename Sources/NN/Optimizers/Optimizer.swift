import CKernels

/// Updates parameters from their gradients. Semantics follow PyTorch's `torch.optim`;
/// every step runs one fused C kernel per parameter over flat buffers.
///
/// One file per optimizer: `SGD.swift`, `Adam.swift` (Adam, AdamW), `AdaGrad.swift`,
/// `RMSProp.swift`. Each names its per-parameter state as PyTorch's `state_dict` does, so
/// checkpoints load in both.
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
    /// What is wrong, naming the state key (e.g. `optimizer state lacks "0.exp_avg"`).
    public let description: String
}

/// Per-parameter state buffers of one kind (e.g. every parameter's momentum), saved as
/// "<parameter index>.<name>" like PyTorch's `state_dict`. A kind the options leave unused
/// (momentum at 0) holds no buffers and saves nothing. A class, so that an optimizer's
/// named property (`expAvg`) and its list of every kind (`stateKinds`) are the same buffers.
final class StateBuffers {
    let name: String
    var tensors: [Tensor]

    /// Buffers for `parameters` filled with `initialValue` (PyTorch starts every kind at 0
    /// except AdaGrad's sum).
    init(_ name: String, _ parameters: [Parameter], initialValue: Float = 0) {
        self.name = name
        tensors = parameters.map { Tensor(repeating: initialValue, shape: $0.shape) }
    }

    /// The key of parameter i's buffer.
    func key(_ i: Int) -> String { "\(i).\(name)" }

    /// Calls `body` with parameter i's buffer, or nil when this kind is not kept.
    func withOptionalBuffer<R>(_ i: Int, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        tensors.isEmpty ? body(nil) : withBuffer(i) { body($0) }
    }

    /// Parameter i's buffer (made unique first) as a pointer, nil when this kind is not
    /// kept, for a kernel over many parameters: valid while the buffers are not replaced
    /// (`load`), for the length of an optimizer step.
    func pointer(_ i: Int) -> UnsafeMutablePointer<Float>? {
        tensors.isEmpty ? nil : withBuffer(i) { $0 }
    }

    /// Calls `body` with a writable pointer to parameter i's buffer.
    func withBuffer<R>(_ i: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        tensors[i].withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}

/// Every buffer of `kinds` by key: what an optimizer's `state` returns.
func exportState(_ kinds: [StateBuffers]) -> [String: Tensor] {
    var state: [String: Tensor] = [:]
    for kind in kinds {
        for (i, t) in kind.tensors.enumerated() { state[kind.key(i)] = t }
    }
    return state
}

/// Replaces the buffers of `kinds` with those of `state`: what an optimizer's `load` does.
/// Validates everything, then changes anything: throws, changing nothing, when a buffer is
/// missing or has the wrong shape, or when `state` holds a key of no kind here (so the state
/// of another optimizer, e.g. Adam's moments offered to plain SGD, is refused rather than
/// ignored).
func loadState(_ state: [String: Tensor], into kinds: [StateBuffers], optimizer: String) throws {
    let known = Set(kinds.flatMap { kind in kind.tensors.indices.map(kind.key) })
    if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
        throw OptimizerStateError(description: "optimizer state \"\(extra)\" does not belong to \(optimizer) with these options")
    }
    var loaded: [[Tensor]] = []
    for kind in kinds {
        loaded.append(try kind.tensors.indices.map { i in
            guard let t = state[kind.key(i)] else {
                throw OptimizerStateError(description: "optimizer state lacks \"\(kind.key(i))\"")
            }
            guard t.shape == kind.tensors[i].shape else {
                throw OptimizerStateError(description: "optimizer state \"\(kind.key(i))\" has shape \(t.shape), parameter \(i) needs \(kind.tensors[i].shape)")
            }
            return t.detached
        })
    }
    for (kind, tensors) in zip(kinds, loaded) { kind.tensors = tensors }
}
