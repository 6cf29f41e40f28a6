import CKernels
import NNReference
import TestSupport
import XCTest

final class ReduceTests: XCTestCase {
    /// Every copy ends with the reference's sum-then-scale, bit for bit (the order of the sum
    /// is the kernel's contract: it is what makes all ranks' weights identical), and nothing
    /// past the count is written: 1-4 copies (2 has a loop of its own), sizes on both sides
    /// of the parallel threshold (65,536), odd sizes, scales 1, 1/2 and 1/3, 1-3 threads.
    func testSumToAllMatchesTheReferenceInEveryCopyAtEveryThreadCount() {
        defer { ck_set_num_threads(0) }
        let guardCount = 16
        var generator = SeededGenerator(seed: 41)
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            for n in 1...4 {
                for count in [0, 1, 7, 65_535, 65_536, 200_003] {
                    for scale: Float in [1, 0.5, 1.0 / 3] {
                        let copies = (0..<n).map { _ in randomFloats(count, in: -4...4, using: &generator) }
                        let expected = referenceSumToAll(copies, scale: scale)
                        let buffers = copies.map { copy in
                            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count + guardCount)
                            _ = buffer.initialize(from: copy + [Float](repeating: 7, count: guardCount))
                            return buffer
                        }
                        defer { buffers.forEach { $0.deallocate() } }
                        let pointers: [UnsafeMutablePointer<Float>?] = buffers.map(\.baseAddress)
                        ck_sum_to_all(pointers, Int32(n), count, scale)
                        let what = "ck_sum_to_all of \(n) copies of \(count) times \(scale) at \(threads) threads"
                        for (k, buffer) in buffers.enumerated() {
                            XCTAssertTrue(buffer[..<count].map(\.bitPattern) == expected.map(\.bitPattern),
                                          "\(what): copy \(k) differs from the reference")
                            XCTAssertEqual(Array(buffer[count...]), [Float](repeating: 7, count: guardCount),
                                           "\(what): copy \(k) written past the count")
                        }
                    }
                }
            }
        }
    }
}
