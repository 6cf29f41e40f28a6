import CKernels

/// The matrix product op(a) * op(b) of 2-D tensors through OpenBLAS; `transposeA` and
/// `transposeB` use the transposes without copying (a dense layer computes x * w^T).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, shapes are \(a.shape) and \(b.shape)")
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(k == k2, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "^T" : "") x \(b.shape)\(transposeB ? "^T" : "")")
    let (lda, ldb) = (a.shape[1], b.shape[1])
    var y = Tensor.withUnsafePointers(a, b) { pa, pb in
        Tensor.build(shape: [m, n]) { out, _ in
            ck_sgemm(out, Int32(n), pa, Int32(lda), transposeA ? 1 : 0, pb, Int32(ldb), transposeB ? 1 : 0,
                     Int32(m), Int32(n), Int32(k), 1, 0)
        }
    }
    let (ca, cb) = (a.detached, b.detached)
    func matmulBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        // y = A B with A = op(a), B = op(b): dA = dy B^T, dB = A^T dy; then undo the op. A
        // first gradient is written (beta 0: BLAS ignores what C held), later ones added.
        Tensor.withUnsafePointers(ca, cb) { pa, pb in
            if let da = grads[0] {
                let beta: Float = da.accumulate ? 1 : 0
                if transposeA {  // da (k,m) += B dy^T
                    ck_sgemm(da.pointer, Int32(lda), pb, Int32(ldb), transposeB ? 1 : 0, dy, Int32(n), 1,
                             Int32(k), Int32(m), Int32(n), 1, beta)
                } else {         // da (m,k) += dy B^T
                    ck_sgemm(da.pointer, Int32(lda), dy, Int32(n), 0, pb, Int32(ldb), transposeB ? 0 : 1,
                             Int32(m), Int32(k), Int32(n), 1, beta)
                }
            }
            if let db = grads[1] {
                let beta: Float = db.accumulate ? 1 : 0
                if transposeB {  // db (n,k) += dy^T A
                    ck_sgemm(db.pointer, Int32(ldb), dy, Int32(n), 1, pa, Int32(lda), transposeA ? 1 : 0,
                             Int32(n), Int32(k), Int32(m), 1, beta)
                } else {         // db (k,n) += A^T dy
                    ck_sgemm(db.pointer, Int32(ldb), pa, Int32(lda), transposeA ? 0 : 1, dy, Int32(n), 0,
                             Int32(k), Int32(n), Int32(m), 1, beta)
                }
            }
        }
    }
    Tensor.record(&y, inputs: [a, b], pullback: matmulBackward)
    return y
}

/// A dense layer's affine map, x (N, in) * weight^T + bias, for weight (out, in) and bias
/// (out), as one op: the output starts as the bias rows and the GEMM adds into it (beta 1),
/// and the pullback reads the output gradient straight, where `matmul` then `addingBias`
/// would make a second output-sized tensor each way.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
    precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: input shape \(x.shape) does not fit weight shape \(weight.shape) (expected [N, \(weight.rank == 2 ? weight.shape[1] : -1)])")
    precondition(bias.shape == [weight.shape[0]],
                 "linear: bias shape \(bias.shape) does not match weight shape \(weight.shape) (expected [\(weight.shape[0])])")
    let (m, k, n) = (x.shape[0], x.shape[1], weight.shape[0])
    var y = Tensor.withUnsafePointers(x, weight, bias) { px, pw, pb in
        Tensor.build(shape: [m, n]) { out, _ in
            for i in 0..<m { (out + i * n).initialize(from: pb, count: n) }
            ck_sgemm(out, Int32(n), px, Int32(k), 0, pw, Int32(k), 1, Int32(m), Int32(n), Int32(k), 1, 1)
        }
    }
    let (cx, cw) = (x.detached, weight.detached)
    func linearBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
        Tensor.withUnsafePointers(cx, cw) { px, pw in
            if let dx = grads[0] {  // dx (m,k) = dy W
                ck_sgemm(dx.pointer, Int32(k), dy, Int32(n), 0, pw, Int32(k), 0,
                         Int32(m), Int32(k), Int32(n), 1, dx.accumulate ? 1 : 0)
            }
            if let dw = grads[1] {  // dW (n,k) = dy^T x
                ck_sgemm(dw.pointer, Int32(k), dy, Int32(n), 1, px, Int32(k), 0,
                         Int32(n), Int32(k), Int32(m), 1, dw.accumulate ? 1 : 0)
            }
        }
        if let db = grads[2]?.zeroedIfFirst(count: n) { ck_bias_add_backward(db, dy, Int32(m), Int32(n), 1) }
    }
    Tensor.record(&y, inputs: [x, weight, bias], pullback: linearBackward)
    return y
}
