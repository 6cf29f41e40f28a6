import CKernels

func pool2dParams(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                  _ op: String) -> ck_pool2d_params {
    precondition(x.rank == 4, "\(op) needs an (N,C,H,W) input, shape is \(x.shape)")
    precondition(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0,
                 "\(op): kernel \(kernel) and stride \(stride) must be positive")
    precondition(padding.0 >= 0 && padding.1 >= 0 && padding.0 * 2 <= kernel.0 && padding.1 * 2 <= kernel.1,
                 "\(op): padding \(padding) must be at most half the kernel \(kernel)")
    var p = ck_pool2d_params()
    (p.n, p.c, p.h, p.w) = (Int32(x.shape[0]), Int32(x.shape[1]), Int32(x.shape[2]), Int32(x.shape[3]))
    (p.kh, p.kw) = (Int32(kernel.0), Int32(kernel.1))
    (p.stride_h, p.stride_w) = (Int32(stride.0), Int32(stride.1))
    (p.pad_h, p.pad_w) = (Int32(padding.0), Int32(padding.1))
    precondition(ck_pool2d_out_h(&p) > 0 && ck_pool2d_out_w(&p) > 0,
                 "\(op): kernel \(kernel) does not fit input \(x.shape) with padding \(padding)")
    return p
}

/// Max pooling of x (N,C,H,W); the gradient goes to each window's maximum.
public func maxPool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil,
                      padding: (Int, Int) = (0, 0)) -> Tensor {
    var p = pool2dParams(x, kernel: kernel, stride: stride ?? kernel, padding: padding, "maxPool2d")
    let shape = [x.shape[0], x.shape[1], Int(ck_pool2d_out_h(&p)), Int(ck_pool2d_out_w(&p))]
    let argmax = IndexStorage(uninitializedCount: Tensor.elementCount(shape))
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: shape) { out, _ in ck_maxpool2d_forward(out, argmax.pointer, px, &p) }
    }
    func maxPool2dBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0] else { return }
        var p = p
        ck_maxpool2d_backward(dx.pointer, dy, argmax.pointer, &p, dx.accumulateFlag)
    }
    Tensor.record(&y, inputs: [x], pullback: maxPool2dBackward)
    return y
}

/// Average pooling of x (N,C,H,W). With `countIncludePad` (PyTorch's default) padded
/// zeros count in each window's divisor; without it only in-bounds elements do.
public func avgPool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil,
                      padding: (Int, Int) = (0, 0), countIncludePad: Bool = true) -> Tensor {
    var p = pool2dParams(x, kernel: kernel, stride: stride ?? kernel, padding: padding, "avgPool2d")
    let include: Int32 = countIncludePad ? 1 : 0
    let shape = [x.shape[0], x.shape[1], Int(ck_pool2d_out_h(&p)), Int(ck_pool2d_out_w(&p))]
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: shape) { out, _ in ck_avgpool2d_forward(out, px, &p, include) }
    }
    let count = x.count
    func avgPool2dBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        guard let dx = grads[0]?.zeroedIfFirst(count: count) else { return }
        var p = p
        ck_avgpool2d_backward(dx, dy, &p, include)
    }
    Tensor.record(&y, inputs: [x], pullback: avgPool2dBackward)
    return y
}

/// The mean of each channel of x (N,C,H,W): (N,C).
public func globalAvgPool2d(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "globalAvgPool2d needs an (N,C,H,W) input, shape is \(x.shape)")
    let (n, c, hw) = (Int32(x.shape[0]), Int32(x.shape[1]), Int32(x.shape[2] * x.shape[3]))
    var y = x.withUnsafePointer { px in
        Tensor.build(shape: [x.shape[0], x.shape[1]]) { out, _ in ck_global_avgpool_forward(out, px, n, c, hw) }
    }
    let count = x.count
    func globalAvgPool2dBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        if let dx = grads[0]?.zeroedIfFirst(count: count) { ck_global_avgpool_backward(dx, dy, n, c, hw) }
    }
    Tensor.record(&y, inputs: [x], pullback: globalAvgPool2dBackward)
    return y
}
