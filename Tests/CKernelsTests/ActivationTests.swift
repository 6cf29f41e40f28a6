import CKernels
import NNReference
import TestSupport
import XCTest

/// The kernel's enum value and alpha for a reference activation.
private func kernelKind(_ kind: ReferenceActivation) -> (ck_activation, Float) {
    switch kind {
    case .identity: return (CK_ACT_IDENTITY, 0)
    case .binaryStep: return (CK_ACT_BINARY_STEP, 0)
    case .sigmoid: return (CK_ACT_SIGMOID, 0)
    case .tanh: return (CK_ACT_TANH, 0)
    case .arctan: return (CK_ACT_ARCTAN, 0)
    case .relu: return (CK_ACT_RELU, 0)
    case .leakyReLU(let alpha): return (CK_ACT_LEAKY_RELU, alpha)
    case .elu(let alpha): return (CK_ACT_ELU, alpha)
    case .softplus: return (CK_ACT_SOFTPLUS, 0)
    }
}

final class ActivationTests: XCTestCase {
    static let allKinds: [ReferenceActivation] = [
        .identity, .binaryStep, .sigmoid, .tanh, .arctan, .relu,
        .leakyReLU(alpha: 0.1), .elu(alpha: 1.3), .softplus,
    ]
    /// 100_003 is past the OpenMP threshold and not a multiple of any vector width.
    static let sizes = [1, 7, 13, 1000, 100_003]

    /// Runs the kernel forward, then backward into a non-zero dx, against the reference.
    private func check(_ kind: ReferenceActivation, x: [Float], dy: [Float], dx0: [Float],
                       forwardTolerance: Tolerance = .float32, file: StaticString = #filePath, line: UInt = #line) {
        let (ck, alpha) = kernelKind(kind)
        var y = [Float](repeating: .nan, count: x.count)
        ck_activation_forward(&y, x, x.count, ck, alpha)
        XCTAssertTrue(y.allSatisfy(\.isFinite), "activation \(kind) forward: non-finite output", file: file, line: line)
        assertClose(referenceActivationForward(x, kind), y, forwardTolerance,
                    "ck_activation_forward \(kind)", shape: [x.count], file: file, line: line)

        var dx = dx0
        ck_activation_backward(&dx, dy, x, y, x.count, ck, alpha, 1)
        XCTAssertTrue(dx.allSatisfy(\.isFinite), "activation \(kind) backward: non-finite output", file: file, line: line)
        let gradient = referenceActivationBackward(dy: dy, x: x, kind)
        let expected = zip(dx0, gradient).map { $0 + $1 }
        assertClose(expected, dx, .float32, "ck_activation_backward \(kind) (dx += f'(x) dy)",
                    shape: [x.count], file: file, line: line)

        // accumulate 0 writes dx whatever it held (NaN here).
        var written = [Float](repeating: .nan, count: x.count)
        ck_activation_backward(&written, dy, x, y, x.count, ck, alpha, 0)
        assertClose(gradient, written, .float32, "ck_activation_backward \(kind) (dx = f'(x) dy)",
                    shape: [x.count], file: file, line: line)
    }

    func testForwardAndBackwardMatchReferenceOverSizes() {
        var rng = SeededGenerator(seed: 101)
        for count in Self.sizes {
            var x = randomFloats(count, in: -4...4, using: &rng)
            // Exact zeros pin the conventions at the kinks (step(0) = 1, ReLU'(0) = 0, ...).
            for i in stride(from: 0, to: count, by: 5) { x[i] = 0 }
            let dy = randomFloats(count, using: &rng)
            let dx0 = randomFloats(count, using: &rng)
            for kind in Self.allKinds {
                check(kind, x: x, dy: dy, dx0: dx0)
            }
        }
    }

    /// Inputs far into the tails must stay finite, and the forward keeps its relative
    /// accuracy there (sigmoid(-80) ~ 1.8e-35 is not flushed to 0), hence atol 0 and an
    /// rtol of a few float ulps for the forward.
    func testLargeMagnitudesStayFiniteAndAccurate() {
        let x: [Float] = [-80, -40, -10, -1e-3, 0, 1e-3, 10, 40, 80]
        let dy: [Float] = [Float](repeating: 1, count: x.count)
        let dx0: [Float] = [Float](repeating: 0.5, count: x.count)
        for kind in Self.allKinds {
            check(kind, x: x, dy: dy, dx0: dx0, forwardTolerance: Tolerance(atol: 0, rtol: 1e-6))
        }
    }

