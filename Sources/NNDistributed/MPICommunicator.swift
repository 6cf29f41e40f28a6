import CMPI
import Foundation
import NN
import Synchronization

/// A failure to start MPI.
public enum DistributedError: Error, CustomStringConvertible {
    /// MPI_Init_thread returned this error code.
    case initializationFailed(code: Int32)
    /// The process was started by another MPI's launcher (see `LauncherCheck`).
    case wrongLauncher(String)

    /// One sentence for the user.
    public var description: String {
        switch self {
        case let .initializationFailed(code): return "MPI_Init_thread failed with error code \(code)"
        case let .wrongLauncher(message): return message
        }
    }
}

/// The `Communicator` of a job started by Open MPI's `mpirun`: one rank per process over
/// MPI_COMM_WORLD.
///
/// Blocking collectives are Open MPI's blocking ones. Background all-reduces (the
/// gradient buckets the trainer starts during backward) advance in one of two ways,
/// `backgroundProgress` (this Open MPI has no asynchronous progress): `MPI_Iallreduce`
/// advanced by `MPI_Test` between pullbacks on the caller's thread, or the blocking call
/// on a thread of their own (Horovod's design). Only one thread is ever inside MPI
/// (MPI_THREAD_SERIALIZED): a blocking collective first waits for the background ones. A
/// watchdog thread turns a collective that has not returned after `timeout` seconds (a
/// rank that never joins) into an exit that names it; mpirun then ends the other ranks.
/// Call from one thread at a time.
public final class MPICommunicator: BackgroundCommunicator, SharedMemoryCommunicator, @unchecked Sendable {
    /// How the all-reduces started by `startAllReduce` advance while the caller computes.
    public enum BackgroundProgress: Sendable {
        /// `MPI_Iallreduce`, advanced by `MPI_Test` in `progressBackgroundCollectives()`
        /// (the trainer calls it between pullbacks) and finished by `MPI_Wait`: no thread.
        case progressCalls
        /// The blocking `MPI_Allreduce` on a communication thread started on first use.
        case communicationThread
    }

    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// The number of processes in MPI_COMM_WORLD.
    public let size: Int
    /// Seconds a collective may wait for the other ranks before the job is aborted.
    public var timeout: Double
    /// How background all-reduces advance; changing it first waits for the started ones.
    /// The default follows what was measured (docs/distributed.md): `.progressCalls` when
    /// every rank runs on this node (a shared-memory all-reduce is copies and sums, CPU
    /// work best done between pullbacks on the ranks' own threads), `.communicationThread`
    /// when ranks are on several nodes (the network transfer needs driving through long
    /// pullbacks too, where progress calls leave it stalled). Every rank gets the same
    /// default, so all of them reduce with the same algorithm and hold the same bits.
    public var backgroundProgress = BackgroundProgress.progressCalls {
        willSet { waitForBackgroundCollectives() }
    }
    /// True when the ranks run on more than one node: all-reducing during backward then
    /// made W2's steps faster (through a shaped link between two namespaced hosts), while
    /// on one node it hid the all-reduce's wait but slowed the epoch (docs/distributed.md).
    public var prefersOverlappedAllReduce: Bool { spansNodes }
    private var spansNodes = false
    private var finalized = false
    /// The running collective's label and deadline (uptime nanoseconds), for the watchdog.
    private let running = RunningCollective()
    /// Whether MPI granted MPI_THREAD_SERIALIZED (else background all-reduces run inline).
    private let allowsBackgroundThread: Bool
    /// The background all-reduces queued and not finished, and their thread.
    private let queue = CollectiveQueue()
    private var backgroundThreadStarted = false
    /// `.progressCalls`: the started non-blocking all-reduces, in start order, and the
    /// first one not known to be finished.
    private var requests: [MPI_Request?] = []
    private var requestJobs: [BackgroundAllReduce] = []
    private var firstUnfinishedRequest = 0
    /// The shared-memory regions made by `makeSharedReductionMemory` and still mapped.
    private var regions: [WeakRegion] = []

