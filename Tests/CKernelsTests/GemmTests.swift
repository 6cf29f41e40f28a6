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
}
