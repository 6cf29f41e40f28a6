// The kernel benchmarks: GEMM (wrapper against raw OpenBLAS), conv2d, pooling, batch norm,
// activations and optimizer steps on WORKLOADS.md's shapes, each checked against its naive
// reference before it is timed.
import BenchShim
import CKernels
import Foundation
import NNReference

/// Timing budgets of one run mode.
struct RunMode {
    var name: String
    /// Seconds spent timing each fast kernel (after the warm-up call), and the most calls
    /// that budget may hold.
    var budget: Double
    var maxReps: Int
    /// The naive reference is skipped where one call is predicted to take longer.
    var naiveLimit: Double
    /// Most repetitions of the naive reference (it is slow and its spread is small).
    var naiveReps: Int
    /// Timed training batches of each workload (after warm-up), by thread count; nil: a whole epoch.
    var workloadBatches: (oneThread: Int?, allThreads: Int?)
    /// Test images of the inference pass (nil: all 10,000).
    var inferenceImages: Int?
    /// Processes per workload and thread count, thread counts alternated; the median run's
    /// figures are reported (training images/s decides which run that is).
    var workloadRuns: Int

    static let full = RunMode(name: "full", budget: 0.6, maxReps: 400, naiveLimit: 4, naiveReps: 3,
                              workloadBatches: (150, nil), inferenceImages: nil, workloadRuns: 3)
    static let quick = RunMode(name: "quick", budget: 0.08, maxReps: 40, naiveLimit: 1.2, naiveReps: 1,
                               workloadBatches: (25, 40), inferenceImages: 1280, workloadRuns: 1)
}

/// Fails the run when a kernel disagrees with the reference: timing a wrong kernel is
/// worthless. Errors are relative to max(1, |expected|); a correct float32 kernel is near
/// 1e-6, a wrong one near 1.
func requireAgreement(_ error: Double, _ what: String) {
    guard error <= 1e-3 else {
        FileHandle.standardError.write("KernelBench: \(what) disagrees with the naive reference (max relative error \(error))\n"
            .data(using: .utf8)!)
        exit(1)
    }
}

/// The median time of a fast kernel: reps sized from one estimate call to fit the budget.
func timeFast(_ mode: RunMode, _ body: () -> Void) -> (seconds: Double, reps: Int) {
    let estimate = secondsOf(body)
    let reps = repetitions(budget: mode.budget, estimate: estimate, maximum: mode.maxReps)
    return (medianSeconds(reps: reps, body), reps)
}

/// The naive reference's median time and its result (the oracle of the check).
func timeNaive(_ mode: RunMode, _ body: () -> [Float]) -> (seconds: Double, result: [Float]) {
    var result: [Float] = []
    var times = [secondsOf { result = body() }]
    while times.count < mode.naiveReps && times[0] * Double(times.count + 1) <= mode.naiveLimit {
        times.append(secondsOf { result = body() })
    }
    return (median(times), result)
}

/// Kernel-level state shared by all benchmarks of a run.
struct KernelBench {
    let mode: RunMode
    let ceilings: Ceilings
    let threads: Int
    var records: [Record] = []
    /// The naive GEMM's rate at the first size, to predict (and skip) slow naive calls.
    var naiveGemmRate: Double? = nil

    init(mode: RunMode, ceilings: Ceilings, threads: Int) {
        self.mode = mode
        self.ceilings = ceilings
        self.threads = threads
    }

