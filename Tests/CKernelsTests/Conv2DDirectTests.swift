import CKernels
import NNReference
import TestSupport
import XCTest

/// The direct 3x3 convolution (`ck_conv2d_direct.c`), its three passes at stride 1 and 2
/// (stride-2 backward-data by the four phases of dx), against the naive reference, forced on with
/// `CK_CONV2D_DIRECT_ALWAYS` so that every shape of the sweep takes it, whatever the shape
/// rule of AUTO; and that rule itself on the workloads' shapes.
///
/// Tolerance.float32 holds: the reference sums in Double, the kernel in float in another
/// order. The longest reduction here is backward-data's with 64 input channels, 9*64 = 576
/// products of values in [-1, 1] (|product| about 1/4 on average). Float rounding, a random
/// walk of about sqrt(576) * 2^-24 times the partial sums' size (about sqrt(576) * 0.33 = 8),
/// stays near 1e-5, an order under the 1e-4 floor; outputs larger than 1 get the 1e-4
/// relative bound. Backward-filter sums n*h*w = 2,352 products at most (batch 3 at 28x28),
/// under the 11,200 that Conv2DTests' statement covers. The inputs are seeded, so the test
/// is deterministic.
final class Conv2DDirectTests: XCTestCase {
    override func tearDown() {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_set_num_threads(0)
        super.tearDown()
    }

    /// Every combination of these, batch 1 and 3 alternating, 1 and 2 threads alternating.
    /// Stride 2 adds 3x3: odd sizes give the last output row and column one padded tap.
    private static let channels = [1, 3, 4, 16, 17]
    private static let outChannels = [1, 8, 16, 20, 64]
    /// Widths around the padding's row copy: 1-3 floats one by one, 4-7 two overlapping
    /// 4-vectors, 8 and more 8-vectors and an overlapping last one.
    private static let sizes = [(1, 1), (2, 2), (3, 4), (7, 7), (4, 8), (14, 14), (5, 9), (28, 28)]
    private static let stride2Sizes = [(1, 1), (2, 2), (3, 3), (7, 7), (14, 14), (5, 9), (28, 28)]

    private static var sweep: [(g: ReferenceConv2DGeometry, threads: Int32)] {
        conv3x3Sweep(channels: channels, outChannels: outChannels, sizes: sizes)
    }
    private static var stride2Sweep: [(g: ReferenceConv2DGeometry, threads: Int32)] {
        conv3x3Sweep(channels: channels, outChannels: outChannels, sizes: stride2Sizes, stride: 2)
    }

    func testDirectForwardMatchesReferenceWithAndWithoutBias() {
        checkDirectForward(Self.sweep, seed: 61)
    }

    func testDirectForwardStride2MatchesReferenceWithAndWithoutBias() {
        checkDirectForward(Self.stride2Sweep, seed: 65)
    }

