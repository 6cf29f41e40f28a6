import NN
import NNReference
import TestSupport
import XCTest

/// Inverted dropout: the mask's statistics, its expected value, inference identity and the
/// gradient (a fixed mask: every evaluation inside the checker draws from a fresh generator
/// with the same seed, so f is the linear map x -> x * mask; Tolerance.finiteDifference).
final class DropoutOpsTests: XCTestCase {
    func testGradientWithAFixedMask() {
        let x = randomTensor([4, 6])
        for p: Float in [0.25, 0.5] {
            checkGradients("dropout p \(p)", inputs: [x]) {
                var generator = RandomGenerator(seed: 17)
                return dropout($0[0], probability: p, using: &generator)
            }
        }
        // Also as one of two uses of x: the pullback must add to, not overwrite, dx.
        checkGradients("x * 2 + dropout(x)", inputs: [x]) {
            var generator = RandomGenerator(seed: 17)
            return $0[0] * 2 + dropout($0[0], probability: 0.5, using: &generator)
        }
    }

    /// Every output is 0 or x / (1 - p), and the kept ones are those whose uniform draw
    /// from the generator was >= p (the documented rule, replayed here).
    func testMaskRuleAndProbabilityZero() {
        let x = randomTensor([50], in: 0.5...1)
        var g1 = RandomGenerator(seed: 3), g2 = RandomGenerator(seed: 3)
        let y = dropout(x, probability: 0.4, using: &g1)
        let mask = (0..<50).map { _ in g2.nextUnitFloat() < 0.4 ? Float(0) : 1 / (1 - 0.4) }
        assertClose(referenceDropoutForward(x.scalars, mask: mask), y.scalars, .float32, "dropout mask rule", shape: [50])
        var g = RandomGenerator(seed: 3)
        XCTAssertEqual(dropout(x, probability: 0, using: &g), x, "p = 0 keeps everything")
    }

    /// Over M = 200,000 draws of a constant input 2 with p = 0.3, the fraction of zeros is p
    /// and the mean is 2. Each zero indicator has variance p(1-p), so the fraction's
    /// standard deviation is sqrt(p(1-p)/M) = 0.0010; each output has variance
    /// 4 p / (1 - p), so the mean's is 2 sqrt(p / ((1-p) M)) = 0.0029. Five standard
    /// deviations (0.005 and 0.015) make a false failure about a one-in-a-million event
    /// for any seed, while a wrong scale (e.g. forgetting 1/(1-p): mean 1.4) or a wrong
    /// probability (0.7 instead of 0.3) fails by far.
    func testExpectedValueAndFractionOfZeros() {
        let p: Float = 0.3, m = 200_000
        let x = Tensor(repeating: 2, shape: [m])
        var generator = RandomGenerator(seed: 99)
        let y = dropout(x, probability: p, using: &generator).scalars
        let zeros = y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(m), Double(p), accuracy: 5 * (0.3 * 0.7 / Double(m)).squareRoot())
        let mean = y.reduce(0.0) { $0 + Double($1) } / Double(m)
        XCTAssertEqual(mean, 2, accuracy: 5 * 2 * (0.3 / (0.7 * Double(m))).squareRoot())
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 2 / 0.7) < 1e-6 }, "outputs are 0 or x / (1 - p)")
    }
}