    /// A rate record from the work of one call (FLOPs or bytes) and the two median times.
    mutating func add(_ group: String, _ name: String, _ shape: String, unit: Unit, work: Double,
                      fast: (seconds: Double, reps: Int), naiveSeconds: Double?, checkError: Double,
                      rawSeconds: Double? = nil, vsRaw: Double? = nil, sameSizeCopy: Double? = nil) {
        let rate = work / fast.seconds * 1e-9
        let ceiling = unit == .gflops ? ceilings.sgemm2048Gflops : ceilings.copyGbytesPerSecond
        let raw = rawSeconds.map { work / $0 * 1e-9 }
        let reference = naiveSeconds.map { work / $0 * 1e-9 }
        records.append(Record(group: group, name: name, shape: shape, threads: threads, unit: unit, median: rate,
                              referenceMedian: reference,
                              speedup: naiveSeconds.map { $0 / fast.seconds },
                              pctOfCeiling: 100 * rate / ceiling, rawMedian: raw, vsRaw: vsRaw ?? raw.map { rate / $0 },
                              sameSizeCopy: sameSizeCopy, pctOfSameSizeCopy: sameSizeCopy.map { 100 * rate / $0 },
                              speedupBound: sameSizeCopy.flatMap { copy in reference.map { copy / $0 } },
                              checkError: checkError, seconds: fast.seconds, reps: fast.reps))
    }

    // MARK: - GEMM