    private func checkDirectForward(_ sweep: [(g: ReferenceConv2DGeometry, threads: Int32)], seed: UInt64) {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        var rng = SeededGenerator(seed: seed)
        for (g, threads) in sweep {
            ck_set_num_threads(threads)
            var p = convParams(g)
            XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 1, "forward takes the direct path for \(g)")
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let bias = randomFloats(g.oc, using: &rng)
            for useBias in [false, true] {
                let expected = referenceConv2DForward(x: x, filter: filter, bias: useBias ? bias : nil, g)
                var y = [Float](repeating: .nan, count: g.outputCount)   // written, not added to
                var (workspace, size) = makeConvWorkspace(g)
                if useBias {
                    ck_conv2d_forward(&y, x, filter, bias, &workspace, &p)
                } else {
                    ck_conv2d_forward(&y, x, filter, nil, &workspace, &p)
                }
                let what = "direct forward bias \(useBias) threads \(threads) \(g)"
                assertClose(expected, y, .float32, what, shape: [g.n, g.oc, g.outH, g.outW])
                assertWorkspaceGuardIntact(workspace, size: size, what)
            }
        }
    }

    func testDirectBackwardDataWritesOrAccumulatesTheReference() {
        checkDirectBackwardData(Self.sweep, seed: 62)
    }

    /// Odd sizes give dx an odd row and column fewer than the even phase (7x7: phases of 4 and
    /// 3 rows), 1x1 and 1-wide images phases with no pixel at all; 5x9 mixes the two per axis.
    func testDirectBackwardDataStride2WritesOrAccumulatesTheReference() {
        checkDirectBackwardData(Self.stride2Sweep, seed: 67)
    }

    private func checkDirectBackwardData(_ sweep: [(g: ReferenceConv2DGeometry, threads: Int32)], seed: UInt64) {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        checkBackwardDataSweep(sweep, seed: seed, path: "direct") { ck_conv2d_backward_data_uses_direct(&$0) }
    }

    func testDirectBackwardFilterAccumulatesTheReferenceWithAndWithoutBias() {
        checkDirectBackwardFilter(Self.sweep, seed: 64)
    }

    func testDirectBackwardFilterStride2AccumulatesTheReferenceWithAndWithoutBias() {
        checkDirectBackwardFilter(Self.stride2Sweep, seed: 66)
    }

    private func checkDirectBackwardFilter(_ sweep: [(g: ReferenceConv2DGeometry, threads: Int32)], seed: UInt64) {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        var rng = SeededGenerator(seed: seed)
        for (g, threads) in sweep {
            ck_set_num_threads(threads)
            var p = convParams(g)
            XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), 1, "backward-filter takes the direct path for \(g)")
            let dy = randomFloats(g.outputCount, using: &rng)
            let x = randomFloats(g.inputCount, using: &rng)
            let dw0 = randomFloats(g.filterCount, using: &rng)
            let dbias0 = randomFloats(g.oc, using: &rng)
            let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
            for useBias in [false, true] {
                var dw = dw0
                var db = dbias0
                var (workspace, size) = makeConvWorkspace(g)
                if useBias {
                    ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
                } else {
                    ck_conv2d_backward_filter(&dw, nil, dy, x, &workspace, &p)
                }
                let what = "direct backward-filter bias \(useBias) threads \(threads) \(g)"
                assertClose(zip(dw0, dfilter).map { $0 + $1 }, dw, .float32, what + " dw", shape: [g.oc, g.c, 3, 3])
                assertClose(useBias ? zip(dbias0, dbias).map { $0 + $1 } : dbias0, db, .float32, what + " dbias",
                            shape: [g.oc])
                assertWorkspaceGuardIntact(workspace, size: size, what)
            }
        }
    }

    /// The direct and the lowered path agree on W3's shapes (small batch), stride 1 and 2, and
    /// all match the reference, so switching paths between calls changes nothing a caller
    /// can see.
    func testDirectAndLoweredPathsAgree() {
        var rng = SeededGenerator(seed: 63)
        for g in [ReferenceConv2DGeometry(n: 2, c: 32, h: 14, w: 14, oc: 32, kh: 3, kw: 3, padH: 1, padW: 1),
                  ReferenceConv2DGeometry(n: 2, c: 16, h: 28, w: 28, oc: 32, kh: 3, kw: 3,
                                          strideH: 2, strideW: 2, padH: 1, padW: 1)] {
            checkPathsAgree(g, using: &rng)
        }
    }

    private func checkPathsAgree(_ g: ReferenceConv2DGeometry, using rng: inout SeededGenerator) {
        var p = convParams(g)
        let x = randomFloats(g.inputCount, using: &rng)
        let filter = randomFloats(g.filterCount, using: &rng)
        let bias = randomFloats(g.oc, using: &rng)
        let dy = randomFloats(g.outputCount, using: &rng)
        let expectedY = referenceConv2DForward(x: x, filter: filter, bias: bias, g)
        let expectedDx = referenceConv2DBackwardData(dy: dy, filter: filter, g)
        let (expectedDw, expectedDbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
        var (workspace, _) = makeConvWorkspace(g)
        for mode in [CK_CONV2D_DIRECT_NEVER, CK_CONV2D_DIRECT_ALWAYS, CK_CONV2D_DIRECT_AUTO] {
            ck_conv2d_set_direct_mode(mode)
            var y = [Float](repeating: .nan, count: g.outputCount)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.filterCount)
            var db = [Float](repeating: 0, count: g.oc)
            ck_conv2d_forward(&y, x, filter, bias, &workspace, &p)
            ck_conv2d_backward_data(&dx, dy, filter, &workspace, &p, 0)
            ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
            assertClose(expectedY, y, .float32, "forward mode \(mode) \(g)", shape: [g.n, g.oc, g.outH, g.outW])
            assertClose(expectedDx, dx, .float32, "backward-data mode \(mode) \(g)", shape: [g.n, g.c, g.h, g.w])
            assertClose(expectedDw, dw, .float32, "backward-filter dw mode \(mode) \(g)", shape: [g.oc, g.c, 3, 3])
            assertClose(expectedDbias, db, .float32, "backward-filter dbias mode \(mode) \(g)", shape: [g.oc])
        }
    }

    /// AUTO leaves the 3x3 "same" convolutions of W2 and W3 to Winograd (Conv2DWinogradTests)
    /// and takes the direct path for W3's 3x3 stride-2 ones (fails if the dispatch stops taking
    /// it), and the lowering everywhere else.
    func testShapeRuleTakesDirectPathForWorkloadShapes() {
        func params(_ n: Int, _ c: Int, _ hw: Int, _ oc: Int, k: Int = 3, stride: Int = 1, pad: Int = 1)
            -> ck_conv2d_params {
            convParams(ReferenceConv2DGeometry(n: n, c: c, h: hw, w: hw, oc: oc, kh: k, kw: k,
                                               strideH: stride, strideW: stride, padH: pad, padW: pad))
        }
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        let direct: [(String, ck_conv2d_params)] = [
            ("W3 block16", params(128, 16, 28, 16)),
            ("W3 block32 first conv", params(128, 32, 14, 32)),
            ("W3 block64 first conv", params(128, 64, 7, 64)),
            ("W2 conv2", params(64, 32, 14, 64)),
        ]
        for (name, p0) in direct {
            var p = p0
            XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 1, "\(name): forward takes Winograd")
            XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 0, "\(name): forward leaves the direct path to Winograd")
            XCTAssertEqual(ck_conv2d_backward_data_uses_winograd(&p), 1, "\(name): backward-data takes Winograd")
            XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&p), 0, "\(name): backward-data leaves the direct path")
            // Backward-filter: Winograd from 25 tiles on (Conv2DWinogradTests), direct at 7x7.
            let small = name.hasPrefix("W3 block64")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_winograd(&p), small ? 0 : 1, "\(name): backward-filter's path")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), small ? 1 : 0, "\(name): backward-filter's path")
        }
        let lowered: [(String, ck_conv2d_params)] = [
            ("W3 stem 1->16 (the small path's)", params(128, 1, 28, 16)),
            ("W2 conv1 1->32 (the small path's)", params(64, 1, 28, 32)),
            ("W3 proj32 1x1 stride 2", params(128, 16, 28, 32, k: 1, stride: 2, pad: 0)),
            ("3x3 without padding", params(8, 16, 14, 16, pad: 0)),
        ]
        for (name, p0) in lowered {
            var p = p0
            XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 0, "\(name): forward takes the lowering")
            XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&p), 0, "\(name): backward-data takes the lowering")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), 0, "\(name): backward-filter takes the lowering")
        }
        // W3's 3x3 stride-2 convolutions: all three passes direct (backward-data by phases).
        for (name, p0) in [("W3 down32 16->32 28x28 stride 2", params(128, 16, 28, 32, stride: 2)),
                           ("W3 down64 32->64 14x14 stride 2", params(128, 32, 14, 64, stride: 2))] {
            var p = p0
            XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 1, "\(name): forward takes the direct path")
            XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&p), 1, "\(name): backward-data takes the direct path")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), 1, "\(name): backward-filter takes the direct path")
        }
        var stride3 = params(8, 16, 14, 16, stride: 3)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&stride3), 0, "stride 3: forward takes the lowering even when forced")
        var mixed = convParams(ReferenceConv2DGeometry(n: 8, c: 16, h: 14, w: 14, oc: 16, kh: 3, kw: 3,
                                                       strideH: 2, strideW: 1, padH: 1, padW: 1))
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&mixed), 0, "stride 2x1: forward takes the lowering even when forced")
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        // Backward-filter is direct from 8 input channels to 128x128 channel pairs.
        var fourIn = params(64, 4, 28, 32)
        XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&fourIn), 0, "4->32: backward-filter takes the lowering")
        var wide = params(8, 256, 7, 256)
        XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&wide), 0, "256->256: backward-filter takes the lowering")
        XCTAssertEqual(ck_conv2d_forward_uses_winograd(&wide), 1, "256->256: forward takes Winograd")
        // Backward-data writes c channels, 8 to a vector: few of them against many of oc
        // measured faster lowered; forward with few output channels did not.
        var fewIn = params(64, 4, 28, 32)
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&fewIn), 1, "4->32: forward takes the direct path")
        XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&fewIn), 0, "4->32: backward-data takes the lowering")
        var fewOut = params(64, 16, 28, 3)
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&fewOut), 1, "16->3: forward takes the direct path")
        XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&fewOut), 1, "16->3: backward-data takes the direct path")
        // An image whose padded copy would pass 4 MiB a thread is lowered even when forced.
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        var large = params(1, 64, 128, 64)
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&large), 0, "64 channels of 128x128 are lowered")
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_NEVER)
        var p = params(128, 16, 28, 16)
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 0, "NEVER: forward takes the lowering")
        XCTAssertEqual(ck_conv2d_backward_data_uses_direct(&p), 0, "NEVER: backward-data takes the lowering")
        XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), 0, "NEVER: backward-filter takes the lowering")
    }
}
