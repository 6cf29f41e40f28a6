// KernelBench: the C kernels against the naive Swift reference and raw OpenBLAS, and the
// workloads W1-W3 end to end, on WORKLOADS.md's shapes.
//
//   swift run -c release KernelBench              full run (about 6-10 minutes on 2 cores)
//   swift run -c release KernelBench --quick      short budgets (about 1-1.5 minutes)
//   options: --json PATH (default bench-results.json), --no-workloads, --only-workloads,
//            --only gemm,conv2d,pooling,batchnorm,activation,optimizer,csv (kernel groups to run)
//   KernelBench workload W2 --threads 1 [--batches N] [--inference-images N] [--conv-direct auto|never]
//       one workload in this process (the parent spawns these so peak memory is per workload)
//   KernelBench serving [--threads 1,2] [--quick] [--latency-only] [--json PATH]
//       W2 served: batch-1 latency and requests/s with 1, 8, 64 callers, with and without
//       the batcher (see Serving.swift; also part of the full run, after the workloads)
//   KernelBench conv-direct [--threads 1,2] [--rounds N] [--reps N] [--cpu-time] [--shape N,C,HW,OC]
//       the direct 3x3 convolution against the lowering, alternated (see ConvDirect.swift)
//
// Every kernel's result is checked against the reference before it is timed. Figures are
// medians of repeated calls; FLOPs come from the shapes (2 per multiply-add), bytes are
// the minimal traffic (inputs read once, outputs written once, accumulated outputs both).
import CKernels
import Foundation
import NN
import NNReference

/// A bad command line or a failed workload process.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { "KernelBench: \(message)" }
}

/// The options of the parent run.
struct Options {
    var mode = RunMode.full
    var jsonPath = "bench-results.json"
    var kernels = true
    var workloads = true
    /// Kernel groups to run (gemm, conv2d, pooling, batchnorm, activation, optimizer, csv); empty: all.
    var groups: Set<String> = []

    func wants(_ group: String) -> Bool { groups.isEmpty || groups.contains(group) }
}

func parseOptions(_ arguments: [String]) throws -> Options {
    var options = Options()
    var rest = arguments[...]
    while let argument = rest.popFirst() {
        switch argument {
        case "--quick": options.mode = .quick
        case "--no-workloads": options.workloads = false
        case "--only-workloads": options.kernels = false
        case "--only":
            guard let list = rest.popFirst() else { throw UsageError(message: "--only needs a list of groups") }
            options.groups = Set(list.split(separator: ",").map(String.init))
        case "--json":
            guard let path = rest.popFirst() else { throw UsageError(message: "--json needs a path") }
            options.jsonPath = path
        default:
            throw UsageError(message: "unknown argument '\(argument)'; expected --quick, --json PATH, --only GROUP,..., --no-workloads, --only-workloads, or 'workload W1|W2|W3 --threads N'")
        }
    }
    return options
}

/// `workload NAME --threads N [--batches N] [--inference-images N]`, in the child process.
func workloadMain(_ arguments: [String]) throws {
    guard let name = arguments.first else { throw UsageError(message: "workload needs a name: W1, W2 or W3") }
    var threads = 0, batches: Int? = nil, images: Int? = nil
    var rest = arguments.dropFirst()
    while let flag = rest.popFirst() {
        if flag == "--conv-direct" {
            // For comparing whole workloads: "never" keeps every convolution on the lowering.
            switch rest.popFirst() {
            case "auto": ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_AUTO)
            case "never": ck_conv2d_set_direct_mode(CK_CONV2D_DIRECT_NEVER)
            default: throw UsageError(message: "workload: --conv-direct expects auto or never")
            }
            continue
        }
        guard let text = rest.popFirst(), let value = Int(text), value >= 0 else {
            throw UsageError(message: "workload: \(flag) needs a non-negative integer")
        }
        switch flag {
        case "--threads": threads = value
        case "--batches": batches = value
        case "--inference-images": images = value
        default: throw UsageError(message: "workload: unknown option '\(flag)'")
        }
    }
    try runWorkload(name, threads: threads, batches: batches, inferenceImages: images)
}

