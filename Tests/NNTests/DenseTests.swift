import NN
import NNReference
import TestSupport
import XCTest

final class DenseTests: XCTestCase {
    func testDenseMatchesReferenceAndGradients() {
        DefaultRandom.manualSeed(3)
        let layer = Dense(inputSize: 5, outputSize: 3)
        let x = randomTensor([4, 5])
        let y = layer(x)
        // Reference: y = x W^T + b with the naive GEMM.
        var expected = [Float](repeating: 0, count: 12)
        referenceGemm(c: &expected, ldc: 3, a: x.scalars, lda: 5, transA: false,
                      b: layer.weight.value.scalars, ldb: 5, transB: true, m: 4, n: 3, k: 5, alpha: 1, beta: 0)
        layer.bias!.value = Tensor([0.5, -1, 2], shape: [3])
        let yb = layer(x)
        assertClose(expected, y.scalars, .float32, "Dense forward", shape: [4, 3])
        assertClose(zip(expected, [Float](repeating: 0, count: 12)).enumerated().map { $0.element.0 + [0.5, -1, 2][$0.offset % 3] },
                    yb.scalars, .float32, "Dense forward with bias", shape: [4, 3])
        checkGradients("Dense", inputs: [x], parameters: layer.parameters) { layer($0[0]) }
    }

    /// `linear` against the naive GEMM plus bias on batch 1, odd sizes and W1's first layer
    /// (past the GEMM's and the bias kernel's thread thresholds); float32 tolerance, since
    /// the reference sums in Double and the GEMM's order differs.
    func testLinearMatchesReferenceOverShapes() {
        for (m, k, n) in [(1, 1, 1), (1, 7, 3), (5, 13, 9), (64, 784, 256), (3, 130, 10)] {
            let x = randomTensor([m, k], seed: UInt64(m * 1000 + k))
            let w = randomTensor([n, k], seed: UInt64(n * 7 + 1))
            let b = randomTensor([n], seed: UInt64(n + 99))
            var expected = [Float](repeating: 0, count: m * n)
            referenceGemm(c: &expected, ldc: n, a: x.scalars, lda: k, transA: false,
                          b: w.scalars, ldb: k, transB: true, m: m, n: n, k: k, alpha: 1, beta: 0)
            let bias = b.scalars
            expected = expected.enumerated().map { $0.element + bias[$0.offset % n] }
            assertClose(expected, linear(x, weight: w, bias: b).scalars, .float32,
                        "linear (\(m),\(k)) x (\(n),\(k))^T + bias", shape: [m, n])
        }
    }

    /// Finite differences for all three inputs; each input feeds two ops, so the pullback's
    /// first-write and accumulate paths both run (first gradients are poisoned).
    func testLinearGradients() {
        for (m, k, n) in [(1, 3, 2), (4, 5, 3), (6, 9, 7)] {
            let x = randomTensor([m, k], seed: 11)
            let w = randomTensor([n, k], seed: 12)
            let b = randomTensor([n], seed: 13)
            checkGradients("linear (\(m),\(k)) x (\(n),\(k))^T", inputs: [x, w, b]) {
                linear($0[0], weight: $0[1], bias: $0[2]) + linear($0[0] * 0.5, weight: $0[1], bias: $0[2])
            }
        }
    }

    func testSequentialNamesAndModes() {
        let model = Sequential {
            Dense(inputSize: 4, outputSize: 3)
            Sequential {
                Dense(inputSize: 3, outputSize: 2, useBias: false)
            }
            Flatten()
        }
        XCTAssertEqual(model.namedParameters.map(\.name), ["0.weight", "0.bias", "1.0.weight"])
        XCTAssertEqual(model.parameterCount, 4 * 3 + 3 + 3 * 2)
        model.setTraining(false)
        XCTAssertFalse(model.layers[1].isTraining)
        XCTAssertFalse((model.layers[1] as! Sequential).layers[0].isTraining)
        XCTAssertEqual(model(Tensor(ones: [7, 4])).shape, [7, 2])
    }

    func testInitializersHaveTheirDocumentedSpread() {
        var g = RandomGenerator(seed: 1)
        let he = Initializer.heNormal.make([256, 400], using: &g).scalars
        let std = (he.map { $0 * $0 }.reduce(0, +) / Float(he.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 400).squareRoot(), accuracy: 0.003)
        let xu = Initializer.xavierUniform.make([30, 20, 3, 3], using: &g).scalars
        let bound = (6.0 / Float(20 * 9 + 30 * 9)).squareRoot()
        XCTAssertTrue(xu.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(xu.map(abs).max()!, bound * 0.95)
        XCTAssertEqual(Initializer.constant(1).make([3], using: &g).scalars, [1, 1, 1])
        XCTAssertEqual(Initializer.zeros.make([2], using: &g).scalars, [0, 0])
    }
}
