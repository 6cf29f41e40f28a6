import NNReference
import TestSupport
import XCTest

/// The pooling oracle pinned to hand-worked numbers, and its backward passes checked by
/// central differences of its own forward passes.
final class PoolingReferenceTests: XCTestCase {
    /// The reference computes in Double and rounds once to Float: hand-worked values agree
    /// to a few float ulps.
    private let exact = Tolerance(atol: 1e-6, rtol: 1e-6)

    // MARK: - Hand-worked examples

    func testMaxPoolTwoByTwoStrideTwoByHand() {
        let g = Pool2DGeometry(n: 1, c: 1, h: 4, w: 4, kh: 2, kw: 2, strideH: 2, strideW: 2)
        let x: [Float] = (1...16).map(Float.init)   // row-major 1...16
        let (y, argmax) = referenceMaxPool2DForward(x: x, geometry: g)
        XCTAssertEqual(y, [6, 8, 14, 16])
        XCTAssertEqual(argmax, [5, 7, 13, 15])
        let dx = referenceMaxPool2DBackward(dy: [1, 2, 3, 4], argmax: argmax, geometry: g)
        XCTAssertEqual(dx, [0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4])
    }

    /// All values negative, so a zero from the padding would win if it were a candidate.
    func testMaxPoolPaddingNeverWinsByHand() {
        let g = Pool2DGeometry(n: 1, c: 1, h: 3, w: 3, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1)
        XCTAssertEqual([g.outH, g.outW], [2, 2])
        let x: [Float] = (1...9).map { -Float($0) }
        // Windows cover rows/cols {0,1}x{0,1}, {0,1}x{1,2}, {1,2}x{0,1}, {1,2}x{1,2}.
        let (y, argmax) = referenceMaxPool2DForward(x: x, geometry: g)
        XCTAssertEqual(y, [-1, -2, -4, -5])
        XCTAssertEqual(argmax, [0, 1, 3, 4])
    }

    /// Overlapping windows (stride 1) sharing one winner: its gradient is the sum.
    func testMaxPoolOverlappingWindowsAccumulateByHand() {
        let g = Pool2DGeometry(n: 1, c: 1, h: 1, w: 3, kh: 1, kw: 2, strideH: 1, strideW: 1)
        let (y, argmax) = referenceMaxPool2DForward(x: [1, 3, 2], geometry: g)
        XCTAssertEqual(y, [3, 3])
        XCTAssertEqual(argmax, [1, 1])
        XCTAssertEqual(referenceMaxPool2DBackward(dy: [1, 2], argmax: argmax, geometry: g), [0, 3, 0])
    }

    /// PyTorch semantics: ties go to the first element in row-major order; NaN wins.
    func testMaxPoolTiesAndNaNByHand() {
        let g = Pool2DGeometry(n: 1, c: 2, h: 2, w: 2, kh: 2, kw: 2, strideH: 2, strideW: 2)
        let (y, argmax) = referenceMaxPool2DForward(x: [5, 7, 7, 1, 2, .nan, 9, 3], geometry: g)
        XCTAssertEqual(y[0], 7)
        XCTAssertTrue(y[1].isNaN)
        XCTAssertEqual(argmax, [1, 1])
    }

    /// x = 1...9 in a 3x3 plane, 2x2 windows, stride 2, pad 1: the corner window holds only
    /// x[0,0] = 1, so including the padding gives 1/4, excluding it gives 1.
    func testAvgPoolPaddingDivisorsByHand() {
        let g = Pool2DGeometry(n: 1, c: 1, h: 3, w: 3, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 1, padW: 1)
        let x: [Float] = (1...9).map(Float.init)
        // In-bounds parts: {1}, {2,3}, {4,7}, {5,6,8,9}.
        assertClose([0.25, 1.25, 2.75, 7], referenceAvgPool2DForward(x: x, geometry: g, countIncludePad: true),
                    exact, "avg pool include pad", shape: g.outputShape)
        assertClose([1, 2.5, 5.5, 7], referenceAvgPool2DForward(x: x, geometry: g, countIncludePad: false),
                    exact, "avg pool exclude pad", shape: g.outputShape)
        // dy = 4 everywhere: including padding every element gets 4/4 = 1; excluding it the
        // corner gets 4/1, the edges 4/2 and the centre block 4/4.
        assertClose([1, 1, 1, 1, 1, 1, 1, 1, 1],
                    referenceAvgPool2DBackward(dy: [4, 4, 4, 4], geometry: g, countIncludePad: true),
                    exact, "avg pool backward include pad", shape: g.inputShape)
        assertClose([4, 2, 2, 2, 1, 1, 2, 1, 1],
                    referenceAvgPool2DBackward(dy: [4, 4, 4, 4], geometry: g, countIncludePad: false),
                    exact, "avg pool backward exclude pad", shape: g.inputShape)
    }

