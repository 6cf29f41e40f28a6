// KernelBench: the C kernels against the naive Swift reference, on WORKLOADS.md's shapes.
//
//   swift run -c release KernelBench            full run (under a minute on 2 cores)
//   swift run -c release KernelBench --quick    shorter timing budgets (under 30 s)
//
// Every kernel's result is checked against the reference before it is timed. Figures are
// medians of several repetitions; FLOPs come from the shapes (2 per multiply-add).
import CKernels
import Foundation
import NN
import NNReference

/// A command-line argument this program does not know.
struct UsageError: Error, CustomStringConvertible {
    var argument: String
    var description: String {
        "KernelBench: unknown argument '\(argument)'; expected nothing or --quick"
    }
}

/// Timing budgets of one run mode.
struct RunMode {
    var name: String
    /// Seconds spent timing each fast kernel (after the warm-up call), and the most calls
    /// that budget may hold: many calls make the median robust to the shared machine's noise.
    var budget: Double
    var maxReps: Int
    /// The naive reference is skipped where one call is predicted to take longer.
    var naiveLimit: Double
    /// Most repetitions of the naive reference (it is slow and its spread is small).
    var naiveReps: Int

    static let full = RunMode(name: "full", budget: 2.5, maxReps: 1000, naiveLimit: 5, naiveReps: 3)
    static let quick = RunMode(name: "quick", budget: 0.15, maxReps: 50, naiveLimit: 1.5, naiveReps: 1)
}

/// Fails the run when a kernel disagrees with the reference: timing a wrong kernel is
/// worthless. Errors are relative to max(1, |expected|); a correct float32 kernel is
/// near 1e-6, a wrong one near 1.
func requireAgreement(_ error: Double, _ what: String) {
    guard error <= 1e-3 else {
        FileHandle.standardError.write(
            "KernelBench: \(what) disagrees with the naive reference (max relative error \(error))\n"
                .data(using: .utf8)!)
        exit(1)
    }
}

// MARK: - sgemm

/// ck_sgemm on a square size. The naive rate measured at the previous size predicts the
/// naive time here, so that sizes where it would exceed the limit are skipped.
func benchSgemm(_ s: Int, mode: RunMode, naiveRate: inout Double?) -> BenchRow {
    let a = benchFloats(s * s, seed: 1), b = benchFloats(s * s, seed: 2)
    var c = [Float](repeating: 0, count: s * s)
    let flops = 2.0 * Double(s) * Double(s) * Double(s)
    let n32 = Int32(s)
    func run(_ cp: UnsafeMutablePointer<Float>, _ ap: UnsafePointer<Float>, _ bp: UnsafePointer<Float>) {
        ck_sgemm(cp, n32, ap, n32, 0, bp, n32, 0, n32, n32, n32, 1, 0)
    }

    let predicted = naiveRate.map { flops / $0 } ?? 0
    let timeNaive = predicted <= mode.naiveLimit
    var naiveSeconds: Double? = nil
    var checkError = 0.0
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                run(cp.baseAddress!, ap.baseAddress!, bp.baseAddress!)
            }
        }
    }
    // Check: the whole product when the naive reference is timed anyway, else its first
    // rows (every column and the full reduction length are still covered).
    let rows = timeNaive ? s : min(s, 32)
    var expected = [Float](repeating: 0, count: rows * s)
    let naiveOnce = secondsOf {
        referenceGemm(c: &expected, ldc: s, a: Array(a[0..<(rows * s)]), lda: s, transA: false,
                      b: b, ldb: s, transB: false, m: rows, n: s, k: s, alpha: 1, beta: 0)
    }
    checkError = maxRelativeError(expected, Array(c[0..<(rows * s)]))
    requireAgreement(checkError, "sgemm \(s)")
    if timeNaive {
        let reps = naiveOnce * Double(mode.naiveReps) <= mode.naiveLimit ? mode.naiveReps : 1
        var times = [naiveOnce]
        for _ in 1..<max(1, reps) {
            times.append(secondsOf {
                referenceGemm(c: &expected, ldc: s, a: a, lda: s, transA: false,
                              b: b, ldb: s, transB: false, m: s, n: s, k: s, alpha: 1, beta: 0)
            })
        }
        naiveSeconds = times.sorted()[times.count / 2]
        naiveRate = flops / naiveSeconds!
    }

    let seconds = a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                let (pa, pb, pc) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                let estimate = secondsOf { run(pc, pa, pb) }
                return medianSeconds(reps: repetitions(budget: mode.budget, estimate: estimate, maximum: mode.maxReps)) {
                    run(pc, pa, pb)
                }
            }
        }
    }
    return BenchRow(kernel: "sgemm", shape: "\(s)x\(s)x\(s)", flops: flops, seconds: seconds,
                    naiveSeconds: naiveSeconds, checkError: checkError)
}

// MARK: - conv2d

