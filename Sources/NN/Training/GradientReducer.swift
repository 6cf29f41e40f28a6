import Dispatch

/// How data-parallel training groups gradients into all-reduces: a small first bucket so
/// communication starts early, then larger ones so each call's latency is paid rarely
/// (PyTorch DDP's defaults: 1 MiB, then 25 MiB).
public struct GradientBuckets: Sendable, Equatable {
    /// Bytes of the first bucket (the last layers' gradients, which backward finishes first).
    public var firstBytes: Int
    /// Bytes of every later bucket.
    public var bytes: Int

    /// Buckets of `firstBytes`, then of `bytes`; a parameter larger than a bucket gets one
    /// of its own.
    public init(firstBytes: Int = 1 << 20, bytes: Int = 25 << 20) {
        precondition(firstBytes > 0 && bytes > 0, "GradientBuckets: sizes must be positive, got \(firstBytes) and \(bytes)")
        self.firstBytes = firstBytes
        self.bytes = bytes
    }

    /// The parameters' indices grouped into buckets, last parameter first (the order in
    /// which backward completes them).
    public func plan(elementCounts: [Int]) -> [[Int]] {
        var buckets: [[Int]] = []
        var current: [Int] = []
        var currentBytes = 0
        for index in elementCounts.indices.reversed() {
            current.append(index)
            currentBytes += elementCounts[index] * MemoryLayout<Float>.size
            if currentBytes >= (buckets.isEmpty ? firstBytes : bytes) {
                buckets.append(current)
                (current, currentBytes) = ([], 0)
            }
        }
        if !current.isEmpty { buckets.append(current) }
        return buckets
    }
}

/// Averages the model's gradients over all ranks, bucket by bucket. Each bucket is one
/// contiguous buffer that its parameters' gradients live in (PyTorch DDP's
/// `gradient_as_bucket_view`): backward writes them there and the all-reduce runs in place,
/// with no copy in or out. Copying W2's 1.7 MB in and out cost as much as the all-reduce.
/// Given a `SharedMemoryCommunicator` whose ranks share a node, the buckets live in memory
/// every rank maps, and the blocking all-reduce sums the ranks' copies directly (W2: 0.04 ms
/// against 0.2-0.4 through MPI, docs/distributed.md).
///
/// Two modes. Blocking (`average`, after backward): one bucket after the other on the
/// training thread. Overlapped (`beginStep`, `gradientFinal` and `progress` from backward,
/// `finishStep`): a bucket is packed and its all-reduce started as soon as backward has
/// finished every gradient in it, so it runs during the rest of backward. Buckets are
/// started in plan order on every rank (a bucket finished early waits for the ones before
/// it), so the ranks' collectives always match. Each bucket is the same sum of the same
/// bytes in either mode; with 2 ranks (a + b = b + a) the results are bit-identical, with
/// more the reduction order of the blocking and non-blocking algorithms may differ.
final class GradientReducer {
    private let parameters: [Parameter]
    private let buckets: [[Int]]
    /// Each bucket's collective label, made once: not a string built per bucket per step.
    private let labels: [String]
    /// One buffer per bucket, holding its parameters' gradients: in the overlapped mode
    /// they are in flight together.
    private let bucketStorage: [TensorStorage]
    /// All the buckets, one after the other, when they are in memory the ranks share.
    private let sharedMemory: UnsafeMutableBufferPointer<Float>?
    /// Whether the buckets are in memory the ranks share.
    var isShared: Bool { sharedMemory != nil }
    /// The label of the one all-reduce of all shared buckets.
    private let sharedLabel: String
    /// The bucket of each parameter's gradient node.
    private let bucketOfNode: [ObjectIdentifier: Int]
    /// Each parameter's window into its bucket.
    private let windows: [TensorStorage]
    /// Overlapped mode, per step: gradients of each bucket not final yet, and the next
    /// bucket to queue.
    private var unfinished: [Int] = []
    private var nextToQueue = 0
    private var background: (any BackgroundCommunicator)?
    /// Seconds the training thread has spent in (blocking) or waiting for (overlapped) the
    /// gradient all-reduces.
    private(set) var waitSeconds = 0.0

