import CKernels
import NNReference
import TestSupport
import XCTest

/// Every conv2d kernel against the naive reference over `convSweep`. Tolerance.float32
/// holds: the longest reduction here is backward-filter's over n*oh*ow = 11,200 products
/// of values in [-1, 1]; its float32 rounding, a random walk of about sqrt(11,200) * 2^-24
/// times the partial sums' size (~30), stays near 1e-5, under the 1e-4 floor. Forward and
/// backward-data passes that take Winograd F(4x4) are held to its bound (`convTolerance`).
final class Conv2DTests: XCTestCase {
    func testForwardMatchesReferenceWithAndWithoutBias() {
        var rng = SeededGenerator(seed: 31)
        for g in convSweep {
            let x = randomFloats(g.inputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let bias = randomFloats(g.oc, using: &rng)
            for useBias in [false, true] {
                let expected = referenceConv2DForward(x: x, filter: filter,
                                                      bias: useBias ? bias : nil, g)
                // y starts as garbage: forward overwrites, it does not accumulate.
                var y = randomFloats(g.outputCount, in: 5...6, using: &rng)
                var (workspace, size) = makeConvWorkspace(g)
                var p = convParams(g)
                if useBias {
                    ck_conv2d_forward(&y, x, filter, bias, &workspace, &p)
                } else {
                    ck_conv2d_forward(&y, x, filter, nil, &workspace, &p)
                }
                let what = "ck_conv2d_forward bias \(useBias) \(g)"
                assertClose(expected, y, convTolerance(&p), what, shape: [g.n, g.oc, g.outH, g.outW])
                assertWorkspaceGuardIntact(workspace, size: size, what)
            }
        }
    }

    func testBackwardDataAccumulatesOrWritesTheReference() {
        var rng = SeededGenerator(seed: 32)
        for g in convSweep {
            let dy = randomFloats(g.outputCount, using: &rng)
            let filter = randomFloats(g.filterCount, using: &rng)
            let dx0 = randomFloats(g.inputCount, using: &rng)
            let reference = referenceConv2DBackwardData(dy: dy, filter: filter, g)
            var dx = dx0
            var (workspace, size) = makeConvWorkspace(g)
            var p = convParams(g)
            ck_conv2d_backward_data(&dx, dy, filter, &workspace, &p, 1)
            let what = "ck_conv2d_backward_data \(g)"
            let tolerance = convTolerance(&p, backwardData: true)
            assertClose(zip(dx0, reference).map { $0 + $1 }, dx, tolerance, what, shape: [g.n, g.c, g.h, g.w])
            assertWorkspaceGuardIntact(workspace, size: size, what)
            // accumulate 0 writes dx whatever it held (NaN here).
            var written = [Float](repeating: .nan, count: g.inputCount)
            ck_conv2d_backward_data(&written, dy, filter, &workspace, &p, 0)
            assertClose(reference, written, tolerance, what + " written", shape: [g.n, g.c, g.h, g.w])
        }
    }

    func testBackwardFilterAccumulatesTheReferenceWithAndWithoutBias() {
        var rng = SeededGenerator(seed: 33)
        for g in convSweep {
            let dy = randomFloats(g.outputCount, using: &rng)
            let x = randomFloats(g.inputCount, using: &rng)
            let dw0 = randomFloats(g.filterCount, using: &rng)
            let dbias0 = randomFloats(g.oc, using: &rng)
            let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
            let expectedDw = zip(dw0, dfilter).map { $0 + $1 }
            let expectedDbias = zip(dbias0, dbias).map { $0 + $1 }
            for useBias in [false, true] {
                var dw = dw0
                var db = dbias0
                var (workspace, size) = makeConvWorkspace(g)
                var p = convParams(g)
                if useBias {
                    ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
                } else {
                    ck_conv2d_backward_filter(&dw, nil, dy, x, &workspace, &p)
                }
                let what = "ck_conv2d_backward_filter bias \(useBias) \(g)"
                assertClose(expectedDw, dw, .float32, what + " dw", shape: [g.oc, g.c, g.kh, g.kw])
                assertClose(useBias ? expectedDbias : dbias0, db, .float32, what + " dbias",
                            shape: [g.oc])
                assertWorkspaceGuardIntact(workspace, size: size, what)
            }
        }
    }

    /// Gradients from two calls add up, as when a tensor is used twice.
    func testBackwardCallsAccumulateAcrossCalls() {
        var rng = SeededGenerator(seed: 34)
        let g = convSweep[1]
        let dy = randomFloats(g.outputCount, using: &rng)
        let x = randomFloats(g.inputCount, using: &rng)
        let filter = randomFloats(g.filterCount, using: &rng)
        var (workspace, _) = makeConvWorkspace(g)
        var p = convParams(g)
        var dx = [Float](repeating: 0, count: g.inputCount)
        var dw = [Float](repeating: 0, count: g.filterCount)
        var db = [Float](repeating: 0, count: g.oc)
        for _ in 0..<2 {
            ck_conv2d_backward_data(&dx, dy, filter, &workspace, &p, 1)
            ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
        }
        let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
        assertClose(referenceConv2DBackwardData(dy: dy, filter: filter, g).map { 2 * $0 }, dx,
                    .float32, "ck_conv2d_backward_data twice \(g)", shape: [g.n, g.c, g.h, g.w])
        assertClose(dfilter.map { 2 * $0 }, dw, .float32, "ck_conv2d_backward_filter twice dw \(g)",
                    shape: [g.oc, g.c, g.kh, g.kw])
        assertClose(dbias.map { 2 * $0 }, db, .float32, "ck_conv2d_backward_filter twice dbias \(g)",
                    shape: [g.oc])
    }

    /// With more than one thread the lowering takes more images a chunk (fewer hand-offs
    /// between the two thread pools) than with one. Every pass must match the reference at
    /// 1, 2 and 3 threads and stay inside the one workspace size, which is asked for once:
    /// a forward at one thread count may be followed by its backward at another. (This
    /// 3x3 "same" shape would take the direct path; the lowering is forced here.)
    func testChunksAtEveryThreadCountMatchTheReference() {
        defer {
            ck_set_num_threads(0)
            ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        }
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_NEVER)
        var rng = SeededGenerator(seed: 35)
        // 184,320 workspace floats an image: 4 + 3 images a chunk at one thread, 7 at more.
        let g = ReferenceConv2DGeometry(n: 7, c: 32, h: 24, w: 24, oc: 32, kh: 3, kw: 3,
                                        padH: 1, padW: 1)
        var p = convParams(g)
        ck_set_num_threads(1)
        let oneThread = ck_conv2d_images_per_chunk(&p)
        ck_set_num_threads(2)
        let twoThreads = ck_conv2d_images_per_chunk(&p)
        XCTAssertEqual(oneThread, 4, "images a chunk at 1 thread")
        XCTAssertEqual(twoThreads, 7, "images a chunk at 2 threads")

        let x = randomFloats(g.inputCount, using: &rng)
        let filter = randomFloats(g.filterCount, using: &rng)
        let bias = randomFloats(g.oc, using: &rng)
        let dy = randomFloats(g.outputCount, using: &rng)
        let expectedY = referenceConv2DForward(x: x, filter: filter, bias: bias, g)
        let expectedDx = referenceConv2DBackwardData(dy: dy, filter: filter, g)
        let (expectedDw, expectedDbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
        var (workspace, size) = makeConvWorkspace(g)
        for (forwardThreads, backwardThreads) in [(1, 2), (2, 1), (3, 3)] {
            let what = "threads \(forwardThreads) then \(backwardThreads) \(g)"
            ck_set_num_threads(Int32(forwardThreads))
            var y = [Float](repeating: .nan, count: g.outputCount)
            ck_conv2d_forward(&y, x, filter, bias, &workspace, &p)
            ck_set_num_threads(Int32(backwardThreads))
            var dx = [Float](repeating: .nan, count: g.inputCount)   // written, not added to
            var dw = [Float](repeating: 0, count: g.filterCount)
            var db = [Float](repeating: 0, count: g.oc)
            ck_conv2d_backward_data(&dx, dy, filter, &workspace, &p, 0)
            ck_conv2d_backward_filter(&dw, &db, dy, x, &workspace, &p)
            assertClose(expectedY, y, .float32, "forward " + what, shape: [g.n, g.oc, g.outH, g.outW])
            assertClose(expectedDx, dx, .float32, "backward-data " + what, shape: [g.n, g.c, g.h, g.w])
            assertClose(expectedDw, dw, .float32, "backward-filter dw " + what,
                        shape: [g.oc, g.c, g.kh, g.kw])
            assertClose(expectedDbias, db, .float32, "backward-filter dbias " + what, shape: [g.oc])
            assertWorkspaceGuardIntact(workspace, size: size, what)
        }
    }
}
