import CKernels

/// The geometry of a 2-D convolution as the kernels take it.
func conv2dParams(_ x: Tensor, _ w: Tensor, stride: (Int, Int), padding: (Int, Int),
                  dilation: (Int, Int)) -> ck_conv2d_params {
    precondition(x.rank == 4 && w.rank == 4 && x.shape[1] == w.shape[1],
                 "conv2d: input \(x.shape) (N,C,H,W) does not fit weight \(w.shape) (OC,C,KH,KW)")
    precondition(stride.0 > 0 && stride.1 > 0 && dilation.0 > 0 && dilation.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
                 "conv2d: stride \(stride) and dilation \(dilation) must be positive, padding \(padding) non-negative")
    var p = ck_conv2d_params()
    (p.n, p.c, p.h, p.w) = (Int32(x.shape[0]), Int32(x.shape[1]), Int32(x.shape[2]), Int32(x.shape[3]))
    p.oc = Int32(w.shape[0])
    (p.kh, p.kw) = (Int32(w.shape[2]), Int32(w.shape[3]))
    (p.stride_h, p.stride_w) = (Int32(stride.0), Int32(stride.1))
    (p.pad_h, p.pad_w) = (Int32(padding.0), Int32(padding.1))
    (p.dil_h, p.dil_w) = (Int32(dilation.0), Int32(dilation.1))
    precondition(ck_conv2d_out_h(&p) > 0 && ck_conv2d_out_w(&p) > 0,
                 "conv2d: kernel \(w.shape[2])x\(w.shape[3]) (dilation \(dilation)) does not fit input \(x.shape) with padding \(padding)")
    return p
}

/// 2-D convolution (cross-correlation, as in PyTorch) of x (N,C,H,W) with weight
/// (OC,C,KH,KW) plus an optional bias (OC): y is (N,OC,OH,OW).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                   stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                   dilation: (Int, Int) = (1, 1)) -> Tensor {
    var p = conv2dParams(x, weight, stride: stride, padding: padding, dilation: dilation)
    if let bias {
        precondition(bias.shape == [weight.shape[0]], "conv2d: bias shape \(bias.shape) does not fit weight \(weight.shape)")
    }
    var y = conv2dForward(x, weight, bias, &p)
    let outShape = y.shape
    let workspaceCount = ck_conv2d_workspace_size(&p)
    let (cx, cw) = (x.detached, weight.detached)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let (weightCount, biasCount) = (weight.count, weight.shape[0])
    func conv2dBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        var p = p
        Tensor.withUnsafePointers(cx, cw) { px, pw in
            Workspace.withFloats(workspaceCount) { workspace in
                if let dx = grads[0] { ck_conv2d_backward_data(dx.pointer, dy, pw, workspace, &p, dx.accumulateFlag) }
                let dbias = grads.count > 2 ? grads[2]?.zeroedIfFirst(count: biasCount) : nil
                if let dw = grads[1]?.zeroedIfFirst(count: weightCount) {
                    ck_conv2d_backward_filter(dw, dbias, dy, px, workspace, &p)
                } else if let dbias {
                    ck_bias_add_backward(dbias, dy, p.n, p.oc, Int32(outShape[2] * outShape[3]))
                }
            }
        }
    }
    Tensor.record(&y, inputs: inputs, pullback: conv2dBackward)
    return y
}

/// The forward of `conv2d` (no autodiff record): from `packed` weights (`PackedConvolution`)
/// where the direct path takes them, else `ck_conv2d_forward` with a workspace.
func conv2dForward(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ p: inout ck_conv2d_params,
                   packed: [Float]? = nil) -> Tensor {
    let outShape = [x.shape[0], weight.shape[0], Int(ck_conv2d_out_h(&p)), Int(ck_conv2d_out_w(&p))]
    return Tensor.withUnsafePointers(x, weight) { px, pw in
        bias.withUnsafePointer { pb in
            Tensor.build(shape: outShape) { out, _ in
                let done = packed?.withUnsafeBufferPointer { ck_conv2d_forward_packed(out, px, $0.baseAddress!, &p) } ?? 0
                if done == 0 {
                    Workspace.withFloats(ck_conv2d_workspace_size(&p)) { ck_conv2d_forward(out, px, pw, pb, $0, &p) }
                }
            }
        }
    }
}

/// A convolution's weights and bias re-laid once for the direct 3x3 forward
/// (`ck_conv2d_pack_forward`), for weights that never change (an `InferenceModel`'s): the
/// direct path otherwise re-lays them on every call. Immutable after `init`, so any number
/// of threads may call it at once.
struct PackedConvolution {
    let weight: Tensor, bias: Tensor?
    let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    /// The packed weights, or nil where no path reads them (not a 3x3 pad-1 kernel).
    let packed: [Float]?

    /// Packs `weight` (OC,C,KH,KW) and `bias` (OC) as the direct forward reads them.
    init(weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)) {
        (self.weight, self.bias) = (weight.detached, bias?.detached)
        (self.stride, self.padding, self.dilation) = (stride, padding, dilation)
        var p = ck_conv2d_params()
        (p.c, p.oc) = (Int32(weight.shape[1]), Int32(weight.shape[0]))
        (p.kh, p.kw) = (Int32(weight.shape[2]), Int32(weight.shape[3]))
        (p.stride_h, p.stride_w, p.pad_h, p.pad_w) = (Int32(stride.0), Int32(stride.1), Int32(padding.0), Int32(padding.1))
        (p.dil_h, p.dil_w) = (Int32(dilation.0), Int32(dilation.1))
        let count = ck_conv2d_packed_size(&p)
        packed = count == 0 ? nil : weight.withUnsafePointer { pw in
            bias.withUnsafePointer { pb in
                [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    ck_conv2d_pack_forward(buffer.baseAddress!, pw, pb, &p)
                    initialized = count
                }
            }
        }
    }

    /// `conv2d(x, weight:, bias:, ...)`, the same bits, with no autodiff record (the
    /// weights are constants) and no workspace when the packed path takes it.
    func callAsFunction(_ x: Tensor) -> Tensor {
        var p = conv2dParams(x, weight, stride: stride, padding: padding, dilation: dilation)
        return conv2dForward(x, weight, bias, &p, packed: packed)
    }
}