    /// ck_add_relu_forward and ck_add_relu_backward against relu(a + b) and its gradient from
    /// the reference (sums exactly 0 included: ReLU'(0) = 0), over the sizes above (the last
    /// past the OpenMP threshold) at 1 and 2 threads, every pair of write/add flags, and the
    /// two gradients in one buffer (a + a).
    func testAddReLUMatchesReference() {
        var rng = SeededGenerator(seed: 103)
        defer { ck_set_num_threads(0) }
        for (k, count) in Self.sizes.enumerated() {
            ck_set_num_threads(Int32(1 + k % 2))
            let a = randomFloats(count, in: -4...4, using: &rng)
            var b = randomFloats(count, in: -4...4, using: &rng)
            for i in stride(from: 0, to: count, by: 5) { b[i] = -a[i] }
            let sum = zip(a, b).map { $0 + $1 }
            var y = [Float](repeating: .nan, count: count)
            ck_add_relu_forward(&y, a, b, count)
            // a + b is the same float sum on both sides, so the outputs agree exactly.
            XCTAssertEqual(y, referenceActivationForward(sum, .relu), "ck_add_relu_forward \(count)")
            let dy = randomFloats(count, using: &rng)
            let gradient = referenceActivationBackward(dy: dy, x: sum, .relu)
            let da0 = randomFloats(count, using: &rng), db0 = randomFloats(count, using: &rng)
            for (accumulateA, accumulateB) in [(0, 0), (1, 0), (0, 1), (1, 1)] as [(Int32, Int32)] {
                var da = accumulateA == 1 ? da0 : [Float](repeating: .nan, count: count)
                var db = accumulateB == 1 ? db0 : [Float](repeating: .nan, count: count)
                ck_add_relu_backward(&da, &db, dy, y, count, accumulateA, accumulateB)
                let what = "ck_add_relu_backward \(count) flags \(accumulateA) \(accumulateB)"
                assertClose(accumulateA == 1 ? zip(da0, gradient).map { $0 + $1 } : gradient, da, .float32,
                            what + " da", shape: [count])
                assertClose(accumulateB == 1 ? zip(db0, gradient).map { $0 + $1 } : gradient, db, .float32,
                            what + " db", shape: [count])
            }
            // One buffer for both (a + a): written, then added to.
            var both = [Float](repeating: .nan, count: count)
            both.withUnsafeMutableBufferPointer { p in
                ck_add_relu_backward(p.baseAddress!, p.baseAddress!, dy, y, count, 0, 1)
            }
            assertClose(gradient.map { 2 * $0 }, both, .float32, "ck_add_relu_backward \(count) into one buffer",
                        shape: [count])
        }
    }

    func testPReLUMatchesReferenceOverShapes() {
        var rng = SeededGenerator(seed: 102)
        var shapes: [(Int, Int, Int)] = []
        for n in [1, 7] { for c in [1, 3, 13, 32] { for s in [1, 5, 49] { shapes.append((n, c, s)) } } }
        shapes.append((32, 32, 49))  // 50_176 elements: past the OpenMP threshold.
        for (n, c, s) in shapes {
            let count = n * c * s
            var x = randomFloats(count, in: -2...2, using: &rng)
            for i in stride(from: 0, to: count, by: 7) { x[i] = 0 }
            let alpha = randomFloats(c, in: 0...0.5, using: &rng)
            var y = [Float](repeating: .nan, count: count)
            ck_prelu_forward(&y, x, alpha, Int32(n), Int32(c), Int32(s))
            assertClose(referencePReLUForward(x, alpha: alpha, n: n, c: c, s: s), y, .float32,
                        "ck_prelu_forward", shape: [n, c, s])

            let dy = randomFloats(count, using: &rng)
            let dx0 = randomFloats(count, using: &rng)
            let dalpha0 = randomFloats(c, using: &rng)
            var dx = dx0, dalpha = dalpha0
            ck_prelu_backward(&dx, &dalpha, dy, x, alpha, Int32(n), Int32(c), Int32(s))
            let reference = referencePReLUBackward(dy: dy, x: x, alpha: alpha, n: n, c: c, s: s)
            assertClose(zip(dx0, reference.dx).map { $0 + $1 }, dx, .float32,
                        "ck_prelu_backward dx", shape: [n, c, s])
            assertClose(zip(dalpha0, reference.dalpha).map { $0 + $1 }, dalpha, .float32,
                        "ck_prelu_backward dalpha (n \(n), s \(s))", shape: [c])
        }
    }

    /// A NaN input gives a NaN output (so a bad batch cannot hide behind an activation),
    /// as PyTorch does; binary step is a comparison and maps NaN to 0.
    func testNaNPropagates() {
        let kinds: [(ck_activation, String)] = [
            (CK_ACT_IDENTITY, "identity"), (CK_ACT_SIGMOID, "sigmoid"), (CK_ACT_TANH, "tanh"),
            (CK_ACT_ARCTAN, "arctan"), (CK_ACT_RELU, "relu"), (CK_ACT_LEAKY_RELU, "leaky_relu"),
            (CK_ACT_ELU, "elu"), (CK_ACT_SOFTPLUS, "softplus"),
        ]
        let x: [Float] = [1, .nan, -1]
        for (kind, name) in kinds {
            var y = [Float](repeating: 0, count: 3)
            ck_activation_forward(&y, x, 3, kind, 0.1)
            XCTAssertTrue(y[1].isNaN, "\(name)(NaN) = \(y[1]), expected NaN")
            XCTAssertFalse(y[0].isNaN || y[2].isNaN, "\(name): NaN leaked into neighbours: \(y)")
        }
    }
}
