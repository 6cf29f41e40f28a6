import CKernels
import NNReference
import TestSupport
import XCTest

/// `ck_conv2d_forward_packed` (weights re-laid once, for inference models) against
/// `ck_conv2d_forward` bit for bit, and both against the naive reference (Tolerance.float32,
/// whose bound Conv2DDirectTests states for these sizes, or Winograd F(4x4)'s where the
/// forward takes it: `convTolerance`); and the small path's split of one
/// image's output channels among threads against one thread, bit for bit.
final class Conv2DPackedTests: XCTestCase {
    override func tearDown() {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_set_num_threads(0)
        super.tearDown()
    }

    /// Odd channel counts (a last block of 8 lanes, lanes past oc), odd and one-pixel
    /// images, both strides, batch 1 (the serving case) and 3, 1 and 2 threads.
    func testPackedForwardGivesTheUnpackedBitsAndTheReference() {
        var rng = SeededGenerator(seed: 71)
        var i = 0
        for stride in [1, 2] {
            for (c, oc) in [(2, 1), (3, 20), (17, 8), (32, 64)] {
                for (h, w) in [(1, 1), (5, 9), (14, 14)] {
                    let g = ReferenceConv2DGeometry(n: i % 2 == 0 ? 1 : 3, c: c, h: h, w: w, oc: oc, kh: 3, kw: 3,
                                                    strideH: stride, strideW: stride, padH: 1, padW: 1)
                    let threads = Int32(1 + (i / 2) % 2)
                    i += 1
                    ck_set_num_threads(threads)
                    var p = convParams(g)
                    XCTAssertEqual(ck_conv2d_forward_uses_direct(&p) | ck_conv2d_forward_uses_winograd(&p), 1,
                                   "AUTO takes the direct path or Winograd for \(g)")
                    let x = randomFloats(g.inputCount, using: &rng)
                    let filter = randomFloats(g.filterCount, using: &rng)
                    let bias = randomFloats(g.oc, using: &rng)
                    for useBias in [false, true] {
                        let what = "packed forward bias \(useBias) threads \(threads) \(g)"
                        let b: [Float]? = useBias ? bias : nil
                        var unpacked = [Float](repeating: .nan, count: g.outputCount)
                        var (workspace, _) = makeConvWorkspace(g)
                        ck_conv2d_forward(&unpacked, x, filter, b, &workspace, &p)
                        // A guard past the packed weights: packing writes exactly packed_size floats.
                        let size = ck_conv2d_packed_size(&p)
                        XCTAssertGreaterThan(size, 0, what)
                        var packed = [Float](repeating: workspaceSentinel, count: size + workspaceGuard)
                        ck_conv2d_pack_forward(&packed, filter, b, &p)
                        XCTAssertEqual(Array(packed[size...]), [Float](repeating: workspaceSentinel, count: workspaceGuard),
                                       "\(what): packing wrote past ck_conv2d_packed_size")
                        var y = [Float](repeating: .nan, count: g.outputCount)  // written, not added to
                        XCTAssertEqual(ck_conv2d_forward_packed(&y, x, packed, &p), 1, what)
                        XCTAssertEqual(y.map(\.bitPattern), unpacked.map(\.bitPattern), "\(what): packed bits differ")
                        let expected = referenceConv2DForward(x: x, filter: filter, bias: b, g)
                        assertClose(expected, y, convTolerance(&p), what, shape: [g.n, g.oc, g.outH, g.outW])
                    }
                }
            }
        }
    }

    /// Where the packed path does not apply, the call says so and writes nothing: the
    /// NEVER mode, a 1-channel input (AUTO keeps it on the small path), a 5x5 kernel
    /// (nothing to pack).
    func testPackedForwardDeclinesWhereTheDirectPathDoesNotApply() {
        var g = ReferenceConv2DGeometry(n: 1, c: 4, h: 6, w: 6, oc: 8, kh: 3, kw: 3,
                                        strideH: 1, strideW: 1, padH: 1, padW: 1)
        var p = convParams(g)
        let packed = [Float](repeating: 0, count: ck_conv2d_packed_size(&p))
        let x = [Float](repeating: 1, count: g.inputCount)
        var y = [Float](repeating: .nan, count: g.outputCount)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_NEVER)
        XCTAssertEqual(ck_conv2d_forward_packed(&y, x, packed, &p), 0)
        XCTAssertTrue(y.allSatisfy(\.isNaN), "declined call wrote y")
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        g.c = 1
        p = convParams(g)
        XCTAssertEqual(ck_conv2d_forward_packed(&y, [Float](repeating: 1, count: g.inputCount), packed, &p), 0)
        XCTAssertTrue(y.allSatisfy(\.isNaN), "declined call wrote y")
        g = ReferenceConv2DGeometry(n: 1, c: 4, h: 6, w: 6, oc: 8, kh: 5, kw: 5,
                                    strideH: 1, strideW: 1, padH: 2, padW: 2)
        p = convParams(g)
        XCTAssertEqual(ck_conv2d_packed_size(&p), 0)
    }

    /// The small path (a 1-channel 3x3, W2's first layer) with fewer images than threads
    /// shares an image's output channels among the threads: the same bits as one thread,
    /// and the reference. Odd sizes: 1 and 3 images, 5 and 33 output channels, 13x11.
    func testSmallPathChannelSplitGivesTheOneThreadBits() {
        var rng = SeededGenerator(seed: 72)
        for (n, oc) in [(1, 5), (1, 33), (3, 33)] {
            let g = ReferenceConv2DGeometry(n: n, c: 1, h: 13, w: 11, oc: oc, kh: 3, kw: 3,
                                            strideH: 1, strideW: 1, padH: 1, padW: 1)
            var p = convParams(g)
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let bias = randomFloats(g.oc, using: &rng)
            var outputs: [[Float]] = []
            for threads: Int32 in [1, 2, 3] {
                ck_set_num_threads(threads)
                var y = [Float](repeating: .nan, count: g.outputCount)
                var (workspace, _) = makeConvWorkspace(g)
                ck_conv2d_forward(&y, x, filter, bias, &workspace, &p)
                outputs.append(y)
            }
            let what = "small path n \(n) oc \(oc)"
            for y in outputs.dropFirst() {
                XCTAssertEqual(y.map(\.bitPattern), outputs[0].map(\.bitPattern), "\(what): bits depend on the thread count")
            }
            assertClose(referenceConv2DForward(x: x, filter: filter, bias: bias, g), outputs[0], .float32, what,
                        shape: [g.n, g.oc, g.outH, g.outW])
        }
    }
}
