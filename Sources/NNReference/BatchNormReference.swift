// Naive batch normalization from the definitions (Ioffe & Szegedy, 2015) with PyTorch's
// conventions. x is (n, c, s): s = h*w for images, s = 1 for (N, F) features. Every
// statistic is per channel over its n*s values, in Double.

/// What the training forward produces: the output, the statistics backward needs, and the
/// updated running statistics.
public struct BatchNormTrainingResult: Sendable {
    /// y (n, c, s) = (x - mean) * invstd * gamma + beta.
    public var y: [Float]
    /// Batch mean per channel (c).
    public var mean: [Float]
    /// 1 / sqrt(biased batch variance + eps) per channel (c).
    public var invstd: [Float]
    /// (1 - momentum) * runningMean + momentum * mean.
    public var runningMean: [Float]
    /// (1 - momentum) * runningVar + momentum * unbiased variance; unchanged when n*s == 1.
    public var runningVar: [Float]
}

/// The gradients of a batch-norm backward pass.
public struct BatchNormGradients: Sendable {
    /// Gradient of x (n, c, s).
    public var dx: [Float]
    /// Gradient of gamma (c).
    public var dgamma: [Float]
    /// Gradient of beta (c).
    public var dbeta: [Float]
}

/// Index of element (i, j, k) of an (n, c, s) array.
@inline(__always)
private func at(_ i: Int, _ j: Int, _ k: Int, c: Int, s: Int) -> Int { (i * c + j) * s + k }

private func checkShapes(_ x: [Float], _ perChannel: [[Float]], n: Int, c: Int, s: Int, _ what: String) {
    precondition(n >= 0 && c >= 0 && s >= 1 && x.count == n * c * s,
                 "\(what): x has \(x.count) elements, shape (\(n),\(c),\(s))")
    for v in perChannel {
        precondition(v.count == c, "\(what): a per-channel array has \(v.count) elements, c = \(c)")
    }
}

/// Training forward: normalises with the batch mean and biased variance and updates the
/// running statistics with the unbiased variance (divide by n*s - 1), as PyTorch does.
/// With n*s == 1 the unbiased variance is undefined, so the running variance is left
/// unchanged (the same choice as `ck_batchnorm_forward_training`).
public func referenceBatchNormTrainingForward(
    x: [Float], gamma: [Float], beta: [Float], runningMean: [Float], runningVar: [Float],
    n: Int, c: Int, s: Int, momentum: Float, eps: Float
) -> BatchNormTrainingResult {
    checkShapes(x, [gamma, beta, runningMean, runningVar], n: n, c: c, s: s, "batch norm training forward")
    precondition(n * s >= 1, "batch norm training forward needs at least one value per channel")
    let count = Double(n * s), m = Double(momentum)
    var result = BatchNormTrainingResult(y: [Float](repeating: 0, count: x.count),
                                         mean: gamma, invstd: gamma,
                                         runningMean: runningMean, runningVar: runningVar)
    for j in 0..<c {
        var sum = 0.0
        for i in 0..<n { for k in 0..<s { sum += Double(x[at(i, j, k, c: c, s: s)]) } }
        let mean = sum / count
        var squares = 0.0
        for i in 0..<n {
            for k in 0..<s {
                let d = Double(x[at(i, j, k, c: c, s: s)]) - mean
                squares += d * d
            }
        }
        let invstd = 1 / (squares / count + Double(eps)).squareRoot()
        for i in 0..<n {
            for k in 0..<s {
                let index = at(i, j, k, c: c, s: s)
                result.y[index] = Float((Double(x[index]) - mean) * invstd * Double(gamma[j]) + Double(beta[j]))
            }
        }
        result.mean[j] = Float(mean)
        result.invstd[j] = Float(invstd)
        result.runningMean[j] = Float((1 - m) * Double(runningMean[j]) + m * mean)
        if n * s > 1 {
            result.runningVar[j] = Float((1 - m) * Double(runningVar[j]) + m * squares / (count - 1))
        }
    }
    return result
}

/// Inference forward: y = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta.
public func referenceBatchNormInferenceForward(
    x: [Float], gamma: [Float], beta: [Float], runningMean: [Float], runningVar: [Float],
    n: Int, c: Int, s: Int, eps: Float
) -> [Float] {
    checkShapes(x, [gamma, beta, runningMean, runningVar], n: n, c: c, s: s, "batch norm inference forward")
    var y = [Float](repeating: 0, count: x.count)
    for j in 0..<c {
        let invstd = 1 / (Double(runningVar[j]) + Double(eps)).squareRoot()
        for i in 0..<n {
            for k in 0..<s {
                let index = at(i, j, k, c: c, s: s)
                y[index] = Float((Double(x[index]) - Double(runningMean[j])) * invstd * Double(gamma[j])
                                 + Double(beta[j]))
            }
        }
    }
    return y
}

