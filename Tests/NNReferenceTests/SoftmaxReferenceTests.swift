import Foundation
import NNReference
import TestSupport
import XCTest

final class SoftmaxReferenceTests: XCTestCase {
    func testValuesByHand() {
        // e^0 : e^(ln 2) = 1 : 2.
        let x: [Float] = [0, Float(log(2.0))]
        assertClose([1.0 / 3, 2.0 / 3], referenceSoftmaxForward(x, rows: 1, cols: 2),
                    Tolerance(atol: 0, rtol: 1e-6), "softmax [0, ln 2]")
        assertClose([Float(log(1.0 / 3)), Float(log(2.0 / 3))], referenceLogSoftmaxForward(x, rows: 1, cols: 2),
                    Tolerance(atol: 0, rtol: 1e-6), "log-softmax [0, ln 2]")
        // Equal logits: every class has probability 1/cols, so the loss is ln(cols).
        let (loss, probs) = referenceSoftmaxCrossEntropyForward(logits: [Float](repeating: 7, count: 8),
                                                                labels: [3, 1], rows: 2, cols: 4)
        XCTAssertEqual(loss, Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(probs, [Float](repeating: 0.25, count: 8))
        XCTAssertEqual(referenceSoftmaxCrossEntropyBackward(probs: probs, labels: [3, 1], rows: 2, cols: 4, scale: 2),
                       [0.5, 0.5, 0.5, -1.5, 0.5, -1.5, 0.5, 0.5])
    }

    /// Logits of 1e4 overflow e^x even in Double; the loss must still be finite and exact.
    func testLargeLogitsGiveFiniteLoss() {
        let logits: [Float] = [1e4, 0, -1e4, 1e4, 0, -1e4]
        let (loss, probs) = referenceSoftmaxCrossEntropyForward(logits: logits, labels: [2, 0], rows: 2, cols: 3)
        // Row 0: -log softmax_2 = 2e4; row 1: the label is the winner, loss e^-1e4 ~ 0.
        XCTAssertEqual(loss, 1e4, accuracy: 1e-2)
        XCTAssertEqual(probs, [1, 0, 0, 1, 0, 0])
        XCTAssertTrue(referenceLogSoftmaxForward(logits, rows: 2, cols: 3).allSatisfy(\.isFinite))
    }

    func testBackwardsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 21)
        for (rows, cols) in [(1, 1), (1, 4), (3, 5)] {
            let x = randomFloats(rows * cols, in: -2...2, using: &rng)
            let r = randomFloats(rows * cols, using: &rng)

            let y = referenceSoftmaxForward(x, rows: rows, cols: cols)
            let numericSoftmax = FiniteDifferences.gradient(at: x) {
                FiniteDifferences.dot(referenceSoftmaxForward($0, rows: rows, cols: cols), r)
            }
            assertClose(numericSoftmax, referenceSoftmaxBackward(dy: r, y: y, rows: rows, cols: cols),
                        .finiteDifference, "reference softmax backward vs finite differences", shape: [rows, cols])

            let logY = referenceLogSoftmaxForward(x, rows: rows, cols: cols)
            let numericLog = FiniteDifferences.gradient(at: x) {
                FiniteDifferences.dot(referenceLogSoftmaxForward($0, rows: rows, cols: cols), r)
            }
            assertClose(numericLog, referenceLogSoftmaxBackward(dy: r, y: logY, rows: rows, cols: cols),
                        .finiteDifference, "reference log-softmax backward vs finite differences",
                        shape: [rows, cols])

            let labels = (0..<rows).map { _ in Int.random(in: 0..<cols, using: &rng) }
            let probs = referenceSoftmaxCrossEntropyForward(logits: x, labels: labels, rows: rows, cols: cols).probs
            let numericCE = FiniteDifferences.gradient(at: x) {
                Double(referenceSoftmaxCrossEntropyForward(logits: $0, labels: labels, rows: rows, cols: cols).loss)
            }
            // The mean loss: dloss/dlogits = (probs - onehot) / rows.
            let analyticCE = referenceSoftmaxCrossEntropyBackward(probs: probs, labels: labels, rows: rows, cols: cols,
                                                                  scale: 1 / Float(rows))
            assertClose(numericCE, analyticCE, .finiteDifference,
                        "reference softmax cross-entropy backward vs finite differences", shape: [rows, cols])
        }
    }
}
