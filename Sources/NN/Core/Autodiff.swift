import CKernels

/// Reverse-mode automatic differentiation.
///
/// Every differentiable op that sees an input requiring gradients gives its result a
/// `Node` (`Tensor.record`): the input nodes plus a pullback, a function named
/// `<op>Backward` beside the op's forward (`conv2dBackward`, `matmulBackward`), that turns
/// the result's gradient into the inputs' gradients. `backward()` orders the graph
/// topologically once (linear in the number of ops), runs the pullbacks in reverse, and
/// then releases every non-leaf node so the graph and the tensors its closures captured
/// are freed.
///
/// The gradient rule, for every pullback: it gets one `InputGradient` per input (nil for an
/// input that needs no gradient). When its `accumulate` is false this is the first gradient
/// to reach that input: the buffer holds no values and the pullback must WRITE every
/// element of it. When `accumulate` is true the buffer holds the gradients of the input's
/// other uses and the pullback must ADD into it. A pullback that can only add (a kernel
/// without an `accumulate` argument, a scatter) calls `zeroedIfFirst(count:)` first; one
/// that can write cheaply writes (`addOrWrite`, the kernels' `accumulate` = 0, GEMM's
/// beta 0), which saves zero-filling a buffer and reading the zeros back, as PyTorch's
/// autograd assigns a first gradient and sums the rest (measured in docs/performance.md).
/// An input used twice by one op (x * x) gets its buffer zeroed and marked `accumulate` in
/// both slots, so the order in which the pullback fills them does not matter.

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

/// `dst[i] += scale * src[i]` for `count` elements.
@inline(__always)
func addScaled(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
    if scale == 1 {
        for i in 0..<count { dst[i] += src[i] }
    } else {
        for i in 0..<count { dst[i] += scale * src[i] }
    }
}

/// An input's gradient buffer as a pullback receives it (the rule is at the top of this file).
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

    /// `scale * src` written into the first `count` elements, or added to them when the
    /// buffer already holds a gradient (the gradient of a copy, a sum or a scaled copy).
    @inline(__always)
    func addOrWrite(_ src: UnsafePointer<Float>, count: Int, scale: Float = 1) {
        if accumulate {
            addScaled(src, into: pointer, count: count, scale: scale)
        } else if scale == 1 {
            pointer.update(from: src, count: count)
        } else {
            for i in 0..<count { pointer[i] = scale * src[i] }
        }
    }

    /// The same buffer from element `offset` on, for a pullback that fills an input's
    /// gradient in pieces (every piece written or added under the same rule).
    func advanced(by offset: Int) -> InputGradient {
        InputGradient(pointer: pointer + offset, accumulate: accumulate)
    }
}

/// A vertex of the autodiff graph.
final class Node {
    let shape: [Int]
    let count: Int
    /// Leaves (parameters, `requiringGradient()` inputs) keep their gradient after backward.
    let isLeaf: Bool
    var parents: [Node]
    /// Writes or adds the parents' gradients given this node's gradient;
    /// `parentGradients[i]` is the buffer of `parents[i]`.
    var pullback: ((_ gradient: UnsafePointer<Float>, _ parentGradients: [InputGradient]) -> Void)?
    /// Allocated the first time a gradient reaches this node.
    private(set) var gradient: TensorStorage?
    /// True once a `backward()` has run this node's pullback and released it: a later
    /// backward through it would silently drop every gradient above it.
    private(set) var isReleased = false
    /// True after `zeroGradient()` on a leaf: `gradient` keeps its storage for reuse but
    /// holds no values, so the next backward writes it as a first gradient instead of
    /// adding into zeros (PyTorch's `zero_grad(set_to_none=True)`, without the allocation).
    private var gradientIsCleared = false
    /// On a leaf, during a backward that reports final gradients: the pullbacks still to
    /// run that add into its gradient (at 0 the gradient is final). A field, not a
    /// dictionary built per backward.
    var pendingConsumers = 0