/// The three conv2d kernels on one geometry. Each fast kernel runs once and is checked
/// against the reference (whose call is also its timing), then timed.
func benchConv2D(_ name: String, _ g: ReferenceConv2DGeometry, mode: RunMode) -> [BenchRow] {
    var p = ck_conv2d_params(
        n: Int32(g.n), c: Int32(g.c), h: Int32(g.h), w: Int32(g.w), oc: Int32(g.oc),
        kh: Int32(g.kh), kw: Int32(g.kw), stride_h: Int32(g.strideH), stride_w: Int32(g.strideW),
        pad_h: Int32(g.padH), pad_w: Int32(g.padW), dil_h: Int32(g.dilationH), dil_w: Int32(g.dilationW))
    let x = benchFloats(g.inputCount, seed: 3)
    let filter = benchFloats(g.filterCount, seed: 4)
    let bias = benchFloats(g.oc, seed: 5)
    let dy = benchFloats(g.outputCount, seed: 6)
    var y = [Float](repeating: 0, count: g.outputCount)
    var dx = [Float](repeating: 0, count: g.inputCount)
    var dwAndBias = [Float](repeating: 0, count: g.filterCount + g.oc)
    var workspace = [Float](repeating: 0, count: ck_conv2d_workspace_size(&p))
    // Bias FLOPs (n*oc*oh*ow adds) are left out: under 0.5% of these shapes.
    let flops = 2.0 * Double(g.n * g.oc * g.outH * g.outW) * Double(g.c * g.kh * g.kw)
    let shape = "\(g.n)x\(g.c)x\(g.h)x\(g.w) -> \(g.oc) k\(g.kh)x\(g.kw) p\(g.padH)"

    /// Times `naive` (whose last result is the reference), checks, then times `fast`.
    func measure(_ kernel: String, fast: () -> Void, observed: () -> [Float],
                 naive: () -> [Float]) -> BenchRow {
        fast()
        var reference: [Float] = []
        var times = [secondsOf { reference = naive() }]
        while times.count < mode.naiveReps && times[0] * Double(times.count + 1) <= mode.naiveLimit {
            times.append(secondsOf { reference = naive() })
        }
        let checkError = maxRelativeError(reference, observed())
        requireAgreement(checkError, "\(kernel) \(shape)")
        let estimate = secondsOf(fast)
        let seconds = medianSeconds(reps: repetitions(budget: mode.budget, estimate: estimate, maximum: mode.maxReps), fast)
        return BenchRow(kernel: "\(kernel) \(name)", shape: shape, flops: flops, seconds: seconds,
                        naiveSeconds: times.sorted()[times.count / 2], checkError: checkError)
    }

    return x.withUnsafeBufferPointer { xp in
        filter.withUnsafeBufferPointer { fp in
            bias.withUnsafeBufferPointer { bp in
                dy.withUnsafeBufferPointer { dyp in
                    workspace.withUnsafeMutableBufferPointer { wsp in
                        let (px, pf, pb, pdy, pws) =
                            (xp.baseAddress!, fp.baseAddress!, bp.baseAddress!, dyp.baseAddress!, wsp.baseAddress!)
                        let forward = y.withUnsafeMutableBufferPointer { yp in
                            let py = yp.baseAddress!
                            return measure("conv fwd", fast: { ck_conv2d_forward(py, px, pf, pb, pws, &p) },
                                           observed: { Array(UnsafeBufferPointer(start: py, count: g.outputCount)) },
                                           naive: { referenceConv2DForward(x: x, filter: filter, bias: bias, g) })
                        }
                        // Backward kernels add into their outputs: the check reads the
                        // first call's result, before the timed calls pile on.
                        let backwardData = dx.withUnsafeMutableBufferPointer { dxp in
                            let pdx = dxp.baseAddress!
                            return measure("conv bwd-data", fast: { ck_conv2d_backward_data(pdx, pdy, pf, pws, &p) },
                                           observed: { Array(UnsafeBufferPointer(start: pdx, count: g.inputCount)) },
                                           naive: { referenceConv2DBackwardData(dy: dy, filter: filter, g) })
                        }
                        let backwardFilter = dwAndBias.withUnsafeMutableBufferPointer { dwp in
                            let pdw = dwp.baseAddress!, pdb = dwp.baseAddress! + g.filterCount
                            return measure("conv bwd-filter", fast: { ck_conv2d_backward_filter(pdw, pdb, pdy, px, pws, &p) },
                                           observed: { Array(UnsafeBufferPointer(start: pdw, count: g.filterCount + g.oc)) },
                                           naive: {
                                               let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
                                               return dfilter + dbias
                                           })
                        }
                        return [forward, backwardData, backwardFilter]
                    }
                }
            }
        }
    }
}

// MARK: - Main

do {
    var mode = RunMode.full
    for argument in CommandLine.arguments.dropFirst() {
        guard argument == "--quick" else { throw UsageError(argument: argument) }
        mode = .quick
    }
    Threads.set(nil)
    print("KernelBench (\(mode.name) run): \(Threads.count) threads; medians; "
          + "naive reference skipped where one call would exceed \(mode.naiveLimit) s")
    let started = Date()

    var rows: [BenchRow] = []
    var naiveRate: Double? = nil
    for s in [64, 128, 256, 512, 1024, 2048] {
        rows.append(benchSgemm(s, mode: mode, naiveRate: &naiveRate))
    }
    // OpenBLAS sgemm at 2048 with all threads is the machine's ceiling (WORKLOADS.md).
    let ceiling = rows.last!.gflops

    rows += benchConv2D("W2.conv1", ReferenceConv2DGeometry(
        n: 64, c: 1, h: 28, w: 28, oc: 32, kh: 3, kw: 3, padH: 1, padW: 1), mode: mode)
    rows += benchConv2D("W2.conv2", ReferenceConv2DGeometry(
        n: 64, c: 32, h: 14, w: 14, oc: 64, kh: 3, kw: 3, padH: 1, padW: 1), mode: mode)

    print("")
    printTable(rows, ceiling: ceiling)
    print("")
    print(String(format: "ceiling: sgemm 2048 = %.1f GFLOP/s; speedup = naive time / kernel time, "
                 + "same run; total %.1f s", ceiling, Date().timeIntervalSince(started)))
} catch {
    FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
    exit(2)
}
