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

    /// Each row of the batch is the indexed row of the source, bit for bit, repeats and
    /// reversed order included, and nothing past the batch is written: batches on both sides
    /// of the parallel threshold (16,384 floats), 1-3 threads (the rows divided among them).
    func testGatherCopiesTheIndexedRowsAtEveryThreadCount() {
        defer { ck_set_num_threads(0) }
        let guardCount = 8
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            for (sourceRows, size, indices) in [(5, 3, [4, 0, 0, 2]), (1000, 784, Array((0..<64).map { ($0 * 379) % 1000 })),
                                                (70, 1, Array((0..<70).reversed())), (3, 16_384, [2, 1]), (4, 5, [])] {
                let source = (0..<(sourceRows * size)).map { Float($0) * 0.5 - 3 }
                var batch = [Float](repeating: 7, count: indices.count * size + guardCount)
                let rows = indices.map(Int64.init)
                ck_gather_batch(&batch, source, rows, Int64(indices.count), Int64(size))
                let expected = indices.flatMap { source[($0 * size)..<(($0 + 1) * size)] }
                let what = "ck_gather_batch of \(indices.count) rows of \(size) at \(threads) threads"
                XCTAssertEqual(Array(batch[..<(indices.count * size)]).map(\.bitPattern), expected.map(\.bitPattern), what)
                XCTAssertEqual(Array(batch[(indices.count * size)...]), [Float](repeating: 7, count: guardCount),
                               "\(what): wrote past the batch")
            }
        }
    }

    /// 1 for finite buffers, 0 as soon as one element is NaN, +infinity or -infinity,
    /// wherever it is: first, last, in the vector part, in the tail after the last 64, on
    /// either side of a thread boundary; sizes on both sides of the parallel threshold
    /// (65,536), 1-3 threads. The largest finite floats (whose products with 0 are 0) pass.
    func testAllFiniteFindsEveryNonFiniteElementAtEveryThreadCount() {
        defer { ck_set_num_threads(0) }
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            for count in [0, 1, 63, 64, 65, 65_536, 200_003] {
                var buffer = (0..<count).map { Float($0 % 7) - 3 }
                if count > 2 { buffer[1] = .greatestFiniteMagnitude; buffer[2] = -.greatestFiniteMagnitude }
                XCTAssertEqual(ck_all_finite(buffer, count), 1, "count \(count), all finite, \(threads) threads")
                let positions = Set([0, count / 2 - 1, count / 2, count / 3, count - 65, count - 1].filter { $0 >= 0 && $0 < count })
                for position in positions.sorted() {
                    for bad: Float in [.nan, .infinity, -.infinity] {
                        let kept = buffer[position]
                        buffer[position] = bad
                        XCTAssertEqual(ck_all_finite(buffer, count), 0, "count \(count), \(bad) at \(position), \(threads) threads")
                        buffer[position] = kept
                    }
                }
            }
        }
    }

    /// The index of the first buffer holding a NaN or an infinity, wherever in it (first,
    /// last element, either side of where the threads' split of all the buffers end to end
    /// falls), and the smaller index when two do; -1 when all are finite; 1-3 threads.
    func testFirstNonFiniteNamesTheFirstBadBufferAtEveryThreadCount() {
        defer { ck_set_num_threads(0) }
        let sizes = [5, 0, 70_000, 3, 100_001]
        var buffers = sizes.map { count in (0..<count).map { Float($0 % 5) - 2 } }
        func first() -> Int32 {
            let pointers = buffers.map { buffer in buffer.withUnsafeBufferPointer { $0.baseAddress } }
            // The arrays outlive the call, and nothing mutates them during it.
            return ck_first_nonfinite(pointers.map { $0.map { UnsafePointer($0) } }, sizes, Int32(sizes.count))
        }
        let total = sizes.reduce(0, +)
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            XCTAssertEqual(first(), -1, "all finite, \(threads) threads")
            for (index, count) in sizes.enumerated() where count > 0 {
                let start = sizes[..<index].reduce(0, +)
                // Where the threads' chunks of the end-to-end order begin, inside this buffer.
                let splits = (1..<Int(threads)).map { ($0 * ((total + Int(threads) - 1) / Int(threads))) - start }
                for position in Set([0, count - 1] + splits.flatMap { [$0 - 1, $0] }).filter({ $0 >= 0 && $0 < count }).sorted() {
                    buffers[index][position] = .nan
                    XCTAssertEqual(first(), Int32(index), "NaN at \(position) of buffer \(index), \(threads) threads")
                    let kept = buffers[4][0]
                    buffers[4][0] = .infinity
                    XCTAssertEqual(first(), Int32(min(index, 4)), "and an infinity in buffer 4, \(threads) threads")
                    buffers[4][0] = kept
                    buffers[index][position] = Float(position % 5) - 2
                }
            }
        }
    }
}