    /// ck_sgemm against cblas_sgemm called directly (timed in alternation) and the naive
    /// reference. c (m,n) = op(a) (m,k) x op(b) (k,n) + beta c.
    mutating func gemm(_ name: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                       beta: Float = 0) {
        let lda = transA ? m : k, ldb = transB ? k : n
        let a = benchFloats(m * k, seed: 1), b = benchFloats(k * n, seed: 2)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let (ta, tb): (Int32, Int32) = (transA ? 1 : 0, transB ? 1 : 0)
        let predicted = naiveGemmRate.map { flops * 1e-9 / $0 } ?? 0
        let timeReference = predicted <= mode.naiveLimit
        // Check: the whole product when the naive reference is timed anyway, else its
        // first rows (every column and the whole reduction are still covered).
        let rows = timeReference ? m : min(m, 32)
        var (naiveSeconds, checkError, fast, raw): (Double?, Double, (seconds: Double, reps: Int), Double) = (nil, 0, (0, 0), 0)
        var vsRaw = 1.0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    let (pa, pb, pc) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                    ck_sgemm(pc, Int32(n), pa, Int32(lda), ta, pb, Int32(ldb), tb, Int32(m), Int32(n), Int32(k), 1, beta)
                    var expected = [Float](repeating: 0, count: rows * n)
                    let once = secondsOf {
                        referenceGemm(c: &expected, ldc: n, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                      m: rows, n: n, k: k, alpha: 1, beta: beta)
                    }
                    checkError = maxRelativeError(expected, Array(cp[0..<(rows * n)]))
                    if timeReference {
                        var times = [once]
                        while times.count < mode.naiveReps && once * Double(times.count + 1) <= mode.naiveLimit {
                            times.append(secondsOf {
                                referenceGemm(c: &expected, ldc: n, a: a, lda: lda, transA: transA, b: b, ldb: ldb,
                                              transB: transB, m: m, n: n, k: k, alpha: 1, beta: beta)
                            })
                        }
                        naiveSeconds = median(times)
                        if naiveGemmRate == nil { naiveGemmRate = flops / naiveSeconds! * 1e-9 }
                    }
                    let wrapped = { ck_sgemm(pc, Int32(n), pa, Int32(lda), ta, pb, Int32(ldb), tb, Int32(m), Int32(n), Int32(k), 1, beta) }
                    let direct = { bench_raw_sgemm(pc, Int32(n), pa, Int32(lda), ta, pb, Int32(ldb), tb, Int32(m), Int32(n), Int32(k), 1, beta) }
                    let estimate = secondsOf(wrapped)
                    // Twice the samples of other kernels (half each), because a 3% difference is
                    // what is looked for.
                    let reps = repetitions(budget: mode.budget, estimate: estimate, minimum: 15, maximum: mode.maxReps)
                    let (tw, tr, rawOverWrapped) = pairedMedianSeconds(reps: reps, wrapped, direct)
                    fast = (tw, reps)
                    raw = tr
                    vsRaw = rawOverWrapped
                }
            }
        }
        requireAgreement(checkError, "sgemm \(name)")
        let shape = "\(m)x\(n)x\(k)" + (transA ? " A^T" : "") + (transB ? " B^T" : "") + (beta != 0 ? " +C" : "")
        add("gemm", name, shape, unit: .gflops, work: flops, fast: fast, naiveSeconds: naiveSeconds,
            checkError: checkError, rawSeconds: raw, vsRaw: vsRaw)
    }

    // MARK: - conv2d

    /// Which path AUTO takes for a conv2d pass.
    enum ConvPath { case winograd, direct, other }

    /// The three conv2d kernels on one geometry.
    mutating func conv2d(_ name: String, _ g: ReferenceConv2DGeometry, bias useBias: Bool) {
        var p = ck_conv2d_params(
            n: Int32(g.n), c: Int32(g.c), h: Int32(g.h), w: Int32(g.w), oc: Int32(g.oc),
            kh: Int32(g.kh), kw: Int32(g.kw), stride_h: Int32(g.strideH), stride_w: Int32(g.strideW),
            pad_h: Int32(g.padH), pad_w: Int32(g.padW), dil_h: Int32(g.dilationH), dil_w: Int32(g.dilationW))
        let x = benchFloats(g.inputCount, seed: 3), filter = benchFloats(g.filterCount, seed: 4)
        let bias = useBias ? benchFloats(g.oc, seed: 5) : nil
        let dy = benchFloats(g.outputCount, seed: 6)
        var y = [Float](repeating: 0, count: g.outputCount)
        var dx = [Float](repeating: 0, count: g.inputCount)
        var dw = [Float](repeating: 0, count: g.filterCount + g.oc)
        var workspace = [Float](repeating: 0, count: max(1, ck_conv2d_workspace_size(&p)))
        // Bias FLOPs (n*oc*oh*ow adds) are left out: under 0.5% of these shapes.
        let flops = 2.0 * Double(g.n * g.oc * g.outH * g.outW) * Double(g.c * g.kh * g.kw)
        let shape = "\(g.n)x\(g.c)x\(g.h)x\(g.w)>\(g.oc) k\(g.kh) s\(g.strideH) p\(g.padH)"
        let mode = self.mode

        /// The path AUTO takes for each pass: Winograd (timed beside the direct kernel it
        /// replaces), the direct kernel (timed beside the lowering), or another (timed alone).
        func path(_ winograd: Int32, _ direct: Int32) -> ConvPath {
            winograd == 1 ? .winograd : direct == 1 ? .direct : .other
        }
        let paths = (fwd: path(ck_conv2d_forward_uses_winograd(&p), ck_conv2d_forward_uses_direct(&p)),
                     bwdData: path(ck_conv2d_backward_data_uses_winograd(&p), ck_conv2d_backward_data_uses_direct(&p)),
                     bwdFilter: path(ck_conv2d_backward_filter_uses_winograd(&p),
                                     ck_conv2d_backward_filter_uses_direct(&p)))
        /// The replaced path's time and check of a pass, timed in alternation with the path
        /// AUTO takes (whose time is then the paired median).
        var replaced: [String: (path: ConvPath, seconds: Double, error: Double)] = [:]

        /// Runs `fast` once, checks it against the naive result, then times both. Where the
        /// pass takes Winograd or the direct kernel, the path it replaces (the direct kernel,
        /// the lowering) is checked and timed beside it.
        func measure(_ pass: String, path: ConvPath, accumulates: Bool = false, _ fast: () -> Void,
                     observed: () -> [Float], naive: () -> [Float])
            -> (fast: (seconds: Double, reps: Int), naive: Double, error: Double) {
            fast()
            let seen = observed()
            let (naiveSeconds, reference) = timeNaive(mode, naive)
            guard path != .other else { return (timeFast(mode, fast), naiveSeconds, maxRelativeError(reference, seen)) }
            // The direct kernel under ALWAYS (which turns Winograd off), the lowering under NEVER.
            let replacedMode = path == .winograd ? CK_CONV2D_DIRECT_ALWAYS : CK_CONV2D_DIRECT_NEVER
            defer { ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO) }
            ck_conv2d_set_direct_mode(replacedMode)
            fast()
            // A backward pass added to what the first call left: its own share is the difference.
            let after = observed()
            let loweredError = maxRelativeError(reference, accumulates ? zip(after, seen).map { $0 - $1 } : after)
            let reps = repetitions(budget: mode.budget / 2, estimate: secondsOf(fast), maximum: mode.maxReps)
            let (autoSeconds, replacedSeconds, _) = pairedMedianSeconds(
                reps: reps,
                { ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO); fast() },
                { ck_conv2d_set_direct_mode(replacedMode); fast() })
            replaced[pass] = (path, replacedSeconds, loweredError)
            return ((autoSeconds, reps), naiveSeconds, maxRelativeError(reference, seen))
        }

        let results = x.withUnsafeBufferPointer { xp in
            filter.withUnsafeBufferPointer { fp in
                dy.withUnsafeBufferPointer { dyp in
                    workspace.withUnsafeMutableBufferPointer { wsp in
                        let (px, pf, pdy, pws) = (xp.baseAddress!, fp.baseAddress!, dyp.baseAddress!, wsp.baseAddress!)
                        let forward = y.withUnsafeMutableBufferPointer { yp in
                            (bias ?? []).withUnsafeBufferPointer { bp in
                                let (py, pb) = (yp.baseAddress!, bias == nil ? nil : bp.baseAddress)
                                return measure("fwd", path: paths.fwd, { ck_conv2d_forward(py, px, pf, pb, pws, &p) },
                                               observed: { Array(yp) },
                                               naive: { referenceConv2DForward(x: x, filter: filter, bias: bias, g) })
                            }
                        }
                        // Backward kernels add into their outputs: the check reads the first
                        // call's result, before the timed calls pile on.
                        let data = dx.withUnsafeMutableBufferPointer { dxp in
                            let pdx = dxp.baseAddress!
                            return measure("bwd-data", path: paths.bwdData, accumulates: true,
                                           { ck_conv2d_backward_data(pdx, pdy, pf, pws, &p, 1) },
                                           observed: { Array(dxp) },
                                           naive: { referenceConv2DBackwardData(dy: dy, filter: filter, g) })
                        }
                        let filterGrad = dw.withUnsafeMutableBufferPointer { dwp in
                            let pdw = dwp.baseAddress!, pdb = useBias ? dwp.baseAddress! + g.filterCount : nil
                            return measure("bwd-filter", path: paths.bwdFilter, accumulates: true,
                                           { ck_conv2d_backward_filter(pdw, pdb, pdy, px, pws, &p) },
                                           observed: { Array(dwp[0..<(g.filterCount + (useBias ? g.oc : 0))]) },
                                           naive: {
                                               let (dfilter, dbias) = referenceConv2DBackwardFilter(dy: dy, x: x, g)
                                               return useBias ? dfilter + dbias : dfilter
                                           })
                        }
                        return [("fwd", forward), ("bwd-data", data), ("bwd-filter", filterGrad)]
                    }
                }
            }
        }
        for (pass, r) in results {
            requireAgreement(r.error, "conv2d \(pass) \(name) \(shape)")
            guard let old = replaced[pass] else {
                add("conv2d", "conv \(pass) \(name)", shape, unit: .gflops, work: flops, fast: r.fast,
                    naiveSeconds: r.naive, checkError: r.error)
                continue
            }
            // Winograd or the direct 3x3 path, and the path it replaces timed in alternation with
            // it. Winograd's GFLOP/s count the direct convolution's FLOPs.
            let (taken, other) = old.path == .winograd ? ("winograd", "direct") : ("direct", "lowered")
            requireAgreement(old.error, "conv2d \(pass) \(name) \(shape) \(other)")
            add("conv2d", "conv \(pass) \(name) \(taken)", shape, unit: .gflops, work: flops, fast: r.fast,
                naiveSeconds: r.naive, checkError: r.error)
            add("conv2d", "conv \(pass) \(name) \(other)", shape, unit: .gflops, work: flops,
                fast: (old.seconds, r.fast.reps), naiveSeconds: r.naive, checkError: old.error)
        }
    }

    // MARK: - Bandwidth-bound kernels

    /// A bandwidth-bound kernel: `fast` runs once and is checked against `naive`, then both
    /// are timed. `bytes` is the minimal traffic of one call (each input read once, each
    /// output written once, accumulated outputs read and written).
    mutating func streaming(_ group: String, _ name: String, _ shape: String, bytes: Double,
                            fast: () -> Void, observed: () -> [Float], naive: () -> [Float]) {
        fast()
        let seen = observed()
        let (naiveSeconds, reference) = timeNaive(mode, naive)
        let error = maxRelativeError(reference, seen)
        requireAgreement(error, "\(name) \(shape)")
        add(group, name, shape, unit: .gbytes, work: bytes, fast: timeFast(mode, fast), naiveSeconds: naiveSeconds,
            checkError: error, sameSizeCopy: sameSizeCopyRate(bytes: bytes))
    }

    /// GB/s of bench_parallel_copy moving `bytes` (half read from one buffer, half written
    /// to another), warmed so the buffers sit in whichever cache level holds that much.
    func sameSizeCopyRate(bytes: Double) -> Double {
        let count = max(16, Int(bytes / 8))
        let src = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { src.deallocate(); dst.deallocate() }
        src.initialize(repeating: 1, count: count)
        dst.initialize(repeating: 0, count: count)
        bench_parallel_copy(dst, src, count)
        let seconds = timeFast(mode) { bench_parallel_copy(dst, src, count) }.seconds
        return 8 * Double(count) / seconds * 1e-9
    }

    /// Max and average pooling 2x2 stride 2, forward and backward, on x (n,c,h,w).
    mutating func pooling(n: Int, c: Int, h: Int, w: Int, average: Bool) {
        let g = Pool2DGeometry(n: n, c: c, h: h, w: w, kh: 2, kw: 2, strideH: 2, strideW: 2)
        var p = ck_pool2d_params(n: Int32(n), c: Int32(c), h: Int32(h), w: Int32(w), kh: 2, kw: 2,
                                 stride_h: 2, stride_w: 2, pad_h: 0, pad_w: 0)
        let x = benchFloats(g.inputCount, seed: 7), dy = benchFloats(g.outputCount, seed: 8)
        var y = [Float](repeating: 0, count: g.outputCount), dx = [Float](repeating: 0, count: g.inputCount)
        var argmax = [Int32](repeating: 0, count: g.outputCount)
        let (inBytes, outBytes) = (4.0 * Double(g.inputCount), 4.0 * Double(g.outputCount))
        let shape = "\(n)x\(c)x\(h)x\(w) k2 s2"
        let kind = average ? "avgpool" : "maxpool"
        y.withUnsafeMutableBufferPointer { yp in
            argmax.withUnsafeMutableBufferPointer { ap in
                dx.withUnsafeMutableBufferPointer { dxp in
                    let (py, pa, pdx) = (yp.baseAddress!, ap.baseAddress!, dxp.baseAddress!)
                    if average {
                        streaming("pooling", "\(kind) fwd", shape, bytes: inBytes + outBytes,
                                  fast: { ck_avgpool2d_forward(py, x, &p, 1) }, observed: { Array(yp) },
                                  naive: { referenceAvgPool2DForward(x: x, geometry: g, countIncludePad: true) })
                        streaming("pooling", "\(kind) bwd", shape, bytes: outBytes + 2 * inBytes,
                                  fast: { ck_avgpool2d_backward(pdx, dy, &p, 1) }, observed: { Array(dxp) },
                                  naive: { referenceAvgPool2DBackward(dy: dy, geometry: g, countIncludePad: true) })
                    } else {
                        let reference = referenceMaxPool2DForward(x: x, geometry: g)
                        streaming("pooling", "\(kind) fwd", shape, bytes: inBytes + 2 * outBytes,
                                  fast: { ck_maxpool2d_forward(py, pa, x, &p) },
                                  observed: { Array(yp) + ap.map { Float($0) } },
                                  naive: {
                                      let r = referenceMaxPool2DForward(x: x, geometry: g)
                                      return r.y + r.argmax.map { Float($0) }
                                  })
                        streaming("pooling", "\(kind) bwd", shape, bytes: 2 * outBytes + 2 * inBytes,
                                  fast: { ck_maxpool2d_backward(pdx, dy, pa, &p, 1) }, observed: { Array(dxp) },
                                  naive: { referenceMaxPool2DBackward(dy: dy, argmax: reference.argmax, geometry: g) })
                    }
                }
            }
        }
    }

    /// Batch norm forward (training and inference) and backward on x (n,c,h,w).
    mutating func batchNorm(n: Int, c: Int, h: Int, w: Int) {
        let s = h * w, count = n * c * s
        let x = benchFloats(count, seed: 9), dy = benchFloats(count, seed: 10)
        let gamma = benchFloats(c, seed: 11).map { 1 + 0.5 * $0 }, beta = benchFloats(c, seed: 12)
        let runningMean = benchFloats(c, seed: 13).map { 0.1 * $0 }, runningVar = benchFloats(c, seed: 14).map { 1 + 0.5 * $0 }
        var rm = runningMean, rv = runningVar
        var y = [Float](repeating: 0, count: count), dx = [Float](repeating: 0, count: count)
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        var dgb = [Float](repeating: 0, count: 2 * c)
        let bytes = 4.0 * Double(count)
        let shape = "\(n)x\(c)x\(h)x\(w)"
        let (n32, c32, s32) = (Int32(n), Int32(c), Int32(s))
        let reference = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                          runningVar: runningVar, n: n, c: c, s: s, momentum: 0.1, eps: 1e-5)
        y.withUnsafeMutableBufferPointer { yp in
            dx.withUnsafeMutableBufferPointer { dxp in
                let (py, pdx) = (yp.baseAddress!, dxp.baseAddress!)
                streaming("batchnorm", "batchnorm fwd train", shape, bytes: 2 * bytes,
                          fast: { ck_batchnorm_forward_training(py, &mean, &invstd, &rm, &rv, x, gamma, beta, n32, c32, s32, 0.1, 1e-5) },
                          observed: { Array(yp) },
                          naive: {
                              referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                                runningVar: runningVar, n: n, c: c, s: s, momentum: 0.1, eps: 1e-5).y
                          })
                streaming("batchnorm", "batchnorm fwd infer", shape, bytes: 2 * bytes,
                          fast: { ck_batchnorm_forward_inference(py, x, gamma, beta, runningMean, runningVar, n32, c32, s32, 1e-5) },
                          observed: { Array(yp) },
                          naive: {
                              referenceBatchNormInferenceForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                                 runningVar: runningVar, n: n, c: c, s: s, eps: 1e-5)
                          })
                streaming("batchnorm", "batchnorm bwd", shape, bytes: 4 * bytes,
                          fast: {
                              dgb.withUnsafeMutableBufferPointer { gp in
                                  ck_batchnorm_backward(pdx, gp.baseAddress!, gp.baseAddress! + c, dy, x, gamma,
                                                        reference.mean, reference.invstd, n32, c32, s32, 1)
                              }
                          },
                          observed: { Array(dxp) + dgb },
                          naive: {
                              let r = referenceBatchNormBackward(dy: dy, x: x, gamma: gamma, mean: reference.mean,
                                                                 invstd: reference.invstd, n: n, c: c, s: s)
                              return r.dx + r.dgamma + r.dbeta
                          })
                // Batch norm + ReLU in one kernel each way: compare with the rows above plus
                // the ReLU rows (same element count) for what the fusion saves.
                let reluY = reference.y.map { max($0, 0) }
                streaming("batchnorm", "batchnorm+relu fwd train", shape, bytes: 2 * bytes,
                          fast: { ck_batchnorm_relu_forward_training(py, &mean, &invstd, &rm, &rv, x, gamma, beta, n32, c32, s32, 0.1, 1e-5) },
                          observed: { Array(yp) },
                          naive: {
                              referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                                runningVar: runningVar, n: n, c: c, s: s, momentum: 0.1,
                                                                eps: 1e-5).y.map { max($0, 0) }
                          })
                pdx.update(repeating: 0, count: count)  // the check reads one accumulated call
                dgb = [Float](repeating: 0, count: 2 * c)
                streaming("batchnorm", "batchnorm+relu bwd", shape, bytes: 5 * bytes,
                          fast: {
                              dgb.withUnsafeMutableBufferPointer { gp in
                                  ck_batchnorm_relu_backward(pdx, gp.baseAddress!, gp.baseAddress! + c, dy, reluY, x, gamma,
                                                             reference.mean, reference.invstd, n32, c32, s32, 1)
                              }
                          },
                          observed: { Array(dxp) + dgb },
                          naive: {
                              let r = referenceBatchNormReLUBackward(dy: dy, y: reluY, x: x, gamma: gamma, mean: reference.mean,
                                                                     invstd: reference.invstd, n: n, c: c, s: s)
                              return r.dx + r.dgamma + r.dbeta
                          })
            }
        }
    }

    /// ReLU forward and backward over an (n,c,h,w) activation.
    mutating func relu(n: Int, c: Int, h: Int, w: Int) {
        let count = n * c * h * w
        let x = benchFloats(count, seed: 15), dy = benchFloats(count, seed: 16)
        var y = [Float](repeating: 0, count: count), dx = [Float](repeating: 0, count: count)
        let bytes = 4.0 * Double(count)
        let shape = "\(n)x\(c)x\(h)x\(w)"
        y.withUnsafeMutableBufferPointer { yp in
            dx.withUnsafeMutableBufferPointer { dxp in
                let (py, pdx) = (yp.baseAddress!, dxp.baseAddress!)
                streaming("activation", "relu fwd", shape, bytes: 2 * bytes,
                          fast: { ck_activation_forward(py, x, count, CK_ACT_RELU, 0) }, observed: { Array(yp) },
                          naive: { referenceActivationForward(x, .relu) })
                streaming("activation", "relu bwd", shape, bytes: 4 * bytes,
                          fast: { ck_activation_backward(pdx, dy, x, py, count, CK_ACT_RELU, 0, 1) }, observed: { Array(dxp) },
                          naive: { referenceActivationBackward(dy: dy, x: x, .relu) })
            }
        }
    }

    // MARK: - Optimizer steps

    /// An optimizer step that updates its buffers in place: `fast` and `naive` each take two
    /// steps from the same start (the first seeds SGD's momentum buffer, the second is the
    /// general case), `observed` and `expected` (parameter, then state) are compared, then
    /// both are timed stepping on from where they are.
    mutating func optimizerStep(_ name: String, _ shape: String, bytes: Double, fast: () -> Void,
                                observed: () -> [Float], naive: () -> Void, expected: () -> [Float]) {
        for _ in 0..<2 { fast(); naive() }
        let error = maxRelativeError(expected(), observed())
        requireAgreement(error, "\(name) \(shape)")
        let naiveSeconds = timeNaive(mode) { naive(); return [] }.seconds
        add("optimizer", name, shape, unit: .gbytes, work: bytes, fast: timeFast(mode, fast), naiveSeconds: naiveSeconds,
            checkError: error, sameSizeCopy: sameSizeCopyRate(bytes: bytes))
    }

    /// The fused steps the optimizers call for each parameter, over one buffer of `count`
    /// floats: `ck_adam_step` with `Adam`'s defaults (what W1 and W2 train with) and
    /// `ck_sgd_step` with momentum 0.9 (W3's SGD has Nesterov, the same traffic).
    mutating func optimizerSteps(_ label: String, count: Int) {
        let grad = benchFloats(count, seed: 17), start = benchFloats(count, seed: 18)
        let shape = "\(label) \(count)"
        func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(from: values, count: count)
            return p
        }
        func read(_ buffers: UnsafeMutablePointer<Float>...) -> [Float] {
            buffers.flatMap { Array(UnsafeBufferPointer(start: $0, count: count)) }
        }
        let zeros = [Float](repeating: 0, count: count)
        let (param, m, v, momentum) = (buffer(start), buffer(zeros), buffer(zeros), buffer(zeros))
        defer { for p in [param, m, v, momentum] { p.deallocate() } }

        // Reads param, grad, exp_avg, exp_avg_sq; writes param, exp_avg, exp_avg_sq.
        var adam = ck_adam_params(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0,
                                  amsgrad: 0, maximize: 0, decoupled_weight_decay: 0)
        var adamSteps: Int64 = 0
        var naiveParam = start, adamState = ReferenceAdamState(count: count)
        optimizerStep("adam step", shape, bytes: 4 * 7 * Double(count),
                      fast: { adamSteps += 1; ck_adam_step(param, m, v, nil, grad, count, &adam, adamSteps) },
                      observed: { read(param, m, v) },
                      naive: { referenceAdamStep(param: &naiveParam, grad: grad, state: &adamState, lr: 1e-3) },
                      expected: { naiveParam + adamState.expAvg.map { Float($0) } + adamState.expAvgSq.map { Float($0) } })

        // Reads param, grad, momentum_buffer; writes param, momentum_buffer.
        param.update(from: start, count: count)
        var sgd = ck_sgd_params(lr: 0.05, momentum: 0.9, dampening: 0, weight_decay: 0, nesterov: 0, maximize: 0)
        var sgdSteps: Int64 = 0
        naiveParam = start
        var sgdState = ReferenceSGDState()
        optimizerStep("sgd momentum step", shape, bytes: 4 * 5 * Double(count),
                      fast: { sgdSteps += 1; ck_sgd_step(param, momentum, grad, count, &sgd, sgdSteps) },
                      observed: { read(param, momentum) },
                      naive: { referenceSGDStep(param: &naiveParam, grad: grad, state: &sgdState, lr: 0.05, momentum: 0.9) },
                      expected: { naiveParam + sgdState.momentumBuffer!.map { Float($0) } })
    }
}

