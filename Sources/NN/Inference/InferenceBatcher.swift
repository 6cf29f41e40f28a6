import Synchronization

/// Groups single-example requests from concurrent tasks into batches for one
/// `InferenceModel`, as TorchServe's and Triton's dynamic batching do: a batch runs when
/// `maxBatchSize` requests are waiting, or `maxDelay` after the first of them arrived,
/// whichever comes first.
///
/// Why: a batch of 8 costs far less than 8 batches of 1 (one pass over the weights, one
/// set of kernel launches and thread wake-ups), and concurrent callers that each run their
/// own batch of 1 start one OpenMP team each and fight over the cores. The price is up to
/// `maxDelay` of extra latency for a request that arrives alone. Figures: `make bench`
/// ("W2 serving") and docs/performance.md.
///
/// A request with the wrong number of scalars throws at once, before it joins a batch, so
/// it never fails the requests batched with it.
public final class InferenceBatcher: Sendable {
    /// The model every batch runs through.
    public let model: InferenceModel
    /// The most requests one batch holds.
    public let maxBatchSize: Int
    /// The longest a request waits for others to join its batch.
    public let maxDelay: Duration

    private struct Request {
        let input: [Float]
        let continuation: CheckedContinuation<[Float], any Error>
    }

    private struct State {
        var pending: [Request] = []
        /// Counts the batches taken, so a timer for a batch that already ran does nothing.
        var generation = 0
        /// Requests batched so far.
        var requests = 0
    }

    private let state = Mutex(State())

    /// A batcher for `model` that runs batches of at most `maxBatchSize` requests, waiting
    /// at most `maxDelay` for a batch to fill.
    public init(model: InferenceModel, maxBatchSize: Int = 16, maxDelay: Duration = .milliseconds(1)) {
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
            let (full, timerGeneration) = state.withLock { s -> ([Request]?, Int?) in
                s.pending.append(Request(input: example, continuation: continuation))
                if s.pending.count >= maxBatchSize {
                    return (take(&s), nil)
                }
                return (nil, s.pending.count == 1 ? s.generation : nil)
            }
            // A full batch runs right here, on the task whose request filled it.
            if let full { run(full) }
            if let generation = timerGeneration {
                Task { [self] in
                    try? await Task.sleep(for: maxDelay)
                    let due = state.withLock { s in s.generation == generation ? take(&s) : [] }
                    if !due.isEmpty { run(due) }
                }
            }
        }
    }

    /// Empties the queue and starts a new generation.
    private func take(_ s: inout State) -> [Request] {
        defer { s.pending = []; s.generation += 1 }
        s.requests += s.pending.count
        return s.pending
    }

    /// The requests and the batches run so far (their ratio is the mean batch size).
    public var statistics: (requests: Int, batches: Int) {
        state.withLock { ($0.requests, $0.generation) }
    }

    /// Runs `batch` as one (N, example shape) input and hands each caller its row.
    private func run(_ batch: [Request]) {
        var scalars: [Float] = []
        scalars.reserveCapacity(batch.count * model.exampleCount)
        for request in batch { scalars += request.input }
        do {
            let output = try model.predict(Tensor(validating: scalars, shape: [batch.count] + model.exampleShape))
            let (rows, width) = (output.scalars, model.outputCount)
            for (i, request) in batch.enumerated() {
                request.continuation.resume(returning: Array(rows[(i * width)..<((i + 1) * width)]))
            }
        } catch {
            // Unreachable: every input was checked on arrival. Fail the batch, not the process.
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }
}
