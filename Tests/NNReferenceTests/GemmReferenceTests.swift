import NNReference
import XCTest

final class GemmReferenceTests: XCTestCase {
    /// A product worked by hand, so the oracle itself is pinned to known numbers.
    func testTwoByTwoByHand() {
        var c: [Float] = [1, 1, 1, 1]
        referenceGemm(c: &c, ldc: 2, a: [1, 2, 3, 4], lda: 2, transA: false,
                      b: [5, 6, 7, 8], ldb: 2, transB: false,
                      m: 2, n: 2, k: 2, alpha: 1, beta: 1)
        XCTAssertEqual(c, [20, 23, 44, 51])
        var ct: [Float] = [0, 0, 0, 0]
        referenceGemm(c: &ct, ldc: 2, a: [1, 2, 3, 4], lda: 2, transA: true,
                      b: [5, 6, 7, 8], ldb: 2, transB: true,
                      m: 2, n: 2, k: 2, alpha: 2, beta: 0)
        // a^T = [[1,3],[2,4]], b^T = [[5,7],[6,8]]: product [[23,31],[34,46]].
        XCTAssertEqual(ct, [46, 62, 68, 92])
    }
}
