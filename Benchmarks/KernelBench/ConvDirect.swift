// `KernelBench conv-direct`: the direct 3x3 convolution against the lowering (im2col +
// GEMM) on the same shapes, all three passes, the two timed in alternation in one
// process at each thread count (the machine is shared: only a ratio measured this way is
// worth reading).
//
//   KernelBench conv-direct [--threads 1,2] [--rounds 5] [--reps 15] [--cpu-time]
//                           [--winograd [--tile 2|4] | --winograd-tiles] [--shape N,C,HW,OC[,STRIDE] ...]
//
// Defaults: W3's 3x3 convolutions (stride 1 and 2) at its batch of 128 and W2's conv2 at
// 64.
// --cpu-time times with the process's CPU clock instead of the wall clock: at one thread
// that leaves out the time other processes held the core (at more threads it would count
// the workers' spinning, so it is refused there).
// --winograd times Winograd F(2x2, 3x3) (ck_conv2d_winograd.c) against the direct kernel
// instead, the three passes of the stride-1 shapes; its GFLOP/s count the direct
// convolution's FLOPs (so they can pass the sgemm ceiling); --tile forces its output tile.
// --winograd-tiles times Winograd F(4x4, 3x3) against F(2x2, 3x3), all three passes forced to
// the tile (AUTO keeps backward-filter on F(2x2) below 28x28: ck_conv2d_backward_filter_winograd_tile).
import CKernels
import Foundation
import NN
import NNReference

/// Seconds of one call by the process's CPU-time clock.
private func cpuSecondsOf(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
}

/// Median seconds of `a` and `b` alternated (a b, b a, ...) after one call of each, and
/// the median over pairs of time(b) / time(a).
private func alternated(reps: Int, cpuTime: Bool, _ a: () -> Void, _ b: () -> Void)
    -> (a: Double, b: Double, bOverA: Double) {
    let clock = cpuTime ? cpuSecondsOf : secondsOf
    a(); b()
    var ta: [Double] = [], tb: [Double] = []
    for r in 0..<reps {
        if r % 2 == 0 { ta.append(clock(a)); tb.append(clock(b)) } else { tb.append(clock(b)); ta.append(clock(a)) }
    }
    return (median(ta), median(tb), median(zip(tb, ta).map { $0 / $1 }))
}

