import CKernels
import Foundation

/// How a loss combines its per-example terms.
public enum Reduction: Sendable {
    /// The mean over examples (the default, as in PyTorch).
    case mean
    /// The sum over examples.
    case sum
}

func checkLabels(_ labels: [Int32], rows: Int, classes: Int, _ op: String) {
    precondition(labels.count == rows, "\(op): \(labels.count) labels for \(rows) rows of logits")
    for (i, label) in labels.enumerated() {
        precondition(label >= 0 && Int(label) < classes, "\(op): label \(label) at row \(i) is outside 0..<\(classes)")
    }
}

/// Categorical cross-entropy of (N, classes) logits against integer labels: the fused,
/// numerically stable softmax + negative log-likelihood.
public func crossEntropy(logits: Tensor, labels: [Int32], reduction: Reduction = .mean) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy: logits must be (N, classes), shape is \(logits.shape)")
    let (rows, cols) = (logits.shape[0], logits.shape[1])
    checkLabels(labels, rows: rows, classes: cols, "crossEntropy")
    let probabilities = TensorStorage(uninitializedCount: logits.count)
    let meanLoss = logits.withUnsafePointer { px in
        labels.withUnsafeBufferPointer {
            ck_softmax_cross_entropy_forward(probabilities.pointer, px, $0.baseAddress!, Int32(rows), Int32(cols))
        }
    }
    let scale: Float = reduction == .mean ? 1 / Float(rows) : 1
    var y = Tensor(scalar: reduction == .mean ? meanLoss : meanLoss * Float(rows))
    func crossEntropyBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: rows * cols) else { return }
        labels.withUnsafeBufferPointer {
            ck_softmax_cross_entropy_backward(dx, probabilities.pointer, $0.baseAddress!, Int32(rows), Int32(cols), dy[0] * scale)
        }
    }
    Tensor.record(&y, inputs: [logits], pullback: crossEntropyBackward)
    return y
}

/// Categorical cross-entropy of (N, classes) logits against integer labels.
public func crossEntropy(logits: Tensor, labels: [Int], reduction: Reduction = .mean) -> Tensor {
    crossEntropy(logits: logits, labels: labels.map { Int32($0) }, reduction: reduction)
}

/// Categorical cross-entropy of (N, classes) logits against one-hot (or soft) targets.
public func crossEntropy(logits: Tensor, oneHot targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    precondition(logits.rank == 2 && targets.shape == logits.shape,
                 "crossEntropy: targets shape \(targets.shape) differs from logits \(logits.shape)")
    let total = -(logSoftmax(logits) * targets.detached).sum()
    return reduction == .mean ? total / Float(logits.shape[0]) : total
}

/// Negative log-likelihood of (N, classes) log-probabilities at the integer labels.
public func negativeLogLikelihood(logProbabilities x: Tensor, labels: [Int32],
                                  reduction: Reduction = .mean) -> Tensor {
    precondition(x.rank == 2, "negativeLogLikelihood: input must be (N, classes), shape is \(x.shape)")
    let (rows, cols) = (x.shape[0], x.shape[1])
    checkLabels(labels, rows: rows, classes: cols, "negativeLogLikelihood")
    let scale: Float = reduction == .mean ? 1 / Float(rows) : 1
    let total = x.withUnsafePointer { px in
        var total = 0.0
        for i in 0..<rows { total -= Double(px[i * cols + Int(labels[i])]) }
        return total
    }
    var y = Tensor(scalar: Float(total) * scale)
    func negativeLogLikelihoodBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: rows * cols) else { return }
        for i in 0..<rows { dx[i * cols + Int(labels[i])] -= dy[0] * scale }
    }
    Tensor.record(&y, inputs: [x], pullback: negativeLogLikelihoodBackward)
    return y
}

/// Mean (or summed) squared error between predictions and targets of the same shape.
public func meanSquaredError(_ predictions: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    let diff = predictions - targets.detached
    let total = (diff * diff).sum()
    return reduction == .mean ? total / Float(max(predictions.count, 1)) : total
}

/// Binary cross-entropy of probabilities p in [0, 1] against targets t:
/// -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does.
public func binaryCrossEntropy(probabilities p: Tensor, targets t: Tensor, reduction: Reduction = .mean) -> Tensor {
    Tensor.checkSameShape("binaryCrossEntropy", p, t)
    let n = p.count
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let total = Tensor.withUnsafePointers(p, t) { pp, pt in
        var total = 0.0
        for i in 0..<n {
            let (pi, ti) = (Double(pp[i]), Double(pt[i]))
            total -= ti * max(log(pi), -100) + (1 - ti) * max(log(1 - pi), -100)
        }
        return total
    }
    var y = Tensor(scalar: Float(total) * scale)
    let (cp, ct) = (p.detached, t.detached)
    func binaryCrossEntropyBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dp = grads[0]?.zeroedIfFirst(count: n) else { return }
        let eps: Float = 1e-12  // keeps the gradient finite at p = 0 or 1
        Tensor.withUnsafePointers(cp, ct) { pp, pt in
            for i in 0..<n {
                let (pi, ti) = (pp[i], pt[i])
                dp[i] += dy[0] * scale * (pi - ti) / max(pi * (1 - pi), eps)
            }
        }
    }
    Tensor.record(&y, inputs: [p], pullback: binaryCrossEntropyBackward)
    return y
}

