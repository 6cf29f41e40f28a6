import Foundation
import CKernels
import NNReference
import TestSupport
import XCTest

final class GemmTests: XCTestCase {
    func testSgemmMatchesReferenceOverShapesAndTransposes() {
        var rng = SeededGenerator(seed: 1)
        let shapes = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (13, 8, 32), (33, 17, 65), (64, 128, 27)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                        // Leading dimensions padded by 3 to check the strides are honoured.
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 3, ldc = n + 3
                        let a = randomFloats((transA ? k : m) * lda, using: &rng)
                        let b = randomFloats((transB ? n : k) * ldb, using: &rng)
                        let c0 = randomFloats(m * ldc, using: &rng)
                        var expected = c0
                        referenceGemm(c: &expected, ldc: ldc, a: a, lda: lda, transA: transA,
                                      b: b, ldb: ldb, transB: transB,
                                      m: m, n: n, k: k, alpha: alpha, beta: beta)
                        var observed = c0
                        ck_sgemm(&observed, Int32(ldc), a, Int32(lda), transA ? 1 : 0,
                                 b, Int32(ldb), transB ? 1 : 0,
                                 Int32(m), Int32(n), Int32(k), alpha, beta)
                        assertClose(expected, observed, .float32,
                                    "sgemm m\(m) n\(n) k\(k) tA\(transA) tB\(transB) a\(alpha) b\(beta)",
                                    shape: [m, ldc])
                    }
                }
            }
        }
    }

    /// One row of C (a dense layer at batch 1, as a server calls it; C = a b^T goes through
    /// ck_sgemm's own row kernel): every transpose, padded leading dimensions, beta 0 over a
    /// NaN-filled C and beta 1 over values, W2's dense shapes and odd ones (rows not a
    /// multiple of 4, k not of 16). The longest reduction (3136 products in [-1, 1]) stays
    /// within .float32 of the double reference, as above; and the row kernel's bits are the
    /// same at 1, 2 and 3 threads (each element is one thread's sum in a fixed order).
    func testOneRowGemmMatchesReferenceAndItsBitsDoNotDependOnThreads() {
        var rng = SeededGenerator(seed: 9)
        defer { ck_set_num_threads(0) }
        for (n, k) in [(128, 3136), (10, 128), (33, 65), (1, 5), (7, 20000)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (-0.5, 1)] {
                        let lda = (transA ? 1 : k) + 2, ldb = (transB ? k : n) + 3, ldc = n + 1
                        let a = randomFloats((transA ? k : 1) * lda, using: &rng)
                        let b = randomFloats((transB ? n : k) * ldb, using: &rng)
                        let c0 = beta == 0 ? [Float](repeating: .nan, count: ldc) : randomFloats(ldc, using: &rng)
                        var expected = c0.map { $0.isNaN ? 0 : $0 }
                        referenceGemm(c: &expected, ldc: ldc, a: a, lda: lda, transA: transA,
                                      b: b, ldb: ldb, transB: transB, m: 1, n: n, k: k, alpha: alpha, beta: beta)
                        var first: [Float] = []
                        for threads: Int32 in [1, 2, 3] {
                            ck_set_num_threads(threads)
                            var observed = c0
                            ck_sgemm(&observed, Int32(ldc), a, Int32(lda), transA ? 1 : 0, b, Int32(ldb), transB ? 1 : 0,
                                     1, Int32(n), Int32(k), alpha, beta)
                            let what = "one-row sgemm n\(n) k\(k) tA\(transA) tB\(transB) a\(alpha) b\(beta) threads \(threads)"
                            assertClose(Array(expected[..<n]), Array(observed[..<n]), .float32, what, shape: [1, n])
                            XCTAssertEqual(observed[n].bitPattern, c0[n].bitPattern, "\(what): wrote past n")
                            if first.isEmpty {
                                first = observed
                            } else if !transA && transB && k < 4096 {
                                XCTAssertEqual(observed.map(\.bitPattern), first.map(\.bitPattern), "\(what): bits depend on threads")
                            }
                        }
                    }
                }
            }
        }
    }

    /// A small C with a long reduction, C = a b^T, goes through ck_sgemm's own dot-product
    /// path (k divided among the threads): tile edges (m, n not multiples of 4 and 3), k not
    /// a multiple of 8, padded leading dimensions, beta 0 over a NaN-filled C, 1-3 threads.
    /// The reference sums in double; float sums over k up to 50,176 of products in [-1, 1]
    /// stay within .float32 (1e-4 absolute or relative) of it.
    func testLongReductionsIntoASmallCMatchReference() {
        var rng = SeededGenerator(seed: 2)
        let shapes = [(32, 9, 50176), (5, 7, 20011), (1, 1, 4096), (4, 3, 4103), (13, 11, 9001), (32, 32, 4096),
                      (33, 31, 5000)]
        defer { ck_set_num_threads(0) }
        for (m, n, k) in shapes {
            let lda = k + 3, ldb = k + 5, ldc = n + 2
            let a = randomFloats(m * lda, using: &rng), b = randomFloats(n * ldb, using: &rng)
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                let c0 = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : randomFloats(m * ldc, using: &rng)
                var expected = c0
                referenceGemm(c: &expected, ldc: ldc, a: a, lda: lda, transA: false, b: b, ldb: ldb, transB: true,
                              m: m, n: n, k: k, alpha: alpha, beta: beta)
                for threads in [1, 2, 3] {
                    ck_set_num_threads(Int32(threads))
                    var observed = c0
                    ck_sgemm(&observed, Int32(ldc), a, Int32(lda), 0, b, Int32(ldb), 1,
                             Int32(m), Int32(n), Int32(k), alpha, beta)
                    // Only the m x n block is compared: padding columns keep what they held.
                    let block = { (c: [Float]) in (0..<m).flatMap { i in c[(i * ldc)..<(i * ldc + n)] } }
                    assertClose(block(expected), block(observed), .float32,
                                "sgemm a b^T m\(m) n\(n) k\(k) a\(alpha) b\(beta) threads \(threads)", shape: [m, n])
                    XCTAssertEqual((0..<m).map { observed[$0 * ldc + n].bitPattern }, (0..<m).map { c0[$0 * ldc + n].bitPattern },
                                   "sgemm wrote past n: m\(m) n\(n) k\(k)")
                }
            }
        }
    }

    /// Mid-sized GEMMs (2^18 < m n k <= 2^25), which ck_sgemm divides among the kernels'
    /// threads, one single-threaded OpenBLAS call each: by columns (n >= m) and by rows, parts
    /// of 16 with a ragged last one, extents too short to divide (20 < 2 x 16), every
    /// transpose, padded leading dimensions, beta 0 over a NaN-filled C, 1-3 threads. A part
    /// offset wrong by one column or row fails the comparison, and the padding columns must
    /// keep what they held. Tolerance as above: the reference sums in double, k <= 784.
    func testDividedMidSizedGemmsMatchReference() {
        var rng = SeededGenerator(seed: 3)
        let shapes = [(64, 256, 784), (256, 784, 64), (37, 1001, 29), (1001, 37, 29), (64, 33, 200), (20, 20, 1000)]
        defer { ck_set_num_threads(0) }
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                    let a = randomFloats((transA ? k : m) * lda, using: &rng)
                    let b = randomFloats((transB ? n : k) * ldb, using: &rng)
                    for (alpha, beta) in [(Float(1), Float(0)), (-0.5, 1)] {
                        let c0 = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : randomFloats(m * ldc, using: &rng)
                        var expected = c0
                        referenceGemm(c: &expected, ldc: ldc, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                      m: m, n: n, k: k, alpha: alpha, beta: beta)
                        for threads: Int32 in [1, 2, 3] {
                            ck_set_num_threads(threads)
                            var observed = c0
                            ck_sgemm(&observed, Int32(ldc), a, Int32(lda), transA ? 1 : 0, b, Int32(ldb), transB ? 1 : 0,
                                     Int32(m), Int32(n), Int32(k), alpha, beta)
                            let block = { (c: [Float]) in (0..<m).flatMap { i in c[(i * ldc)..<(i * ldc + n)] } }
                            let what = "sgemm m\(m) n\(n) k\(k) tA\(transA) tB\(transB) a\(alpha) b\(beta) threads \(threads)"
                            assertClose(block(expected), block(observed), .float32, what, shape: [m, n])
                            XCTAssertEqual((0..<m).map { observed[$0 * ldc + n].bitPattern },
                                           (0..<m).map { c0[$0 * ldc + n].bitPattern }, "\(what): wrote past n")
                        }
                    }
                }
            }
        }
    }

    /// Divided GEMMs from several OS threads at once (a model served from many threads): the
    /// count of active divisions keeps OpenBLAS at one thread until the last ends, and every
    /// caller's result is right; afterwards a divided and an undivided GEMM still are.
    func testDividedGemmsFromConcurrentCallersMatchReference() {
        var rng = SeededGenerator(seed: 4)
        let (m, n, k) = (64, 256, 784)
        let a = randomFloats(m * k, using: &rng), b = randomFloats(k * n, using: &rng)
        var expected = [Float](repeating: 0, count: m * n)
        referenceGemm(c: &expected, ldc: n, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                      m: m, n: n, k: k, alpha: 1, beta: 0)
        ck_set_num_threads(2)
        defer { ck_set_num_threads(0) }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [[Float]] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var c = [Float](repeating: .nan, count: m * n)
            for _ in 0..<20 { ck_sgemm(&c, Int32(n), a, Int32(k), 0, b, Int32(n), 0, Int32(m), Int32(n), Int32(k), 1, 0) }
            results.lock.lock()
            results.all.append(c)
            results.lock.unlock()
        }
        XCTAssertEqual(results.all.count, 8)
        for c in results.all { assertClose(expected, c, .float32, "concurrent divided sgemm", shape: [m, n]) }
        var c = [Float](repeating: .nan, count: m * n)
        ck_sgemm(&c, Int32(n), a, Int32(k), 0, b, Int32(n), 0, Int32(m), Int32(n), Int32(k), 1, 0)
        assertClose(expected, c, .float32, "divided sgemm after the concurrent ones", shape: [m, n])
        // 512 x 512 x 512 is above the division's limit: OpenBLAS's own pool, restored to 2 threads.
        let big = 512
        let x = randomFloats(big * big, using: &rng), y = randomFloats(big * big, using: &rng)
        var bigExpected = [Float](repeating: 0, count: big * big), bigObserved = bigExpected
        referenceGemm(c: &bigExpected, ldc: big, a: x, lda: big, transA: false, b: y, ldb: big, transB: false,
                      m: big, n: big, k: big, alpha: 1, beta: 0)
        ck_sgemm(&bigObserved, Int32(big), x, Int32(big), 0, y, Int32(big), 0, Int32(big), Int32(big), Int32(big), 1, 0)
        assertClose(bigExpected, bigObserved, .float32, "undivided sgemm after the divided ones", shape: [big, big])
    }
}
