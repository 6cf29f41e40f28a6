import Foundation
import NN

extension KernelBench {
    /// CSV parse rate (MB/s of file) on a generated numeric file like
    /// `np.savetxt(x, fmt="%.6f", delimiter=",")` of 500,000 x 20 standard normals (~95 MB),
    /// at one thread and at all threads. The parsed values are checked first.
    mutating func csvParse() {
        let rows = mode.name == "quick" ? 100_000 : 500_000, columns = 20
        // Values in millionths, so the expected Float of each printed value is known exactly:
        // Float(Double(m) / 1e6) is the correctly rounded value of m * 10^-6 (DecimalParsing.swift).
        var generator = RandomGenerator(seed: 12)  // the same text every run
        var micros = [Int32](repeating: 0, count: rows * columns)
        var text = [UInt8]()
        text.reserveCapacity(rows * columns * 10)
        for i in 0..<micros.count {
            // A standard normal (Box-Muller), as printed with 6 decimals.
            let m = Int32((Double(generator.nextNormal()) * 1e6).rounded())
            micros[i] = m
            if m < 0 { text.append(UInt8(ascii: "-")) }
            let a = Int(m.magnitude)
            text += Array(String(a / 1_000_000).utf8)
            text.append(UInt8(ascii: "."))
            let frac = String(a % 1_000_000)
            text += [UInt8](repeating: UInt8(ascii: "0"), count: 6 - frac.count) + Array(frac.utf8)
            text.append(i % columns == columns - 1 ? UInt8(ascii: "\n") : UInt8(ascii: ","))
        }
        let dir = NSTemporaryDirectory() + "kernelbench-csv-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bench.csv"
        // A bench that cannot write its input file says so instead of timing a read error.
        guard FileManager.default.createFile(atPath: path, contents: Data(text)) else {
            fatalError("KernelBench csv: cannot write \(path)")
        }
        let megabytes = Double(text.count) / 1e6
        let shape = "\(rows)x\(columns) %.6f, \(String(format: "%.0f", megabytes)) MB"

        for threads in Set([1, self.threads]).sorted() {
            let options = CSVOptions(hasHeader: false, threadCount: threads)
            // Check every value before timing.
            var maxError = 0.0
            do {
                let table = try Table.readCSV(path, options: options)
                precondition(table.rowCount == rows && table.columns.count == columns, "csv: parsed \(table.rowCount)x\(table.columns.count)")
                for (c, column) in table.columns.enumerated() {
                    guard case .numeric(let values) = column else { preconditionFailure("csv: column \(c) is text") }
                    for r in 0..<rows where values[r] != Float(Double(micros[r * columns + c]) / 1e6) {
                        maxError = max(maxError, 1)
                    }
                }
            } catch {
                preconditionFailure("csv: \(error)")
            }
            precondition(maxError == 0, "csv: parsed values differ from the printed ones")
            var times: [Double] = [], cpuTimes: [Double] = []
            let reps = mode.name == "quick" ? 3 : 7
            for _ in 0..<reps {
                let cpuBefore = processCPUSeconds()
                times.append(secondsOf { _ = try! Table.readCSV(path, options: options) })
                cpuTimes.append(processCPUSeconds() - cpuBefore)
            }
            let seconds = median(times)
            records.append(Record(group: "csv", name: "csv parse (Table.readCSV)", shape: shape, threads: threads,
                                  unit: .megabytesPerSecond, median: megabytes / seconds, checkError: maxError,
                                  seconds: seconds, reps: reps,
                                  note: "file in the page cache; target >= 200 MB/s (pandas 360-410, numpy.loadtxt 54 here)"))
            // On a shared machine wall time mostly measures the other processes; CPU time
            // spent per MB does not (MB per CPU-second, summed over the threads).
            records.append(Record(group: "csv", name: "csv parse per CPU-second", shape: shape, threads: threads,
                                  unit: .megabytesPerSecond, median: megabytes / median(cpuTimes), checkError: maxError,
                                  seconds: median(cpuTimes), reps: reps, note: "MB per second of process CPU time"))
        }
    }
}

/// CPU time of this process so far, all threads (user and system).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