    /// Initializes MPI (once per process) and checks the launcher; `timeout` bounds every
    /// collective's wait in seconds.
    public init(timeout: Double = 300) throws {
        precondition(timeout > 0, "MPICommunicator: timeout must be positive, got \(timeout)")
        var provided: Int32 = 0
        let code = MPI_Init_thread(nil, nil, nnmpi_thread_serialized(), &provided)
        guard code == nnmpi_success() else { throw DistributedError.initializationFailed(code: code) }
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(nnmpi_comm_world(), &rank)
        MPI_Comm_size(nnmpi_comm_world(), &size)
        (self.rank, self.size, self.timeout) = (Int(rank), Int(size), timeout)
        allowsBackgroundThread = provided >= nnmpi_thread_serialized()
        if let message = LauncherCheck.mismatch(size: self.size, environment: ProcessInfo.processInfo.environment) {
            MPI_Finalize()
            finalized = true
            throw DistributedError.wrongLauncher(message)
        }
        if self.size > 1 {
            startWatchdog()
            // The ranks sharing this node's memory: fewer than all means several nodes.
            var node: MPI_Comm? = nil
            var nodeSize: Int32 = 0
            let label = "grouping the ranks by node"
            check(MPI_Comm_split_type(nnmpi_comm_world(), nnmpi_comm_type_shared(), rank, nnmpi_info_null(), &node), label)
            check(MPI_Comm_size(node, &nodeSize), label)
            check(MPI_Comm_free(&node), label)
            spansNodes = Int(nodeSize) < self.size
            if spansNodes { backgroundProgress = .communicationThread }
        }
    }