// MARK: - Ceilings

/// Raw sgemm 2048 at all threads and at one, and the parallel copy bandwidth.
func measureCeilings(mode: RunMode, threads: Int) -> Ceilings {
    let s = 2048
    let a = benchFloats(s * s, seed: 1), b = benchFloats(s * s, seed: 2)
    var c = [Float](repeating: 0, count: s * s)
    let flops = 2.0 * Double(s * s) * Double(s)
    func sgemmRate(reps: Int) -> Double {
        let seconds = c.withUnsafeMutableBufferPointer { cp in
            medianSeconds(reps: reps) { bench_raw_sgemm(cp.baseAddress!, Int32(s), a, Int32(s), 0, b, Int32(s), 0, Int32(s), Int32(s), Int32(s), 1, 0) }
        }
        return flops / seconds * 1e-9
    }
    let reps = mode.name == "quick" ? 5 : 11
    let all = sgemmRate(reps: reps)
    ck_set_num_threads(1)
    let one = sgemmRate(reps: max(3, reps / 2))
    ck_set_num_threads(Int32(threads))

    // 128 MiB each way: four times the L3 of the machines measured.
    let mebibytes = 128
    let count = mebibytes << 18
    let src = UnsafeMutablePointer<Float>.allocate(capacity: count)
    let dst = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { src.deallocate(); dst.deallocate() }
    src.initialize(repeating: 1, count: count)
    dst.initialize(repeating: 0, count: count)
    let seconds = medianSeconds(reps: mode.name == "quick" ? 7 : 21) { bench_parallel_copy(dst, src, count) }
    return Ceilings(sgemm2048Gflops: all, sgemm2048OneThreadGflops: one,
                    copyGbytesPerSecond: 2 * 4 * Double(count) / seconds * 1e-9, copyMebibytes: mebibytes)
}
