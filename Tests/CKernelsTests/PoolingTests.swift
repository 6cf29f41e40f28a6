import CKernels
import NNReference
import TestSupport
import XCTest

/// Every pooling kernel against the naive reference over a sweep of geometries.
final class PoolingTests: XCTestCase {
    /// Batch 1 and 7; channels 1, 3, 8, 13, 32; odd, even and non-square planes; windows
    /// 1x1, 2x2, 3x3 and 2x3; strides 1, 2 and mixed; padding 0, 1 and mixed (where
    /// PyTorch allows it: at most half the window). Plus W2's pooling layer at batch 7,
    /// large enough to run the OpenMP path.
    private static let geometries: [Pool2DGeometry] = {
        var list = [Pool2DGeometry]()
        for n in [1, 7] {
            for c in [1, 3, 8, 13, 32] {
                for (h, w) in [(5, 5), (6, 6), (7, 4), (3, 8)] {
                    for (kh, kw) in [(1, 1), (2, 2), (3, 3), (2, 3)] {
                        for (sh, sw) in [(1, 1), (2, 2), (2, 1)] {
                            for (ph, pw) in [(0, 0), (1, 1), (0, 1)]
                            where ph <= kh / 2 && pw <= kw / 2 && h + 2 * ph >= kh && w + 2 * pw >= kw {
                                list.append(Pool2DGeometry(n: n, c: c, h: h, w: w, kh: kh, kw: kw,
                                                           strideH: sh, strideW: sw, padH: ph, padW: pw))
                            }
                        }
                    }
                }
            }
        }
        list.append(Pool2DGeometry(n: 7, c: 32, h: 28, w: 28, kh: 2, kw: 2, strideH: 2, strideW: 2))
        list.append(Pool2DGeometry(n: 7, c: 32, h: 28, w: 28, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1))
        return list
    }()

    func testOutputSizesMatchReference() {
        for g in Self.geometries {
            var p = g.params
            XCTAssertEqual(Int(ck_pool2d_out_h(&p)), g.outH, "ck_pool2d_out_h \(g)")
            XCTAssertEqual(Int(ck_pool2d_out_w(&p)), g.outW, "ck_pool2d_out_w \(g)")
        }
    }

    func testMaxPoolForwardAndBackwardMatchReference() {
        var rng = SeededGenerator(seed: 31)
        for g in Self.geometries {
            var p = g.params
            // All < 0, so padding must not win; on a grid of 1/8 so windows often hold ties,
            // which must go to the first in row-major order.
            let x = randomFloats(g.inputCount, in: -3...(-1), using: &rng).map { ($0 * 8).rounded() / 8 }
            let (expectedY, expectedArgmax) = referenceMaxPool2DForward(x: x, geometry: g)
            var y = [Float](repeating: .nan, count: g.outputCount)
            var argmax = [Int32](repeating: -1, count: g.outputCount)
            ck_maxpool2d_forward(&y, &argmax, x, &p)
            // A max is one of the inputs: it must be exact.
            assertClose(expectedY, y, Tolerance(atol: 0, rtol: 0), "ck_maxpool2d_forward y \(g)", shape: g.outputShape)
            assertClose(expectedArgmax.map(Float.init), argmax.map(Float.init), Tolerance(atol: 0, rtol: 0),
                        "ck_maxpool2d_forward argmax \(g)", shape: g.outputShape)

            let dy = randomFloats(g.outputCount, using: &rng)
            let dx0 = randomFloats(g.inputCount, using: &rng)   // backward adds: start from non-zero
            let reference = referenceMaxPool2DBackward(dy: dy, argmax: expectedArgmax, geometry: g)
            var dx = dx0
            ck_maxpool2d_backward(&dx, dy, expectedArgmax, &p, 1)
            assertClose(zip(dx0, reference).map { $0 + $1 }, dx, .float32, "ck_maxpool2d_backward dx \(g)",
                        shape: g.inputShape)
            var written = [Float](repeating: .nan, count: g.inputCount)   // accumulate 0 ignores it
            ck_maxpool2d_backward(&written, dy, expectedArgmax, &p, 0)
            assertClose(reference, written, .float32, "ck_maxpool2d_backward dx written \(g)", shape: g.inputShape)
        }
    }