    /// The reducer of `parameters`' gradients in `buckets`, kept in memory the ranks share
    /// when `shared` gives it (collective then: every rank makes its reducer together).
    init(_ parameters: [Parameter], buckets: GradientBuckets, shared: (any SharedMemoryCommunicator)? = nil) {
        self.parameters = parameters
        let counts = parameters.map { Tensor.elementCount($0.shape) }
        self.buckets = buckets.plan(elementCounts: counts)
        let sizes = self.buckets.map { $0.reduce(0) { $0 + counts[$1] } }
        labels = sizes.enumerated().map { "all-reduce of gradient bucket \($0.offset + 1) of \(sizes.count) (\($0.element) floats)" }
        sharedLabel = "all-reduce of gradient buckets 1-\(sizes.count) of \(sizes.count) (\(sizes.reduce(0, +)) floats)"
        if let memory = shared?.makeSharedReductionMemory(count: sizes.reduce(0, +)), let base = memory.floats.baseAddress {
            var offset = 0
            bucketStorage = sizes.map { size in
                defer { offset += size }
                return TensorStorage(borrowing: base + offset, count: size, owner: memory.owner)
            }
            sharedMemory = memory.floats
        } else {
            bucketStorage = sizes.map { TensorStorage(count: $0, repeating: 0) }
            sharedMemory = nil
        }
        var bucketOfNode: [ObjectIdentifier: Int] = [:]
        var windows = [TensorStorage?](repeating: nil, count: parameters.count)
        for (number, bucket) in self.buckets.enumerated() {
            var offset = 0
            for index in bucket {
                let node = parameters[index].gradientNode
                let window = TensorStorage(viewOf: bucketStorage[number], offset: offset, count: counts[index])
                node.adoptGradientStorage(window)
                windows[index] = window
                offset += counts[index]
                bucketOfNode[ObjectIdentifier(node)] = number
            }
        }
        self.bucketOfNode = bucketOfNode
        self.windows = windows.map { $0! }
        unfinished = [Int](repeating: 0, count: self.buckets.count)
    }

    /// Puts back into its bucket any gradient that left it since (a reducer kept from one
    /// epoch to the next): the all-reduce only sees gradients in the buckets.
    func reattach() {
        for (parameter, window) in zip(parameters, windows) where !parameter.gradientNode.holdsGradient(in: window) {
            parameter.gradientNode.adoptGradientStorage(window)
        }
    }

    /// Replaces every parameter's gradient with its average over the ranks of
    /// `communicator`, after backward: one bucket after the other, or all of them at once
    /// in shared memory.
    func average(over communicator: any Communicator) {
        let start = DispatchTime.now().uptimeNanoseconds
        if let shared = sharedMemory {
            // Buckets exist to start all-reduces early; after backward in shared memory, one
            // all-reduce over all of them saves the others' barriers.
            for number in buckets.indices { zeroUnreached(number) }
            communicator.allReduce(shared, .average, label: sharedLabel)
        } else {
            for number in buckets.indices {
                zeroUnreached(number)
                communicator.allReduce(bucket(number), .average, label: labels[number])
            }
        }
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Starts an overlapped step: backward's `gradientFinal` calls will queue the buckets.
    func beginStep(over communicator: any BackgroundCommunicator) {
        background = communicator
        // Reset in place: a fresh array here would be an allocation per step.
        for number in buckets.indices { unfinished[number] = buckets[number].count }
        nextToQueue = 0
    }

    /// Backward has finished `node`'s gradient: queues every bucket now complete whose
    /// predecessors are queued.
    func gradientFinal(_ node: Node) {
        guard let number = bucketOfNode[ObjectIdentifier(node)] else { return }
        unfinished[number] -= 1
        queueReadyBuckets()
    }

    /// Between pullbacks: lets the started all-reduces advance.
    func progress() {
        if nextToQueue > 0 { background?.progressBackgroundCollectives() }
    }

    /// Queues the rest (buckets holding a parameter backward never reached: a zero
    /// gradient, as in the blocking mode) and waits for every all-reduce.
    func finishStep() {
        guard let communicator = background else { preconditionFailure("GradientReducer.finishStep without beginStep") }
        for number in nextToQueue..<buckets.count { unfinished[number] = 0 }
        queueReadyBuckets()
        let start = DispatchTime.now().uptimeNanoseconds
        communicator.waitForBackgroundCollectives()
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        background = nil
    }

    private func queueReadyBuckets() {
        guard let communicator = background else { return }
        while nextToQueue < buckets.count && unfinished[nextToQueue] == 0 {
            zeroUnreached(nextToQueue)
            communicator.startAllReduce(bucket(nextToQueue), .average, label: labels[nextToQueue])
            nextToQueue += 1
        }
    }

    private func bucket(_ number: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: bucketStorage[number].pointer, count: bucketStorage[number].count)
    }

    /// A gradient backward never reached (zeroed, not written) reads as stale values in the
    /// bucket until zero-filled: the all-reduce must see zeros, as every rank's optimizer does.
    private func zeroUnreached(_ number: Int) {
        for index in buckets[number] { _ = parameters[index].gradientNode.gradientBuffer() }
    }
}
