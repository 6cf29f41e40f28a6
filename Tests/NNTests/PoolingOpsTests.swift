import NN
import NNReference
import TestSupport
import XCTest

/// Max, average and global average pooling: outputs against the naive references
/// (Tolerance.float32) and central-difference gradients (Tolerance.finiteDifference,
/// h = 1e-2). Max-pooling inputs are distinct values 0.05 apart (`spacedTensor`), so a
/// perturbation of h never changes a window's maximum: no ties, no kink inside the stencil.
final class PoolingOpsTests: XCTestCase {
    struct Case {
        var name: String
        var x: [Int]
        var kernel: (Int, Int), stride: (Int, Int), padding = (0, 0)
    }

    static let cases: [Case] = [
        Case(name: "2x2 stride 2", x: [2, 3, 4, 4], kernel: (2, 2), stride: (2, 2)),
        Case(name: "3x3 stride 2 padding 1 (overlapping)", x: [1, 2, 5, 5], kernel: (3, 3), stride: (2, 2),
             padding: (1, 1)),
        Case(name: "2x3 stride (1,2) padding (1,1), non-square input", x: [2, 1, 4, 6], kernel: (2, 3),
             stride: (1, 2), padding: (1, 1)),
    ]

    func geometry(_ c: Case) -> Pool2DGeometry {
        Pool2DGeometry(n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], kh: c.kernel.0, kw: c.kernel.1,
                       strideH: c.stride.0, strideW: c.stride.1, padH: c.padding.0, padW: c.padding.1)
    }

    func testMaxPool() {
        for (i, c) in Self.cases.enumerated() {
            let x = spacedTensor(c.x, seed: UInt64(i + 1))
            let y = maxPool2d(x, kernel: c.kernel, stride: c.stride, padding: c.padding)
            let g = geometry(c)
            XCTAssertEqual(y.shape, g.outputShape, c.name)
            assertClose(referenceMaxPool2DForward(x: x.scalars, geometry: g).y, y.scalars, .float32,
                        "maxPool2d \(c.name)", shape: y.shape)
            checkGradients("maxPool2d \(c.name)", inputs: [x]) {
                maxPool2d($0[0], kernel: c.kernel, stride: c.stride, padding: c.padding)
            }
        }
        // The stride defaults to the kernel.
        let x = spacedTensor([1, 1, 4, 4])
        XCTAssertEqual(maxPool2d(x, kernel: (2, 2)), maxPool2d(x, kernel: (2, 2), stride: (2, 2)))
    }

    func testAvgPoolBothDivisors() {
        for (i, c) in Self.cases.enumerated() {
            for includePad in [true, false] {
                let x = randomTensor(c.x, seed: UInt64(i + 1))
                let y = avgPool2d(x, kernel: c.kernel, stride: c.stride, padding: c.padding, countIncludePad: includePad)
                let g = geometry(c)
                let what = "avgPool2d \(c.name) countIncludePad \(includePad)"
                XCTAssertEqual(y.shape, g.outputShape, what)
                assertClose(referenceAvgPool2DForward(x: x.scalars, geometry: g, countIncludePad: includePad),
                            y.scalars, .float32, what, shape: y.shape)
                checkGradients(what, inputs: [x]) {
                    avgPool2d($0[0], kernel: c.kernel, stride: c.stride, padding: c.padding,
                              countIncludePad: includePad)
                }
            }
        }
        // With padding the two divisors differ at the border: a corner window of a 3x3
        // kernel with padding 1 on ones sees 4 real elements of 9.
        let ones = Tensor(ones: [1, 1, 4, 4])
        XCTAssertEqual(avgPool2d(ones, kernel: (3, 3), stride: (1, 1), padding: (1, 1))[0, 0, 0, 0], 4.0 / 9,
                       accuracy: 1e-6)
        XCTAssertEqual(avgPool2d(ones, kernel: (3, 3), stride: (1, 1), padding: (1, 1), countIncludePad: false)[0, 0, 0, 0],
                       1, accuracy: 1e-6)
    }

    func testGlobalAvgPool() {
        let x = randomTensor([2, 3, 3, 4])
        let y = globalAvgPool2d(x)
        XCTAssertEqual(y.shape, [2, 3])
        assertClose(referenceGlobalAvgPoolForward(x: x.scalars, n: 2, c: 3, hw: 12), y.scalars, .float32,
                    "globalAvgPool2d", shape: y.shape)
        checkGradients("globalAvgPool2d", inputs: [x]) { globalAvgPool2d($0[0]) }
    }

    /// W2's model applies ReLU after max pooling (Models.cnn): the same values and
    /// the same input gradients as ReLU before it, windows of all-negative values included.
    func testReLUCommutesWithMaxPoolingValuesAndGradients() {
        let x = randomTensor([2, 3, 6, 6], seed: 11) - 0.3   // many all-negative windows
        let weights = randomTensor([2, 3, 3, 3], seed: 12)
        func run(_ f: (Tensor) -> Tensor) -> (y: [Float], dx: [Float]) {
            let leaf = x.requiringGradient()
            let y = f(leaf)
            (y * weights).sum().backward()
            return (y.scalars, leaf.gradient!.scalars)
        }
        let reluFirst = run { maxPool2d(relu($0), kernel: (2, 2)) }
        let poolFirst = run { relu(maxPool2d($0, kernel: (2, 2))) }
        XCTAssertEqual(reluFirst.y, poolFirst.y)
        XCTAssertEqual(reluFirst.dx, poolFirst.dx)
        XCTAssertTrue(poolFirst.dx.contains(0) && poolFirst.y.contains(0), "the test needs windows ReLU zeroes")
    }
}
