import CKernels
import NNReference
import TestSupport
import XCTest

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) (`ck_conv2d_winograd.c`), each tile forced in turn:
/// forward (with and without bias, through `ck_conv2d_forward` and the packed inference
/// path), backward-data (written and accumulated) and backward-filter (accumulated, with and
/// without bias) against the naive reference, forced on with `CK_CONV2D_WINOGRAD_ALWAYS` so
/// that every shape of the sweep takes it; and the AUTO rules on the workloads' shapes.
///
/// Tolerance.float32 (1e-4 absolute floor, 1e-4 relative): the transforms add and subtract
/// up to 4 inputs (B^T d B), weight sums of up to 9 weights by 1/4 (G g G^T), and 9 of the
/// 16 products (A^T m A), so each output is a sum of about 16 * c float products of values
/// a few times larger than the direct sum's, with partial sums that cancel. For c = 64 that
/// is a random walk of about sqrt(1024) * 2^-24 * 4^2 * 8 (partial sums of |8|), 2e-4 of
/// a sum whose size is itself near 8: a relative error of about 3e-5, under the 1e-4 bound
/// (the largest seen on the sweep is printed by a failing assertion). Backward-filter sums
/// n * tiles = 3 * 196 tile products at most per thread in float (the direct kernel's 2,352
/// pixel products, Conv2DDirectTests), then the threads' sums in double.
///
/// F(4x4, 3x3) (all three passes, `ck_conv2d_set_winograd_tile(4)`) is held to
/// `winogradF4Tolerance` (1e-3 absolute floor, 1e-3 relative). Its transforms take sums of up
/// to 6 inputs with factors up to 5 (B^T), weights scaled by 1/24 to 1/4 (G) and outputs with
/// factors up to 8 (A^T), so the partial sums it rounds are larger: a float32 simulation of one tile
/// (NumPy, uniform inputs in [-1, 1], 200 tiles) puts its error at 16 times F(2x2)'s, up to
/// 7.5e-4 at 64 channels on outputs near 7, about 1e-4 relative. The bound leaves about
/// 1.3 times that; a sign or factor wrong anywhere in a transform is off by O(1).
final class Conv2DWinogradTests: XCTestCase {
    override func tearDown() {
        ck_conv2d_set_winograd_tile(0)
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_AUTO)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_set_num_threads(0)
        super.tearDown()
    }

    /// Channels below, at and past a register block of 16 (a last block of 8 lanes, lanes
    /// past oc); images of one tile, odd sizes (a last tile row or column half outside the
    /// image), non-square ones, and widths of 16 and more (the padding's vector de-interleave
    /// and its scalar tail); batch 1 and 3, 1 and 2 threads alternating.
    private static let channels = [1, 3, 16, 17, 64]
    private static let outChannels = [1, 8, 16, 20, 64]
    private static let sizes = [(1, 1), (2, 2), (3, 4), (7, 7), (14, 14), (5, 9), (17, 33), (28, 28)]

    private static var sweep: [(g: ReferenceConv2DGeometry, threads: Int32)] {
        conv3x3Sweep(channels: channels, outChannels: outChannels, sizes: sizes)
    }

    func testWinogradForwardMatchesReferenceWithAndWithoutBias() {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        var rng = SeededGenerator(seed: 81)
        for tile: Int32 in [2, 4] {
            ck_conv2d_set_winograd_tile(tile)
            checkForwardSweep(tile: tile, using: &rng)
        }
    }

    private func checkForwardSweep(tile: Int32, using rng: inout SeededGenerator) {
        let tolerance = winogradTolerance(tile: tile)
        for (g, threads) in Self.sweep {
            ck_set_num_threads(threads)
            var p = convParams(g)
            XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 1, "forward takes Winograd for \(g)")
            XCTAssertEqual(ck_conv2d_winograd_tile(&p), tile, "forward takes F(\(tile)x\(tile)) for \(g)")
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let bias = randomFloats(g.oc, using: &rng)
            for useBias in [false, true] {
                let b: [Float]? = useBias ? bias : nil
                let expected = referenceConv2DForward(x: x, filter: filter, bias: b, g)
                var y = [Float](repeating: .nan, count: g.outputCount)   // written, not added to
                var (workspace, size) = makeConvWorkspace(g)
                ck_conv2d_forward(&y, x, filter, b, &workspace, &p)
                let what = "Winograd F(\(tile)x\(tile)) forward bias \(useBias) threads \(threads) \(g)"
                assertClose(expected, y, tolerance, what, shape: [g.n, g.oc, g.outH, g.outW])
                assertWorkspaceGuardIntact(workspace, size: size, what)
                // The packed path (inference) gives the same bits.
                let packedSize = ck_conv2d_packed_size(&p)
                var packed = [Float](repeating: workspaceSentinel, count: packedSize + workspaceGuard)
                ck_conv2d_pack_forward(&packed, filter, b, &p)
                XCTAssertEqual(Array(packed[packedSize...]), [Float](repeating: workspaceSentinel, count: workspaceGuard),
                               "\(what): packing wrote past ck_conv2d_packed_size")
                var yPacked = [Float](repeating: .nan, count: g.outputCount)
                XCTAssertEqual(ck_conv2d_forward_packed(&yPacked, x, packed, &p), 1, what)
                XCTAssertEqual(yPacked.map(\.bitPattern), y.map(\.bitPattern), "\(what): packed bits differ")
            }
        }
    }

    func testWinogradBackwardDataWritesOrAccumulatesTheReference() {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        for tile: Int32 in [2, 4] {
            ck_conv2d_set_winograd_tile(tile)
            checkBackwardDataSweep(Self.sweep, seed: 82, path: "Winograd F(\(tile)x\(tile))",
                                   tolerance: winogradTolerance(tile: tile)) {
                ck_conv2d_backward_data_uses_winograd(&$0) == 1 && ck_conv2d_winograd_tile(&$0) == tile ? 1 : 0
            }
        }
    }

    func testWinogradBackwardFilterAccumulatesTheReferenceWithAndWithoutBias() {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        var rng = SeededGenerator(seed: 84)
        for tile: Int32 in [2, 4] {
            ck_conv2d_set_winograd_tile(tile)
            checkBackwardFilterSweep(tile: tile, using: &rng)
        }
    }

    private func checkBackwardFilterSweep(tile: Int32, using rng: inout SeededGenerator) {
        let tolerance = winogradTolerance(tile: tile)
        for (g, threads) in Self.sweep {
            ck_set_num_threads(threads)
            var p = convParams(g)
            XCTAssertEqual(ck_conv2d_backward_filter_uses_winograd(&p), 1, "backward-filter takes Winograd for \(g)")
            XCTAssertEqual(ck_conv2d_backward_filter_winograd_tile(&p), tile, "backward-filter takes F(\(tile)x\(tile))")
            let dy = randomFloats(g.outputCount, using: &rng)
            let x = randomFloats(g.inputCount, using: &rng)
            let dw0 = randomFloats(g.filterCount, using: &rng), db0 = randomFloats(g.oc, using: &rng)
            let (refDw, refDb) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
            let what = "Winograd F(\(tile)x\(tile)) backward-filter threads \(threads) \(g)"
            var (workspace, size) = makeConvWorkspace(g)
            var dw = dw0, db = db0
            ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
            assertClose(zip(dw0, refDw).map { $0 + $1 }, dw, tolerance, what + " dw", shape: [g.oc, g.c, 3, 3])
            assertClose(zip(db0, refDb).map { $0 + $1 }, db, .float32, what + " dbias", shape: [g.oc])
            var dwOnly = dw0
            ck_conv2d_backward_filter(&dwOnly, nil, dy, x, &workspace, &p)
            XCTAssertEqual(dwOnly.map(\.bitPattern), dw.map(\.bitPattern), "\(what): dw depends on the bias")
            assertWorkspaceGuardIntact(workspace, size: size, what)
        }
    }

    /// The same bits at 1 and 2 threads: each (image, channel block) is one thread's, in the
    /// same order of operations whichever thread it is.
    func testWinogradBitsDoNotDependOnTheThreadCount() {
        var rng = SeededGenerator(seed: 83)
        let g = ReferenceConv2DGeometry(n: 3, c: 32, h: 14, w: 14, oc: 64, kh: 3, kw: 3, padH: 1, padW: 1)
        var p = convParams(g)
        let x = randomFloats(g.inputCount, using: &rng)
        let filter = randomFloats(g.filterCount, using: &rng)
        var outputs: [[Float]] = []
        for threads: Int32 in [1, 2] {
            ck_set_num_threads(threads)
            XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 1)
            var y = [Float](repeating: .nan, count: g.outputCount)
            var (workspace, _) = makeConvWorkspace(g)
            ck_conv2d_forward(&y, x, filter, nil, &workspace, &p)
            outputs.append(y)
        }
        XCTAssertEqual(outputs[0].map(\.bitPattern), outputs[1].map(\.bitPattern))
    }

    /// AUTO takes Winograd for the three passes of the 3x3 stride-1 convolutions of W2 and W3
    /// with 8 or more channels each way, and nowhere else; a forced direct mode (the
    /// direct kernel's tests and benchmarks) turns it off, and NEVER does.
    func testShapeRuleTakesWinogradForWorkloadShapes() {
        func params(_ c: Int, _ hw: Int, _ oc: Int, stride: Int = 1, pad: Int = 1, k: Int = 3) -> ck_conv2d_params {
            convParams(ReferenceConv2DGeometry(n: 64, c: c, h: hw, w: hw, oc: oc, kh: k, kw: k,
                                               strideH: stride, strideW: stride, padH: pad, padW: pad))
        }
        for (name, p0) in [("W2 conv2", params(32, 14, 64)), ("W3 block16", params(16, 28, 16)),
                           ("W3 block32", params(32, 14, 32)), ("W3 block64", params(64, 7, 64))] {
            var p = p0
            XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 1, "\(name): forward takes Winograd")
            XCTAssertEqual(ck_conv2d_winograd_tile(&p), 4, "\(name): forward and backward-data take F(4x4)")
            // Backward-filter: F(4x4) from 49 4x4 tiles (28x28) on.
            XCTAssertEqual(ck_conv2d_backward_filter_winograd_tile(&p), name == "W3 block16" ? 4 : 2,
                           "\(name): backward-filter's tile")
            XCTAssertEqual(ck_conv2d_backward_data_uses_winograd(&p), 1, "\(name): backward-data takes Winograd")
            // Backward-filter from 25 tiles (9x9) on; W3's 7x7 stays direct.
            XCTAssertEqual(ck_conv2d_backward_filter_uses_winograd(&p), name == "W3 block64" ? 0 : 1,
                           "\(name): backward-filter's path")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_direct(&p), name == "W3 block64" ? 1 : 0,
                           "\(name): backward-filter's path")
        }
        for (name, p0) in [("W2 conv1 1->32", params(1, 28, 32)), ("W3 stem 1->16", params(1, 28, 16)),
                           ("stride 2", params(16, 28, 32, stride: 2)), ("no padding", params(16, 14, 16, pad: 0)),
                           ("1x1", params(16, 14, 16, pad: 0, k: 1)), ("16->4", params(16, 14, 4))] {
            var p = p0
            XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 0, "\(name): forward does not take Winograd")
            XCTAssertEqual(ck_conv2d_backward_filter_uses_winograd(&p), 0, "\(name): backward-filter does not take Winograd")
        }
        var fewIn = params(4, 28, 32)
        XCTAssertEqual(ck_conv2d_backward_data_uses_winograd(&fewIn), 0, "4->32: backward-data does not take Winograd")
        var p = params(16, 28, 16)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
        XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 0, "direct ALWAYS: forward takes the direct path")
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 1, "direct ALWAYS: forward takes the direct path")
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_NEVER)
        XCTAssertEqual(ck_conv2d_forward_uses_winograd(&p), 0, "NEVER: forward does not take Winograd")
        XCTAssertEqual(ck_conv2d_forward_uses_direct(&p), 1, "NEVER: forward takes the direct path")
    }
}
