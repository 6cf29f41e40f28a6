import CKernels

/// Training-mode batch norm whose statistics span every rank of `communicator` (PyTorch's
/// SyncBatchNorm, here also on CPU): N ranks with B images each compute what one process
/// computes with N·B.
///
/// Forward all-reduces each channel's sum, sum of squares and count (2C + 1 doubles) and
/// normalizes with the global mean and biased variance; the running statistics get the
/// global mean and unbiased variance. Backward all-reduces each channel's sum of dy and of
/// dy·(x - mean) (2C doubles): dx = gamma·invstd·(dy - Σdy/M - (x - mean)·invstd²·Σdy(x-mean)/M)
/// over the global count M. dgamma and dbeta are this rank's sums, which the trainer's
/// gradient average then combines like any other parameter's. Each rank's dy is N times
/// its share of the global loss's (its loss is a mean over its own B images), so dx is
/// too, and so is every upstream gradient before that same average divides by N.
public func synchronizedBatchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor,
                                  runningMean: inout Tensor, runningVariance: inout Tensor,
                                  momentum: Float = 0.1, epsilon: Float = 1e-5,
                                  communicator: any Communicator) -> Tensor {
    let dimensions = batchNormDimensions("synchronizedBatchNorm", x, [gamma, beta, runningMean, runningVariance])
    let (n, c, s) = (Int(dimensions.n), Int(dimensions.c), Int(dimensions.s))

    // Σx and Σx² per channel, then the count, summed over ranks in double precision.
    var totals = [Double](repeating: 0, count: 2 * c + 1)
    x.withUnsafePointer { px in
        totals.withUnsafeMutableBufferPointer { t in
            for i in 0..<n {
                for j in 0..<c {
                    let row = px + (i * c + j) * s
                    var sum = 0.0, squares = 0.0
                    for k in 0..<s {
                        let v = Double(row[k])
                        sum += v
                        squares += v * v
                    }
                    t[j] += sum
                    t[c + j] += squares
                }
            }
            t[2 * c] = Double(n * s)
        }
    }
    communicator.allReduce(&totals, .sum, label: "synchronized batch norm statistics (\(c) channels)")
    let count = totals[2 * c]
    precondition(count > 1, "synchronizedBatchNorm: training needs more than one value per channel, input shape \(x.shape)")
    var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
    var invstd = [Float](repeating: 0, count: c)
    for j in 0..<c {
        let m = totals[j] / count
        let v = max(totals[c + j] / count - m * m, 0)
        mean[j] = Float(m)
        variance[j] = Float(v)
        invstd[j] = Float(1 / (v + Double(epsilon)).squareRoot())
    }
    runningMean.withUnsafeMutableBufferPointer { rm in
        runningVariance.withUnsafeMutableBufferPointer { rv in
            for j in 0..<c {
                rm[j] = (1 - momentum) * rm[j] + momentum * mean[j]
                rv[j] = (1 - momentum) * rv[j] + momentum * variance[j] * Float(count / (count - 1))
            }
        }
    }
    // Normalizing with given statistics is exactly the inference kernel's job.
    let meanTensor = Tensor(mean, shape: [c]), varianceTensor = Tensor(variance, shape: [c])
    var y = Tensor.withUnsafePointers(x, gamma, beta) { px, pg, pb in
        Tensor.withUnsafePointers(meanTensor, varianceTensor) { pm, pv in
            Tensor.build(shape: x.shape) { out, _ in
                ck_batchnorm_forward_inference(out, px, pg, pb, pm, pv, Int32(n), Int32(c), Int32(s), epsilon)
            }
        }
    }

    let (cx, cg) = (x.detached, gamma.detached)
    func synchronizedBatchNormBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        // Σdy and Σdy·(x - mean) per channel: this rank's for dbeta and dgamma, all ranks'
        // for dx.
        var sums = [Double](repeating: 0, count: 2 * c)
        cx.withUnsafePointer { px in
            sums.withUnsafeMutableBufferPointer { t in
                mean.withUnsafeBufferPointer { m in
                    for i in 0..<n {
                        for j in 0..<c {
                            let offset = (i * c + j) * s
                            let mj = m[j]
                            var sdy = 0.0, sdyx = 0.0
                            for k in 0..<s {
                                let g = Double(dy[offset + k])
                                sdy += g
                                sdyx += g * Double(px[offset + k] - mj)
                            }
                            t[j] += sdy
                            t[c + j] += sdyx
                        }
                    }
                }
            }
        }
        if let dgamma = grads[1] {
            let p = dgamma.zeroedIfFirst(count: c)
            for j in 0..<c { p[j] += Float(sums[c + j]) * invstd[j] }
        }
        if let dbeta = grads[2] {
            let p = dbeta.zeroedIfFirst(count: c)
            for j in 0..<c { p[j] += Float(sums[j]) }
        }
        // Every rank reduces, needed or not, so the ranks' collectives stay in step.
        communicator.allReduce(&sums, .sum, label: "synchronized batch norm backward sums (\(c) channels)")
        guard let dx = grads[0] else { return }
        cx.withUnsafePointer { px in
            cg.withUnsafePointer { pg in
                mean.withUnsafeBufferPointer { m in
                    invstd.withUnsafeBufferPointer { istd in
                        sums.withUnsafeBufferPointer { t in
                            let out = dx.pointer
                            for i in 0..<n {
                                for j in 0..<c {
                                    let offset = (i * c + j) * s
                                    let scale = pg[j] * istd[j]
                                    let meanDy = Float(t[j] / count)
                                    let slope = Float(t[c + j] / count) * istd[j] * istd[j]
                                    let mj = m[j]
                                    for k in 0..<s {
                                        let value = scale * (dy[offset + k] - meanDy - (px[offset + k] - mj) * slope)
                                        out[offset + k] = dx.accumulate ? out[offset + k] + value : value
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor.record(&y, inputs: [x, gamma, beta], pullback: synchronizedBatchNormBackward)
    return y
}
