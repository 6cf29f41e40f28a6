import CKernels
import NNReference
import TestSupport
import XCTest

/// The C parameter block of a reference geometry.
func convParams(_ g: ReferenceConv2DGeometry) -> ck_conv2d_params {
    ck_conv2d_params(
        n: Int32(g.n), c: Int32(g.c), h: Int32(g.h), w: Int32(g.w), oc: Int32(g.oc),
        kh: Int32(g.kh), kw: Int32(g.kw),
        stride_h: Int32(g.strideH), stride_w: Int32(g.strideW),
        pad_h: Int32(g.padH), pad_w: Int32(g.padW),
        dil_h: Int32(g.dilationH), dil_w: Int32(g.dilationW))
}

/// A sweep of geometries in which every listed value occurs several times, without the
/// full cartesian product: batch 1 and 7; channels 1, 3, 8, 13, 32 in and out; odd, even
/// and non-square inputs; kernels 1x1, 3x3, 5x5 (and one 3x5); stride 1 and 2; padding
/// 0, 1, 2; dilation 1 and 2; W2's two convolutions; a 5x5 "same" kernel over a 2x3
/// input, whose outer taps reach no input row at all (the stride-1 lowering's empty spans);
/// and a case large enough that the batched lowering works in chunks (2 + 2 + 2 + 1 images).
let convSweep: [ReferenceConv2DGeometry] = [
    .init(n: 1, c: 1, h: 8, w: 8, oc: 1, kh: 1, kw: 1),
    .init(n: 7, c: 3, h: 9, w: 6, oc: 8, kh: 3, kw: 3, padH: 1, padW: 1),
    .init(n: 1, c: 8, h: 7, w: 7, oc: 13, kh: 5, kw: 5, strideH: 2, strideW: 2, padH: 2, padW: 2),
    .init(n: 7, c: 13, h: 10, w: 10, oc: 3, kh: 3, kw: 3, strideH: 2, strideW: 2),
    .init(n: 1, c: 32, h: 6, w: 9, oc: 32, kh: 3, kw: 3, padH: 1, padW: 1,
          dilationH: 2, dilationW: 2),
    .init(n: 7, c: 1, h: 11, w: 8, oc: 32, kh: 5, kw: 5, padH: 2, padW: 2),
    .init(n: 1, c: 3, h: 14, w: 14, oc: 1, kh: 1, kw: 1, strideH: 2, strideW: 2),
    .init(n: 7, c: 32, h: 7, w: 7, oc: 8, kh: 1, kw: 1),
    .init(n: 1, c: 13, h: 9, w: 6, oc: 13, kh: 3, kw: 3, strideH: 2, strideW: 2,
          padH: 1, padW: 1, dilationH: 2, dilationW: 2),
    .init(n: 7, c: 8, h: 12, w: 5, oc: 32, kh: 5, kw: 5),
    .init(n: 7, c: 3, h: 5, w: 5, oc: 3, kh: 3, kw: 3, padH: 2, padW: 2,
          dilationH: 2, dilationW: 2),
    .init(n: 1, c: 8, h: 9, w: 6, oc: 8, kh: 3, kw: 5, strideH: 2, strideW: 1,
          padH: 1, padW: 2),
    .init(n: 7, c: 13, h: 6, w: 9, oc: 1, kh: 5, kw: 3, strideH: 1, strideW: 2,
          padH: 0, padW: 1, dilationH: 1, dilationW: 2),
    .init(n: 1, c: 1, h: 28, w: 28, oc: 32, kh: 3, kw: 3, padH: 1, padW: 1),
    .init(n: 7, c: 32, h: 14, w: 14, oc: 64, kh: 3, kw: 3, padH: 1, padW: 1),
    .init(n: 7, c: 3, h: 2, w: 3, oc: 5, kh: 5, kw: 5, padH: 2, padW: 2),
    .init(n: 7, c: 32, h: 40, w: 40, oc: 8, kh: 5, kw: 5, padH: 2, padW: 2),
    // The short-reduction path's edges: 16 column rows (two row groups of its backward-filter:
    // 9 and 7), an odd channel count, pixels not a multiple of 8 (54 and 9).
    .init(n: 3, c: 1, h: 10, w: 7, oc: 5, kh: 4, kw: 4, padH: 1, padW: 1),
    .init(n: 2, c: 1, h: 5, w: 5, oc: 3, kh: 3, kw: 3),
]

/// Winograd F(4x4, 3x3)'s bound (the reasoning is at Conv2DWinogradTests).
let winogradF4Tolerance = Tolerance(atol: 1e-3, rtol: 1e-3)

