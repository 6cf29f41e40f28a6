import CKernels
import Foundation
import NNReference
import TestSupport
import XCTest

/// `ck_set_num_threads`: one call for both pools; `ck_configure_thread_waiting`: the pools'
/// waiting configured once; and one OpenMP runtime in the process. (That loading the library
/// configures nothing is checked in a fresh process: NNTests.ThreadsTests.)
final class ThreadsTests: XCTestCase {
    override func tearDown() {
        ck_set_num_threads(0)
    }

    func testOneCallSetsTheCountAndZeroMeansTheDefault() {
        ck_set_num_threads(1)
        XCTAssertEqual(ck_get_num_threads(), 1)
        ck_set_num_threads(0)
        XCTAssertEqual(ck_get_num_threads(), ck_default_threads())
        ck_set_num_threads(-3)
        XCTAssertEqual(ck_get_num_threads(), ck_default_threads())
        // The default is the user's OMP_NUM_THREADS, else the CPUs this process may use.
        if let omp = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"], let n = Int32(omp), n > 0 {
            XCTAssertEqual(ck_default_threads(), n)
        } else {
            XCTAssertEqual(ck_default_threads(), ck_available_cpus())
        }
    }

    /// The affinity mask bounds the available CPUs (the cgroup quota may lower it further).
    func testAvailableCPUsFollowTheAffinityMask() throws {
        // The kernel's own account of the mask: "Cpus_allowed:\tff,ffffffff" (hex words).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed:") })
        let hex = line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
        let inMask = hex.reduce(0) { $0 + Int(String($1), radix: 16)!.nonzeroBitCount }
        XCTAssertGreaterThanOrEqual(ck_available_cpus(), 1)
        XCTAssertLessThanOrEqual(Int(ck_available_cpus()), inMask)
    }

    /// OpenBLAS's workers must sleep right after a GEMM (see ck_threads.c): the timeout is in
    /// the environment OpenBLAS re-read, a second call changes nothing, and the restarted pool
    /// computes correct products at every thread count, switching back and forth.
    func testOpenBLASPoolRestartsWithShortSpinAndStaysCorrect() {
        let userTimeout = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"]
        ck_configure_thread_waiting()
        let timeout = getenv("OPENBLAS_THREAD_TIMEOUT").map { String(cString: $0) }
        XCTAssertNotNil(timeout, "the OpenBLAS spin timeout was not configured")
        if userTimeout == nil { XCTAssertEqual(timeout, "4") }
        ck_configure_thread_waiting()
        XCTAssertEqual(getenv("OPENBLAS_THREAD_TIMEOUT").map { String(cString: $0) }, timeout,
                       "a second call changed the configuration")
        var rng = SeededGenerator(seed: 3)
        let (m, n, k) = (192, 160, 96)  // large enough for OpenBLAS to use its threads
        let a = randomFloats(m * k, using: &rng), b = randomFloats(k * n, using: &rng)
        var expected = [Float](repeating: 0, count: m * n)
        referenceGemm(c: &expected, ldc: n, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                      m: m, n: n, k: k, alpha: 1, beta: 0)
        for threads in [2, 1, 2, 0, 1] {
            ck_set_num_threads(Int32(threads))
            var observed = [Float](repeating: .nan, count: m * n)
            ck_sgemm(&observed, Int32(n), a, Int32(k), 0, b, Int32(n), 0, Int32(m), Int32(n), Int32(k), 1, 0)
            assertClose(expected, observed, .float32, "sgemm \(m)x\(n)x\(k) at \(threads) threads", shape: [m, n])
        }
    }

    func testExactlyOneOpenMPRuntimeIsLoaded() throws {
        // procfs reports size 0: read until end of file rather than a size-sized buffer.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let libraries = Set(maps.split(separator: "\n").compactMap { $0.split(separator: "/").last.map(String.init) })
        XCTAssertTrue(libraries.contains { $0.hasPrefix("libomp.so") }, "libomp is not loaded")
        XCTAssertFalse(libraries.contains { $0.hasPrefix("libgomp") }, "libgomp is loaded beside libomp")
        XCTAssertFalse(libraries.contains { $0.hasPrefix("libiomp") }, "libiomp is loaded beside libomp")
    }
}
