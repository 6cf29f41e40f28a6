import CKernels

/// Reverse-mode automatic differentiation.
///
/// Every differentiable op that sees an input requiring gradients gives its result a
/// `Node`: the input nodes plus a pullback closure that, given the result's gradient,
/// ADDS the inputs' gradients into their buffers (the kernels' backward convention).
/// `backward()` orders the graph topologically once (linear in the number of ops), runs
/// the pullbacks in reverse, and then releases every non-leaf node so the graph and the
/// tensors its closures captured are freed.
///
/// The first gradient to reach a tensor need not be added to zeros: an op recorded with
/// `recordWriting` gets each input's buffer with a flag saying whether it already holds a
/// gradient, and WRITES a buffer that does not (as PyTorch's autograd assigns the first
/// gradient and sums the rest). Its buffer is then never zero-filled: W2's training step
/// zeroed ~30 MB a step before, 0.85-0.9 ms at 1 and at 2 threads alike (memory-bound),
/// and the kernels then read those zeros back. Writing instead, the step's kernel time fell
/// 2.6% at one thread and 3.7% at two (`perf probe` of 300 steps; the writes themselves now
/// take the cache misses the zeroing took). Ops recorded with `record` get zeroed buffers.

/// Whether ops record the graph; off inside `withoutGradient`.
public enum GradientMode {
    /// True unless inside `withoutGradient { }`.
    @TaskLocal public static var isEnabled: Bool = true

    /// A debugging aid, on in the tests' gradient checks: the buffer of a first gradient is
    /// filled with NaN before the op that writes it runs, so an op that leaves an element
    /// unwritten gives NaN gradients instead of stale values. Off by default: it costs the
    /// pass over memory that writing first gradients saves.
    @TaskLocal public static var poisonsFirstGradients: Bool = false
}

/// Runs `body` without recording any autodiff graph (inference, metric computation).
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false, operation: body)
}

/// An input's gradient buffer as a `recordWriting` pullback receives it.
struct InputGradient {
    let pointer: UnsafeMutablePointer<Float>
    /// True when the buffer already holds a gradient, which the pullback must add to;
    /// false when this is the first gradient to reach the input: the buffer holds no values
    /// yet and the pullback must write every element of it.
    let accumulate: Bool

    /// `accumulate` as the kernels take it.
    var accumulateFlag: Int32 { accumulate ? 1 : 0 }

    /// The buffer ready to be added into: zero-filled first if it holds no gradient yet
    /// (for a pullback that only knows how to add into this input).
    func zeroedIfFirst(count: Int) -> UnsafeMutablePointer<Float> {
        if !accumulate { ck_fill(pointer, 0, count) }
        return pointer
    }
}

/// A vertex of the autodiff graph.
final class Node {
    let shape: [Int]
    let count: Int
    /// Leaves (parameters, `requiringGradient()` inputs) keep their gradient after backward.
    let isLeaf: Bool
    var parents: [Node]
    /// Adds (or writes, see `InputGradient`) the parents' gradients given this node's
    /// gradient; `parentGradients[i]` is the buffer of `parents[i]`.
    var pullback: ((_ gradient: UnsafePointer<Float>, _ parentGradients: [InputGradient]) -> Void)?
    /// Whether the pullback writes a parent's first gradient (else it adds into zeros).
    let writesFirstGradients: Bool
    /// Allocated the first time a gradient reaches this node.
    private(set) var gradient: TensorStorage?

    init(leafShape shape: [Int]) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = true
        parents = []
        writesFirstGradients = false
    }

    init(shape: [Int], parents: [Node], writesFirstGradients: Bool,
         pullback: @escaping (UnsafePointer<Float>, [InputGradient]) -> Void) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = false
        self.parents = parents
        self.writesFirstGradients = writesFirstGradients
        self.pullback = pullback
    }

    /// The gradient buffer, allocated zeroed on first use.
    func gradientBuffer() -> UnsafeMutablePointer<Float> {
        if let gradient { return gradient.pointer }
        let storage = TensorStorage(count: count, repeating: 0)
        gradient = storage
        return storage.pointer
    }

    /// The parents' gradient buffers for this node's pullback. A parent no gradient has
    /// reached yet gets a buffer that is not zeroed when the pullback writes first
    /// gradients, unless it is a parent twice (y = x * x: the pullback writes one slot and
    /// adds the other, so both must start from zero).
    func parentGradients() -> [InputGradient] {
        let writes = writesFirstGradients && Set(parents.map(ObjectIdentifier.init)).count == parents.count
        let poison = writes && GradientMode.poisonsFirstGradients
        return parents.map { parent in
            if writes && parent.gradient == nil {
                let storage = TensorStorage(uninitializedCount: parent.count)
                if poison { ck_fill(storage.pointer, .nan, parent.count) }
                parent.gradient = storage
                return InputGradient(pointer: storage.pointer, accumulate: false)
            }
            return InputGradient(pointer: parent.gradientBuffer(), accumulate: true)
        }
    }

    /// The accumulated gradient as a tensor (zeros if nothing reached this node).
    func gradientTensor() -> Tensor {
        guard let gradient else { return Tensor(zeros: shape) }
        return Tensor(shape: shape, storage: gradient.copy())
    }

    /// Frees the gradient buffer (non-leaf nodes after backward).
    func releaseGradient() { gradient = nil }

    /// Forgets the accumulated gradient.
    func zeroGradient() {
        if let gradient { ck_fill(gradient.pointer, 0, count) }
    }
}

