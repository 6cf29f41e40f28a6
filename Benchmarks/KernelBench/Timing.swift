import Foundation

/// Wall-clock seconds of one call of `body`.
func secondsOf(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

/// The median of a non-empty list.
func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty, "median of no values")
    let sorted = values.sorted(), mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid])
}

/// The median of `reps` timed calls of `body`, after one untimed warm-up call (first-touch
/// page faults and thread-pool start-up are not what is being measured).
func medianSeconds(reps: Int, _ body: () -> Void) -> Double {
    body()
    return median((0..<max(1, reps)).map { _ in secondsOf(body) })
}

/// Median times of `a` and `b` timed in alternation (a b, b a, a b, ...), so that a burst of
/// load from the machine's other users hits both alike, and the median over pairs of
/// time(b) / time(a): each pair runs back to back, so the machine's drift over the run
/// cancels in that ratio better than in the ratio of the two medians.
func pairedMedianSeconds(reps: Int, _ a: () -> Void, _ b: () -> Void) -> (a: Double, b: Double, bOverA: Double) {
    a(); b()
    var ta: [Double] = [], tb: [Double] = []
    for r in 0..<max(1, reps) {
        if r % 2 == 0 { ta.append(secondsOf(a)); tb.append(secondsOf(b)) }
        else { tb.append(secondsOf(b)); ta.append(secondsOf(a)) }
    }
    return (median(ta), median(tb), median(zip(tb, ta).map { $0 / $1 }))
}

/// Repetitions that fit `budget` seconds for a call that took about `estimate` seconds,
/// between `minimum` and `maximum`, so small sizes get many samples and large ones few.
func repetitions(budget: Double, estimate: Double, minimum: Int = 5, maximum: Int = 50) -> Int {
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

/// The whole text of a /proc file (their reported size is 0, so read until end of file).
func readProcFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let got = fread(&chunk, 1, chunk.count, file)
        if got <= 0 { break }
        bytes += chunk[0..<got]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The machine's load averages (1, 5, 15 minutes), to judge how quiet a run was.
func loadAverages() -> [Double] {
    guard let text = readProcFile("/proc/loadavg") else { return [] }
    return text.split(separator: " ").prefix(3).compactMap { Double($0) }
}

/// A field of /proc/self/status in kB (VmHWM is the peak resident set).
func procStatusKilobytes(_ field: String) -> Double? {
    guard let text = readProcFile("/proc/self/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Double(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

/// The OpenMP runtimes mapped into this process (exactly one, libomp, is expected: a
/// libgomp beside it would bring a second spinning thread pool).
func mappedOpenMPRuntimes() -> [String] {
    guard let maps = readProcFile("/proc/self/maps") else { return [] }
    var found = Set<String>()
    for line in maps.split(separator: "\n") {
        guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last else { continue }
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        if name.hasPrefix("libomp") || name.hasPrefix("libgomp") || name.hasPrefix("libiomp") { found.insert(name) }
    }
    return found.sorted()
}