    /// Whether this process was started by an MPI launcher at all (so a plain `nn train`
    /// need not initialize MPI).
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { environment[$0] != nil }
    }

    /// Sums (or averages) `buffer` over all ranks in place: straight from the other ranks'
    /// copies when it lies in memory from `makeSharedReductionMemory`, else through MPI.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        waitForBackgroundCollectives()
        for entry in regions {
            guard let region = entry.region, let offset = region.offset(of: buffer) else { continue }
            watched(label) {
                region.allReduce(offset: offset, length: buffer.count, scale: operation == .average ? 1 / Float(size) : 1)
            }
            return
        }
        reduce(buffer, operation, label: label)
    }

    /// Memory for `count` floats that every rank maps, when all ranks are on this node:
    /// `allReduce` then sums a buffer inside it from the ranks' copies directly (W2's
    /// gradient: 0.04 ms against 0.2 through Open MPI's shared-memory transport, whose
    /// large messages go through the kernel's cross-process copy). Collective.
    public func makeSharedReductionMemory(count: Int) -> SharedReductionMemory? {
        precondition(count >= 0, "makeSharedReductionMemory: negative count \(count)")
        waitForBackgroundCollectives()
        guard size > 1, !spansNodes, let region = SharedMemoryRegion.make(count: count, communicator: self) else { return nil }
        regions.removeAll { $0.region == nil }
        regions.append(WeakRegion(region: region))
        return SharedReductionMemory(floats: region.floats, owner: region)
    }

    /// Starts an all-reduce of `buffer` (see `backgroundProgress`) and returns at once;
    /// `buffer` must stay allocated and untouched until `waitForBackgroundCollectives()`.
    public func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        guard size > 1 else { return }
        let job = BackgroundAllReduce(buffer: buffer, operation: operation, label: label)
        switch backgroundProgress {
        case .progressCalls:
            guard let base = buffer.baseAddress else { return }
            precondition(buffer.count <= Int(Int32.max), "all-reduce: \(buffer.count) elements exceed MPI's Int32 count")
            var request = nnmpi_request_null()
            check(MPI_Iallreduce(nnmpi_in_place(), base, Int32(buffer.count), nnmpi_float(), nnmpi_sum(),
                                 nnmpi_comm_world(), &request), label)
            requests.append(request)
            requestJobs.append(job)
        case .communicationThread:
            guard allowsBackgroundThread else { return reduce(buffer, operation, label: label) }
            if !backgroundThreadStarted {
                backgroundThreadStarted = true
                let (queue, communicator) = (queue, UncheckedReference(self))
                let thread = Thread {
                    while true {
                        let job = queue.next()
                        communicator.value.reduce(job.buffer, job.operation, label: job.label)
                        queue.finished()
                    }
                }
                thread.name = "MPI collectives"
                thread.start()
            }
            queue.add(job)
        }
    }

    /// Advances the started non-blocking all-reduces (one `MPI_Test` drives Open MPI's
    /// progress engine for all of them) and finishes those done, in start order.
    public func progressBackgroundCollectives() {
        while firstUnfinishedRequest < requests.count {
            var done: Int32 = 0
            let job = requestJobs[firstUnfinishedRequest]
            check(MPI_Test(&requests[firstUnfinishedRequest], &done, nnmpi_status_ignore()), job.label)
            guard done != 0 else { return }
            finish(job)
            firstUnfinishedRequest += 1
        }
    }

    /// Returns once every all-reduce started by `startAllReduce` has finished.
    public func waitForBackgroundCollectives() {
        while firstUnfinishedRequest < requests.count {
            let job = requestJobs[firstUnfinishedRequest]
            watched(job.label) {
                check(MPI_Wait(&requests[firstUnfinishedRequest], nnmpi_status_ignore()), job.label)
            }
            finish(job)
            firstUnfinishedRequest += 1
        }
        if !requests.isEmpty {
            // Kept capacity: no allocation per step.
            requests.removeAll(keepingCapacity: true)
            requestJobs.removeAll(keepingCapacity: true)
            firstUnfinishedRequest = 0
        }
        if backgroundThreadStarted { queue.waitUntilEmpty() }
    }

    /// A non-blocking all-reduce's sum has arrived: divides it for an average.
    private func finish(_ job: BackgroundAllReduce) {
        guard job.operation == .average, let base = job.buffer.baseAddress else { return }
        let scale = 1 / Float(size)
        for i in 0..<job.buffer.count { base[i] *= scale }
    }

    /// The all-reduce itself, on whichever thread owns MPI at the moment.
    private func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        guard size > 1, let base = buffer.baseAddress else { return }
        allReduceSum(base, count: buffer.count, datatype: nnmpi_float(), label: label)
        if operation == .average {
            let scale = 1 / Float(size)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    /// Sums (or averages) `buffer` over all ranks in place.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) {
        waitForBackgroundCollectives()
        guard size > 1, let base = buffer.baseAddress else { return }
        allReduceSum(base, count: buffer.count, datatype: nnmpi_double(), label: label)
        if operation == .average {
            for i in 0..<buffer.count { base[i] /= Double(size) }
        }
    }

    /// Copies rank `root`'s `buffer` to every rank.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {
        precondition(root >= 0 && root < size, "broadcast: root \(root) out of 0..<\(size)")
        waitForBackgroundCollectives()
        guard size > 1, let base = buffer.baseAddress else { return }
        watched(label) {
            check(MPI_Bcast(base, Int32(buffer.count), nnmpi_float(), Int32(root), nnmpi_comm_world()), label)
        }
    }

    /// Waits until every rank has arrived.
    public func barrier(label: String) {
        waitForBackgroundCollectives()
        guard size > 1 else { return }
        watched(label) { check(MPI_Barrier(nnmpi_comm_world()), label) }
    }

    /// Prints `message` on standard error as this rank's and ends every rank of the job
    /// (MPI_Abort: mpirun then stops the others and exits non-zero).
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        MPI_Abort(nnmpi_comm_world(), 1)
        exit(1)  // MPI_Abort does not return; this is for the compiler.
    }

    /// Ends MPI in this process; call once every rank is done (the last collective).
    public func finalize() {
        guard !finalized else { return }
        waitForBackgroundCollectives()
        finalized = true
        MPI_Finalize()
    }

    // MARK: - Collectives under the watchdog

    /// Sums `count` elements at `base` over all ranks, in place.
    func allReduceSum(_ base: UnsafeMutableRawPointer, count: Int, datatype: MPI_Datatype, label: String) {
        precondition(count <= Int(Int32.max), "all-reduce: \(count) elements exceed MPI's Int32 count")
        watched(label) {
            check(MPI_Allreduce(nnmpi_in_place(), base, Int32(count), datatype, nnmpi_sum(), nnmpi_comm_world()), label)
        }
    }

    /// Runs the blocking collective `body` with the watchdog armed for `timeout` seconds.
    private func watched(_ label: String, _ body: () -> Void) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        running.state.withLock { $0 = (label, timeout, deadline) }
        body()
        running.state.withLock { $0 = nil }
    }

    /// A thread that wakes every 100 ms and ends this rank when a collective is past its
    /// deadline. It exits rather than calling MPI_Abort: this MPI is initialized for one
    /// calling thread, and mpirun ends the job when a rank exits non-zero anyway.
    private func startWatchdog() {
        let (rank, size, running) = (rank, size, running)
        let thread = Thread {
            while true {
                usleep(100_000)
                let now = DispatchTime.now().uptimeNanoseconds
                guard let late = running.state.withLock({ $0 }), now > late.deadline else { continue }
                FileHandle.standardError.write(Data(("error: rank \(rank) of \(size): \(late.label) waited more than "
                    + "\(late.timeout) s for the other ranks (a rank skipped it, stopped, or is stuck); aborting the job\n").utf8))
                _exit(1)
            }
        }
        thread.start()
    }

    private func check(_ code: Int32, _ label: String) {
        if code != nnmpi_success() { abort("rank \(rank) of \(size): \(label) failed with MPI error code \(code)") }
    }
}