extension Tensor {
    /// Gives `result` a graph node when gradients are recorded and any of `inputs` requires
    /// them. `pullback(gradient, inputGradients)` must ADD into each non-nil input buffer;
    /// an input that needs no gradient gets `nil`, so the op can skip that work.

    static func record(
        _ result: inout Tensor, inputs: [Tensor],
        pullback: @escaping (_ gradient: UnsafePointer<Float>,
                             _ inputGradients: [UnsafeMutablePointer<Float>?]) -> Void
    ) {
        recordNode(&result, inputs: inputs, writesFirstGradients: false) { gradient, inputGradients in
            pullback(gradient, inputGradients.map { $0?.pointer })
        }
    }

    /// As `record`, for a pullback that WRITES an input's gradient when
    /// `inputGradients[i].accumulate` is false (the first gradient to reach that input; its
    /// buffer holds no values) and adds into it otherwise. Every element of such a buffer
    /// must be written; `zeroedIfFirst` gives an input the pullback can only add into.
    static func recordWriting(
        _ result: inout Tensor, inputs: [Tensor],
        pullback: @escaping (_ gradient: UnsafePointer<Float>, _ inputGradients: [InputGradient?]) -> Void
    ) {
        recordNode(&result, inputs: inputs, writesFirstGradients: true, pullback: pullback)
    }

    private static func recordNode(
        _ result: inout Tensor, inputs: [Tensor], writesFirstGradients: Bool,
        pullback: @escaping (UnsafePointer<Float>, [InputGradient?]) -> Void
    ) {
        guard GradientMode.isEnabled else { return }
        var parents: [Node] = []
        var slots: [Int] = []  // for each input, its index in `parents`, or -1
        for input in inputs {
            if let node = input.node {
                slots.append(parents.count)
                parents.append(node)
            } else {
                slots.append(-1)
            }
        }
        guard !parents.isEmpty else { return }
        result.node = Node(shape: result.shape, parents: parents, writesFirstGradients: writesFirstGradients) {
            gradient, parentGradients in
            pullback(gradient, slots.map { $0 < 0 ? nil : parentGradients[$0] })
        }
    }

    /// Back-propagates from this scalar: adds d(self)/d(leaf) into the gradient of every
    /// leaf that reached it, then releases the graph.
    public func backward() {
        precondition(count == 1, "backward() needs a one-element loss, shape is \(shape)")
        backward(seed: Tensor(ones: shape))
    }

    /// Back-propagates `seed` (the gradient of some scalar with respect to this value, same
    /// shape), as PyTorch's `tensor.backward(gradient)`, then releases the graph.
    public func backward(seed: Tensor) {
        precondition(seed.shape == shape, "backward(seed:): seed shape \(seed.shape) differs from \(shape)")
        guard let root = node else {
            preconditionFailure("backward() on a value that depends on nothing requiring gradients")
        }
        // Iterative depth-first post-order: every node comes after all of its parents.
        var order: [Node] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(node: Node, expanded: Bool)] = [(root, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for parent in node.parents where !visited.contains(ObjectIdentifier(parent)) {
                stack.append((parent, false))
            }
        }
        accumulate(root.gradientBuffer(), seed.pointer, count)
        for node in order.reversed() {
            guard let pullback = node.pullback, let gradient = node.gradient else { continue }
            pullback(gradient.pointer, node.parentGradients())
            // Every consumer of this node came earlier in the reverse order, so its gradient
            // is complete and used up: free it and what its pullback captured (the forward
            // activations) now rather than after the whole pass. This bounds the peak to
            // the activations not yet visited plus the gradients in flight (W2's training
            // peak fell by about 40 MB).
            if !node.isLeaf {
                node.pullback = nil
                node.parents = []
                node.releaseGradient()
            }
        }
        for node in order where !node.isLeaf {
            node.pullback = nil
            node.parents = []
            node.releaseGradient()
        }
    }
}
