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

/// Averages the model's gradients over all ranks, bucket by bucket: each bucket's gradients
/// are packed into one contiguous buffer, all-reduced, and unpacked.
final class GradientReducer {
    private let parameters: [Parameter]
    private let buckets: [[Int]]
    /// Each bucket's collective label, made once: not a string built per bucket per step.
    private let labels: [String]
    private var staging: [Float]

    init(_ parameters: [Parameter], buckets: GradientBuckets) {
        self.parameters = parameters
        let counts = parameters.map { Tensor.elementCount($0.shape) }
        self.buckets = buckets.plan(elementCounts: counts)
        let sizes = self.buckets.map { $0.reduce(0) { $0 + counts[$1] } }
        labels = sizes.enumerated().map { "all-reduce of gradient bucket \($0.offset + 1) of \(sizes.count) (\($0.element) floats)" }
        staging = [Float](repeating: 0, count: sizes.max() ?? 0)
    }

    /// Replaces every parameter's gradient with its average over the ranks of `communicator`.
    func average(over communicator: any Communicator) {
        for (number, bucket) in buckets.enumerated() {
            staging.withUnsafeMutableBufferPointer { staging in
                var offset = 0
                for index in bucket {
                    parameters[index].withMutableGradient { gradient in
                        (staging.baseAddress! + offset).update(from: gradient.baseAddress!, count: gradient.count)
                        offset += gradient.count
                    }
                }
                communicator.allReduce(UnsafeMutableBufferPointer(rebasing: staging[0..<offset]), .average,
                                       label: labels[number])
                offset = 0
                for index in bucket {
                    parameters[index].withMutableGradient { gradient in
                        gradient.baseAddress!.update(from: staging.baseAddress! + offset, count: gradient.count)
                        offset += gradient.count
                    }
                }
            }
        }
    }
}
