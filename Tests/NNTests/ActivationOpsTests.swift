import NN
import NNReference
import TestSupport
import XCTest

/// The element-wise activations, PReLU, softmax and log-softmax: values against the naive
/// references (Tolerance.float32: the reference computes in Double, the kernels in Float,
/// so a few ulps) and central-difference gradients (Tolerance.finiteDifference, h = 1e-2,
/// as documented in GradientCheck.swift). Inputs of the piecewise activations keep more
/// than h = 1e-2 away from their kink at 0 (`awayFromZero` with margin 0.1).
final class ActivationOpsTests: XCTestCase {
    /// Every activation with the reference case it must match.
    static let activations: [(name: String, kind: ActivationKind, alpha: Float, reference: ReferenceActivation)] = [
        ("identity", .identity, 0, .identity),
        ("binaryStep", .binaryStep, 0, .binaryStep),
        ("sigmoid", .sigmoid, 0, .sigmoid),
        ("tanh", .tanh, 0, .tanh),
        ("arctan", .arctan, 0, .arctan),
        ("relu", .relu, 0, .relu),
        ("leakyReLU", .leakyReLU, 0.1, .leakyReLU(alpha: 0.1)),
        ("elu", .elu, 0.7, .elu(alpha: 0.7)),
        ("softplus", .softplus, 0, .softplus),
    ]

    func testActivationValuesMatchReference() {
        let x = awayFromZero([3, 7], scale: 3)
        for a in Self.activations {
            let y = activation(x, a.kind, alpha: a.alpha)
            assertClose(referenceActivationForward(x.scalars, a.reference), y.scalars, .float32,
                        "\(a.name) forward", shape: x.shape)
        }
        // Saturated inputs stay finite and match (exp overflows Float past 88).
        let extreme = Tensor([-100, -30, 30, 100], shape: [4])
        for a in Self.activations {
            assertClose(referenceActivationForward(extreme.scalars, a.reference),
                        activation(extreme, a.kind, alpha: a.alpha).scalars, .float32, "\(a.name) at ±30, ±100")
        }
        // The named functions are the same ops.
        assertClose(activation(x, .leakyReLU, alpha: 0.01).scalars, leakyReLU(x).scalars, .float32, "leakyReLU()")
        assertClose(activation(x, .elu, alpha: 1).scalars, elu(x).scalars, .float32, "elu()")
        for (name, f, kind) in [("relu", relu, ActivationKind.relu), ("sigmoid", sigmoid, .sigmoid),
                                ("tanh", tanh, .tanh), ("arctan", arctan, .arctan),
                                ("softplus", softplus, .softplus), ("binaryStep", binaryStep, .binaryStep)]
            as [(String, (Tensor) -> Tensor, ActivationKind)] {
            XCTAssertEqual(f(x), activation(x, kind), name)
        }
    }

    func testActivationGradients() {
        let x = awayFromZero([3, 7], scale: 2)
        for a in Self.activations where a.kind != .binaryStep {
            checkGradients(a.name, inputs: [x]) { activation($0[0], a.kind, alpha: a.alpha) }
        }
        // The convenience functions with their default slopes.
        checkGradients("leakyReLU default", inputs: [x]) { leakyReLU($0[0]) }
        checkGradients("elu default", inputs: [x]) { elu($0[0]) }
    }

    /// addReLU is relu(a + b) bit for bit, and its gradients pass the finite-difference check
    /// with both inputs, either one, and one tensor as both (a + a). b stays within 0.03 of 0
    /// and |a| >= 0.1, so every sum keeps more than h = 1e-2 from ReLU's kink.
    func testAddReLUIsReLUOfTheSumAndItsGradients() {
        let a = awayFromZero([2, 3, 4, 5], scale: 2, seed: 3)
        let b = awayFromZero([2, 3, 4, 5], margin: 0, scale: 0.03, seed: 4)
        XCTAssertEqual(addReLU(a, b), relu(a + b))
        checkGradients("addReLU", inputs: [a, b]) { addReLU($0[0], $0[1]) }
        checkGradients("addReLU a only", inputs: [a]) { addReLU($0[0], b) }
        checkGradients("addReLU b only", inputs: [b]) { addReLU(a, $0[0]) }
        checkGradients("addReLU a + a", inputs: [a]) { addReLU($0[0], $0[0]) }
    }

    /// The binary step is flat on both sides of 0: its gradient is exactly zero (not just
    /// small), and the finite differences agree away from the step.
    func testBinaryStepGradientIsExactlyZero() {
        let x = awayFromZero([4, 5], scale: 2).requiringGradient()
        (binaryStep(x) * 3).sum().backward()
        XCTAssertEqual(x.gradient!.scalars, [Float](repeating: 0, count: 20))
        checkGradients("binaryStep", inputs: [x.detached]) { binaryStep($0[0]) }
        XCTAssertEqual(binaryStep(Tensor([-1, 0, 2], shape: [3])).scalars, [0, 1, 1], "step(0) is 1")
    }

    func testPReLUValuesAndGradients() {
        let x4 = awayFromZero([2, 3, 2, 2]), alpha = Tensor([0.1, 0.25, -0.3], shape: [3])
        let y = prelu(x4, alpha: alpha)
        assertClose(referencePReLUForward(x4.scalars, alpha: alpha.scalars, n: 2, c: 3, s: 4), y.scalars,
                    .float32, "prelu forward", shape: x4.shape)
        checkGradients("prelu 4-D", inputs: [x4, alpha]) { prelu($0[0], alpha: $0[1]) }
        let x2 = awayFromZero([5, 3], seed: 2)
        checkGradients("prelu 2-D", inputs: [x2, alpha]) { prelu($0[0], alpha: $0[1]) }
        // Only one of the two inputs requiring a gradient (the kernel's scratch path).
        checkGradients("prelu x only", inputs: [x2]) { prelu($0[0], alpha: alpha) }
        checkGradients("prelu alpha only", inputs: [alpha]) { prelu(x2, alpha: $0[0]) }
    }

    func testSoftmaxAndLogSoftmax() {
        let x = randomTensor([4, 5], in: -3...3)
        assertClose(referenceSoftmaxForward(x.scalars, rows: 4, cols: 5), softmax(x).scalars, .float32,
                    "softmax forward", shape: x.shape)
        assertClose(referenceLogSoftmaxForward(x.scalars, rows: 4, cols: 5), logSoftmax(x).scalars, .float32,
                    "logSoftmax forward", shape: x.shape)
        // Large logits: max subtraction keeps both finite.
        let big = Tensor([1000, 1001, 999], shape: [1, 3])
        assertClose(referenceSoftmaxForward(big.scalars, rows: 1, cols: 3), softmax(big).scalars, .float32, "softmax big")
        assertClose(referenceLogSoftmaxForward(big.scalars, rows: 1, cols: 3), logSoftmax(big).scalars, .float32,
                    "logSoftmax big")
        checkGradients("softmax", inputs: [x]) { softmax($0[0]) }
        checkGradients("logSoftmax", inputs: [x]) { logSoftmax($0[0]) }
        // Rank 3: rows are every index but the last.
        let x3 = randomTensor([2, 3, 4], in: -2...2, seed: 3)
        checkGradients("softmax rank 3", inputs: [x3]) { softmax($0[0]) }
        checkGradients("logSoftmax rank 3", inputs: [x3]) { logSoftmax($0[0]) }
    }
}