func benchMain(_ options: Options) throws {
    let mode = options.mode
    Threads.set(nil)
    let threads = Threads.count
    let loadAtStart = loadAverages()
    let started = Date()
    print("KernelBench (\(mode.name) run): \(threads) threads; load average \(loadAtStart.map { String($0) }.joined(separator: " ")); "
          + "OpenMP runtimes mapped: \(mappedOpenMPRuntimes().joined(separator: ", "))")

    let ceilings = measureCeilings(mode: mode, threads: threads)
    print(String(format: "ceilings: raw OpenBLAS sgemm 2048 = %.1f GFLOP/s at %d threads (%.1f at 1); "
                 + "parallel copy of %d MiB = %.1f GB/s (read + write)",
                 ceilings.sgemm2048Gflops, threads, ceilings.sgemm2048OneThreadGflops,
                 ceilings.copyMebibytes, ceilings.copyGbytesPerSecond))

    var bench = KernelBench(mode: mode, ceilings: ceilings, threads: threads)
    if options.kernels {
        if options.wants("gemm") {
        for s in [64, 128, 256, 512, 1024, 2048] { bench.gemm("sgemm square", m: s, n: s, k: s) }
        // The dense layers of W1 and W2 at batch 64: forward x w^T, dx = g w, dw += g^T x.
        for (label, input, output) in [("W1.fc1", 784, 256), ("W1.fc2", 256, 128), ("W2.fc1", 3136, 128)] {
            bench.gemm("sgemm \(label) fwd", m: 64, n: output, k: input, transB: true)
            bench.gemm("sgemm \(label) dx", m: 64, n: input, k: output)
            bench.gemm("sgemm \(label) dw", m: output, n: input, k: 64, transA: true, beta: 1)
        }
        // The GEMMs W2's convolutions lower to (batched im2col, see ck_conv2d.c).
        for (label, oc, ckk, cols) in [("W2.conv1", 32, 9, 64 * 784), ("W2.conv2", 64, 288, 64 * 196)] {
            bench.gemm("sgemm \(label) fwd", m: oc, n: cols, k: ckk)
            bench.gemm("sgemm \(label) bwd-data", m: ckk, n: cols, k: oc, transA: true)
            bench.gemm("sgemm \(label) bwd-filter", m: oc, n: ckk, k: cols, transB: true, beta: 1)
        }
        }

        let conv = { (n: Int, c: Int, hw: Int, oc: Int, k: Int, stride: Int) in
            ReferenceConv2DGeometry(n: n, c: c, h: hw, w: hw, oc: oc, kh: k, kw: k,
                                    strideH: stride, strideW: stride, padH: k / 2, padW: k / 2)
        }
        if options.wants("conv2d") {
        bench.conv2d("W2.conv1", conv(64, 1, 28, 32, 3, 1), bias: true)
        bench.conv2d("W2.conv2", conv(64, 32, 14, 64, 3, 1), bias: true)
        bench.conv2d("W3.stem", conv(64, 1, 28, 16, 3, 1), bias: false)
        bench.conv2d("W3.block16", conv(64, 16, 28, 16, 3, 1), bias: false)
        bench.conv2d("W3.down32", conv(64, 16, 28, 32, 3, 2), bias: false)
        bench.conv2d("W3.block32", conv(64, 32, 14, 32, 3, 1), bias: false)
        bench.conv2d("W3.down64", conv(64, 32, 14, 64, 3, 2), bias: false)
        bench.conv2d("W3.block64", conv(64, 64, 7, 64, 3, 1), bias: false)
        bench.conv2d("W3.proj32", conv(64, 16, 28, 32, 1, 2), bias: false)
        bench.conv2d("W3.proj64", conv(64, 32, 14, 64, 1, 2), bias: false)
        }

        if options.wants("pooling") {
            bench.pooling(n: 64, c: 32, h: 28, w: 28, average: false)
            bench.pooling(n: 64, c: 64, h: 14, w: 14, average: false)
            bench.pooling(n: 64, c: 32, h: 28, w: 28, average: true)
        }
        if options.wants("batchnorm") {
            bench.batchNorm(n: 64, c: 32, h: 28, w: 28)
            bench.batchNorm(n: 64, c: 64, h: 14, w: 14)
        }
        if options.wants("activation") {
            bench.relu(n: 64, c: 32, h: 28, w: 28)
            bench.relu(n: 64, c: 64, h: 14, w: 14)
        }
        if options.wants("optimizer") {
            bench.optimizerSteps("W2 params", count: Models.cnn().parameterCount)
            bench.optimizerSteps("4M", count: 4 << 20)
        }
        if options.wants("csv") {
            bench.csvParse()
        }

        print("")
        printKernelTable(bench.records)
    }

    if options.workloads {
        var results: [String: [Int: WorkloadResult]] = [:]
        let threadCounts = Set([1, threads]).sorted()
        for name in ["W1", "W2", "W3"] {
            // Several processes per thread count, alternated, so that the machine's drift
            // between runs falls on both sides of the ratio; the median run is reported.
            var runs: [Int: [WorkloadResult]] = [:]
            for _ in 0..<mode.workloadRuns {
                for t in threadCounts {
                    let r = try spawnWorkload(name, threads: t, mode: mode)
                    if r.openMPRuntimes != ["libomp.so.5"] && !r.openMPRuntimes.allSatisfy({ $0.hasPrefix("libomp") }) {
                        print("warning: \(name) process mapped OpenMP runtimes \(r.openMPRuntimes)")
                    }
                    runs[t, default: []].append(r)
                }
            }
            for t in threadCounts {
                let sorted = runs[t]!.sorted { $0.trainImagesPerSecond < $1.trainImagesPerSecond }
                let median = sorted[sorted.count / 2]
                results[name, default: [:]][t] = median
                bench.records += workloadRecords(median, ceilings: ceilings,
                                                 allRates: runs[t]!.map(\.trainImagesPerSecond))
            }
            if threads > 1, let one = results[name]?[1], let all = results[name]?[threads] {
                bench.records.append(Record(group: "scaling", name: "\(name) training, \(threads) threads over 1", shape: name,
                                            threads: threads, unit: .ratio,
                                            median: all.trainImagesPerSecond / one.trainImagesPerSecond,
                                            note: mode.workloadRuns == 1 ? "ratio of training images/s, one process each"
                                                : "ratio of the median training images/s, \(mode.workloadRuns) processes each, alternated"))
            }
        }
        print("")
        printWorkloadTable(bench.records)

        let serving = try servingRecords(threadCounts: threadCounts, mode: mode)
        bench.records += serving
        print("")
        printServingTable(serving)
    }

    let total = Date().timeIntervalSince(started)
    let results = Results(mode: mode.name, threads: threads, date: ISO8601DateFormatter().string(from: Date()),
                          loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverages(),
                          openMPRuntimes: mappedOpenMPRuntimes(), totalSeconds: total,
                          ceilings: ceilings, records: bench.records)
    try writeJSON(results, to: options.jsonPath)
    print("")
    print(String(format: "%%ceil: of the sgemm ceiling for GFLOP/s, of the copy ceiling for GB/s; naive: the Swift "
                 + "reference in the same unit; speedup = naive time / kernel time; vs raw = ck_sgemm rate / "
                 + "cblas_sgemm rate, timed in alternation; %%wscopy = GB/s kernels against a parallel copy of the same bytes "
                 + "from buffers of the same size (same cache level), bound = that copy's rate / naive rate, the "
                 + "speedup a kernel moving its bytes as fast as a copy would show. "
                 + "Load average at end %@. Total %.0f s. Wrote %@.",
                 loadAverages().map { String($0) }.joined(separator: " "), total, options.jsonPath))
}

do {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "workload" {
        try workloadMain(Array(arguments.dropFirst()))
    } else if arguments.first == "serving" {
        Threads.set(nil)
        try servingMain(Array(arguments.dropFirst()))
    } else if arguments.first == "conv-direct" {
        try convDirectMain(Array(arguments.dropFirst()))
    } else {
        try benchMain(try parseOptions(arguments))
    }
} catch {
    FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
    exit(2)
}
