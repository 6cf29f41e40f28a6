import NN
import TestSupport
import XCTest

final class TensorTests: XCTestCase {
    func testCreationAndAccess() {
        let t = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t[1, 2], 6)
        XCTAssertEqual(Tensor(zeros: [2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor(ones: [3]).scalars, [1, 1, 1])
        XCTAssertEqual(Tensor(repeating: 2.5, shape: [1, 2]).scalars, [2.5, 2.5])
        XCTAssertEqual(Tensor(scalar: 3).shape, [])
        XCTAssertTrue(t.description.hasPrefix("Tensor[2, 3](1, 2, 3"), t.description)
    }

    func testRandomTensorsAreSeededAndHaveTheRightMoments() {
        var g1 = RandomGenerator(seed: 9), g2 = RandomGenerator(seed: 9)
        let a = Tensor(randomNormal: [10_000], mean: 1, standardDeviation: 2, using: &g1)
        let b = Tensor(randomNormal: [10_000], mean: 1, standardDeviation: 2, using: &g2)
        XCTAssertEqual(a, b)
        let mean = a.scalars.reduce(0, +) / 10_000
        let variance = a.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000
        XCTAssertEqual(mean, 1, accuracy: 0.06)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.06)
        let u = Tensor(randomUniform: [10_000], in: -3...5, using: &g1)
        XCTAssertTrue(u.scalars.allSatisfy { $0 >= -3 && $0 < 5 })
    }

    func testValueSemanticsCopyOnWrite() {
        let a = Tensor([1, 2, 3], shape: [3])
        var b = a
        b.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertEqual(a.scalars, [1, 2, 3])
        XCTAssertEqual(b.scalars, [10, 2, 3])
    }

