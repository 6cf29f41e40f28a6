import CKernels

/// Batch normalization of x (N,C,H,W) or (N,F) per channel with scale `gamma` and shift
/// `beta` (C). In training it normalizes with the batch statistics and updates the running
/// statistics in place (momentum as in PyTorch, running variance unbiased); in inference it
/// uses the running statistics.
public func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor,
                      runningMean: inout Tensor, runningVariance: inout Tensor,
                      training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5) -> Tensor {
    // Each path checks the shapes itself.
    if training {
        return batchNormTraining(x, gamma: gamma, beta: beta, runningMean: &runningMean, runningVariance: &runningVariance,
                                 momentum: momentum, epsilon: epsilon, relu: false)
    } else {
        return batchNormInference(x, gamma: gamma, beta: beta, runningMean: runningMean,
                                  runningVariance: runningVariance, epsilon: epsilon)
    }
}

/// relu(batchNorm(x, ...)): in training one kernel normalizes and clamps in the same pass and
/// its backward applies the ReLU's mask while it reduces (two passes over memory fewer each
/// way than the two ops); in inference the two ops. An experiment kept with its tests: no
/// model uses it, because its backward measured slower than the two ops' (docs/performance.md).
public func batchNormReLU(_ x: Tensor, gamma: Tensor, beta: Tensor,
                          runningMean: inout Tensor, runningVariance: inout Tensor,
                          training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5) -> Tensor {
    guard training else {
        return relu(batchNormInference(x, gamma: gamma, beta: beta, runningMean: runningMean,
                                       runningVariance: runningVariance, epsilon: epsilon))
    }
    return batchNormTraining(x, gamma: gamma, beta: beta, runningMean: &runningMean, runningVariance: &runningVariance,
                             momentum: momentum, epsilon: epsilon, relu: true)
}

/// Training batch norm with the batch statistics, optionally followed by ReLU in the same kernel.
private func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor,
                               runningMean: inout Tensor, runningVariance: inout Tensor,
                               momentum: Float, epsilon: Float, relu: Bool) -> Tensor {
    let what = relu ? "batchNormReLU" : "batchNorm"
    let (n, c, s) = batchNormDimensions(what, x, [gamma, beta, runningMean, runningVariance])
    let channels = Int(c)
    precondition(Int(n) * Int(s) > 1, "\(what): training needs more than one value per channel, input shape \(x.shape)")
    let mean = TensorStorage(uninitializedCount: channels)
    let invstd = TensorStorage(uninitializedCount: channels)
    var y = Tensor.withUnsafePointers(x, gamma, beta) { px, pg, pb in
        Tensor.build(shape: x.shape) { out, _ in
            runningMean.withUnsafeMutableBufferPointer { rm in
                runningVariance.withUnsafeMutableBufferPointer { rv in
                    (relu ? ck_batchnorm_relu_forward_training : ck_batchnorm_forward_training)(
                        out, mean.pointer, invstd.pointer, rm.baseAddress, rv.baseAddress, px, pg, pb, n, c, s, momentum, epsilon)
                }
            }
        }
    }
    // The fused backward reads the ReLU's mask from its output (y > 0).
    let (cx, cg, cy) = (x.detached, gamma.detached, relu ? y.detached : nil)
    func batchNormBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        // The kernel writes dx and adds into dgamma and dbeta; scratch stands in for
        // those nobody needs.
        let scratch = (grads[0] == nil ? TensorStorage(uninitializedCount: cx.count) : nil,
                       grads[1] == nil || grads[2] == nil ? TensorStorage(count: 2 * channels, repeating: 0) : nil)
        Tensor.withUnsafePointers(cx, cg) { px, pg in
            let dx = grads[0]?.pointer ?? scratch.0!.pointer
            let dgamma = grads[1]?.zeroedIfFirst(count: channels) ?? scratch.1!.pointer
            let dbeta = grads[2]?.zeroedIfFirst(count: channels) ?? scratch.1!.pointer + channels
            let accumulate = grads[0]?.accumulateFlag ?? 0
            if let cy {
                cy.withUnsafePointer { py in
                    ck_batchnorm_relu_backward(dx, dgamma, dbeta, dy, py, px, pg, mean.pointer, invstd.pointer,
                                               n, c, s, accumulate)
                }
            } else {
                ck_batchnorm_backward(dx, dgamma, dbeta, dy, px, pg, mean.pointer, invstd.pointer, n, c, s, accumulate)
            }
        }
    }
    Tensor.record(&y, inputs: [x, gamma, beta], pullback: batchNormBackward)
    return y
}

/// Batch normalization of x (N,C,H,W) or (N,F) with the running statistics (C), as in
/// inference: reads them and writes nothing else, so any number of threads may normalize
/// with the same statistics at once.
public func batchNormInference(_ x: Tensor, gamma: Tensor, beta: Tensor,
                               runningMean: Tensor, runningVariance: Tensor, epsilon: Float = 1e-5) -> Tensor {
    let (n, c, s) = batchNormDimensions("batchNorm", x, [gamma, beta, runningMean, runningVariance])
    let channels = Int(c)
    let (rm, rv) = (runningMean.detached, runningVariance.detached)
    var y = Tensor.withUnsafePointers(x, gamma, beta) { px, pg, pb in
        Tensor.withUnsafePointers(rm, rv) { pm, pv in
            Tensor.build(shape: x.shape) { out, _ in
                ck_batchnorm_forward_inference(out, px, pg, pb, pm, pv, n, c, s, epsilon)
            }
        }
    }
    let (cx, cg) = (x.detached, gamma.detached)
    func batchNormInferenceBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        // The kernel adds into all three; scratch stands in for those nobody needs.
        let scratch = (grads[0] == nil ? TensorStorage(count: cx.count, repeating: 0) : nil,
                       grads[1] == nil || grads[2] == nil ? TensorStorage(count: 2 * channels, repeating: 0) : nil)
        Tensor.withUnsafePointers(cx, cg) { px, pg in
            Tensor.withUnsafePointers(rm, rv) { pm, pv in
                ck_batchnorm_backward_inference(grads[0]?.zeroedIfFirst(count: cx.count) ?? scratch.0!.pointer,
                                                grads[1]?.zeroedIfFirst(count: channels) ?? scratch.1!.pointer,
                                                grads[2]?.zeroedIfFirst(count: channels) ?? scratch.1!.pointer + channels,
                                                dy, px, pg, pm, pv, n, c, s, epsilon)
            }
        }
    }
    Tensor.record(&y, inputs: [x, gamma, beta], pullback: batchNormInferenceBackward)
    return y
}

/// Checks x (N,F) or (N,C,H,W) against the per-channel tensors gamma, beta, running mean and
/// running variance (in that order), with messages naming `op` and both shapes, and returns
/// the kernels' (N, C, S = H·W or 1). Every batch norm op checks its inputs here.
func batchNormDimensions(_ op: String, _ x: Tensor, _ perChannel: [Tensor]) -> (n: Int32, c: Int32, s: Int32) {
    precondition(x.rank == 2 || x.rank == 4, "\(op) needs (N,F) or (N,C,H,W), shape is \(x.shape)")
    let channels = x.shape[1]
    for (name, t) in zip(["gamma", "beta", "running mean", "running variance"], perChannel) {
        precondition(t.shape == [channels], "\(op): \(name) shape \(t.shape) does not fit input \(x.shape)")
    }
    return (Int32(x.shape[0]), Int32(channels), Int32(x.count / max(x.shape[0] * channels, 1)))
}