/// Binary cross-entropy on logits x against targets t, stable for any x:
/// max(x, 0) - x t + log(1 + exp(-|x|)); its gradient is sigmoid(x) - t.
public func binaryCrossEntropy(logits x: Tensor, targets t: Tensor, reduction: Reduction = .mean) -> Tensor {
    Tensor.checkSameShape("binaryCrossEntropy(logits:)", x, t)
    let n = x.count
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let total = Tensor.withUnsafePointers(x, t) { px, pt in
        var total = 0.0
        for i in 0..<n {
            let (xi, ti) = (Double(px[i]), Double(pt[i]))
            total += max(xi, 0) - xi * ti + log1p(exp(-abs(xi)))
        }
        return total
    }
    var y = Tensor(scalar: Float(total) * scale)
    let (cx, ct) = (x.detached, t.detached)
    func binaryCrossEntropyWithLogitsBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: n) else { return }
        Tensor.withUnsafePointers(cx, ct) { px, pt in
            for i in 0..<n {
                let xi = px[i]
                let s = xi >= 0 ? 1 / (1 + exp(-xi)) : exp(xi) / (1 + exp(xi))
                dx[i] += dy[0] * scale * (s - pt[i])
            }
        }
    }
    Tensor.record(&y, inputs: [x], pullback: binaryCrossEntropyWithLogitsBackward)
    return y
}

/// L1 penalty: the sum of |w| over `parameters` (times `weight`), with gradient sign(w).
public func l1Penalty(_ parameters: [Parameter], weight: Float = 1) -> Tensor {
    var total: Tensor? = nil
    for parameter in parameters {
        let w = parameter.value
        let n = w.count
        var term = Tensor(scalar: w.withUnsafeBufferPointer { $0.reduce(0) { $0 + abs($1) } } * weight)
        let cw = w.detached
        func l1PenaltyBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            guard let dw = grads[0]?.zeroedIfFirst(count: n) else { return }
            cw.withUnsafePointer { pw in
                for i in 0..<n { let v = pw[i]; dw[i] += dy[0] * weight * (v > 0 ? 1 : (v < 0 ? -1 : 0)) }
            }
        }
        Tensor.record(&term, inputs: [w], pullback: l1PenaltyBackward)
        total = total.map { $0 + term } ?? term
    }
    return total ?? Tensor(scalar: 0)
}

/// L2 penalty: weight * the sum of w^2 over `parameters`, whose gradient is 2 * weight * w.
public func l2Penalty(_ parameters: [Parameter], weight: Float = 1) -> Tensor {
    var total: Tensor? = nil
    for parameter in parameters {
        let w = parameter.value
        let term = (w * w).sum() * weight
        total = total.map { $0 + term } ?? term
    }
    return total ?? Tensor(scalar: 0)
}

/// Mean (or summed) absolute error |p - t| between predictions and targets of the same
/// shape; its gradient is sign(p - t) (0 where they are equal, as PyTorch's `l1_loss`).
public func l1Loss(_ predictions: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    huberLike("l1Loss", predictions, targets, delta: nil, reduction: reduction)
}

/// Huber loss of predictions against targets of the same shape: 0.5 d² where |d| <= delta,
/// delta (|d| - 0.5 delta) beyond (d = p - t), as PyTorch's `huber_loss`; its gradient is d
/// clipped to [-delta, delta].
public func huberLoss(_ predictions: Tensor, _ targets: Tensor, delta: Float = 1, reduction: Reduction = .mean) -> Tensor {
    precondition(delta > 0, "huberLoss: delta is \(delta), expected > 0")
    return huberLike("huberLoss", predictions, targets, delta: delta, reduction: reduction)
}

/// L1 (delta nil) or Huber loss, forward in Double and its pullback beside it.
private func huberLike(_ op: String, _ p: Tensor, _ t: Tensor, delta: Float?, reduction: Reduction) -> Tensor {
    Tensor.checkSameShape(op, p, t)
    let n = p.count
    let scale: Float = reduction == .mean ? 1 / Float(max(n, 1)) : 1
    let total = Tensor.withUnsafePointers(p, t) { pp, pt in
        var total = 0.0
        for i in 0..<n {
            let d = Double(pp[i]) - Double(pt[i]), a = abs(d)
            if let delta {
                let k = Double(delta)
                total += a <= k ? 0.5 * d * d : k * (a - 0.5 * k)
            } else {
                total += a
            }
        }
        return total
    }
    var y = Tensor(scalar: Float(total) * scale)
    let (cp, ct) = (p.detached, t.detached)
    func huberLikeBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dp = grads[0]?.zeroedIfFirst(count: n) else { return }
        let g = dy[0] * scale
        Tensor.withUnsafePointers(cp, ct) { pp, pt in
            for i in 0..<n {
                let d = pp[i] - pt[i]
                let slope: Float = delta.map { Swift.min(Swift.max(d, -$0), $0) } ?? (d > 0 ? 1 : (d < 0 ? -1 : 0))
                dp[i] += g * slope
            }
        }
    }
    Tensor.record(&y, inputs: [p], pullback: huberLikeBackward)
    return y
}

/// Class indices held as floats in a target tensor (what `DataBatch.targets` carries for
/// classification), back as `Int32` labels.
public func classLabels(_ targets: Tensor) -> [Int32] {
    targets.withUnsafeBufferPointer { t in t.map { Int32($0) } }
}
