import Foundation
import NN
import XCTest

final class ThreadsTests: XCTestCase {
    func testSettingThreadsIsObserved() {
        Threads.set(1)
        XCTAssertEqual(Threads.count, 1)
        Threads.set(nil)
        XCTAssertGreaterThanOrEqual(Threads.count, 1)
    }

    /// Loading the library changes nothing in the process until the first `Threads.set`.
    /// Any earlier test in this process may have called it, so the check runs in a fresh one:
    /// this test binary again, running only `testFreshProcessConfiguresNothingBeforeSet`,
    /// with neither variable inherited.
    func testLoadingTheLibraryConfiguresNothingUntilThreadsSet() throws {
        let test = "NNTests.ThreadsTests/testFreshProcessConfiguresNothingBeforeSet"
        let run = try runTestInChildProcess(test, environment: [
            "OPENBLAS_THREAD_TIMEOUT": nil, "KMP_BLOCKTIME": nil, Self.freshProcessVariable: "1",
        ])
        let (executable, text) = (run.executable, run.output)
        XCTAssertEqual(run.status, 0, "\(executable) \(test) failed:\n\(text)")
        XCTAssertTrue(text.contains("Executed 1 test, with 0 failures"), "\(executable) \(test) ran no test:\n\(text)")
    }

    static let freshProcessVariable = "NN_THREADS_FRESH_PROCESS_TEST"

    /// The fresh process's half of the test above; skipped in the ordinary run.
    func testFreshProcessConfiguresNothingBeforeSet() throws {
        guard ProcessInfo.processInfo.environment[Self.freshProcessVariable] != nil else {
            throw XCTSkip("runs only in the fresh process of testLoadingTheLibraryConfiguresNothingUntilThreadsSet")
        }
        func timeout() -> String? { getenv("OPENBLAS_THREAD_TIMEOUT").map { String(cString: $0) } }
        XCTAssertNil(timeout(), "OPENBLAS_THREAD_TIMEOUT was set before Threads.set")
        XCTAssertGreaterThanOrEqual(Threads.count, 1)
        XCTAssertNil(timeout(), "reading Threads.count set OPENBLAS_THREAD_TIMEOUT")
        Threads.set(1)
        XCTAssertEqual(timeout(), "4", "Threads.set did not configure OpenBLAS's waiting")
        XCTAssertEqual(Threads.count, 1)
    }
}
