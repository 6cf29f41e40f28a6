import CKernels
import XCTest

final class FillTests: XCTestCase {
    /// Every element up to `count` takes the value, bit for bit, and nothing past it is
    /// written: sizes on both sides of the parallel threshold (65,536), odd sizes, and
    /// 1-3 threads (each thread's part ends where the next one's begins).
    func testFillsExactlyTheCountAtEveryThreadCount() {
        defer { ck_set_num_threads(0) }
        let guardCount = 16
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            for count in [0, 1, 7, 65_535, 65_536, 65_537, 1_000_003] {
                for value: Float in [0, -2.5, .infinity] {
                    var buffer = [Float](repeating: 7, count: count + guardCount)
                    ck_fill(&buffer, value, count)
                    let what = "ck_fill(\(value), \(count)) at \(threads) threads"
                    XCTAssertTrue(buffer[..<count].allSatisfy { $0.bitPattern == value.bitPattern },
                                  "\(what): an element differs")
                    XCTAssertEqual(Array(buffer[count...]), [Float](repeating: 7, count: guardCount),
                                   "\(what): wrote past the count")
                }
            }
        }
    }
}
