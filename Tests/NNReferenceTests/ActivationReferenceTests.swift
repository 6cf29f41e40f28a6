import Foundation
import NNReference
import TestSupport
import XCTest

final class ActivationReferenceTests: XCTestCase {
    static let allKinds: [ReferenceActivation] = [
        .identity, .binaryStep, .sigmoid, .tanh, .arctan, .relu,
        .leakyReLU(alpha: 0.1), .elu(alpha: 1.3), .softplus,
    ]

    func testBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 11)
        for kind in Self.allKinds {
            let x = FiniteDifferences.awayFromZero(40, using: &rng)
            let r = randomFloats(x.count, using: &rng)
            let numeric = FiniteDifferences.gradient(at: x) {
                FiniteDifferences.dot(referenceActivationForward($0, kind), r)
            }
            let analytic = referenceActivationBackward(dy: r, x: x, kind)
            assertClose(numeric, analytic, .finiteDifference, "reference \(kind) backward vs finite differences",
                        shape: [x.count])
        }
    }

    func testValuesByHand() {
        let x: [Float] = [-2, 0, 1]
        XCTAssertEqual(referenceActivationForward(x, .identity), x)
        XCTAssertEqual(referenceActivationForward(x, .binaryStep), [0, 1, 1])
        XCTAssertEqual(referenceActivationForward(x, .relu), [0, 0, 1])
        XCTAssertEqual(referenceActivationForward(x, .leakyReLU(alpha: 0.25)), [-0.5, 0, 1])
        assertClose([Float(2 * (exp(-2.0) - 1)), 0, 1], referenceActivationForward(x, .elu(alpha: 2)),
                    Tolerance(atol: 0, rtol: 1e-6), "elu")
        assertClose([Float(1 / (1 + exp(2.0))), 0.5, Float(1 / (1 + exp(-1.0)))],
                    referenceActivationForward(x, .sigmoid), Tolerance(atol: 0, rtol: 1e-6), "sigmoid")
        assertClose([Float(log(1 + exp(-2.0))), Float(log(2.0)), Float(log(1 + exp(1.0)))],
                    referenceActivationForward(x, .softplus), Tolerance(atol: 0, rtol: 1e-6), "softplus")
        assertClose([-Float.pi / 4, 0, Float.pi / 4], referenceActivationForward([-1, 0, 1], .arctan),
                    Tolerance(atol: 0, rtol: 1e-6), "arctan")
        // Derivatives at the kinks, PyTorch's conventions: ReLU'(0) = 0, LeakyReLU'(0) = alpha,
        // ELU'(0) = alpha, step' = 0.
        let ones: [Float] = [1, 1, 1]
        XCTAssertEqual(referenceActivationBackward(dy: ones, x: x, .relu), [0, 0, 1])
        XCTAssertEqual(referenceActivationBackward(dy: ones, x: x, .leakyReLU(alpha: 0.25)), [0.25, 0.25, 1])
        XCTAssertEqual(referenceActivationBackward(dy: [1], x: [0], .elu(alpha: 2)), [2])
        XCTAssertEqual(referenceActivationBackward(dy: ones, x: x, .binaryStep), [0, 0, 0])
        XCTAssertEqual(referenceActivationBackward(dy: [1], x: [0], .sigmoid), [0.25])
    }

    /// Far tails: finite, and the tiny side keeps its value instead of flushing to 0.
    func testLargeMagnitudesStayFiniteAndAccurate() {
        let x: [Float] = [-1e4, -80, 80, 1e4]
        let sigmoid = referenceActivationForward(x, .sigmoid)
        XCTAssertEqual(sigmoid[0], 0)
        assertClose(Float(exp(-80.0)), sigmoid[1], Tolerance(atol: 0, rtol: 1e-6), "sigmoid(-80)")
        XCTAssertEqual(sigmoid[2], 1)
        XCTAssertEqual(sigmoid[3], 1)
        let softplus = referenceActivationForward(x, .softplus)
        XCTAssertEqual(softplus, [0, Float(exp(-80.0)), 80, 1e4])
    }

    func testPReLUBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 12)
        let (n, c, s) = (2, 3, 4)
        let x = FiniteDifferences.awayFromZero(n * c * s, using: &rng)
        let alpha = randomFloats(c, in: 0...0.5, using: &rng)
        let r = randomFloats(x.count, using: &rng)
        let (dx, dalpha) = referencePReLUBackward(dy: r, x: x, alpha: alpha, n: n, c: c, s: s)
        let numericDx = FiniteDifferences.gradient(at: x) {
            FiniteDifferences.dot(referencePReLUForward($0, alpha: alpha, n: n, c: c, s: s), r)
        }
        assertClose(numericDx, dx, .finiteDifference, "reference prelu dx vs finite differences", shape: [n, c, s])
        let numericDalpha = FiniteDifferences.gradient(at: alpha) {
            FiniteDifferences.dot(referencePReLUForward(x, alpha: $0, n: n, c: c, s: s), r)
        }
        assertClose(numericDalpha, dalpha, .finiteDifference, "reference prelu dalpha vs finite differences",
                    shape: [c])
    }

    func testPReLUByHand() {
        // (n,c,s) = (1,2,2): channel 0 slope 0.5, channel 1 slope 0.1.
        let x: [Float] = [-2, 3, 4, -10]
        XCTAssertEqual(referencePReLUForward(x, alpha: [0.5, 0.1], n: 1, c: 2, s: 2), [-1, 3, 4, -1])
        let (dx, dalpha) = referencePReLUBackward(dy: [1, 1, 1, 2], x: x, alpha: [0.5, 0.1], n: 1, c: 2, s: 2)
        XCTAssertEqual(dx, [0.5, 1, 1, 0.2])
        XCTAssertEqual(dalpha, [-2, -20])
    }
}
