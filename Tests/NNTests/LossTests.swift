import Foundation
import NN
import NNReference
import TestSupport
import XCTest

/// Every loss, with both reductions: values against formulas evaluated here in Double
/// (Tolerance.float32) and central-difference gradients (Tolerance.finiteDifference, h = 1e-2).
final class LossTests: XCTestCase {
    let logits = randomTensor([4, 5], in: -2...2, seed: 21)
    let labels = [3, 0, 4, 1]

    func testCrossEntropyWithLabels() {
        let perRow = referenceSoftmaxCrossEntropyForward(logits: logits.scalars, labels: labels, rows: 4, cols: 5).loss
        let loss = crossEntropy(logits: logits, labels: labels)
        assertClose(perRow, loss.scalar, .float32, "crossEntropy mean")
        assertClose(perRow * 4, crossEntropy(logits: logits, labels: labels, reduction: .sum).scalar, .float32,
                    "crossEntropy sum")
        XCTAssertEqual(crossEntropy(logits: logits, labels: labels.map { Int32($0) }), loss, "Int32 labels")
        for reduction in [Reduction.mean, .sum] {
            checkGradients("crossEntropy labels \(reduction)", inputs: [logits]) {
                crossEntropy(logits: $0[0], labels: self.labels, reduction: reduction)
            }
        }
    }

