import CKernels
import CMPI
import Foundation

/// Memory that every rank of a one-node job maps: a POSIX shared-memory object that rank 0
/// creates, the others open, and rank 0 unlinks once all have mapped it (so nothing is left
/// in /dev/shm, whatever happens later). It holds one barrier flag per rank, then each
/// rank's copy of `count` floats, page-aligned. An all-reduce of part of the copies sums
/// them directly: each rank sums its slice of every copy and writes the result into all of
/// them, between two barriers. Unmapped when the last user lets go of it.
final class SharedMemoryRegion {
    let rank: Int
    let size: Int
    /// Floats in each rank's copy.
    let count: Int
    private let base: UnsafeMutableRawPointer
    private let bytes: Int
    /// Each rank's copy, indexed by rank.
    private let copies: [UnsafeMutablePointer<Float>]
    /// The barriers this rank has passed: every rank passes the same ones in order.
    private var generation = 0
    /// The slices' pointers handed to the kernel, kept so an all-reduce allocates nothing.
    private var slices: [UnsafeMutablePointer<Float>?]

    /// This rank's copy.
    var floats: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: copies[rank], count: count) }

    /// Maps a region of `count` floats per rank; collective over `communicator` (whose ranks
    /// must all be on this node). Nil on every rank when any rank could not map it (the
    /// reason printed by that rank).
    static func make(count: Int, communicator: MPICommunicator) -> SharedMemoryRegion? {
        let (rank, size) = (communicator.rank, communicator.size)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let header = (size * Int(NNMPI_FLAG_STRIDE) + page - 1) / page * page
        let stride = (max(count, 1) * MemoryLayout<Float>.size + page - 1) / page * page
        let bytes = header + size * stride
        // Rank 0's process id and count of regions name the object; the others learn them
        // from the all-reduce that also counts rank 0's failure.
        var created: Int32 = -1
        var status = [0.0, 0.0, 0.0]  // rank 0's pid and serial, failures
        if rank == 0 {
            SharedMemoryRegion.serial += 1
            status[0] = Double(getpid())
            status[1] = Double(SharedMemoryRegion.serial)
            created = shm_open(name(pid: getpid(), serial: SharedMemoryRegion.serial), O_CREAT | O_EXCL | O_RDWR, 0o600)
            if created < 0 || ftruncate(created, off_t(bytes)) != 0 {
                warn("cannot create shared memory for the gradients: \(String(cString: strerror(errno)))")
                status[2] = 1
            }
        }
        communicator.allReduce(&status, .sum, label: "creating shared memory for the gradients")
        let objectName = name(pid: pid_t(status[0]), serial: Int(status[1]))
        guard status[2] == 0 else {
            if created >= 0 { close(created); shm_unlink(objectName) }
            return nil
        }
        let descriptor = rank == 0 ? created : shm_open(objectName, O_RDWR, 0)
        var mapped: UnsafeMutableRawPointer? = nil
        var problem = descriptor < 0 ? errno : 0
        if descriptor >= 0 {
            // The pages of this rank's copy (rank 0's with the flags), taken now: a tmpfs
            // fuller than the size (a container's 64 MB /dev/shm) says ENOSPC here rather than
            // SIGBUS at the first write past it. Taken by the rank that writes them, so on a
            // machine with several memory nodes they are on that rank's.
            let (start, length) = rank == 0 ? (0, header + stride) : (header + rank * stride, stride)
            problem = posix_fallocate(descriptor, off_t(start), off_t(length))
            if problem == 0 {
                let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
                if address != MAP_FAILED { mapped = address } else { problem = errno }
            }
            close(descriptor)
        }
        if mapped == nil {
            warn("cannot map \(bytes) bytes of shared memory for the gradients (\(objectName)): \(String(cString: strerror(problem)))")
        }
        var failures = [mapped == nil ? 1.0 : 0.0]
        communicator.allReduce(&failures, .sum, label: "mapping shared memory for the gradients")
        // Every rank has it mapped (or has given up): the name is no longer needed.
        if rank == 0 { shm_unlink(objectName) }
        guard failures[0] == 0, let mapped else {
            if let mapped { munmap(mapped, bytes) }
            return nil
        }
        return SharedMemoryRegion(rank: rank, size: size, count: count, base: mapped, bytes: bytes,
                                  copies: (0..<size).map { (mapped + header + $0 * stride).assumingMemoryBound(to: Float.self) })
    }

    /// Regions rank 0's process has made so far: with its pid, a name no other job on the node uses.
    nonisolated(unsafe) private static var serial = 0

    private static func name(pid: pid_t, serial: Int) -> String { "/swift-nn-\(pid)-\(serial)" }

    private static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message); all-reducing through MPI instead\n".utf8))
    }

    private init(rank: Int, size: Int, count: Int, base: UnsafeMutableRawPointer, bytes: Int,
                 copies: [UnsafeMutablePointer<Float>]) {
        (self.rank, self.size, self.count, self.base, self.bytes, self.copies) = (rank, size, count, base, bytes, copies)
        slices = [UnsafeMutablePointer<Float>?](repeating: nil, count: size)
    }

    deinit { munmap(base, bytes) }

    /// Where `buffer` starts in this rank's copy, if it lies wholly inside it.
    func offset(of buffer: UnsafeMutableBufferPointer<Float>) -> Int? {
        guard let start = buffer.baseAddress, start >= copies[rank], start + buffer.count <= copies[rank] + count else { return nil }
        return start - copies[rank]
    }

    /// Elements offset..<offset + length of every rank's copy become their sum over the
    /// ranks (in rank order) times `scale`: every rank calls it with the same range, between
    /// the same collectives. The first barrier waits for every rank's values; this rank then
    /// reduces its slice (16-float multiples, so no two ranks write one cache line) into every
    /// copy; the second waits for every slice.
    func allReduce(offset: Int, length: Int, scale: Float) {
        let flags = base
        generation += 1
        nnmpi_shared_barrier(flags, Int32(size), Int32(rank), generation)
        let perRank = ((length + size - 1) / size + 15) / 16 * 16
        let begin = min(length, rank * perRank), end = min(length, begin + perRank)
        if end > begin {
            for k in 0..<size { slices[k] = copies[k] + offset + begin }
            ck_sum_to_all(slices, Int32(size), end - begin, scale)
        }
        generation += 1
        nnmpi_shared_barrier(flags, Int32(size), Int32(rank), generation)
    }
}
