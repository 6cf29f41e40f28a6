import CKernels

/// Inverted dropout: in training each element is zeroed with probability `p` and the
/// survivors scaled by 1/(1-p), so the expected value is unchanged; `mask` draws come from
/// `generator`.
public func dropout(_ x: Tensor, probability p: Float, using generator: inout RandomGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    let n = x.count
    let mask = TensorStorage(uninitializedCount: n)
    let keep = 1 / (1 - p)
    for i in 0..<n { mask.pointer[i] = generator.nextUnitFloat() < p ? 0 : keep }
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: x.shape) { out, n in ck_dropout_forward(out, px, mask.pointer, n) }
    }
    func dropoutBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        if let dx = grads[0] { ck_dropout_backward(dx.pointer, dy, mask.pointer, n, dx.accumulateFlag) }
    }
    Tensor.record(&y, inputs: [x], pullback: dropoutBackward)
    return y
}
