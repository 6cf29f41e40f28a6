// W2 served: batch-1 latency of `InferenceModel.predict` (median and p99) and requests/s
// with 1, 8 and 64 concurrent callers, each calling predict directly or going through an
// `InferenceBatcher`. `KernelBench serving [--threads 1,2] [--quick] [--latency-only]` runs
// only these (`--latency-only`: the batch-1 latency rows alone, for scripts/bench-pytorch.sh
// --serving, which alternates them with PyTorch's).
import Foundation
import NN
import Synchronization

/// PyTorch 2.13's CPU build on this machine, W2 at batch 1, eval mode under no_grad, its
/// best layout (channels-last), median microseconds by thread count, from issue 17. The
/// target is at most half of it; `scripts/bench-pytorch.sh --serving` measures PyTorch in
/// the same window, alternated with these rows.
let pytorchBatch1MedianMicroseconds: [Int: Double] = [1: 268, 2: 353]

/// Runs `body` on the cooperative pool and waits for it on this (non-pool) thread.
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        result.withLock { $0 = r }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

/// W2 with the running statistics of a trained model's order of magnitude (untrained
/// weights: inference costs the same whatever the weights are).
func servedW2() -> InferenceModel {
    DefaultRandom.manualSeed(0x5EED)
    let model = Models.cnn()
    var generator = RandomGenerator(seed: 5)
    for (_, buffer) in model.namedBuffers {
        buffer.value = Tensor(randomUniform: buffer.value.shape, in: 0.5...1.5, using: &generator)
    }
    return InferenceModel(model, exampleShape: [1, 28, 28])
}

/// The p-th percentile (nearest rank) of a non-empty list.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
}

/// The serving records at each thread count in `threadCounts`.
func servingRecords(threadCounts: [Int], mode: RunMode, latencyOnly: Bool = false) throws -> [Record] {
    let model = servedW2()
    let images = (0..<64).map { benchFloats(784, seed: UInt64($0 + 1)) }
    let latencyCalls = mode.name == "quick" ? 300 : 3000
    let requestsPerRun = mode.name == "quick" ? 512 : 4096
    var records: [Record] = []

    // Check before timing: a batcher's rows against batch-1 calls (float32 rounding apart).
    let direct = try images.map { try model.predict($0).scalars }
    let check = InferenceBatcher(model: model, maxBatchSize: 16, maxDelay: .milliseconds(5))
    let batched = try blockingAwait {
        try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, image) in images.enumerated() { group.addTask { (i, try await check.predict(image)) } }
            return try await group.reduce(into: [Int: [Float]]()) { $0[$1.0] = $1.1 }
        }
    }
    let checkError = images.indices.map { maxRelativeError(direct[$0], batched[$0]!) }.max()!
    guard checkError < 1e-4 else { throw UsageError(message: "serving: batched rows differ from batch-1 calls by \(checkError)") }

    for threads in threadCounts {
        Threads.set(threads)
        // Batch-1 latency, one caller.
        let one = try Tensor(validating: images[0], shape: [1, 1, 28, 28])
        for _ in 0..<20 { _ = try model.predict(one) }
        var times: [Double] = []
        times.reserveCapacity(latencyCalls)
        for i in 0..<latencyCalls {
            let input = try Tensor(validating: images[i % images.count], shape: [1, 1, 28, 28])
            times.append(secondsOf { _ = try! model.predict(input) })
        }
        let (p50, p99) = (median(times) * 1e6, percentile(times, 99) * 1e6)
        let torch = pytorchBatch1MedianMicroseconds[threads]
        let versus = torch.map { String(format: "; %.2fx PyTorch's %.0f us (issue 17's figure, channels-last; target <= 0.5x)", p50 / $0, $0) } ?? ""
        records.append(Record(group: "serving", name: "W2 batch-1 latency median", shape: "1x1x28x28", threads: threads,
                              unit: .seconds, median: p50 * 1e-6, checkError: checkError, seconds: p50 * 1e-6, reps: latencyCalls,
                              note: String(format: "median %.0f us, p99 %.0f us over %d calls", p50, p99, latencyCalls) + versus))
        records.append(Record(group: "serving", name: "W2 batch-1 latency p99", shape: "1x1x28x28", threads: threads,
                              unit: .seconds, median: p99 * 1e-6, seconds: p99 * 1e-6, reps: latencyCalls))

        // Throughput: `callers` tasks share `requestsPerRun` requests, with and without a batcher.
        for callers in latencyOnly ? [] : [1, 8, 64] {
            for batching in [false, true] {
                let batcher = InferenceBatcher(model: model, maxBatchSize: 16)
                let perCaller = requestsPerRun / callers
                let seconds = try blockingAwait {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for c in 0..<callers {
                            group.addTask {
                                for r in 0..<perCaller {
                                    let image = images[(c + r) % images.count]
                                    if batching {
                                        _ = try await batcher.predict(image)
                                    } else {
                                        _ = try model.predict(image)
                                        await Task.yield()  // as a server handler returns to its event loop
                                    }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                }
                let requests = perCaller * callers
                let stats = batcher.statistics
                let note = batching
                    ? String(format: "%d requests; batcher max 16, no delay; mean batch %.1f", requests,
                             Double(stats.requests) / Double(max(stats.batches, 1)))
                    : "\(requests) requests, each a batch-1 predict"
                records.append(Record(group: "serving", name: "W2 \(callers) callers \(batching ? "batcher" : "direct")",
                                      shape: "1x1x28x28", threads: threads, unit: .imagesPerSecond,
                                      median: Double(requests) / seconds, seconds: seconds, reps: requests, note: note))
            }
        }
    }
    Threads.set(nil)
    return records
}

/// The serving table: latency and throughput by thread count.
func printServingTable(_ records: [Record]) {
    print("W2 serving (requests/s with 1, 8, 64 concurrent callers; latency at batch 1):")
    for r in records where r.group == "serving" {
        let value = r.unit == .seconds ? String(format: "%8.0f us", r.median * 1e6) : String(format: "%8.0f req/s", r.median)
        print("  \(r.threads) thread\(r.threads == 1 ? " " : "s") \(r.name.padding(toLength: 32, withPad: " ", startingAt: 0)) \(value)  \(r.note ?? "")")
    }
}

/// `KernelBench serving [--threads 1,2] [--quick] [--latency-only] [--json PATH]`.
func servingMain(_ arguments: [String]) throws {
    var threads = Set([1, Threads.count]).sorted(), mode = RunMode.full, json: String? = nil, latencyOnly = false
    var rest = arguments[...]
    while let flag = rest.popFirst() {
        switch flag {
        case "--quick": mode = .quick
        case "--latency-only": latencyOnly = true
        case "--threads":
            guard let list = rest.popFirst().map({ $0.split(separator: ",").compactMap { Int($0) } }), !list.isEmpty else {
                throw UsageError(message: "serving: --threads needs a list such as 1,2")
            }
            threads = list
        case "--json":
            guard let path = rest.popFirst() else { throw UsageError(message: "serving: --json needs a path") }
            json = path
        default: throw UsageError(message: "serving: unknown option '\(flag)'")
        }
    }
    let records = try servingRecords(threadCounts: threads, mode: mode, latencyOnly: latencyOnly)
    printServingTable(records)
    if let json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(records).write(to: URL(fileURLWithPath: json))
    }
}
