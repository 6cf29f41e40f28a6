import NNReference
import TestSupport
import XCTest

final class ConvReferenceTests: XCTestCase {
    /// Small geometries covering padding, stride 2, dilation 2, a non-square kernel and
    /// input, and a 1x1 strided kernel (a ResNet projection).
    static let geometries: [ReferenceConv2DGeometry] = [
        ReferenceConv2DGeometry(n: 2, c: 3, h: 7, w: 6, oc: 4, kh: 3, kw: 3, padH: 1, padW: 1),
        ReferenceConv2DGeometry(n: 1, c: 2, h: 9, w: 6, oc: 3, kh: 3, kw: 2,
                                strideH: 2, strideW: 2, padH: 1, padW: 1),
        ReferenceConv2DGeometry(n: 2, c: 2, h: 8, w: 7, oc: 2, kh: 3, kw: 3,
                                padH: 2, padW: 2, dilationH: 2, dilationW: 2),
        ReferenceConv2DGeometry(n: 1, c: 3, h: 6, w: 5, oc: 2, kh: 1, kw: 1,
                                strideH: 2, strideW: 2),
    ]

    // MARK: - Pinned by hand

    func testForwardByHand() {
        // x = 1...9 as a 3x3 image, filter [[1,0],[0,1]]: each output adds a pixel and its
        // lower-right neighbour.
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let g = ReferenceConv2DGeometry(n: 1, c: 1, h: 3, w: 3, oc: 1, kh: 2, kw: 2)
        XCTAssertEqual(referenceConv2DForward(x: x, filter: [1, 0, 0, 1], bias: [0.5], g),
                       [6.5, 8.5, 12.5, 14.5])
        // Dilation 2 spreads the same filter over the corners: 1 + 9.
        let dilated = ReferenceConv2DGeometry(n: 1, c: 1, h: 3, w: 3, oc: 1, kh: 2, kw: 2,
                                              dilationH: 2, dilationW: 2)
        XCTAssertEqual(referenceConv2DForward(x: x, filter: [1, 0, 0, 1], bias: nil, dilated), [10])
        // Padding 1, stride 2, all-ones 3x3 filter: sums of the in-bounds 2x2 corners,
        // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
        let padded = ReferenceConv2DGeometry(n: 1, c: 1, h: 3, w: 3, oc: 1, kh: 3, kw: 3,
                                             strideH: 2, strideW: 2, padH: 1, padW: 1)
        XCTAssertEqual(padded.outH, 2)
        XCTAssertEqual(referenceConv2DForward(x: x, filter: [Float](repeating: 1, count: 9),
                                              bias: nil, padded),
                       [12, 16, 24, 28])
    }

    func testIm2colByHand() {
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let g = ReferenceConv2DGeometry(n: 1, c: 1, h: 3, w: 3, oc: 1, kh: 2, kw: 2)
        XCTAssertEqual(referenceIm2col(x, g), [1, 2, 4, 5,  2, 3, 5, 6,  4, 5, 7, 8,  5, 6, 8, 9])
        // Padding 1 on a 1x1 image with a 2x2 kernel: the pixel lands in a different corner
        // of each of the four windows.
        let padded = ReferenceConv2DGeometry(n: 1, c: 1, h: 1, w: 1, oc: 1, kh: 2, kw: 2,
                                             padH: 1, padW: 1)
        XCTAssertEqual(referenceIm2col([7], padded), [0, 0, 0, 7,  0, 0, 7, 0,  0, 7, 0, 0,  7, 0, 0, 0])
    }

    func testOutputSizeOfAKernelWiderThanTheInputIsZero() {
        let g = ReferenceConv2DGeometry(n: 1, c: 1, h: 2, w: 5, oc: 1, kh: 3, kw: 3, strideH: 2)
        XCTAssertEqual(g.outH, 0)
        XCTAssertEqual(g.outW, 3)
    }

    // MARK: - Consistency between the reference functions

    /// col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>.
    func testCol2imIsTheAdjointOfIm2col() {
        var rng = SeededGenerator(seed: 11)
        for g in Self.geometries {
            let x = randomFloats(g.inputCount, using: &rng)
            let c = randomFloats(g.n * g.columnCount, using: &rng)
            let lhs = zip(referenceIm2col(x, g), c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, referenceCol2im(c, g)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "\(g)")
        }
    }

    /// The definition and the lowering agree: y_n = filter (oc, c*kh*kw) x im2col(x_n).
    func testForwardEqualsFilterTimesIm2col() {
        var rng = SeededGenerator(seed: 12)
        for g in Self.geometries {
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let col = referenceIm2col(x, g)
            let ckk = g.c * g.kh * g.kw, ohow = g.outH * g.outW
            var lowered = [Float]()
            for n in 0..<g.n {
                var yn = [Float](repeating: 0, count: g.oc * ohow)
                referenceGemm(c: &yn, ldc: ohow, a: filter, lda: ckk, transA: false,
                              b: Array(col[(n * g.columnCount)..<((n + 1) * g.columnCount)]),
                              ldb: ohow, transB: false,
                              m: g.oc, n: ohow, k: ckk, alpha: 1, beta: 0)
                lowered += yn
            }
            assertClose(referenceConv2DForward(x: x, filter: filter, bias: nil, g), lowered,
                        .float32, "reference conv2d forward vs gemm(im2col) \(g)",
                        shape: [g.n, g.oc, g.outH, g.outW])
        }
    }

    // MARK: - Gradients by central differences

    /// dL/dx, dL/dfilter and dL/dbias of L = sum(y * r) match central differences of the
    /// reference forward. L is linear in each argument, so the differences have no
    /// truncation error; what remains is float rounding of y over 2h = 2e-2, far inside
    /// Tolerance.finiteDifference.
    func testBackwardMatchesFiniteDifferencesOfForward() {
        var rng = SeededGenerator(seed: 13)
        let h: Float = 1e-2
        for g in Self.geometries {
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let bias = randomFloats(g.oc, using: &rng)
            let r = randomFloats(g.outputCount, using: &rng)
            func forward(_ x: [Float], _ filter: [Float], _ bias: [Float]) -> [Float] {
                referenceConv2DForward(x: x, filter: filter, bias: bias, g)
            }
            let dx = referenceConv2DBackwardData(dy: r, filter: filter, g)
            let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: r, x: x, g)
            assertClose(FiniteDifferences.gradient(at: x, weightedBy: r, h: h) { forward($0, filter, bias) }, dx,
                        .finiteDifference, "reference conv2d backward-data vs FD \(g)",
                        shape: [g.n, g.c, g.h, g.w])
            assertClose(FiniteDifferences.gradient(at: filter, weightedBy: r, h: h) { forward(x, $0, bias) }, dfilter,
                        .finiteDifference, "reference conv2d backward-filter vs FD \(g)",
                        shape: [g.oc, g.c, g.kh, g.kw])
            assertClose(FiniteDifferences.gradient(at: bias, weightedBy: r, h: h) { forward(x, filter, $0) }, dbias,
                        .finiteDifference, "reference conv2d backward-bias vs FD \(g)",
                        shape: [g.oc])
        }
    }
}