func convDirectMain(_ arguments: [String]) throws {
    var threadCounts = [1, 2], rounds = 5, reps = 15, cpuTime = false, winograd = false, tiles = false, tile = 0
    var shapes: [(name: String, n: Int, c: Int, hw: Int, oc: Int, stride: Int)] = []
    var rest = arguments[...]
    func integers(_ flag: String) throws -> [Int] {
        guard let text = rest.popFirst() else { throw UsageError(message: "conv-direct: \(flag) needs a value") }
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard !values.isEmpty, values.allSatisfy({ $0 >= 1 }) else {
            throw UsageError(message: "conv-direct: \(flag) expects positive integers separated by commas, got '\(text)'")
        }
        return values
    }
    while let flag = rest.popFirst() {
        switch flag {
        case "--threads": threadCounts = try integers(flag)
        case "--rounds": rounds = try integers(flag)[0]
        case "--reps": reps = try integers(flag)[0]
        case "--cpu-time": cpuTime = true
        case "--winograd": winograd = true
        case "--winograd-tiles": tiles = true
        case "--tile":
            tile = try integers(flag)[0]
            guard tile == 2 || tile == 4 else { throw UsageError(message: "conv-direct: --tile expects 2 or 4") }
        case "--shape":
            let v = try integers(flag)
            guard v.count == 4 || (v.count == 5 && v[4] <= 2) else {
                throw UsageError(message: "conv-direct: --shape expects N,C,HW,OC or N,C,HW,OC,STRIDE (stride 1 or 2)")
            }
            let stride = v.count == 5 ? v[4] : 1
            shapes.append(("\(v[1])->\(v[3]) \(v[2])x\(v[2])\(stride == 2 ? " s2" : "") n\(v[0])",
                           v[0], v[1], v[2], v[3], stride))
        default: throw UsageError(message: "conv-direct: unknown option '\(flag)'")
        }
    }
    if cpuTime && threadCounts != [1] {
        throw UsageError(message: "conv-direct: --cpu-time needs --threads 1 (CPU time at more threads counts spinning)")
    }
    if shapes.isEmpty {
        shapes = [("W3.block16 16->16 28x28", 128, 16, 28, 16, 1), ("W3.block32 32->32 14x14", 128, 32, 14, 32, 1),
                  ("W3.block64 64->64 7x7", 128, 64, 7, 64, 1), ("W2.conv2 32->64 14x14", 64, 32, 14, 64, 1),
                  ("W3.down32 16->32 28x28 s2", 128, 16, 28, 32, 2), ("W3.down64 32->64 14x14 s2", 128, 32, 14, 64, 2)]
    }
    if winograd && tiles { throw UsageError(message: "conv-direct: --winograd and --winograd-tiles exclude each other") }
    if winograd || tiles { shapes = shapes.filter { $0.stride == 1 } }
    defer {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_AUTO)
        ck_conv2d_set_winograd_tile(0)
        Threads.set(nil)
    }
    // The two paths timed: (baseline, candidate), each a mode setting.
    let (baseName, candidateName) = tiles ? ("F(2x2)", "F(4x4)") : winograd ? ("direct", "Winograd") : ("lowered", "direct")
    let setBaseline = tiles ? {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        ck_conv2d_set_winograd_tile(2)
    } : winograd ? {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_NEVER)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS)
    } : { ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_NEVER) }
    let setCandidate = tiles ? {
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        ck_conv2d_set_winograd_tile(4)
    } : winograd ? {
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        ck_conv2d_set_winograd_mode(CK_CONV2D_WINOGRAD_ALWAYS)
        ck_conv2d_set_winograd_tile(Int32(tile))
    } : { ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_ALWAYS) }
    print("conv-direct: \(cpuTime ? "CPU" : "wall") time; \(rounds) rounds alternating thread counts \(threadCounts), "
          + "each round \(reps) alternated calls of each path; load average \(loadAverages().map { String($0) }.joined(separator: " "))")

    // [shape][pass][threads] -> per-round (baseline GFLOP/s, candidate GFLOP/s, baseline time / candidate time)
    var results: [String: [String: [Int: [(Double, Double, Double)]]]] = [:]
    for s in shapes {
        let g = ReferenceConv2DGeometry(n: s.n, c: s.c, h: s.hw, w: s.hw, oc: s.oc, kh: 3, kw: 3,
                                        strideH: s.stride, strideW: s.stride, padH: 1, padW: 1)
        var p = convBenchParams(g)
        let x = benchFloats(g.inputCount, seed: 3), filter = benchFloats(g.filterCount, seed: 4)
        let dy = benchFloats(g.outputCount, seed: 6)
        var y = [Float](repeating: 0, count: g.outputCount), dx = [Float](repeating: 0, count: g.inputCount)
        var dw = [Float](repeating: 0, count: g.filterCount + g.oc)
        var workspace = [Float](repeating: 0, count: max(1, ck_conv2d_workspace_size(&p)))
        let flops = 2.0 * Double(g.n * g.oc * g.outH * g.outW) * Double(g.c * 9)
        ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
        print("\(s.name): AUTO takes the direct path for forward \(ck_conv2d_forward_uses_direct(&p) == 1), "
              + "backward-data \(ck_conv2d_backward_data_uses_direct(&p) == 1), "
              + "backward-filter \(ck_conv2d_backward_filter_uses_direct(&p) == 1); Winograd for forward "
              + "\(ck_conv2d_forward_uses_winograd(&p) == 1), backward-data \(ck_conv2d_backward_data_uses_winograd(&p) == 1)")
        x.withUnsafeBufferPointer { xp in
            filter.withUnsafeBufferPointer { fp in
                dy.withUnsafeBufferPointer { dyp in
                    y.withUnsafeMutableBufferPointer { yp in
                        dx.withUnsafeMutableBufferPointer { dxp in
                          dw.withUnsafeMutableBufferPointer { dwp in
                            workspace.withUnsafeMutableBufferPointer { wsp in
                                let (px, pf, pdy, py, pdx, pws) = (xp.baseAddress!, fp.baseAddress!, dyp.baseAddress!,
                                                                   yp.baseAddress!, dxp.baseAddress!, wsp.baseAddress!)
                                let (pdw, pdb) = (dwp.baseAddress!, dwp.baseAddress! + g.filterCount)
                                let passes: [(String, () -> Void)] = [
                                    ("fwd", { ck_conv2d_forward(py, px, pf, nil, pws, &p) }),
                                    ("bwd-data", { ck_conv2d_backward_data(pdx, pdy, pf, pws, &p, 0) }),
                                    ("bwd-filter", { ck_conv2d_backward_filter(pdw, pdb, pdy, px, pws, &p) }),
                                ]
                                for _ in 0..<rounds {
                                    for t in threadCounts {
                                        Threads.set(t)
                                        for (pass, call) in passes {
                                            let baseline = {
                                                setBaseline()
                                                call()
                                            }
                                            let candidate = {
                                                setCandidate()
                                                call()
                                            }
                                            let r = alternated(reps: reps, cpuTime: cpuTime, baseline, candidate)
                                            results[s.name, default: [:]][pass, default: [:]][t, default: []]
                                                .append((flops / r.a * 1e-9, flops / r.b * 1e-9, 1 / r.bOverA))
                                        }
                                    }
                                }
                            }
                          }
                        }
                    }
                }
            }
        }
    }
    print("")
    print("shape                          pass        threads  \(baseName) GFLOP/s  \(candidateName) GFLOP/s  "
          + "\(candidateName) speedup (median of per-round paired medians; range)")
    for s in shapes {
        for pass in ["fwd", "bwd-data", "bwd-filter"] {
            guard results[s.name]![pass] != nil else { continue }
            for t in threadCounts {
                let runs = results[s.name]![pass]![t]!
                let speedups = runs.map(\.2)
                print(s.name.padding(toLength: 31, withPad: " ", startingAt: 0)
                      + pass.padding(toLength: 11, withPad: " ", startingAt: 0)
                      + String(format: " %7d  %15.1f  %14.1f  %6.2fx (%.2f-%.2f)", t,
                               median(runs.map(\.0)), median(runs.map(\.1)), median(speedups),
                               speedups.min()!, speedups.max()!))
            }
        }
    }
}

/// The C parameter block of a reference geometry.
func convBenchParams(_ g: ReferenceConv2DGeometry) -> ck_conv2d_params {
    ck_conv2d_params(n: Int32(g.n), c: Int32(g.c), h: Int32(g.h), w: Int32(g.w), oc: Int32(g.oc),
                     kh: Int32(g.kh), kw: Int32(g.kw), stride_h: Int32(g.strideH), stride_w: Int32(g.strideW),
                     pad_h: Int32(g.padH), pad_w: Int32(g.padW), dil_h: Int32(g.dilationH), dil_w: Int32(g.dilationW))
}
