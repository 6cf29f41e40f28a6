/// Naive regression losses, written straight from their definitions in Double, element
/// by element: the oracle for `l1Loss`, `huberLoss` and `meanSquaredError` in NN.

/// Mean of |p - t| (L1), (p - t)² (squared error) or Huber's piecewise loss with `delta`:
/// 0.5 d² for |d| <= delta, delta (|d| - 0.5 delta) beyond.
public enum ReferenceRegressionLoss: Sendable {
    /// Mean absolute error.
    case l1
    /// Mean squared error.
    case squared
    /// Huber loss with the given delta.
    case huber(delta: Float)
}

/// The mean loss of `predictions` against `targets` (same count, at least one).
public func referenceRegressionLossForward(_ kind: ReferenceRegressionLoss, predictions: [Float],
                                           targets: [Float]) -> Float {
    precondition(!predictions.isEmpty && predictions.count == targets.count,
                 "regression loss: \(predictions.count) predictions, \(targets.count) targets")
    var total = 0.0
    for i in predictions.indices {
        let d = Double(predictions[i]) - Double(targets[i])
        switch kind {
        case .l1: total += abs(d)
        case .squared: total += d * d
        case .huber(let delta):
            let k = Double(delta)
            total += abs(d) <= k ? 0.5 * d * d : k * (abs(d) - 0.5 * k)
        }
    }
    return Float(total / Double(predictions.count))
}

/// The gradient of the mean loss with respect to the predictions, times `scale` (returned,
/// not accumulated): sign(d), 2d or clip(d, ±delta), over the element count.
public func referenceRegressionLossBackward(_ kind: ReferenceRegressionLoss, predictions: [Float],
                                            targets: [Float], scale: Float = 1) -> [Float] {
    precondition(!predictions.isEmpty && predictions.count == targets.count,
                 "regression loss backward: \(predictions.count) predictions, \(targets.count) targets")
    let n = Double(predictions.count)
    return predictions.indices.map { i in
        let d = Double(predictions[i]) - Double(targets[i])
        let slope: Double
        switch kind {
        case .l1: slope = d > 0 ? 1 : (d < 0 ? -1 : 0)
        case .squared: slope = 2 * d
        case .huber(let delta): slope = min(max(d, -Double(delta)), Double(delta))
        }
        return Float(Double(scale) * slope / n)
    }
}
