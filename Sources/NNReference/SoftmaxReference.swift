import Foundation

/// One row's softmax in Double. The row max is subtracted first: softmax is unchanged by a
/// shift, and without it e^x overflows even Double for logits past ~709.
private func softmaxRow(_ x: ArraySlice<Float>) -> [Double] {
    let m = Double(x.max()!)
    let e = x.map { exp(Double($0) - m) }
    let sum = e.reduce(0, +)
    return e.map { $0 / sum }
}

/// log(sum(e^x)) of one row in Double, shifted by the max for the same reason.
private func logSumExpRow(_ x: ArraySlice<Float>) -> Double {
    let m = Double(x.max()!)
    return m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
}

private func row(_ a: [Float], _ r: Int, _ cols: Int) -> ArraySlice<Float> {
    a[(r * cols)..<((r + 1) * cols)]
}

/// Softmax of each row of x (rows, cols): y_j = e^(x_j) / sum_k e^(x_k).
public func referenceSoftmaxForward(_ x: [Float], rows: Int, cols: Int) -> [Float] {
    precondition(rows >= 0 && cols > 0 && x.count == rows * cols,
                 "softmax forward: x has \(x.count) elements for (\(rows),\(cols))")
    return (0..<rows).flatMap { r in softmaxRow(row(x, r, cols)).map { Float($0) } }
}

/// Softmax gradient (returned, not accumulated) through the full Jacobian of each row,
/// dy_i/dx_j = y_i (delta_ij - y_j): dx_j = sum_i dy_i y_i (delta_ij - y_j).
public func referenceSoftmaxBackward(dy: [Float], y: [Float], rows: Int, cols: Int) -> [Float] {
    precondition(rows >= 0 && cols > 0 && y.count == rows * cols && dy.count == y.count,
                 "softmax backward: y \(y.count), dy \(dy.count) for (\(rows),\(cols))")
    var dx = [Float](repeating: 0, count: y.count)
    for r in 0..<rows {
        let base = r * cols
        for j in 0..<cols {
            var sum = 0.0
            for i in 0..<cols {
                let yi = Double(y[base + i])
                let jacobian = yi * ((i == j ? 1 : 0) - Double(y[base + j]))
                sum += Double(dy[base + i]) * jacobian
            }
            dx[base + j] = Float(sum)
        }
    }
    return dx
}

/// Log-softmax of each row of x (rows, cols): y_j = x_j - log(sum_k e^(x_k)).
public func referenceLogSoftmaxForward(_ x: [Float], rows: Int, cols: Int) -> [Float] {
    precondition(rows >= 0 && cols > 0 && x.count == rows * cols,
                 "log-softmax forward: x has \(x.count) elements for (\(rows),\(cols))")
    return (0..<rows).flatMap { r -> [Float] in
        let lse = logSumExpRow(row(x, r, cols))
        return row(x, r, cols).map { Float(Double($0) - lse) }
    }
}

/// Log-softmax gradient (returned, not accumulated) through the full Jacobian of each row,
/// dy_i/dx_j = delta_ij - softmax_j, where softmax_j = e^(y_j) for the log-softmax output y.
public func referenceLogSoftmaxBackward(dy: [Float], y: [Float], rows: Int, cols: Int) -> [Float] {
    precondition(rows >= 0 && cols > 0 && y.count == rows * cols && dy.count == y.count,
                 "log-softmax backward: y \(y.count), dy \(dy.count) for (\(rows),\(cols))")
    var dx = [Float](repeating: 0, count: y.count)
    for r in 0..<rows {
        let base = r * cols
        for j in 0..<cols {
            let softmaxJ = exp(Double(y[base + j]))
            var sum = 0.0
            for i in 0..<cols {
                sum += Double(dy[base + i]) * ((i == j ? 1 : 0) - softmaxJ)
            }
            dx[base + j] = Float(sum)
        }
    }
    return dx
}

/// Mean cross-entropy of softmax(logits) against integer labels, and the probabilities.
/// Each row's loss is -log softmax(x)_label = logsumexp(x) - x_label, finite for any
/// finite logits (the probability itself may underflow to 0).
public func referenceSoftmaxCrossEntropyForward(logits: [Float], labels: [Int],
                                                rows: Int, cols: Int) -> (loss: Float, probs: [Float]) {
    precondition(rows > 0 && cols > 0 && logits.count == rows * cols && labels.count == rows,
                 "softmax cross-entropy: logits \(logits.count) for (\(rows),\(cols)), labels \(labels.count)")
    var total = 0.0
    for r in 0..<rows {
        precondition((0..<cols).contains(labels[r]), "softmax cross-entropy: label \(labels[r]) of row \(r) not in 0..<\(cols)")
        total += logSumExpRow(row(logits, r, cols)) - Double(logits[r * cols + labels[r]])
    }
    return (Float(total / Double(rows)), referenceSoftmaxForward(logits, rows: rows, cols: cols))
}

/// Cross-entropy gradient (returned, not accumulated): scale * (probs - onehot(labels));
/// scale = dloss / rows for the mean loss.
public func referenceSoftmaxCrossEntropyBackward(probs: [Float], labels: [Int],
                                                 rows: Int, cols: Int, scale: Float) -> [Float] {
    precondition(rows >= 0 && cols > 0 && probs.count == rows * cols && labels.count == rows,
                 "softmax cross-entropy backward: probs \(probs.count) for (\(rows),\(cols)), labels \(labels.count)")
    var dx = [Float](repeating: 0, count: probs.count)
    for r in 0..<rows {
        for j in 0..<cols {
            let onehot: Double = j == labels[r] ? 1 : 0
            dx[r * cols + j] = Float(Double(scale) * (Double(probs[r * cols + j]) - onehot))
        }
    }
    return dx
}
