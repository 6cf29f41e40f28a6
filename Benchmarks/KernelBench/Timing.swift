import Foundation

/// Wall-clock seconds of one call of `body`.
func secondsOf(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

/// The median of `reps` timed calls of `body`, after one untimed warm-up call (first-touch
/// page faults and thread-pool start-up are not what is being measured).
func medianSeconds(reps: Int, _ body: () -> Void) -> Double {
    body()
    let times = (0..<max(1, reps)).map { _ in secondsOf(body) }.sorted()
    let mid = times.count / 2
    return times.count % 2 == 1 ? times[mid] : 0.5 * (times[mid - 1] + times[mid])
}

/// Repetitions that fit `budget` seconds for a call that took about `estimate` seconds,
/// between `minimum` and `maximum`, so small sizes get many samples and large ones few.
func repetitions(budget: Double, estimate: Double, minimum: Int = 3, maximum: Int = 50) -> Int {
    guard estimate > 0 else { return maximum }
    return min(maximum, max(minimum, Int(budget / estimate)))
}

/// The largest |expected - observed| / max(1, |expected|): scale-free for values of any
/// size, absolute near zero.
func maxRelativeError(_ expected: [Float], _ observed: [Float]) -> Double {
    precondition(expected.count == observed.count, "compared arrays differ in size: \(expected.count) vs \(observed.count)")
    var worst = 0.0
    for i in 0..<expected.count {
        let e = Double(expected[i]), o = Double(observed[i])
        worst = max(worst, abs(e - o) / max(1, abs(e)))
    }
    return worst
}

/// Uniform floats in [-1, 1) from a fixed-seed linear congruential generator: the benchmark
/// needs reproducible inputs, not statistical quality.
func benchFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
}

/// One row of the results table.
struct BenchRow {
    var kernel: String
    var shape: String
    var flops: Double
    var seconds: Double
    /// nil when the naive reference was skipped at this size.
    var naiveSeconds: Double?
    var checkError: Double

    var gflops: Double { flops / seconds * 1e-9 }
}

/// Prints the table; `ceiling` is the GFLOP/s every row is also given as a percentage of.
func printTable(_ rows: [BenchRow], ceiling: Double) {
    func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }
    func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    let header = pad("kernel", 28, left: true) + pad("shape", 32, left: true)
        + pad("ms", 10) + pad("GFLOP/s", 10) + pad("%ceil", 7)
        + pad("naive ms", 12) + pad("naive GF/s", 11) + pad("speedup", 10) + pad("check err", 11)
    print(header)
    print(String(repeating: "-", count: header.count))
    for row in rows {
        var line = pad(row.kernel, 28, left: true) + pad(row.shape, 32, left: true)
        line += pad(fixed(row.seconds * 1e3, 3), 10) + pad(fixed(row.gflops, 1), 10)
        line += pad(fixed(100 * row.gflops / ceiling, 0), 7)
        if let naive = row.naiveSeconds {
            line += pad(fixed(naive * 1e3, 1), 12) + pad(fixed(row.flops / naive * 1e-9, 2), 11)
            line += pad(fixed(naive / row.seconds, 0) + "x", 10)
        } else {
            line += pad("skipped", 12) + pad("-", 11) + pad("-", 10)
        }
        line += pad(String(format: "%.1e", row.checkError), 11)
        print(line)
    }
}
