import Foundation

/// The two ceilings every figure is a percentage of, measured at the start of the run.
struct Ceilings: Codable {
    /// Raw OpenBLAS sgemm 2048x2048x2048, all threads (GFLOP/s): the compute ceiling.
    var sgemm2048Gflops: Double
    /// The same at one thread, for reading the one-thread workload figures.
    var sgemm2048OneThreadGflops: Double
    /// A parallel copy of a buffer far larger than the caches (GB/s, bytes read + written).
    var copyGbytesPerSecond: Double
    /// The copied buffer's size in MiB.
    var copyMebibytes: Int
}

/// The unit of a measurement; rates are compared with the ceiling of their kind.
enum Unit: String, Codable {
    case gflops = "GFLOP/s", gbytes = "GB/s", imagesPerSecond = "images/s", seconds = "s"
    case megabytes = "MB", fraction = "fraction", ratio = "x", megabytesPerSecond = "MB/s"
}

/// One measurement: one line of the table and one record of bench-results.json.
struct Record: Codable {
    /// gemm, conv2d, pooling, batchnorm, activation, optimizer, workload.
    var group: String
    var name: String
    var shape: String
    var threads: Int
    var unit: Unit
    /// Median over the timed repetitions (for rates: the work divided by the median time).
    var median: Double
    /// The naive Swift reference of the same op, same unit, same run (nil where skipped).
    var referenceMedian: Double?
    /// median / referenceMedian for rates.
    var speedup: Double?
    /// median as a percentage of the ceiling of its kind (sgemm for FLOP/s, copy for bytes/s).
    var pctOfCeiling: Double?
    /// Raw OpenBLAS (cblas_sgemm called directly) on the same GEMM, and the wrapper's rate
    /// over it: the median over back-to-back pairs of raw time / wrapper time.
    var rawMedian: Double?
    var vsRaw: Double?
    /// Bandwidth-bound kernels: a parallel copy moving the same bytes (half read, half
    /// written, buffers of the kernel's working-set size, so from the same cache level),
    /// timed in the same run; the kernel's median as a percentage of it; and the speedup
    /// over the naive reference that a kernel running at that copy's rate would show.
    var sameSizeCopy: Double?
    var pctOfSameSizeCopy: Double?
    var speedupBound: Double?
    /// Max relative difference from the reference, checked before timing.
    var checkError: Double?
    /// Median seconds of one call and the number of timed calls.
    var seconds: Double?
    var reps: Int?
    /// Free text: how a workload figure was obtained.
    var note: String?
}

/// Everything bench-results.json holds.
struct Results: Codable {
    var mode: String
    var threads: Int
    var date: String
    var loadAverageAtStart: [Double]
    var loadAverageAtEnd: [Double]
    var openMPRuntimes: [String]
    var totalSeconds: Double
    var ceilings: Ceilings
    var records: [Record]
}

func writeJSON(_ results: Results, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: path))
}

private func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? s + fill : fill + s
}

private func number(_ x: Double?) -> String {
    guard let x else { return "-" }
    switch abs(x) {
    case 1000...: return String(format: "%.0f", x)
    case 100...: return String(format: "%.1f", x)
    case 1...: return String(format: "%.2f", x)
    default: return String(format: "%.3f", x)
    }
}

/// The kernel table: one line per kernel record.
func printKernelTable(_ records: [Record]) {
    let header = pad("kernel", 36, left: true) + pad("shape", 30, left: true) + pad("median", 9) + pad("unit", 9)
        + pad("%ceil", 7) + pad("naive", 9) + pad("speedup", 9) + pad("vs raw", 8) + pad("ms", 9) + pad("check", 9)
        + pad("%wscopy", 9) + pad("bound", 7)
    print(header)
    print(String(repeating: "-", count: header.count))
    var group = ""
    for r in records {
        if r.group != group, !group.isEmpty { print("") }
        group = r.group
        var line = pad(r.name, 36, left: true) + pad(r.shape, 30, left: true)
        line += pad(number(r.median), 9) + pad(r.unit.rawValue, 9) + pad(r.pctOfCeiling.map { String(format: "%.0f", $0) } ?? "-", 7)
        line += pad(r.referenceMedian.map { number($0) } ?? "skipped", 9)
        line += pad(r.speedup.map { String(format: "%.0fx", $0) } ?? "-", 9)
        line += pad(r.vsRaw.map { String(format: "%.3f", $0) } ?? "-", 8)
        line += pad(r.seconds.map { String(format: "%.3f", $0 * 1e3) } ?? "-", 9)
        line += pad(r.checkError.map { String(format: "%.0e", $0) } ?? "-", 9)
        line += pad(r.pctOfSameSizeCopy.map { String(format: "%.0f", $0) } ?? "-", 9)
        line += pad(r.speedupBound.map { String(format: "%.0fx", $0) } ?? "-", 7)
        print(line)
    }
}

/// The workload table: one line per (workload, thread count).
func printWorkloadTable(_ records: [Record]) {
    let header = pad("workload", 10, left: true) + pad("threads", 8) + pad("train img/s", 13) + pad("infer img/s", 13)
        + pad("s/epoch", 9) + pad("GFLOP/s", 9) + pad("%ceil", 7) + pad("train MB", 9) + pad("peak MB", 9) + pad("test acc", 10) + "  trained"
    print(header)
    print(String(repeating: "-", count: header.count + 12))
    var keys: [(String, Int)] = []
    for r in records where r.group == "workload" && !keys.contains(where: { $0 == (r.shape, r.threads) }) {
        keys.append((r.shape, r.threads))
    }
    for (workload, threads) in keys {
        func value(_ suffix: String) -> Record? {
            records.first { $0.group == "workload" && $0.shape == workload && $0.threads == threads && $0.name.hasSuffix(suffix) }
        }
        guard let train = value("train") else { continue }
        var line = pad(workload, 10, left: true) + pad("\(threads)", 8)
        line += pad(number(train.median), 13) + pad(number(value("inference")?.median), 13)
        line += pad(number(value("epoch")?.median), 9)
        let gf = value("train GFLOP/s")
        line += pad(number(gf?.median), 9) + pad(gf?.pctOfCeiling.map { String(format: "%.0f", $0) } ?? "-", 7)
        line += pad(number(value("peak RSS training")?.median), 9) + pad(number(value("peak RSS")?.median), 9)
        let accuracy = value("test accuracy")
        line += pad(accuracy.map { String(format: "%.4f", $0.median) } ?? "-", 10)
        line += "  " + (accuracy?.note ?? "")
        print(line)
    }
    for r in records where r.group == "workload" && r.name.hasSuffix(" train") {
        if let note = r.note, let range = note.range(of: "median of ") {
            print("\(r.shape) at \(r.threads) thread\(r.threads == 1 ? "" : "s"), training images/s: \(note[range.lowerBound...])")
        }
    }
    for r in records where r.group == "scaling" {
        print(String(format: "%@: %.2fx (%@)", r.name, r.median, r.note ?? ""))
    }
}
