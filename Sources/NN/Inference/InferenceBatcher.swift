/// Groups single-example requests from concurrent tasks into batches for one
/// `InferenceModel`, as TorchServe's and Triton's dynamic batching do.
///
/// One batch runs at a time (it already has every kernel thread). A request that finds the
/// batcher idle starts a batch at once, or after `maxDelay` if that is above zero, to let
/// others join; requests that arrive while a batch runs queue up and form the next batch, of
/// at most `maxBatchSize`, which starts as soon as the running one ends. So a lone caller
/// waits for nobody, and under load the batches grow with the queue by themselves.
///
/// Why: a batch of 8 costs far less than 8 batches of 1 (one pass over the weights, one set
/// of kernel launches and thread wake-ups), and concurrent callers that each run their own
/// batch of 1 start one OpenMP team each and fight over the cores. Figures: `KernelBench
/// serving` and docs/performance.md.
///
/// A request with the wrong number of scalars throws at once, before it joins a batch, so
/// it never fails the requests batched with it. Batches run on the task of a caller whose
/// request is in the queue, not on a thread of the batcher's own.
public final class InferenceBatcher: Sendable {
    /// The model every batch runs through.
    public let model: InferenceModel
    /// The most requests one batch holds.
    public let maxBatchSize: Int
    /// How long a request that finds the batcher idle waits for others to join its batch
    /// (zero: it starts at once).
    public let maxDelay: Duration

    private struct Request {
        let input: [Float]
        let continuation: CheckedContinuation<[Float], any Error>
    }

    private struct State {
        var pending: [Request] = []
        /// True from when a batch is due (running, or its delay started) until the queue is
        /// empty again.
        var busy = false
        var requests = 0, batches = 0
    }

    private let state = Locked(State())

    /// A batcher for `model` that runs batches of at most `maxBatchSize` requests; a request
    /// that finds it idle waits `maxDelay` for others to join.
    public init(model: InferenceModel, maxBatchSize: Int = 16, maxDelay: Duration = .zero) {
        precondition(maxBatchSize >= 1, "InferenceBatcher: maxBatchSize must be at least 1, got \(maxBatchSize)")
        precondition(maxDelay >= .zero, "InferenceBatcher: maxDelay must not be negative, got \(maxDelay)")
        self.model = model
        self.maxBatchSize = maxBatchSize
        self.maxDelay = maxDelay
    }

    /// The output (`model.outputCount` scalars) for one example (`model.exampleCount`
    /// scalars, row-major in `model.exampleShape`), computed in a batch with the requests
    /// that arrive meanwhile. Throws `InferenceError.scalarCount` for an example of the
    /// wrong size, without delaying or failing anyone else's request.
    public func predict(_ example: [Float]) async throws -> [Float] {
        guard example.count == model.exampleCount else {
            throw InferenceError.scalarCount(found: example.count, shape: model.exampleShape, expected: model.exampleCount)
        }
        return try await withCheckedThrowingContinuation { continuation in
            // One lock per request: queue it, and learn whether the batcher was idle. If it
            // was not, whoever runs the current batch runs this one next (drain goes idle
            // only once it finds the queue empty under this same lock).
            let starts = state.withLock { s -> Bool in
                s.pending.append(Request(input: example, continuation: continuation))
                defer { s.busy = true }
                return !s.busy
            }
            guard starts else { return }
            if maxDelay > .zero {
                // This request's batch is due after the delay; others queue up behind `busy`.
                Task { [self] in
                    try? await Task.sleep(for: maxDelay)
                    drain()
                }
            } else {
                drain()
            }
        }
    }

    /// Runs batches until the queue is empty, then marks the batcher idle.
    private func drain() {
        while true {
            let batch = state.withLock { s -> [Request] in
                let batch = Array(s.pending.prefix(maxBatchSize))
                s.pending.removeFirst(batch.count)
                if batch.isEmpty { s.busy = false } else { s.requests += batch.count; s.batches += 1 }
                return batch
            }
            if batch.isEmpty { return }
            run(batch)
        }
    }

    /// The requests and the batches run so far (their ratio is the mean batch size).
    public var statistics: (requests: Int, batches: Int) {
        state.withLock { ($0.requests, $0.batches) }
    }

    /// Runs `batch` as one (N, example shape) input and hands each caller its row.
    private func run(_ batch: [Request]) {
        // The examples go straight into the input tensor, and each caller's row straight out
        // of the output: no concatenated array, no copy of the whole output.
        let exampleCount = model.exampleCount
        let input = Tensor.build(shape: [batch.count] + model.exampleShape) { out, _ in
            for (i, request) in batch.enumerated() {
                request.input.withUnsafeBufferPointer { (out + i * exampleCount).initialize(from: $0.baseAddress!, count: exampleCount) }
            }
        }
        do {
            let output = try model.predict(input)
            let width = model.outputCount
            output.withUnsafeBufferPointer { rows in
                for (i, request) in batch.enumerated() {
                    request.continuation.resume(returning: Array(rows[(i * width)..<((i + 1) * width)]))
                }
            }
        } catch {
            // Unreachable: every input was checked on arrival. Fail the batch, not the process.
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }
}