/// The bound for a Winograd pass with output tiles of `tile` (2 or 4): F(2x2) keeps
/// Tolerance.float32.
func winogradTolerance(tile: Int32) -> Tolerance { tile == 4 ? winogradF4Tolerance : .float32 }

/// The bound for a forward or backward-data pass under the modes in force: F(4x4)'s where
/// the pass takes Winograd with 4x4 tiles, Tolerance.float32 elsewhere.
func convTolerance(_ p: inout ck_conv2d_params, backwardData: Bool = false) -> Tolerance {
    let winograd = backwardData ? ck_conv2d_backward_data_uses_winograd(&p) : ck_conv2d_forward_uses_winograd(&p)
    return winograd == 1 ? winogradTolerance(tile: ck_conv2d_winograd_tile(&p)) : .float32
}

/// Guard floats after every workspace, to catch writes past the size the kernel asked for.
let workspaceGuard = 16
let workspaceSentinel: Float = -12345.5

/// A workspace of exactly the size the conv2d kernels ask for `g`, NaN in the used part (a
/// kernel that reads workspace it did not write shows up), then `workspaceGuard` sentinels.
func makeConvWorkspace(_ g: ReferenceConv2DGeometry) -> (buffer: [Float], size: Int) {
    var p = convParams(g)
    let size = ck_conv2d_workspace_size(&p)
    return ([Float](repeating: .nan, count: size)
                + [Float](repeating: workspaceSentinel, count: workspaceGuard), size)
}

/// Fails if a kernel wrote past the `size` floats of its workspace.
func assertWorkspaceGuardIntact(_ workspace: [Float], size: Int, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Array(workspace[size...]),
                   [Float](repeating: workspaceSentinel, count: workspaceGuard),
                   "\(what): wrote past the workspace of \(size) floats", file: file, line: line)
}

/// Every combination of input and output channels and (h, w) sizes of a 3x3 pad-1
/// convolution at `stride`, batch 1 and 3 alternating, 1 and 2 threads alternating in pairs.
func conv3x3Sweep(channels: [Int], outChannels: [Int], sizes: [(Int, Int)], stride: Int = 1)
    -> [(g: ReferenceConv2DGeometry, threads: Int32)] {
    var cases: [(ReferenceConv2DGeometry, Int32)] = []
    var i = 0
    for c in channels {
        for oc in outChannels {
            for (h, w) in sizes {
                let g = ReferenceConv2DGeometry(n: i % 2 == 0 ? 1 : 3, c: c, h: h, w: w, oc: oc, kh: 3, kw: 3,
                                                strideH: stride, strideW: stride, padH: 1, padW: 1)
                cases.append((g, Int32(1 + (i / 2) % 2)))
                i += 1
            }
        }
    }
    return cases
}

/// Backward-data over a sweep of geometries (each at its thread count), written into NaN and
/// added onto random values, against the naive reference at Tolerance.float32; `takesPath`
/// says whether the dispatch takes the path under test (`path` names it) under the modes the
/// caller set, and must return 1 for every geometry.
func checkBackwardDataSweep(_ sweep: [(g: ReferenceConv2DGeometry, threads: Int32)], seed: UInt64, path: String,
                            tolerance: Tolerance = .float32,
                            takesPath: (inout ck_conv2d_params) -> Int32,
                            file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededGenerator(seed: seed)
    for (g, threads) in sweep {
        ck_set_num_threads(threads)
        var p = convParams(g)
        XCTAssertEqual(takesPath(&p), 1, "backward-data takes the \(path) path for \(g)", file: file, line: line)
        let dy = randomFloats(g.outputCount, using: &rng)
        let filter = randomFloats(g.filterCount, using: &rng)
        let dx0 = randomFloats(g.inputCount, using: &rng)
        let reference = referenceConv2DBackwardData(dy: dy, filter: filter, g)
        var (workspace, size) = makeConvWorkspace(g)
        let what = "\(path) backward-data threads \(threads) \(g)"
        // accumulate 0 writes dx whatever it held (NaN here).
        var written = [Float](repeating: .nan, count: g.inputCount)
        ck_conv2d_backward_data(&written, dy, filter, &workspace, &p, 0)
        assertClose(reference, written, tolerance, what + " written", shape: [g.n, g.c, g.h, g.w], file: file, line: line)
        var dx = dx0
        ck_conv2d_backward_data(&dx, dy, filter, &workspace, &p, 1)
        assertClose(zip(dx0, reference).map { $0 + $1 }, dx, tolerance, what + " accumulated",
                    shape: [g.n, g.c, g.h, g.w], file: file, line: line)
        assertWorkspaceGuardIntact(workspace, size: size, what, file: file, line: line)
    }
}
