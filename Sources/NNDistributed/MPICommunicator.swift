import CMPI
import Foundation
import NN

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
/// Every collective is started non-blocking and then polled with `MPI_Test` until it ends
/// or `timeout` seconds pass: polling is what makes Open MPI progress (it has no progress
/// thread here), and the deadline turns a rank that never joins into an abort that names
/// the collective instead of a hang. Call from one thread at a time.
public final class MPICommunicator: Communicator {
    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// The number of processes in MPI_COMM_WORLD.
    public let size: Int
    /// Seconds a collective may wait for the other ranks before the job is aborted.
    public var timeout: Double
    private var finalized = false

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
        if let message = LauncherCheck.mismatch(size: self.size, environment: ProcessInfo.processInfo.environment) {
            MPI_Finalize()
            finalized = true
            throw DistributedError.wrongLauncher(message)
        }
    }

    /// Whether this process was started by an MPI launcher at all (so a plain `nn train`
    /// need not initialize MPI).
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { environment[$0] != nil }
    }

    /// Sums (or averages) `buffer` over all ranks in place.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        guard size > 1, let base = buffer.baseAddress else { return }
        let request = startAllReduce(base, count: buffer.count, datatype: nnmpi_float())
        wait(request, label: label)
        if operation == .average {
            let scale = 1 / Float(size)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    /// Sums (or averages) `buffer` over all ranks in place.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) {
        guard size > 1, let base = buffer.baseAddress else { return }
        let request = startAllReduce(base, count: buffer.count, datatype: nnmpi_double())
        wait(request, label: label)
        if operation == .average {
            for i in 0..<buffer.count { base[i] /= Double(size) }
        }
    }

    /// Copies rank `root`'s `buffer` to every rank.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {
        precondition(root >= 0 && root < size, "broadcast: root \(root) out of 0..<\(size)")
        guard size > 1, let base = buffer.baseAddress else { return }
        var request: MPI_Request? = nnmpi_request_null()
        check(MPI_Ibcast(base, Int32(buffer.count), nnmpi_float(), Int32(root), nnmpi_comm_world(), &request), label)
        wait(request, label: label)
    }

    /// Waits until every rank has arrived.
    public func barrier(label: String) {
        guard size > 1 else { return }
        var request: MPI_Request? = nnmpi_request_null()
        check(MPI_Ibarrier(nnmpi_comm_world(), &request), label)
        wait(request, label: label)
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
        finalized = true
        MPI_Finalize()
    }

    // MARK: - Non-blocking steps

    /// Starts an in-place sum of `count` elements at `base` over all ranks.
    func startAllReduce(_ base: UnsafeMutableRawPointer, count: Int, datatype: MPI_Datatype) -> MPI_Request? {
        precondition(count <= Int(Int32.max), "all-reduce: \(count) elements exceed MPI's Int32 count")
        var request: MPI_Request? = nnmpi_request_null()
        check(MPI_Iallreduce(nnmpi_in_place(), base, Int32(count), datatype, nnmpi_sum(), nnmpi_comm_world(), &request),
              "all-reduce")
        return request
    }

    /// Whether `request` has completed (one call into MPI, which also makes progress).
    func test(_ request: inout MPI_Request?) -> Bool {
        var done: Int32 = 0
        MPI_Test(&request, &done, nnmpi_status_ignore())
        return done != 0
    }

    /// Polls `request` until it completes, or aborts the job after `timeout` seconds.
    func wait(_ request: MPI_Request?, label: String) {
        var request = request
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        var polls = 0
        while !test(&request) {
            polls += 1
            // Yield now and then: with more ranks than cores the peer needs this core.
            if polls % 64 == 0 {
                sched_yield()
                if DispatchTime.now().uptimeNanoseconds > deadline {
                    abort("rank \(rank) of \(size): \(label) waited more than \(timeout) s for the other ranks "
                          + "(a rank skipped it, stopped, or is stuck); aborting the job")
                }
            }
        }
    }

    private func check(_ code: Int32, _ label: String) {
        if code != nnmpi_success() { abort("rank \(rank) of \(size): \(label) failed with MPI error code \(code)") }
    }
}
