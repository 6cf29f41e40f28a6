import CKernels
import Foundation

// Element-wise arithmetic, broadcasting a bias over a batch, reshapes and transposes.

extension Tensor {
    @inline(__always)
    static func checkSameShape(_ op: String, _ a: Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "\(op): shapes \(a.shape) and \(b.shape) differ")
    }

    /// Element-wise sum of two tensors of the same shape.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("+", a, b)
        let n = a.count
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer, pb = b.pointer
            for i in 0..<n { out[i] = pa[i] + pb[i] }
        }
        record(&y, inputs: [a, b]) { g, grads in
            grads[0]?.addOrWrite(g, count: n)
            grads[1]?.addOrWrite(g, count: n)
        }
        return y
    }

    /// Element-wise difference of two tensors of the same shape.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("-", a, b)
        let n = a.count
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer, pb = b.pointer
            for i in 0..<n { out[i] = pa[i] - pb[i] }
        }
        record(&y, inputs: [a, b]) { g, grads in
            grads[0]?.addOrWrite(g, count: n)
            grads[1]?.addOrWrite(g, count: n, scale: -1)
        }
        return y
    }

    /// Element-wise (Hadamard) product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("*", a, b)
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer, pb = b.pointer
            for i in 0..<n { out[i] = pa[i] * pb[i] }
        }
        let (ca, cb) = (a.detached, b.detached)
        record(&y, inputs: [a, b]) { g, grads in
            let pa = ca.pointer, pb = cb.pointer
            let n = ca.count
            if let da = grads[0]?.zeroedIfFirst(count: n) { for i in 0..<n { da[i] += g[i] * pb[i] } }
            if let db = grads[1]?.zeroedIfFirst(count: n) { for i in 0..<n { db[i] += g[i] * pa[i] } }
        }
        return y
    }

    /// Element-wise quotient of two tensors of the same shape.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("/", a, b)
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer, pb = b.pointer
            for i in 0..<n { out[i] = pa[i] / pb[i] }
        }
        let (ca, cb) = (a.detached, b.detached)
        record(&y, inputs: [a, b]) { g, grads in
            let pa = ca.pointer, pb = cb.pointer
            let n = ca.count
            if let da = grads[0]?.zeroedIfFirst(count: n) { for i in 0..<n { da[i] += g[i] / pb[i] } }
            if let db = grads[1]?.zeroedIfFirst(count: n) { for i in 0..<n { db[i] -= g[i] * pa[i] / (pb[i] * pb[i]) } }
        }
        return y
    }

    /// Every element multiplied by `s`.
    public static func * (a: Tensor, s: Float) -> Tensor {
        let n = a.count
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer
            for i in 0..<n { out[i] = pa[i] * s }
        }
        record(&y, inputs: [a]) { g, grads in grads[0]?.addOrWrite(g, count: n, scale: s) }
        return y
    }

    /// Every element multiplied by `s`.
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }

    /// Every element divided by `s`.
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

    /// `s` added to every element.
    public static func + (a: Tensor, s: Float) -> Tensor {
        let n = a.count
        var y = build(shape: a.shape) { out, n in
            let pa = a.pointer
            for i in 0..<n { out[i] = pa[i] + s }
        }
        record(&y, inputs: [a]) { g, grads in grads[0]?.addOrWrite(g, count: n) }
        return y
    }

    /// `s` added to every element.
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }

    /// `s` subtracted from every element.
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }

    /// Every element subtracted from `s`.
    public static func - (s: Float, a: Tensor) -> Tensor { (-a) + s }

    /// Element-wise negation.
    public static prefix func - (a: Tensor) -> Tensor { a * -1 }

    /// `bias` (C) added over every other dimension of a (N, C, ...) tensor: the bias of a
    /// dense layer (N, F) or of a convolution (N, C, H, W).
    public func addingBias(_ bias: Tensor) -> Tensor {
        precondition(rank >= 2 && bias.shape == [shape[1]],
                     "addingBias: bias shape \(bias.shape) does not match channel dimension of \(shape)")
        let (n, c) = (shape[0], shape[1])
        let s = count / max(n * c, 1)
        var y = Tensor(shape: shape, storage: storage.copy())
        ck_bias_add_forward(y.storage.pointer, bias.pointer, Int32(n), Int32(c), Int32(s))
        Tensor.record(&y, inputs: [self, bias]) { g, grads in
            grads[0]?.addOrWrite(g, count: n * c * s)
            if let db = grads[1]?.zeroedIfFirst(count: c) { ck_bias_add_backward(db, g, Int32(n), Int32(c), Int32(s)) }
        }
        return y
    }

    // MARK: Shape

    /// The same elements viewed with another shape of equal element count; one dimension
    /// may be -1 and is inferred.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var target = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshaped: cannot reshape \(shape) to \(newShape)")
            target[inferred] = count / known
        }
        precondition(Tensor.elementCount(target) == count && target.allSatisfy { $0 >= 0 },
                     "reshaped: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        var y = Tensor(shape: target, storage: storage)
        let n = count
        Tensor.record(&y, inputs: [self]) { g, grads in
            grads[0]?.addOrWrite(g, count: n)
        }
        return y
    }

    /// The (N, rest) view of a (N, ...) tensor.
    public func flattenedBatch() -> Tensor {
        precondition(rank >= 1, "flattenedBatch needs at least one dimension, shape is \(shape)")
        return reshaped(to: [shape[0], count / max(shape[0], 1)])
    }

    /// The transpose of a 2-D tensor.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed() needs a 2-D tensor, shape is \(shape)")
        let (r, c) = (shape[0], shape[1])
        var y = Tensor.build(shape: [c, r]) { out, _ in
            let p = self.pointer
            for i in 0..<r { for j in 0..<c { out[j * r + i] = p[i * c + j] } }
        }
        Tensor.record(&y, inputs: [self]) { g, grads in
            guard let dx = grads[0] else { return }
            if dx.accumulate {
                for i in 0..<r { for j in 0..<c { dx.pointer[i * c + j] += g[j * r + i] } }
            } else {
                for i in 0..<r { for j in 0..<c { dx.pointer[i * c + j] = g[j * r + i] } }
            }
        }
        return y
    }

    /// Rows `range` of the first (batch) dimension, copied.
    public func slice(batch range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "slice: batch range \(range) is outside shape \(shape)")
        let rowSize = count / max(shape[0], 1)
        var newShape = shape
        newShape[0] = range.count
        let start = range.lowerBound * rowSize
        var y = Tensor.build(shape: newShape) { out, n in out.initialize(from: self.pointer + start, count: n) }
        let (n, total) = (y.count, count)
        Tensor.record(&y, inputs: [self]) { g, grads in
            // Only rows `range` get a gradient: the rest of dx is zero.
            if let dx = grads[0]?.zeroedIfFirst(count: total) { addScaled(g, into: dx + start, count: n) }
        }
        return y
    }

    /// Tensors of equal shape but for `axis`, joined along `axis` (channels for Inception-style
    /// branches).
    public static func concatenate(_ parts: [Tensor], alongAxis axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate needs at least one tensor")
        let first = parts[0].shape
        precondition(axis >= 0 && axis < first.count, "concatenate: axis \(axis) is outside shape \(first)")
        for part in parts {
            precondition(part.rank == first.count &&
                         (0..<first.count).allSatisfy { $0 == axis || part.shape[$0] == first[$0] },
                         "concatenate: shapes \(first) and \(part.shape) differ off axis \(axis)")
        }
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let widths = parts.map { $0.shape[axis] * inner }
        let total = widths.reduce(0, +)
        var shape = first
        shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
        var y = build(shape: shape) { out, _ in
            var offset = 0
            for (part, width) in zip(parts, widths) {
                let p = part.pointer
                for o in 0..<outer { (out + o * total + offset).initialize(from: p + o * width, count: width) }
                offset += width
            }
        }
        record(&y, inputs: parts) { g, grads in
            var offset = 0
            for (dp, width) in zip(grads, widths) {
                if let dp {
                    for o in 0..<outer { dp.advanced(by: o * width).addOrWrite(g + o * total + offset, count: width) }
                }
                offset += width
            }
        }
        return y
    }
}