    func testArithmeticValues() {
        let a = Tensor([1, 2, 3, 4], shape: [2, 2]), b = Tensor([5, 6, 7, 8], shape: [2, 2])
        XCTAssertEqual((a + b).scalars, [6, 8, 10, 12])
        XCTAssertEqual((a - b).scalars, [-4, -4, -4, -4])
        XCTAssertEqual((a * b).scalars, [5, 12, 21, 32])
        XCTAssertEqual((b / a).scalars, [5, 3, 7.0 / 3, 2])
        XCTAssertEqual((a * 2 + 1).scalars, [3, 5, 7, 9])
        XCTAssertEqual((1 - a).scalars, [0, -1, -2, -3])
        XCTAssertEqual(a.addingBias(Tensor([10, 20], shape: [2])).scalars, [11, 22, 13, 24])
        XCTAssertEqual(matmul(a, b).scalars, [19, 22, 43, 50])
        XCTAssertEqual(matmul(a, b, transposeA: true, transposeB: true).scalars, [23, 31, 34, 46])
        XCTAssertEqual(a.transposed().scalars, [1, 3, 2, 4])
        XCTAssertEqual(a.sum().scalar, 10)
        XCTAssertEqual(a.mean().scalar, 2.5)
        XCTAssertEqual(a.sum(alongAxis: 0).scalars, [4, 6])
        XCTAssertEqual(a.mean(alongAxis: 1).scalars, [1.5, 3.5])
        XCTAssertEqual(Tensor([3, 9, 1, 7, 2, 8], shape: [2, 3]).argmax(alongAxis: 1), [1, 2])
        XCTAssertEqual(Tensor([3, 9, 1, 7, 2, 8], shape: [2, 3]).argmax(alongAxis: 0), [1, 0, 1])
        XCTAssertEqual(Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]).slice(batch: 1..<3).scalars, [3, 4, 5, 6])
        XCTAssertEqual(a.reshaped(to: [4, -1]).shape, [4, 1])
        let c = Tensor.concatenate([Tensor([1, 2], shape: [2, 1]), Tensor([3, 4, 5, 6], shape: [2, 2])], alongAxis: 1)
        XCTAssertEqual(c.scalars, [1, 3, 4, 2, 5, 6])
    }

    func testGradientsOfCoreOps() {
        let a = randomTensor([3, 4], seed: 1), b = randomTensor([3, 4], in: 0.5...2, seed: 2)
        checkGradients("+", inputs: [a, b]) { $0[0] + $0[1] }
        checkGradients("-", inputs: [a, b]) { $0[0] - $0[1] }
        checkGradients("*", inputs: [a, b]) { $0[0] * $0[1] }
        checkGradients("/", inputs: [a, b]) { $0[0] / $0[1] }
        checkGradients("scalar ops", inputs: [a]) { (2 - $0[0] * 3) / 4 + 1 }
        checkGradients("addingBias 2-D", inputs: [a, randomTensor([4], seed: 3)]) { $0[0].addingBias($0[1]) }
        checkGradients("addingBias 4-D", inputs: [randomTensor([2, 3, 2, 5]), randomTensor([3], seed: 3)]) {
            $0[0].addingBias($0[1])
        }
        checkGradients("reshape", inputs: [a]) { $0[0].reshaped(to: [2, 6]) * $0[0].reshaped(to: [2, 6]) }
        checkGradients("transpose", inputs: [a]) { $0[0].transposed() }
        checkGradients("sum", inputs: [a]) { $0[0].sum() }
        checkGradients("mean", inputs: [a]) { $0[0].mean() }
        checkGradients("sum axis 0", inputs: [a]) { $0[0].sum(alongAxis: 0) }
        checkGradients("mean axis 1", inputs: [randomTensor([2, 3, 4])]) { $0[0].mean(alongAxis: 1) }
        checkGradients("slice", inputs: [a]) { $0[0].slice(batch: 1..<3) }
        checkGradients("concatenate", inputs: [randomTensor([2, 3, 2]), randomTensor([2, 1, 2], seed: 4)]) {
            Tensor.concatenate([$0[0], $0[1]], alongAxis: 1)
        }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let x = randomTensor(ta ? [5, 3] : [3, 5], seed: 5), y = randomTensor(tb ? [4, 5] : [5, 4], seed: 6)
            checkGradients("matmul tA \(ta) tB \(tb)", inputs: [x, y]) {
                matmul($0[0], $0[1], transposeA: ta, transposeB: tb)
            }
        }
    }

    /// Each op that writes a first gradient in Swift, applied twice to the same input: the
    /// first pullback to run writes dx and the second must add to it.
    func testCoreOpsWriteTheFirstGradientAndAddTheSecond() {
        let a = randomTensor([3, 4], seed: 1), b = randomTensor([3, 4], seed: 2)
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("+", { $0 + b }), ("-", { b - $0 }), ("scale", { $0 * 0.7 }), ("+ scalar", { $0 + 2 }),
            ("addingBias", { $0.addingBias(Tensor([1, 2, 3, 4], shape: [4])) }),
            ("reshape", { $0.reshaped(to: [2, 6]).reshaped(to: [3, 4]) }),
            ("transpose", { $0.transposed().transposed() * b }),
            ("sum", { $0.sum() }), ("slice", { $0.slice(batch: 1..<3) }),
            ("concatenate", { Tensor.concatenate([$0, $0 * b], alongAxis: 1) }),
        ]
        for (name, f) in ops {
            checkGradients("\(name)(x) * 2 + \(name)(x)", inputs: [a]) { f($0[0]) * 2 + f($0[0]) }
        }
    }

    func testGradientsAccumulateAndGraphIsReleased() {
        let x = Tensor([1, 2, 3], shape: [3]).requiringGradient()
        (x * x).sum().backward()
        XCTAssertEqual(x.gradient?.scalars, [2, 4, 6])
        (x * 3).sum().backward()   // accumulates
        XCTAssertEqual(x.gradient?.scalars, [5, 7, 9])
        // A value used twice gets both contributions.
        let y = Tensor([2], shape: [1]).requiringGradient()
        (y * y + y).sum().backward()
        XCTAssertEqual(y.gradient?.scalars, [5])
    }

    /// Ops write the first gradient to reach a tensor into an unzeroed buffer (NaN here)
    /// and add the later ones.
    func testFirstGradientsAreWrittenAndLaterOnesAdded() {
        GradientMode.$poisonsFirstGradients.withValue(true) {
            let x = Tensor([1, -2, 3, 4], shape: [2, 2]).requiringGradient()
            // h reaches the loss through two ops: the first to run writes dh, the second adds.
            let h = relu(x)
            (h.reshaped(to: [4]).sum() + (h * 2).sum()).backward()
            XCTAssertEqual(x.gradient?.scalars, [3, 0, 3, 3])
            // A second backward adds into the leaf's gradient.
            relu(x).sum().backward()
            XCTAssertEqual(x.gradient?.scalars, [4, 0, 4, 4])
            // The same tensor twice in one writing op: both slots start from zero.
            // d sum(M M) / dM = 1 M^T + M^T 1 (1 a matrix of ones).
            let m = Tensor([1, 2, 3, 4], shape: [2, 2]).requiringGradient()
            matmul(m, m).sum().backward()
            XCTAssertEqual(m.gradient?.scalars, [7, 11, 9, 13])
        }
    }

    /// A cleared parameter gradient reads as zeros, and the next gradient to reach it is
    /// written over its buffer (NaN-poisoned here), whether by a writing op (matmul), an
    /// adding op (the product, zeroed first), or the zero fill of a parameter that no
    /// gradient reached before the optimizer reads it.
    func testClearedParameterGradientsReadAsZerosAndAreWrittenNext() {
        GradientMode.$poisonsFirstGradients.withValue(true) {
            let w = Parameter(Tensor([1, 2, 3, 4], shape: [2, 2]))
            let x = Tensor([1, 1, 2, 0], shape: [2, 2])
            matmul(x, w.value).sum().backward()
            XCTAssertEqual(w.gradient.scalars, [3, 3, 1, 1])
            w.zeroGradient()
            XCTAssertEqual(w.gradient.scalars, [0, 0, 0, 0])
            matmul(x, w.value).sum().backward()  // written, not added to the stale [3, 3, 1, 1]
            XCTAssertEqual(w.gradient.scalars, [3, 3, 1, 1])
            w.zeroGradient()
            (w.value * x).sum().backward()        // added into a buffer zeroed first
            XCTAssertEqual(w.gradient.scalars, [1, 1, 2, 0])
            (w.value * x).sum().backward()        // then accumulates, as before
            XCTAssertEqual(w.gradient.scalars, [2, 2, 4, 0])
            w.zeroGradient()
            var seen: [Float] = []
            w.update { _, gradient in seen = Array(gradient) }  // nothing reached it this step
            XCTAssertEqual(seen, [0, 0, 0, 0])
        }
    }

    func testNoGradientScopeRecordsNothing() {
        let x = Tensor([1, 2], shape: [2]).requiringGradient()
        let y = withoutGradient { x * 2 }
        XCTAssertFalse(y.requiresGradient)
        XCTAssertTrue((x * 2).requiresGradient)
        XCTAssertFalse((Tensor(ones: [2]) * 2).requiresGradient)
    }

    /// The tape walk is linear: a chain of 20,000 ops back-propagates quickly and without
    /// recursion (a recursive walk would overflow the stack).
    func testLongChainBackward() {
        let x = Tensor([1], shape: [1]).requiringGradient()
        var y = x
        for _ in 0..<20_000 { y = y * 1.0001 }
        y.sum().backward()
        XCTAssertEqual(x.gradient!.scalar, powf(1.0001, 20_000), accuracy: 1e-2)
    }
}
