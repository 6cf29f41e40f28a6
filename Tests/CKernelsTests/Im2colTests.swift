import CKernels
import NNReference
import TestSupport
import XCTest

final class Im2colTests: XCTestCase {
    func testOutputSizesMatchReference() {
        for g in convSweep {
            var p = convParams(g)
            XCTAssertEqual(Int(ck_conv2d_out_h(&p)), g.outH, "ck_conv2d_out_h \(g)")
            XCTAssertEqual(Int(ck_conv2d_out_w(&p)), g.outW, "ck_conv2d_out_w \(g)")
        }
        // A dilated kernel wider than the padded input has no output.
        var tooWide = convParams(.init(n: 1, c: 1, h: 4, w: 4, oc: 1, kh: 3, kw: 3,
                                       strideH: 2, strideW: 2, dilationH: 2, dilationW: 2))
        XCTAssertEqual(ck_conv2d_out_h(&tooWide), 0)
    }

    /// ck_im2col, image by image, against referenceIm2col. The column buffer starts as
    /// garbage so padding must be written as zeros, not left alone.
    func testIm2colMatchesReference() {
        var rng = SeededGenerator(seed: 21)
        for g in convSweep {
            let x = randomFloats(g.inputCount, using: &rng)
            let expected = referenceIm2col(x, g)
            var observed = randomFloats(g.n * g.columnCount, in: 5...6, using: &rng)
            let chw = g.c * g.h * g.w
            x.withUnsafeBufferPointer { xp in
                observed.withUnsafeMutableBufferPointer { cp in
                    for n in 0..<g.n {
                        ck_im2col(cp.baseAddress! + n * g.columnCount, xp.baseAddress! + n * chw,
                                  Int32(g.c), Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw),
                                  Int32(g.strideH), Int32(g.strideW), Int32(g.padH), Int32(g.padW),
                                  Int32(g.dilationH), Int32(g.dilationW))
                    }
                }
            }
            // Copies, so exact equality is the right test.
            assertClose(expected, observed, Tolerance(atol: 0, rtol: 0), "ck_im2col \(g)",
                        shape: [g.n, g.c * g.kh * g.kw, g.outH * g.outW])
        }
    }

    /// ck_col2im adds into x: x0 + referenceCol2im(col).
    func testCol2imAccumulatesTheReference() {
        var rng = SeededGenerator(seed: 22)
        for g in convSweep {
            let col = randomFloats(g.n * g.columnCount, using: &rng)
            let x0 = randomFloats(g.inputCount, using: &rng)
            let expected = zip(x0, referenceCol2im(col, g)).map { $0 + $1 }
            var observed = x0
            let chw = g.c * g.h * g.w
            col.withUnsafeBufferPointer { cp in
                observed.withUnsafeMutableBufferPointer { xp in
                    for n in 0..<g.n {
                        ck_col2im(xp.baseAddress! + n * chw, cp.baseAddress! + n * g.columnCount,
                                  Int32(g.c), Int32(g.h), Int32(g.w), Int32(g.kh), Int32(g.kw),
                                  Int32(g.strideH), Int32(g.strideW), Int32(g.padH), Int32(g.padW),
                                  Int32(g.dilationH), Int32(g.dilationW))
                    }
                }
            }
            // At most kh*kw terms per element (25 here), summed in another order.
            assertClose(expected, observed, .float32, "ck_col2im \(g)", shape: [g.n, g.c, g.h, g.w])
        }
    }
}
