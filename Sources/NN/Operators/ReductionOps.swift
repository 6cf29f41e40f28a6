import Foundation

// Sums, means and argmax, over the whole tensor or along one axis.

extension Tensor {
    /// (outer, length, inner) such that the tensor is (outer, shape[axis], inner) row-major.
    func axisSplit(_ axis: Int, _ op: String) -> (outer: Int, length: Int, inner: Int) {
        precondition(axis >= 0 && axis < rank, "\(op): axis \(axis) is outside shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// The sum of all elements, as a one-element tensor of shape [].
    public func sum() -> Tensor {
        let n = count
        let total = withUnsafePointer { p in
            var total = 0.0
            for i in 0..<n { total += Double(p[i]) }
            return total
        }
        var y = Tensor(scalar: Float(total))
        func sumBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            guard let dx = grads[0] else { return }
            let gv = dy[0]
            if dx.accumulate {
                for i in 0..<n { dx.pointer[i] += gv }
            } else {
                dx.pointer.update(repeating: gv, count: n)
            }
        }
        Tensor.record(&y, inputs: [self], pullback: sumBackward)
        return y
    }

    /// The mean of all elements, as a one-element tensor of shape [].
    public func mean() -> Tensor {
        precondition(count > 0, "mean() of an empty tensor, shape \(shape)")
        return sum() * (1 / Float(count))
    }

    /// Sums along `axis`, which is removed from the shape.
    public func sum(alongAxis axis: Int) -> Tensor {
        let (outer, length, inner) = axisSplit(axis, "sum(alongAxis:)")
        var newShape = shape
        newShape.remove(at: axis)
        var y = withUnsafePointer { p in
            Tensor.build(shape: newShape) { out, _ in
                for o in 0..<outer {
                    for i in 0..<inner {
                        var total: Float = 0
                        for l in 0..<length { total += p[(o * length + l) * inner + i] }
                        out[o * inner + i] = total
                    }
                }
            }
        }
        func sumAlongAxisBackward(_ dy: UnsafePointer<Float>, _ grads: [InputGradient?]) {
            guard let dx = grads[0]?.zeroedIfFirst(count: outer * length * inner) else { return }
            for o in 0..<outer { for l in 0..<length { for i in 0..<inner {
                dx[(o * length + l) * inner + i] += dy[o * inner + i]
            } } }
        }
        Tensor.record(&y, inputs: [self], pullback: sumAlongAxisBackward)
        return y
    }

    /// Means along `axis`, which is removed from the shape.
    public func mean(alongAxis axis: Int) -> Tensor {
        let length = axisSplit(axis, "mean(alongAxis:)").length
        precondition(length > 0, "mean(alongAxis:) over an empty axis, shape \(shape)")
        return sum(alongAxis: axis) * (1 / Float(length))
    }

    /// The index of the largest element along `axis` (first on ties), row-major over the
    /// remaining dimensions; e.g. the predicted class of each row of (N, classes) logits.
    public func argmax(alongAxis axis: Int) -> [Int] {
        let (outer, length, inner) = axisSplit(axis, "argmax(alongAxis:)")
        precondition(length > 0, "argmax(alongAxis:) over an empty axis, shape \(shape)")
        var result = [Int](repeating: 0, count: outer * inner)
        withUnsafePointer { p in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0
                    var bestValue = p[o * length * inner + i]
                    for l in 1..<max(length, 1) where p[(o * length + l) * inner + i] > bestValue {
                        best = l
                        bestValue = p[(o * length + l) * inner + i]
                    }
                    result[o * inner + i] = best
                }
            }
        }
        return result
    }
}
