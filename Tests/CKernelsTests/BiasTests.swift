import CKernels
import NNReference
import TestSupport
import XCTest

final class BiasTests: XCTestCase {
    func testForwardAndBackwardMatchReferenceOverShapes() {
        var rng = SeededGenerator(seed: 401)
        var shapes: [(Int, Int, Int)] = []
        for n in [1, 7] { for c in [1, 3, 13, 32] { for s in [1, 5, 49] { shapes.append((n, c, s)) } } }
        shapes.append((64, 32, 49))  // 100_352 elements: past the OpenMP threshold.
        shapes.append((64, 256, 1))  // W1's first bias: the row-sum path at its size.
        for (n, c, s) in shapes {
            let count = n * c * s
            let bias = randomFloats(c, using: &rng)
            // The forward adds in place, so y starts non-zero.
            let y0 = randomFloats(count, using: &rng)
            var y = y0
            ck_bias_add_forward(&y, bias, Int32(n), Int32(c), Int32(s))
            assertClose(referenceBiasAddForward(y0, bias: bias, n: n, c: c, s: s), y, .float32,
                        "ck_bias_add_forward", shape: [n, c, s])

            let dy = randomFloats(count, using: &rng)
            let dbias0 = randomFloats(c, using: &rng)
            var dbias = dbias0
            ck_bias_add_backward(&dbias, dy, Int32(n), Int32(c), Int32(s))
            let gradient = referenceBiasAddBackward(dy: dy, n: n, c: c, s: s)
            assertClose(zip(dbias0, gradient).map { $0 + $1 }, dbias, .float32,
                        "ck_bias_add_backward (n \(n), s \(s))", shape: [c])
        }
    }
}