/// Training backward, by the chain rule through y = xhat * gamma + beta,
/// xhat = (x - mean) * invstd, invstd = (var + eps)^(-1/2), var = mean of (x - mean)^2 and
/// mean = mean of x, taking `mean` and `invstd` as saved by the training forward.
public func referenceBatchNormBackward(
    dy: [Float], x: [Float], gamma: [Float], mean: [Float], invstd: [Float],
    n: Int, c: Int, s: Int
) -> BatchNormGradients {
    checkShapes(x, [gamma, mean, invstd], n: n, c: c, s: s, "batch norm backward")
    precondition(dy.count == x.count, "batch norm backward: dy has \(dy.count) elements, x \(x.count)")
    let count = Double(n * s)
    var grads = BatchNormGradients(dx: [Float](repeating: 0, count: x.count),
                                   dgamma: [Float](repeating: 0, count: c),
                                   dbeta: [Float](repeating: 0, count: c))
    for j in 0..<c {
        let mu = Double(mean[j]), istd = Double(invstd[j]), g = Double(gamma[j])
        var dgamma = 0.0, dbeta = 0.0, dvar = 0.0, dxhatSum = 0.0, centredSum = 0.0
        for i in 0..<n {
            for k in 0..<s {
                let index = at(i, j, k, c: c, s: s)
                let centred = Double(x[index]) - mu
                let dxhat = Double(dy[index]) * g
                dbeta += Double(dy[index])
                dgamma += Double(dy[index]) * centred * istd
                // d var: through invstd = (var + eps)^(-1/2).
                dvar += dxhat * centred * -0.5 * istd * istd * istd
                dxhatSum += dxhat
                centredSum += centred
            }
        }
        // d mean: directly through xhat, and through var (whose derivative by the mean
        // is -2/count * sum(x - mean), about zero but not dropped here).
        let dmean = -dxhatSum * istd + dvar * -2 * centredSum / count
        for i in 0..<n {
            for k in 0..<s {
                let index = at(i, j, k, c: c, s: s)
                let centred = Double(x[index]) - mu
                let dxhat = Double(dy[index]) * g
                grads.dx[index] = Float(dxhat * istd + dvar * 2 * centred / count + dmean / count)
            }
        }
        grads.dgamma[j] = Float(dgamma)
        grads.dbeta[j] = Float(dbeta)
    }
    return grads
}

/// Inference backward: the running statistics are constants, so dx = dy * gamma * invstd,
/// dgamma = sum(dy * xhat), dbeta = sum(dy) with invstd = 1 / sqrt(runningVar + eps).
public func referenceBatchNormInferenceBackward(
    dy: [Float], x: [Float], gamma: [Float], runningMean: [Float], runningVar: [Float],
    n: Int, c: Int, s: Int, eps: Float
) -> BatchNormGradients {
    checkShapes(x, [gamma, runningMean, runningVar], n: n, c: c, s: s, "batch norm inference backward")
    precondition(dy.count == x.count, "batch norm inference backward: dy has \(dy.count) elements, x \(x.count)")
    var grads = BatchNormGradients(dx: [Float](repeating: 0, count: x.count),
                                   dgamma: [Float](repeating: 0, count: c),
                                   dbeta: [Float](repeating: 0, count: c))
    for j in 0..<c {
        let invstd = 1 / (Double(runningVar[j]) + Double(eps)).squareRoot()
        var dgamma = 0.0, dbeta = 0.0
        for i in 0..<n {
            for k in 0..<s {
                let index = at(i, j, k, c: c, s: s)
                let d = Double(dy[index])
                grads.dx[index] = Float(d * Double(gamma[j]) * invstd)
                dgamma += d * (Double(x[index]) - Double(runningMean[j])) * invstd
                dbeta += d
            }
        }
        grads.dgamma[j] = Float(dgamma)
        grads.dbeta[j] = Float(dbeta)
    }
    return grads
}

/// Backward of y = max(BN(x), 0) in training: the batch-norm backward of dy where y > 0
/// and of 0 elsewhere (ReLU's derivative, taken at the output as the library's ReLU does).
public func referenceBatchNormReLUBackward(
    dy: [Float], y: [Float], x: [Float], gamma: [Float], mean: [Float], invstd: [Float],
    n: Int, c: Int, s: Int
) -> BatchNormGradients {
    precondition(y.count == dy.count, "batch norm + ReLU backward: y has \(y.count) elements, dy \(dy.count)")
    let masked = zip(dy, y).map { $1 > 0 ? $0 : 0 }
    return referenceBatchNormBackward(dy: masked, x: x, gamma: gamma, mean: mean, invstd: invstd, n: n, c: c, s: s)
}
