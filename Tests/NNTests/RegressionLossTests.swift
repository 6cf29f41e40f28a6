import NN
import NNReference
import TestSupport
import XCTest

/// L1 and Huber losses (and MSE beside them): hand-computed values, the naive reference
/// (Tolerance.float32: sums of a dozen O(1) terms) and central-difference gradients
/// (Tolerance.finiteDifference, h = 1e-2, every |p - t| and ||p - t| - delta| kept >= 0.1
/// so no probe crosses a kink).
final class RegressionLossTests: XCTestCase {
    // d = p - t = [0.5, -2, 0.25, 3]
    let p = Tensor([1.5, -1, 0.25, 4], shape: [2, 2])
    let t = Tensor([1, 1, 0, 1], shape: [2, 2])

    func testHandComputedValues() {
        // L1: (0.5 + 2 + 0.25 + 3) / 4 = 1.4375
        assertClose(1.4375, l1Loss(p, t).scalar, .float32, "l1 mean")
        assertClose(5.75, l1Loss(p, t, reduction: .sum).scalar, .float32, "l1 sum")
        // Huber delta 1: 0.125 + 1.5 + 0.03125 + 2.5 = 4.15625
        assertClose(4.15625 / 4, huberLoss(p, t).scalar, .float32, "huber mean")
        assertClose(4.15625, huberLoss(p, t, reduction: .sum).scalar, .float32, "huber sum")
        // Huber delta 2: 0.125 + 2 + 0.03125 + 2 * (3 - 1) = 6.15625
        assertClose(6.15625 / 4, huberLoss(p, t, delta: 2).scalar, .float32, "huber delta 2")
        // MSE: (0.25 + 4 + 0.0625 + 9) / 4
        assertClose(13.3125 / 4, meanSquaredError(p, t).scalar, .float32, "mse")
    }

    func testAgainstReferenceWithGradients() {
        let targets = randomTensor([3, 4], in: -3...3, seed: 32)
        // Differences chosen on both sides of every kink (0, 0.5, 1), none within 0.1 of one.
        let d: [Float] = [0.3, -0.8, 1.7, -2.4, 0.2, -0.35, 0.7, 1.3, -1.2, 2.9, -0.15, 0.65]
        let predictions = Tensor(zip(targets.scalars, d).map { $0 + $1 }, shape: [3, 4])
        let cases: [(String, ReferenceRegressionLoss, (Tensor, Tensor) -> Tensor)] = [
            ("l1", .l1, { l1Loss($0, $1) }),
            ("mse", .squared, { meanSquaredError($0, $1) }),
            ("huber 1", .huber(delta: 1), { huberLoss($0, $1) }),
            ("huber 0.5", .huber(delta: 0.5), { huberLoss($0, $1, delta: 0.5) }),
        ]
        for (name, kind, loss) in cases {
            let expected = referenceRegressionLossForward(kind, predictions: predictions.scalars, targets: targets.scalars)
            assertClose(expected, loss(predictions, targets).scalar, .float32, "\(name) forward")
            let leaf = predictions.requiringGradient()
            loss(leaf, targets).backward()
            assertClose(referenceRegressionLossBackward(kind, predictions: predictions.scalars, targets: targets.scalars),
                        leaf.gradient!.scalars, .float32, "\(name) backward", shape: [3, 4])
        }
        for (name, _, loss) in cases {
            checkGradients(name, inputs: [predictions]) { loss($0[0], targets) }
        }
    }

    func testBinaryCrossEntropyWithLogitsHandValue() {
        // x = [0, 2], t = [1, 0]: log 2 and log(1 + e^2), mean.
        let loss = binaryCrossEntropy(logits: Tensor([0, 2], shape: [2, 1]), targets: Tensor([1, 0], shape: [2, 1]))
        assertClose(Float((log(2.0) + log(1 + exp(2.0))) / 2), loss.scalar, .float32, "bce logits")
    }
}
