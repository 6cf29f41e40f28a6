import NN
import XCTest

final class ThreadsTests: XCTestCase {
    func testSettingThreadsIsObserved() {
        Threads.set(1)
        XCTAssertEqual(Threads.count, 1)
        Threads.set(nil)
        XCTAssertGreaterThanOrEqual(Threads.count, 1)
    }
}
