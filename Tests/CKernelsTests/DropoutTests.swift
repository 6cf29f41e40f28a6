import CKernels
import NNReference
import TestSupport
import XCTest

final class DropoutTests: XCTestCase {
    func testForwardAndBackwardMatchReferenceOverSizes() {
        var rng = SeededGenerator(seed: 301)
        for count in [1, 7, 13, 1000, 100_003] {
            let x = randomFloats(count, using: &rng)
            let mask = referenceDropoutMask(count: count, p: 0.3, using: &rng)
            var y = [Float](repeating: .nan, count: count)
            ck_dropout_forward(&y, x, mask, count)
            assertClose(referenceDropoutForward(x, mask: mask), y, .float32, "ck_dropout_forward", shape: [count])

            let dy = randomFloats(count, using: &rng)
            let dx0 = randomFloats(count, using: &rng)
            var dx = dx0
            ck_dropout_backward(&dx, dy, mask, count, 1)
            let gradient = referenceDropoutBackward(dy: dy, mask: mask)
            assertClose(zip(dx0, gradient).map { $0 + $1 }, dx, .float32, "ck_dropout_backward (dx += dy * mask)",
                        shape: [count])
            var written = [Float](repeating: .nan, count: count)
            ck_dropout_backward(&written, dy, mask, count, 0)
            assertClose(gradient, written, .float32, "ck_dropout_backward (dx = dy * mask)", shape: [count])
        }
    }
}