    func testAvgPoolForwardAndBackwardMatchReference() {
        var rng = SeededGenerator(seed: 32)
        for g in Self.geometries {
            var p = g.params
            for includePad in [true, false] {
                let x = randomFloats(g.inputCount, using: &rng)
                var y = [Float](repeating: .nan, count: g.outputCount)
                ck_avgpool2d_forward(&y, x, &p, includePad ? 1 : 0)
                assertClose(referenceAvgPool2DForward(x: x, geometry: g, countIncludePad: includePad), y, .float32,
                            "ck_avgpool2d_forward \(g) count_include_pad \(includePad)", shape: g.outputShape)

                let dy = randomFloats(g.outputCount, using: &rng)
                let dx0 = randomFloats(g.inputCount, using: &rng)
                let reference = referenceAvgPool2DBackward(dy: dy, geometry: g, countIncludePad: includePad)
                var dx = dx0
                ck_avgpool2d_backward(&dx, dy, &p, includePad ? 1 : 0)
                assertClose(zip(dx0, reference).map { $0 + $1 }, dx, .float32,
                            "ck_avgpool2d_backward \(g) count_include_pad \(includePad)", shape: g.inputShape)
            }
        }
    }

    /// 2x2 windows at stride 2 take row-pair vector loops (ck_pool2d.c) whose 8-wide
    /// chunks spill into the next row pair when a row is not a multiple of 8 outputs, and
    /// whose threads each own a contiguous range of row pairs. Outputs 4 to 17 wide (the
    /// narrower ones take the general loop), odd and even heights, planes small enough for
    /// one thread and large enough for several, at 1, 2 and 3 threads. Inputs sit on a
    /// grid of 1/8 (ties) with NaNs sprinkled in, and dx starts with some -0.0 entries:
    /// the forward pass must match the reference exactly, the backward pass bit for bit
    /// (each dx element receives at most one dy, so there is no rounding to differ).
    func test2x2Stride2VectorPathsMatchReferenceExactly() {
        defer { ck_set_num_threads(0) }
        var rng = SeededGenerator(seed: 35)
        var geometries = [Pool2DGeometry]()
        for (n, c) in [(1, 1), (2, 3), (5, 9)] {
            for h in [8, 9, 14, 33] {
                for w in [6, 8, 9, 10, 12, 14, 15, 16, 18, 30, 34, 35] {
                    geometries.append(Pool2DGeometry(n: n, c: c, h: h, w: w, kh: 2, kw: 2, strideH: 2, strideW: 2))
                }
            }
        }
        geometries.append(Pool2DGeometry(n: 7, c: 64, h: 14, w: 14, kh: 2, kw: 2, strideH: 2, strideW: 2))
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            for g in geometries {
                var p = g.params
                var x = randomFloats(g.inputCount, in: -4...4, using: &rng).map { ($0 * 8).rounded() / 8 }
                for i in stride(from: Int.random(in: 0..<13, using: &rng), to: x.count, by: 13) { x[i] = .nan }
                let (expectedY, expectedArgmax) = referenceMaxPool2DForward(x: x, geometry: g)
                var y = [Float](repeating: 7, count: g.outputCount)
                var argmax = [Int32](repeating: -1, count: g.outputCount)
                ck_maxpool2d_forward(&y, &argmax, x, &p)
                let what = "\(g) at \(threads) threads"
                assertClose(expectedY, y, Tolerance(atol: 0, rtol: 0), "ck_maxpool2d_forward y \(what)", shape: g.outputShape)
                XCTAssertEqual(expectedArgmax, argmax, "ck_maxpool2d_forward argmax \(what)")

                let dy = randomFloats(g.outputCount, using: &rng)
                let dx0 = randomFloats(g.inputCount, using: &rng).enumerated().map { $0.offset % 5 == 0 ? -0.0 : $0.element }
                let reference = referenceMaxPool2DBackward(dy: dy, argmax: expectedArgmax, geometry: g)
                var dx = dx0
                ck_maxpool2d_backward(&dx, dy, expectedArgmax, &p, 1)
                let expectedDx = zip(dx0, reference).map { $1 == 0 ? $0 : $0 + $1 }
                XCTAssertEqual(expectedDx.map(\.bitPattern), dx.map(\.bitPattern), "ck_maxpool2d_backward dx bits \(what)")
                var written = [Float](repeating: .nan, count: g.inputCount)
                ck_maxpool2d_backward(&written, dy, expectedArgmax, &p, 0)
                XCTAssertEqual(reference.map(\.bitPattern), written.map(\.bitPattern),
                               "ck_maxpool2d_backward dx written, bits \(what)")

                let xFinite = x.map { $0.isNaN ? 1.5 : $0 }
                var average = [Float](repeating: 7, count: g.outputCount)
                ck_avgpool2d_forward(&average, xFinite, &p, 1)
                assertClose(referenceAvgPool2DForward(x: xFinite, geometry: g, countIncludePad: true), average,
                            Tolerance(atol: 0, rtol: 0), "ck_avgpool2d_forward \(what)", shape: g.outputShape)
            }
        }
    }

    /// NaN propagates through the max (PyTorch semantics) and its position is recorded.
    func testMaxPoolPropagatesNaN() {
        let g = Pool2DGeometry(n: 1, c: 2, h: 3, w: 4, kh: 2, kw: 2, strideH: 1, strideW: 2, padH: 1, padW: 0)
        var p = g.params
        var rng = SeededGenerator(seed: 33)
        var x = randomFloats(g.inputCount, using: &rng)
        x[5] = .nan
        x[12 + 10] = .nan
        let (expectedY, expectedArgmax) = referenceMaxPool2DForward(x: x, geometry: g)
        XCTAssertTrue(expectedY.contains { $0.isNaN }, "the sweep must actually put a NaN in a window")
        var y = [Float](repeating: 0, count: g.outputCount)
        var argmax = [Int32](repeating: -1, count: g.outputCount)
        ck_maxpool2d_forward(&y, &argmax, x, &p)
        assertClose(expectedY, y, Tolerance(atol: 0, rtol: 0), "ck_maxpool2d_forward y with NaN", shape: g.outputShape)
        assertClose(expectedArgmax.map(Float.init), argmax.map(Float.init), Tolerance(atol: 0, rtol: 0),
                    "ck_maxpool2d_forward argmax with NaN", shape: g.outputShape)
    }

    func testGlobalAvgPoolMatchesReference() {
        var rng = SeededGenerator(seed: 34)
        for n in [1, 7] {
            for c in [1, 3, 8, 13, 32, 64] {
                for hw in [1, 9, 49, 28 * 28] {
                    let x = randomFloats(n * c * hw, using: &rng)
                    var y = [Float](repeating: .nan, count: n * c)
                    ck_global_avgpool_forward(&y, x, Int32(n), Int32(c), Int32(hw))
                    assertClose(referenceGlobalAvgPoolForward(x: x, n: n, c: c, hw: hw), y, .float32,
                                "ck_global_avgpool_forward (\(n),\(c),\(hw))", shape: [n, c])

                    let dy = randomFloats(n * c, using: &rng)
                    let dx0 = randomFloats(n * c * hw, using: &rng)
                    let reference = referenceGlobalAvgPoolBackward(dy: dy, n: n, c: c, hw: hw)
                    var dx = dx0
                    ck_global_avgpool_backward(&dx, dy, Int32(n), Int32(c), Int32(hw))
                    assertClose(zip(dx0, reference).map { $0 + $1 }, dx, .float32,
                                "ck_global_avgpool_backward (\(n),\(c),\(hw))", shape: [n, c, hw])
                }
            }
        }
    }
}

private extension Pool2DGeometry {
    /// The same geometry as the C struct.
    var params: ck_pool2d_params {
        ck_pool2d_params(n: Int32(n), c: Int32(c), h: Int32(h), w: Int32(w), kh: Int32(kh), kw: Int32(kw),
                         stride_h: Int32(strideH), stride_w: Int32(strideW),
                         pad_h: Int32(padH), pad_w: Int32(padW))
    }
}
