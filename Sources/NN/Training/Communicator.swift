import Foundation

// Data parallelism in one rule: every process (rank) holds the same model, trains on its own
// shard of each batch, and the ranks combine their gradients by an all-reduce before each
// update, so every rank applies the same update and the weights never drift apart.
// `Communicator` is all NN knows of the transport; NNDistributed implements it over MPI.
// Collectives never throw: a collective that fails or waits past its timeout ends every
// rank (`abort`), because a rank that went on alone would hang the others.

/// How an all-reduce combines the ranks' values element by element.
public enum ReduceOperation: Sendable {
    /// The sum over ranks.
    case sum
    /// The sum over ranks divided by the number of ranks.
    case average
}

/// The collectives data-parallel training needs, over `size` processes of which this is
/// `rank`. Every rank must call the same collectives in the same order with the same counts.
public protocol Communicator: AnyObject {
    /// This process's index, 0..<size; rank 0 prints, logs and writes checkpoints.
    var rank: Int { get }
    /// The number of processes taking part.
    var size: Int { get }
    /// Replaces `buffer` on every rank with the element-wise sum (or average) over all
    /// ranks; `label` names the collective in a timeout message.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String)
    /// The same for double-precision values (metrics: loss sums, counts).
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String)
    /// Copies rank `root`'s `buffer` into every other rank's.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String)
    /// Returns on each rank once every rank has called it.
    func barrier(label: String)
    /// Ends every rank of the job with `message` (printed by the rank that calls it) and a
    /// non-zero status.
    func abort(_ message: String) -> Never
}

/// A communicator whose all-reduces can run while the caller goes on computing: the
/// trainer starts each gradient bucket as soon as backward has finished it, calls
/// `progressBackgroundCollectives()` between pullbacks, and waits for them all before the
/// update. Collectives run in the order they were started; a blocking collective called
/// meanwhile first waits for the started ones.
public protocol BackgroundCommunicator: Communicator {
    /// Starts an all-reduce of `buffer` and returns at once; `buffer` must stay allocated
    /// and untouched until `waitForBackgroundCollectives()` returns.
    func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String)
    /// Lets the started all-reduces advance without waiting for them (an MPI without
    /// asynchronous progress moves a non-blocking collective only inside MPI calls).
    func progressBackgroundCollectives()
    /// Returns once every started all-reduce has finished.
    func waitForBackgroundCollectives()
    /// Whether all-reducing the gradients during backward is expected to make a step
    /// faster here than doing it after backward: the trainer's default for
    /// `overlapsGradientAllReduce`.
    var prefersOverlappedAllReduce: Bool { get }
}

/// Memory that every rank of a communicator maps, seen from one rank.
public struct SharedReductionMemory {
    /// This rank's copy, zeroed when made.
    public let floats: UnsafeMutableBufferPointer<Float>
    /// Keeps the memory mapped while it lives.
    public let owner: AnyObject

    /// `floats`, valid while `owner` lives.
    public init(floats: UnsafeMutableBufferPointer<Float>, owner: AnyObject) {
        self.floats = floats
        self.owner = owner
    }
}

/// A communicator whose ranks can map the same memory (all of them on one node). An
/// all-reduce of a buffer inside memory it made reads the other ranks' copies directly,
/// with none of the transport's copying (NCCL and Gloo reduce so within a node); the
/// trainer keeps its gradient buckets there.
public protocol SharedMemoryCommunicator: Communicator {
    /// Memory for `count` floats that every rank maps, or nil when the ranks do not all
    /// share this node's memory (or the system refuses it). Collective: every rank calls it
    /// with the same count, and all of them get memory or all get nil.
    func makeSharedReductionMemory(count: Int) -> SharedReductionMemory?
}

extension Communicator {
    /// True on the rank that prints, logs, plots and writes checkpoints.
    public var isLeader: Bool { rank == 0 }

    /// All-reduces an array in place.
    public func allReduce(_ values: inout [Double], _ operation: ReduceOperation, label: String) {
        values.withUnsafeMutableBufferPointer { allReduce($0, operation, label: label) }
    }

    /// All-reduces an array in place.
    public func allReduce(_ values: inout [Float], _ operation: ReduceOperation, label: String) {
        values.withUnsafeMutableBufferPointer { allReduce($0, operation, label: label) }
    }
}

/// One process alone: every collective is the identity. The trainer's default.
public final class SingleProcessCommunicator: Communicator {
    /// Always 0.
    public let rank = 0
    /// Always 1.
    public let size = 1

    /// The communicator of a run without peers.
    public init() {}

    /// Leaves `buffer` as it is (the sum and the average over one rank).
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {}
    /// Leaves `buffer` as it is.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) {}
    /// Leaves `buffer` as it is (this rank is the root).
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {
        precondition(root == 0, "broadcast: root \(root) out of 0..<1")
    }
    /// Returns at once.
    public func barrier(label: String) {}
    /// Prints `message` to standard error and exits with status 1.
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(1)
    }
}

/// Finds a job started by a launcher of another MPI: each process then initializes as a
/// world of one, while the launcher's own variables say how many were started.
public enum LauncherCheck {
    /// The refusal to print when this process sees a world of `size` although the
    /// launcher's environment (Open MPI's `OMPI_COMM_WORLD_SIZE`, the PMI's `PMI_SIZE`)
    /// says more processes were started; nil when they agree.
    public static func mismatch(size: Int, environment: [String: String]) -> String? {
        for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
            guard let text = environment[variable], let launched = Int(text), launched > size else { continue }
            return "the launcher started \(launched) processes (\(variable)=\(text)) but MPI sees a world of \(size): "
                + "this program is linked to another MPI than the launcher's; start it with that MPI's mpirun "
                + "(Open MPI: /usr/bin/mpirun.openmpi)"
        }
        return nil
    }
}

/// Which part of every epoch this rank trains on, as PyTorch's `DistributedSampler`: the
/// epoch's permutation (the same on every rank) is padded by repeating its head to a
/// multiple of `count`, and rank `rank` takes positions rank, rank + count, rank + 2·count...
/// So every rank has the same number of samples and batches (uneven data never hangs a
/// collective), and batch k of the N ranks together is batch k of one process with N times
/// the batch size.
public struct Shard: Sendable, Equatable {
    /// This rank, 0..<count.
    public var rank: Int
    /// The number of ranks.
    public var count: Int

    /// Rank `rank` of `count`.
    public init(rank: Int, count: Int) {
        precondition(count >= 1 && rank >= 0 && rank < count, "Shard: rank \(rank) out of 0..<\(count)")
        self.rank = rank
        self.count = count
    }

    /// Samples each rank gets from a dataset of `total`: total / count rounded up.
    public func samples(of total: Int) -> Int { (total + count - 1) / count }

    /// This rank's part of `order` (a permutation of the whole dataset).
    public func select(_ order: [Int]) -> [Int] {
        guard count > 1, !order.isEmpty else { return order }
        let perRank = samples(of: order.count)
        var result = [Int]()
        result.reserveCapacity(perRank)
        for k in 0..<perRank {
            // Positions past the end wrap to the permutation's head: the padding.
            result.append(order[(rank + k * count) % order.count])
        }
        return result
    }
}