    init(leafShape shape: [Int]) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = true
        parents = []
    }

    init(shape: [Int], parents: [Node],
         pullback: @escaping (UnsafePointer<Float>, [InputGradient]) -> Void) {
        self.shape = shape
        count = Tensor.elementCount(shape)
        isLeaf = false
        self.parents = parents
        self.pullback = pullback
    }

    /// The gradient buffer, allocated zeroed on first use (and zeroed if cleared).
    func gradientBuffer() -> UnsafeMutablePointer<Float> {
        if let gradient {
            if gradientIsCleared {
                ck_fill(gradient.pointer, 0, count)
                gradientIsCleared = false
            }
            return gradient.pointer
        }
        let storage = TensorStorage(count: count, repeating: 0)
        gradient = storage
        return storage.pointer
    }

    /// Whether one node is a parent twice (y = x * x). Ops have one to three inputs, so a
    /// pairwise scan, without the Set (an allocation per op of every backward) it replaces.
    private var hasRepeatedParent: Bool {
        for i in parents.indices {
            for j in parents.indices where j > i && parents[i] === parents[j] { return true }
        }
        return false
    }

    /// The parents' gradient buffers for this node's pullback. A parent no gradient has
    /// reached yet gets a buffer that is not zeroed, unless it is a parent twice (y = x * x:
    /// the pullback would write one slot and add the other, so both start from zero).
    func parentGradients() -> [InputGradient] {
        let writes = !hasRepeatedParent
        let poison = writes && GradientMode.poisonsFirstGradients
        return parents.map { parent in
            if writes && (parent.gradient == nil || parent.gradientIsCleared) {
                let storage = parent.gradient ?? TensorStorage(uninitializedCount: parent.count)
                if poison { ck_fill(storage.pointer, .nan, parent.count) }
                parent.gradient = storage
                parent.gradientIsCleared = false
                return InputGradient(pointer: storage.pointer, accumulate: false)
            }
            return InputGradient(pointer: parent.gradientBuffer(), accumulate: true)
        }
    }

    /// Whether a gradient has reached this node since it was created or last zeroed.
    var hasGradient: Bool { gradient != nil && !gradientIsCleared }

    /// The accumulated gradient as a tensor (zeros if nothing reached this node).
    func gradientTensor() -> Tensor {
        guard let gradient, !gradientIsCleared else { return Tensor(zeros: shape) }
        return Tensor(shape: shape, storage: gradient.copy())
    }

    /// Keeps this leaf's gradient in `storage` from now on (a window into a gradient
    /// bucket), carrying over the gradient accumulated so far.
    func adoptGradientStorage(_ storage: TensorStorage) {
        precondition(isLeaf && storage.count == count,
                     "adoptGradientStorage: \(storage.count) floats for a \(isLeaf ? "leaf" : "non-leaf") of shape \(shape)")
        if let gradient, !gradientIsCleared {
            storage.pointer.update(from: gradient.pointer, count: count)
        } else {
            gradientIsCleared = true
        }
        gradient = storage
    }

    /// Whether this node's gradient lives in `storage` (its bucket window).
    func holdsGradient(in storage: TensorStorage) -> Bool { gradient === storage }

    /// Frees the gradient buffer (non-leaf nodes after backward).
    func releaseGradient() {
        gradient = nil
        gradientIsCleared = false
    }

    /// Frees what backward no longer needs (the pullback, its captures, the gradient) and
    /// marks the node released.
    func release() {
        pullback = nil
        parents = []
        releaseGradient()
        isReleased = true
    }

    /// Forgets the accumulated gradient: it reads as zeros from now on, and the next
    /// gradient to arrive is written over the buffer rather than added to zeros.
    func zeroGradient() {
        if gradient != nil { gradientIsCleared = true }
    }
}

extension Tensor {
    /// Gives `result` a graph node when gradients are recorded and any of `inputs` requires
    /// them. `pullback(gradient, inputGradients)` writes or adds each non-nil input buffer
    /// as the rule at the top of this file says; an input that needs no gradient gets `nil`,
    /// so the op can skip that work.
    static func record(
        _ result: inout Tensor, inputs: [Tensor],
        pullback: @escaping (_ gradient: UnsafePointer<Float>, _ inputGradients: [InputGradient?]) -> Void
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
        backward(seed: seed, leafGradientFinal: nil)
    }

    /// `backward(seed:)`, calling `leafGradientFinal(leaf)` as soon as the last pullback
    /// that adds into that leaf's gradient has run (data-parallel training starts its
    /// all-reduce there while backward goes on), and `afterPullback()` after every pullback
    /// (where it lets the started all-reduces advance). A leaf no gradient reaches is not
    /// reported.
    func backward(seed: Tensor, leafGradientFinal: ((Node) -> Void)?, afterPullback: (() -> Void)? = nil) {
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
        // PyTorch raises here too: the pullbacks and what they saved are gone, so the
        // gradients of everything before the released node would be silently lost.
        // fatalError, not preconditionFailure: -O builds drop a precondition's message.
        if order.contains(where: { $0.isReleased }) {
            fatalError("""
                backward(): trying to backward through the graph a second time. A previous \
                backward() released this graph (its saved values are freed after backward to \
                save memory); compute the value again with a new forward pass, then call backward()
                """)
        }
        // Pullbacks still to run that add into each leaf: at 0 the leaf's gradient is final.
        // A leaf comes before its consumers in `order`, so it is reset before they count.
        if leafGradientFinal != nil {
            for node in order {
                if node.isLeaf { node.pendingConsumers = 0; continue }
                for parent in node.parents where parent.isLeaf { parent.pendingConsumers += 1 }
            }
        }
        seed.withUnsafePointer { addScaled($0, into: root.gradientBuffer(), count: count) }
        for node in order.reversed() {
            guard let pullback = node.pullback else { continue }
            let parents = node.parents
            if let gradient = node.gradient {
                pullback(gradient.pointer, node.parentGradients())
                // Every consumer of this node came earlier in the reverse order, so its gradient
                // is complete and used up: free it and what its pullback captured (the forward
                // activations) now rather than after the whole pass. This bounds the peak to
                // the activations not yet visited plus the gradients in flight.
                if !node.isLeaf { node.release() }
            }
            // Counted down even when no gradient reached this node (its pullback adds nothing).
            if let leafGradientFinal {
                for parent in parents where parent.isLeaf {
                    parent.pendingConsumers -= 1
                    if parent.pendingConsumers == 0 && parent.hasGradient { leafGradientFinal(parent) }
                }
            }
            afterPullback?()
        }
        for node in order where !node.isLeaf { node.release() }
    }
}