/// A region the communicator knows of without keeping it mapped.
private struct WeakRegion {
    weak var region: SharedMemoryRegion?
}

/// The collective a rank is blocked in, shared with its watchdog thread.
private final class RunningCollective: Sendable {
    /// Its label, the timeout it was started with, and its deadline in uptime nanoseconds.
    let state = Mutex<(label: String, timeout: Double, deadline: UInt64)?>(nil)
}

/// An all-reduce started in the background.
private struct BackgroundAllReduce: @unchecked Sendable {
    /// Owned by the caller, who leaves it alone until the queue is empty.
    let buffer: UnsafeMutableBufferPointer<Float>
    let operation: ReduceOperation
    let label: String
}

/// The communicator as the background thread sees it: that thread only runs `reduce`, and
/// never while the caller's thread is inside MPI.
private struct UncheckedReference: @unchecked Sendable {
    let value: MPICommunicator
    init(_ value: MPICommunicator) { self.value = value }
}

/// The first-in, first-out queue of background all-reduces: the training thread adds, the
/// background thread takes them one at a time, and `waitUntilEmpty` waits for the last.
private final class CollectiveQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [BackgroundAllReduce] = []
    /// Queued plus running.
    private var unfinished = 0

    func add(_ job: BackgroundAllReduce) {
        condition.lock()
        jobs.append(job)
        unfinished += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for and removes the oldest job (background thread).
    func next() -> BackgroundAllReduce {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty { condition.wait() }
        return jobs.removeFirst()
    }

    /// The job taken by the last `next()` is done (background thread).
    func finished() {
        condition.lock()
        unfinished -= 1
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilEmpty() {
        condition.lock()
        while unfinished > 0 { condition.wait() }
        condition.unlock()
    }
}
