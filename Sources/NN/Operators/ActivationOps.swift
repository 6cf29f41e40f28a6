import CKernels

// Element-wise activations, PReLU, softmax and log-softmax, all on the C kernels.

/// The C kernel's name for each element-wise activation.
public enum ActivationKind: Sendable {
    /// x.
    case identity
    /// 1 if x >= 0 else 0; its gradient is zero everywhere.
    case binaryStep
    /// 1 / (1 + exp(-x)).
    case sigmoid
    /// tanh(x).
    case tanh
    /// atan(x).
    case arctan
    /// max(x, 0); the gradient at 0 is 0, as in PyTorch.
    case relu
    /// x if x > 0 else alpha * x.
    case leakyReLU
    /// x if x > 0 else alpha * (exp(x) - 1).
    case elu
    /// log(1 + exp(x)).
    case softplus

    var kernel: ck_activation {
        switch self {
        case .identity: CK_ACT_IDENTITY
        case .binaryStep: CK_ACT_BINARY_STEP
        case .sigmoid: CK_ACT_SIGMOID
        case .tanh: CK_ACT_TANH
        case .arctan: CK_ACT_ARCTAN
        case .relu: CK_ACT_RELU
        case .leakyReLU: CK_ACT_LEAKY_RELU
        case .elu: CK_ACT_ELU
        case .softplus: CK_ACT_SOFTPLUS
        }
    }
}

/// `kind` applied to every element (`alpha` is LeakyReLU's slope or ELU's scale).
public func activation(_ x: Tensor, _ kind: ActivationKind, alpha: Float = 0) -> Tensor {
    let n = x.count
    let k = kind.kernel
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: x.shape) { out, n in ck_activation_forward(out, px, n, k, alpha) }
    }
    // ReLU's derivative test x > 0 is the same as y > 0, so its pullback keeps only y and
    // lets x go (one activation-sized tensor less held until backward).
    let cy = y.detached
    let cx = kind == .relu ? cy : x.detached
    func activationBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0] else { return }
        Tensor.withUnsafePointers(cx, cy) { px, py in
            ck_activation_backward(dx.pointer, dy, px, py, n, k, alpha, dx.accumulateFlag)
        }
    }
    Tensor.record(&y, inputs: [x], pullback: activationBackward)
    return y
}

/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { activation(x, .relu) }

/// relu(a + b) in one pass each way (`ck_add_relu_forward`, `ck_add_relu_backward`): the end
/// of a residual block, where the sum and its ReLU would be two passes over memory forward
/// and three backward, and the sum would be held for backward besides the output.
public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.checkSameShape("addReLU", a, b)
    var y = Tensor.withUnsafePointers(a, b) { pa, pb in
        Tensor.build(shape: a.shape) { out, n in ck_add_relu_forward(out, pa, pb, n) }
    }
    let (cy, n) = (y.detached, a.count)
    func addReLUBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        cy.withUnsafePointer { py in
            switch (grads[0], grads[1]) {
            case let (ga?, gb?):
                ck_add_relu_backward(ga.pointer, gb.pointer, dy, py, n, ga.accumulateFlag, gb.accumulateFlag)
            case let (g?, nil), let (nil, g?):
                ck_activation_backward(g.pointer, dy, py, py, n, CK_ACT_RELU, 0, g.accumulateFlag)
            case (nil, nil):
                break
            }
        }
    }
    Tensor.record(&y, inputs: [a, b], pullback: addReLUBackward)
    return y
}
/// x if x > 0 else alpha * x.
public func leakyReLU(_ x: Tensor, alpha: Float = 0.01) -> Tensor { activation(x, .leakyReLU, alpha: alpha) }
/// x if x > 0 else alpha * (exp(x) - 1).
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor { activation(x, .elu, alpha: alpha) }
/// 1 / (1 + exp(-x)).
public func sigmoid(_ x: Tensor) -> Tensor { activation(x, .sigmoid) }
/// The hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor { activation(x, .tanh) }
/// The arctangent.
public func arctan(_ x: Tensor) -> Tensor { activation(x, .arctan) }
/// log(1 + exp(x)), computed stably.
public func softplus(_ x: Tensor) -> Tensor { activation(x, .softplus) }
/// 1 if x >= 0 else 0; its derivative is 0 everywhere (it cannot be trained by gradients).
public func binaryStep(_ x: Tensor) -> Tensor { activation(x, .binaryStep) }

/// PReLU: x if x > 0 else alpha[c] * x, with one slope per channel (dimension 1).
public func prelu(_ x: Tensor, alpha: Tensor) -> Tensor {
    precondition(x.rank >= 2 && alpha.shape == [x.shape[1]],
                 "prelu: alpha shape \(alpha.shape) does not match channel dimension of \(x.shape)")
    let (n, c) = (Int32(x.shape[0]), Int32(x.shape[1]))
    let s = Int32(x.count / max(x.shape[0] * x.shape[1], 1))
    var y = Tensor.withUnsafePointers(x, alpha) { px, pa in
        Tensor.build(shape: x.shape) { out, _ in ck_prelu_forward(out, px, pa, n, c, s) }
    }
    let (cx, ca) = (x.detached, alpha.detached)
    func preluBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        // The kernel adds into both gradients; scratch stands in for one nobody needs.
        let scratchX = grads[0] == nil ? TensorStorage(count: cx.count, repeating: 0) : nil
        let scratchA = grads[1] == nil ? TensorStorage(count: ca.count, repeating: 0) : nil
        Tensor.withUnsafePointers(cx, ca) { px, pa in
            ck_prelu_backward(grads[0]?.zeroedIfFirst(count: cx.count) ?? scratchX!.pointer,
                              grads[1]?.zeroedIfFirst(count: ca.count) ?? scratchA!.pointer,
                              dy, px, pa, n, c, s)
        }
    }
    Tensor.record(&y, inputs: [x, alpha], pullback: preluBackward)
    return y
}

extension Tensor {
    /// (rows, cols) for a row-wise op over the last dimension.
    func lastAxisRows(_ op: String) -> (rows: Int32, cols: Int32) {
        precondition(rank >= 1 && shape.last! > 0, "\(op) needs a non-empty last dimension, shape is \(shape)")
        return (Int32(count / shape.last!), Int32(shape.last!))
    }
}

/// Softmax over the last dimension (each row sums to 1), max-subtracted for stability.
public func softmax(_ x: Tensor) -> Tensor {
    let (rows, cols) = x.lastAxisRows("softmax")
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: x.shape) { out, _ in ck_softmax_forward(out, px, rows, cols) }
    }
    let cy = y.detached
    func softmaxBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: cy.count) else { return }
        cy.withUnsafePointer { py in ck_softmax_backward(dx, dy, py, rows, cols) }
    }
    Tensor.record(&y, inputs: [x], pullback: softmaxBackward)
    return y
}

/// Log-softmax over the last dimension: x - logsumexp(x), stable for large logits.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let (rows, cols) = x.lastAxisRows("logSoftmax")
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: x.shape) { out, _ in ck_log_softmax_forward(out, px, rows, cols) }
    }
    let cy = y.detached
    func logSoftmaxBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: cy.count) else { return }
        cy.withUnsafePointer { py in ck_log_softmax_backward(dx, dy, py, rows, cols) }
    }
    Tensor.record(&y, inputs: [x], pullback: logSoftmaxBackward)
    return y
}