    func testCrossEntropyWithOneHotAndSoftTargets() {
        var oneHot = [Float](repeating: 0, count: 20)
        for (i, label) in labels.enumerated() { oneHot[i * 5 + label] = 1 }
        let targets = Tensor(oneHot, shape: [4, 5])
        assertClose(crossEntropy(logits: logits, labels: labels).scalar,
                    crossEntropy(logits: logits, oneHot: targets).scalar, .float32, "one-hot = labels (mean)")
        assertClose(crossEntropy(logits: logits, labels: labels, reduction: .sum).scalar,
                    crossEntropy(logits: logits, oneHot: targets, reduction: .sum).scalar, .float32,
                    "one-hot = labels (sum)")
        // Soft targets (rows summing to 1): -sum t log softmax(x).
        let soft = softmax(randomTensor([4, 5], seed: 22))
        let logP = referenceLogSoftmaxForward(logits.scalars, rows: 4, cols: 5)
        let expected = -zip(logP, soft.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        assertClose(Float(expected / 4), crossEntropy(logits: logits, oneHot: soft).scalar, .float32, "soft targets")
        for reduction in [Reduction.mean, .sum] {
            for (name, t) in [("one-hot", targets), ("soft", soft)] {
                checkGradients("crossEntropy \(name) \(reduction)", inputs: [logits]) {
                    crossEntropy(logits: $0[0], oneHot: t, reduction: reduction)
                }
            }
        }
    }

    func testNegativeLogLikelihood() {
        let logP = logSoftmax(logits)
        let int32Labels = labels.map { Int32($0) }
        let expected = -labels.enumerated().reduce(0.0) { $0 + Double(logP[$1.offset, $1.element]) }
        assertClose(Float(expected / 4), negativeLogLikelihood(logProbabilities: logP, labels: int32Labels).scalar,
                    .float32, "nll mean")
        assertClose(Float(expected),
                    negativeLogLikelihood(logProbabilities: logP, labels: int32Labels, reduction: .sum).scalar,
                    .float32, "nll sum")
        // logSoftmax + NLL is cross-entropy.
        assertClose(crossEntropy(logits: logits, labels: labels).scalar,
                    negativeLogLikelihood(logProbabilities: logP, labels: int32Labels).scalar, .float32, "nll o logSoftmax")
        for reduction in [Reduction.mean, .sum] {
            checkGradients("nll \(reduction)", inputs: [logits]) {
                negativeLogLikelihood(logProbabilities: $0[0], labels: int32Labels, reduction: reduction)
            }
            checkGradients("nll o logSoftmax \(reduction)", inputs: [logits]) {
                negativeLogLikelihood(logProbabilities: logSoftmax($0[0]), labels: int32Labels, reduction: reduction)
            }
        }
    }

    func testMeanSquaredError() {
        let p = randomTensor([3, 4], seed: 23), t = randomTensor([3, 4], seed: 24)
        let sum = zip(p.scalars, t.scalars).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        assertClose(Float(sum / 12), meanSquaredError(p, t).scalar, .float32, "mse mean")
        assertClose(Float(sum), meanSquaredError(p, t, reduction: .sum).scalar, .float32, "mse sum")
        for reduction in [Reduction.mean, .sum] {
            checkGradients("mse \(reduction)", inputs: [p]) { meanSquaredError($0[0], t, reduction: reduction) }
        }
    }

    /// Probabilities in (0.05, 0.95): the log terms and their derivatives 1/p, 1/(1-p) stay
    /// O(20), so h = 1e-2 keeps the central difference's truncation error
    /// h^2 f'''/6 ~ 1e-4 * 1/p^3 below the tolerance (p - h >= 0.04 stays inside (0, 1)).
    func testBinaryCrossEntropyOnProbabilities() {
        let p = randomTensor([3, 4], in: 0.05...0.95, seed: 25)
        let t = Tensor((0..<12).map { [0, 1, 0.3][$0 % 3] }, shape: [3, 4])  // hard and soft targets
        let sum = zip(p.scalars, t.scalars).reduce(0.0) {
            let (pi, ti) = (Double($1.0), Double($1.1))
            return $0 - (ti * log(pi) + (1 - ti) * log(1 - pi))
        }
        assertClose(Float(sum / 12), binaryCrossEntropy(probabilities: p, targets: t).scalar, .float32, "bce mean")
        assertClose(Float(sum), binaryCrossEntropy(probabilities: p, targets: t, reduction: .sum).scalar, .float32,
                    "bce sum")
        for reduction in [Reduction.mean, .sum] {
            checkGradients("bce probabilities \(reduction)", inputs: [p]) {
                binaryCrossEntropy(probabilities: $0[0], targets: t, reduction: reduction)
            }
        }
    }

    func testBinaryCrossEntropyOnLogits() {
        let x = randomTensor([3, 4], in: -4...4, seed: 26)
        let t = Tensor((0..<12).map { [0, 1, 0.3][$0 % 3] }, shape: [3, 4])
        // Same value as BCE of sigmoid(x), and stable where sigmoid would saturate.
        assertClose(binaryCrossEntropy(probabilities: sigmoid(x), targets: t).scalar,
                    binaryCrossEntropy(logits: x, targets: t).scalar, .float32, "bce logits mean")
        assertClose(binaryCrossEntropy(probabilities: sigmoid(x), targets: t, reduction: .sum).scalar,
                    binaryCrossEntropy(logits: x, targets: t, reduction: .sum).scalar, .float32, "bce logits sum")
        let far = Tensor([-200, 200], shape: [2]), farTargets = Tensor([1, 0], shape: [2])
        assertClose(200, binaryCrossEntropy(logits: far, targets: farTargets).scalar, .float32, "bce logits at ±200")
        for reduction in [Reduction.mean, .sum] {
            checkGradients("bce logits \(reduction)", inputs: [x]) {
                binaryCrossEntropy(logits: $0[0], targets: t, reduction: reduction)
            }
        }
    }

    /// The penalties differentiate with respect to Parameters (their values are graph
    /// leaves). L1's values keep more than h away from its kink at 0.
    func testPenaltiesOverParameters() {
        let a = Parameter(awayFromZero([2, 3], seed: 27)), b = Parameter(awayFromZero([4], seed: 28))
        let l1 = a.value.scalars.reduce(0) { $0 + abs($1) } + b.value.scalars.reduce(0) { $0 + abs($1) }
        let l2 = a.value.scalars.reduce(0) { $0 + $1 * $1 } + b.value.scalars.reduce(0) { $0 + $1 * $1 }
        assertClose(0.3 * l1, l1Penalty([a, b], weight: 0.3).scalar, .float32, "l1")
        assertClose(0.3 * l2, l2Penalty([a, b], weight: 0.3).scalar, .float32, "l2")
        XCTAssertEqual(l1Penalty([]).scalar, 0)
        checkGradients("l1Penalty", inputs: [], parameters: [a, b]) { _ in l1Penalty([a, b], weight: 0.3) }
        checkGradients("l2Penalty", inputs: [], parameters: [a, b]) { _ in l2Penalty([a, b], weight: 0.3) }
        // Added to a data loss, as in training.
        let layer = Dense(inputSize: 3, outputSize: 2)
        let x = randomTensor([4, 3], seed: 29), t = randomTensor([4, 2], seed: 30)
        checkGradients("mse + l2", inputs: [x], parameters: layer.parameters) {
            meanSquaredError(layer($0[0]), t) + l2Penalty(layer.parameters, weight: 0.1)
        }
    }
}