    func testAvgPoolOverlappingWindowsByHand() {
        let g = Pool2DGeometry(n: 1, c: 1, h: 3, w: 3, kh: 2, kw: 2, strideH: 1, strideW: 1)
        let x: [Float] = (1...9).map(Float.init)
        assertClose([3, 4, 6, 7], referenceAvgPool2DForward(x: x, geometry: g, countIncludePad: true),
                    exact, "avg pool stride 1", shape: g.outputShape)
        // The centre is in all four windows: 4 * (4/4).
        assertClose([1, 2, 1, 2, 4, 2, 1, 2, 1],
                    referenceAvgPool2DBackward(dy: [4, 4, 4, 4], geometry: g, countIncludePad: true),
                    exact, "avg pool backward stride 1", shape: g.inputShape)
    }

    func testGlobalAvgPoolByHand() {
        let y = referenceGlobalAvgPoolForward(x: [1, 2, 3, 4, 10, 20, 30, 40], n: 1, c: 2, hw: 4)
        assertClose([2.5, 25], y, exact, "global avg pool", shape: [1, 2])
        let dx = referenceGlobalAvgPoolBackward(dy: [2, -4], n: 1, c: 2, hw: 4)
        assertClose([0.5, 0.5, 0.5, 0.5, -1, -1, -1, -1], dx, exact, "global avg pool backward", shape: [1, 2, 4])
    }

    // MARK: - Backward against finite differences

    private let fdGeometries = [
        Pool2DGeometry(n: 2, c: 3, h: 5, w: 6, kh: 2, kw: 2, strideH: 2, strideW: 2),
        Pool2DGeometry(n: 1, c: 2, h: 5, w: 4, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1),
        Pool2DGeometry(n: 2, c: 1, h: 6, w: 5, kh: 3, kw: 2, strideH: 2, strideW: 1, padH: 1, padW: 1),
        Pool2DGeometry(n: 1, c: 2, h: 4, w: 7, kh: 2, kw: 3, strideH: 1, strideW: 2, padH: 0, padW: 1),
    ]

    func testMaxPoolBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 11)
        let h: Float = 1e-2
        for g in fdGeometries {
            // Distinct values 0.05 apart (> 2h), half of them negative: no perturbation can
            // change a window's winner, and padding would win if it were a candidate.
            let count = g.inputCount
            let x = (0..<count).shuffled(using: &rng).map { Float($0 - count / 2) * 0.05 }
            let r = randomFloats(g.outputCount, using: &rng)
            let argmax = referenceMaxPool2DForward(x: x, geometry: g).argmax
            let analytic = referenceMaxPool2DBackward(dy: r, argmax: argmax, geometry: g)
            let numeric = FiniteDifferences.gradient(at: x, weightedBy: r, h: h) { referenceMaxPool2DForward(x: $0, geometry: g).y }
            assertClose(numeric, analytic, .finiteDifference, "max pool backward vs FD \(g)", shape: g.inputShape)
        }
    }

    func testAvgPoolBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 12)
        for g in fdGeometries {
            for includePad in [true, false] {
                let x = randomFloats(g.inputCount, using: &rng)
                let r = randomFloats(g.outputCount, using: &rng)
                let analytic = referenceAvgPool2DBackward(dy: r, geometry: g, countIncludePad: includePad)
                let numeric = FiniteDifferences.gradient(at: x, weightedBy: r, h: 1e-2) {
                    referenceAvgPool2DForward(x: $0, geometry: g, countIncludePad: includePad)
                }
                assertClose(numeric, analytic, .finiteDifference,
                            "avg pool backward vs FD \(g) includePad \(includePad)", shape: g.inputShape)
            }
        }
    }

    func testGlobalAvgPoolBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 13)
        let (n, c, hw) = (2, 3, 5)
        let x = randomFloats(n * c * hw, using: &rng)
        let r = randomFloats(n * c, using: &rng)
        let analytic = referenceGlobalAvgPoolBackward(dy: r, n: n, c: c, hw: hw)
        let numeric = FiniteDifferences.gradient(at: x, weightedBy: r, h: 1e-2) {
            referenceGlobalAvgPoolForward(x: $0, n: n, c: c, hw: hw)
        }
        assertClose(numeric, analytic, .finiteDifference, "global avg pool backward vs FD", shape: [n, c, hw])
    }
}
