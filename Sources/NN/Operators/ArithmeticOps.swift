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
        var y = withUnsafePointers(a, b) { pa, pb in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] + pb[i] } }
        }
        let n = a.count
        func addBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n)
            grads[1]?.addOrWrite(dy, count: n)
        }
        record(&y, inputs: [a, b], pullback: addBackward)
        return y
    }

    /// Element-wise difference of two tensors of the same shape.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("-", a, b)
        var y = withUnsafePointers(a, b) { pa, pb in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] - pb[i] } }
        }
        let n = a.count
        func subtractBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n)
            grads[1]?.addOrWrite(dy, count: n, scale: -1)
        }
        record(&y, inputs: [a, b], pullback: subtractBackward)
        return y
    }

    /// Element-wise (Hadamard) product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("*", a, b)
        var y = withUnsafePointers(a, b) { pa, pb in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] * pb[i] } }
        }
        let (ca, cb, n) = (a.detached, b.detached, a.count)
        func multiplyBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            withUnsafePointers(ca, cb) { pa, pb in
                if let da = grads[0]?.zeroedIfFirst(count: n) { for i in 0..<n { da[i] += dy[i] * pb[i] } }
                if let db = grads[1]?.zeroedIfFirst(count: n) { for i in 0..<n { db[i] += dy[i] * pa[i] } }
            }
        }
        record(&y, inputs: [a, b], pullback: multiplyBackward)
        return y
    }

    /// Element-wise quotient of two tensors of the same shape.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        checkSameShape("/", a, b)
        var y = withUnsafePointers(a, b) { pa, pb in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] / pb[i] } }
        }
        let (ca, cb, n) = (a.detached, b.detached, a.count)
        func divideBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            withUnsafePointers(ca, cb) { pa, pb in
                if let da = grads[0]?.zeroedIfFirst(count: n) { for i in 0..<n { da[i] += dy[i] / pb[i] } }
                if let db = grads[1]?.zeroedIfFirst(count: n) {
                    for i in 0..<n { db[i] -= dy[i] * pa[i] / (pb[i] * pb[i]) }
                }
            }
        }
        record(&y, inputs: [a, b], pullback: divideBackward)
        return y
    }

    /// Every element multiplied by `s`.
    public static func * (a: Tensor, s: Float) -> Tensor {
        var y = a.withUnsafePointer { pa in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] * s } }
        }
        let n = a.count
        func scaleBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n, scale: s)
        }
        record(&y, inputs: [a], pullback: scaleBackward)
        return y
    }

    /// Every element multiplied by `s`.
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }

    /// Every element divided by `s`.
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

    /// `s` added to every element.
    public static func + (a: Tensor, s: Float) -> Tensor {
        var y = a.withUnsafePointer { pa in
            build(shape: a.shape) { out, n in for i in 0..<n { out[i] = pa[i] + s } }
        }
        let n = a.count
        func addScalarBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n)
        }
        record(&y, inputs: [a], pullback: addScalarBackward)
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
        var y = Tensor.withUnsafePointers(self, bias) { px, pb in
            Tensor.build(shape: shape) { out, count in
                out.initialize(from: px, count: count)
                ck_bias_add_forward(out, pb, Int32(n), Int32(c), Int32(s))
            }
        }
        func addingBiasBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n * c * s)
            if let db = grads[1]?.zeroedIfFirst(count: c) { ck_bias_add_backward(db, dy, Int32(n), Int32(c), Int32(s)) }
        }
        Tensor.record(&y, inputs: [self, bias], pullback: addingBiasBackward)
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
        func reshapeBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            grads[0]?.addOrWrite(dy, count: n)
        }
        Tensor.record(&y, inputs: [self], pullback: reshapeBackward)
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
        var y = withUnsafePointer { p in
            Tensor.build(shape: [c, r]) { out, _ in
                for i in 0..<r { for j in 0..<c { out[j * r + i] = p[i * c + j] } }
            }
        }
        func transposeBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            guard let dx = grads[0] else { return }
            if dx.accumulate {
                for i in 0..<r { for j in 0..<c { dx.pointer[i * c + j] += dy[j * r + i] } }
            } else {
                for i in 0..<r { for j in 0..<c { dx.pointer[i * c + j] = dy[j * r + i] } }
            }
        }
        Tensor.record(&y, inputs: [self], pullback: transposeBackward)
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
        var y = withUnsafePointer { p in
            Tensor.build(shape: newShape) { out, n in out.initialize(from: p + start, count: n) }
        }
        let (n, total) = (y.count, count)
        func sliceBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            // Only rows `range` get a gradient: the rest of dx is zero.
            if let dx = grads[0]?.zeroedIfFirst(count: total) { addScaled(dy, into: dx + start, count: n) }
        }
        Tensor.record(&y, inputs: [self], pullback: sliceBackward)
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
                part.withUnsafePointer { p in
                    for o in 0..<outer { (out + o * total + offset).initialize(from: p + o * width, count: width) }
                }
                offset += width
            }
        }
        func concatenateBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            var offset = 0
            for (dp, width) in zip(grads, widths) {
                if let dp {
                    for o in 0..<outer { dp.advanced(by: o * width).addOrWrite(dy + o * total + offset, count: width) }
                }
                offset += width
            }
        }
        record(&y, inputs: parts, pullback: concatenateBackward)
        return y
    }
}
