import CKernels

/// Reverse-mode automatic differentiation.
///
/// Every differentiable op that sees an input requiring gradients gives its result a
/// `Node`: the input nodes plus a pullback closure that, given the result's gradient,
/// ADDS the inputs' gradients into their buffers (the kernels' backward convention).
/// `backward()` orders the graph topologically once (linear in the number of ops), runs
/// the pullbacks in reverse, and then releases every non-leaf node so the graph and the
/// tensors its closures captured are freed.

/// Whether ops record the graph; off inside `withoutGradient`.
public enum GradientMode {
    /// True unless inside `withoutGradient { }`.
    @TaskLocal public static var isEnabled: Bool = true
}

/// Runs `body` without recording any autodiff graph (inference, metric computation).
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false, operation: body)
}

/// A vertex of the autodiff graph.
final class Node {
    let shape: [Int]
    let count: Int
    /// Leaves (parameters, `requiringGradient()` inputs) keep their gradient after backward.
    let isLeaf: Bool
    var parents: [Node]
    /// Adds the parents' gradients given this node's gradient; `parentGradients[i]` is the
    /// buffer of `parents[i]`.
    var pullback: ((_ gradient: UnsafePointer<Float>,
                    _ parentGradients: [UnsafeMutablePointer<Float>]) -> Void)?
    /// Allocated (zeroed) the first time a gradient reaches this node.
    private(set) var gradient: TensorStorage?

    init(leafShape shape: [Int]) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = true
        parents = []
    }

    init(shape: [Int], parents: [Node],
         pullback: @escaping (UnsafePointer<Float>, [UnsafeMutablePointer<Float>]) -> Void) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = false
        self.parents = parents
        self.pullback = pullback
    }

    /// The gradient buffer, allocated zeroed on first use.
    func gradientBuffer() -> UnsafeMutablePointer<Float> {
        if let gradient { return gradient.pointer }
        let storage = TensorStorage(count: count, repeating: 0)
        gradient = storage
        return storage.pointer
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
        result.node = Node(shape: result.shape, parents: parents) { gradient, parentGradients in
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
            pullback(gradient.pointer, node.parents.map { $0.gradientBuffer() })
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
