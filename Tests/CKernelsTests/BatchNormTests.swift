import CKernels
import NNReference
import TestSupport
import XCTest

/// Every batch-norm kernel against the naive reference, over (N,C,H,W) and (N,F) layouts.
final class BatchNormTests: XCTestCase {
    /// (n, c, s): batch 1 and 7, channels 1, 3, 8, 13, 32, s = 1 ((N,F) features) and image
    /// planes 5x5, 6x7 and 28x28; plus wide (N,F) shapes whose feature count is not a
    /// multiple of the kernel's channel block, one of them large enough to run threaded;
    /// and 300 channels of 30 values, threaded.
    /// n*s == 1 is left out here: it has its own test.
    private static let shapes: [(n: Int, c: Int, s: Int)] = {
        var list = [(n: Int, c: Int, s: Int)]()
        for n in [1, 7] {
            for c in [1, 3, 8, 13, 32] {
                for s in [1, 25, 42, 28 * 28] where n * s > 1 {
                    list.append((n, c, s))
                }
            }
        }
        list += [(64, 130, 1), (300, 130, 1), (2, 200, 3), (16, 64, 49)]
        // More channels than the kernels keep per-channel scratch for on the stack, threaded.
        list += [(4, 300, 30)]
        return list
    }()

    private let momentum: Float = 0.1, eps: Float = 1e-5

    func testTrainingForwardMatchesReference() {
        var rng = SeededGenerator(seed: 41)
        for (n, c, s) in Self.shapes {
            let shape = "(\(n),\(c),\(s))"
            let x = randomFloats(n * c * s, in: -1...3, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng), beta = randomFloats(c, using: &rng)
            let mean0 = randomFloats(c, using: &rng), var0 = randomFloats(c, in: 0.5...2, using: &rng)
            let expected = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta,
                                                             runningMean: mean0, runningVar: var0,
                                                             n: n, c: c, s: s, momentum: momentum, eps: eps)
            var y = [Float](repeating: .nan, count: x.count)
            var mean = [Float](repeating: .nan, count: c), invstd = [Float](repeating: .nan, count: c)
            var runningMean = mean0, runningVar = var0
            ck_batchnorm_forward_training(&y, &mean, &invstd, &runningMean, &runningVar, x, gamma, beta,
                                          Int32(n), Int32(c), Int32(s), momentum, eps)
            assertClose(expected.y, y, .float32, "ck_batchnorm_forward_training y \(shape)", shape: [n, c, s])
            assertClose(expected.mean, mean, .float32, "ck_batchnorm_forward_training mean \(shape)", shape: [c])
            assertClose(expected.invstd, invstd, .float32, "ck_batchnorm_forward_training invstd \(shape)", shape: [c])
            assertClose(expected.runningMean, runningMean, .float32,
                        "ck_batchnorm_forward_training running mean \(shape)", shape: [c])
            assertClose(expected.runningVar, runningVar, .float32,
                        "ck_batchnorm_forward_training running var \(shape)", shape: [c])

            // NULL running statistics skip the update and change nothing else.
            var y2 = [Float](repeating: .nan, count: x.count)
            var mean2 = [Float](repeating: .nan, count: c), invstd2 = [Float](repeating: .nan, count: c)
            ck_batchnorm_forward_training(&y2, &mean2, &invstd2, nil, nil, x, gamma, beta,
                                          Int32(n), Int32(c), Int32(s), momentum, eps)
            XCTAssertEqual(y2, y, "ck_batchnorm_forward_training without running stats: y \(shape)")
            XCTAssertEqual(mean2 + invstd2, mean + invstd,
                           "ck_batchnorm_forward_training without running stats: saved stats \(shape)")
        }
    }

    /// Three steps on different batches: the running state carries over as in the reference.
    func testRunningStatisticsOverSeveralSteps() {
        var rng = SeededGenerator(seed: 42)
        let (n, c, s) = (5, 13, 9)
        let gamma = randomFloats(c, using: &rng), beta = randomFloats(c, using: &rng)
        var expectedMean = [Float](repeating: 0, count: c), expectedVar = [Float](repeating: 1, count: c)
        var runningMean = expectedMean, runningVar = expectedVar
        var y = [Float](repeating: 0, count: n * c * s)
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        for step in 1...3 {
            let x = randomFloats(n * c * s, in: Float(-step)...Float(2 * step), using: &rng)
            let r = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: expectedMean,
                                                      runningVar: expectedVar, n: n, c: c, s: s,
                                                      momentum: momentum, eps: eps)
            expectedMean = r.runningMean
            expectedVar = r.runningVar
            ck_batchnorm_forward_training(&y, &mean, &invstd, &runningMean, &runningVar, x, gamma, beta,
                                          Int32(n), Int32(c), Int32(s), momentum, eps)
            assertClose(expectedMean, runningMean, .float32, "running mean after step \(step)", shape: [c])
            assertClose(expectedVar, runningVar, .float32, "running var after step \(step)", shape: [c])
        }
    }

    /// A large common offset (|mean| / std ~ 1e4): a one-pass E[x^2] - E[x]^2 or a float
    /// y = x * scale + shift would lose most digits here; the kernel must not.
    func testTrainingForwardAndBackwardWithLargeOffsetStayAccurate() {
        var rng = SeededGenerator(seed: 43)
        let (n, c, s) = (7, 3, 25)
        let x = randomFloats(n * c * s, in: 9_999...10_001, using: &rng)
        let gamma: [Float] = [1, 2, 0.5], beta: [Float] = [0, 1, -1]
        let expected = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta,
                                                         runningMean: [0, 0, 0], runningVar: [1, 1, 1],
                                                         n: n, c: c, s: s, momentum: momentum, eps: eps)
        var y = [Float](repeating: .nan, count: x.count)
        var mean = [Float](repeating: 0, count: c), invstd = [Float](repeating: 0, count: c)
        var runningMean: [Float] = [0, 0, 0], runningVar: [Float] = [1, 1, 1]
        ck_batchnorm_forward_training(&y, &mean, &invstd, &runningMean, &runningVar, x, gamma, beta,
                                      Int32(n), Int32(c), Int32(s), momentum, eps)
        assertClose(expected.y, y, .float32, "ck_batchnorm_forward_training y, offset 1e4", shape: [n, c, s])
        assertClose(expected.invstd, invstd, .float32, "ck_batchnorm_forward_training invstd, offset 1e4", shape: [c])
        assertClose(expected.runningVar, runningVar, .float32, "running var, offset 1e4", shape: [c])

        // The backward pass centres x in float too: same saved statistics for both.
        let dy = randomFloats(x.count, using: &rng)
        let expectedGrads = referenceBatchNormBackward(dy: dy, x: x, gamma: gamma, mean: mean, invstd: invstd,
                                                       n: n, c: c, s: s)
        var dx = [Float](repeating: 0, count: x.count), dgamma: [Float] = [0, 0, 0], dbeta: [Float] = [0, 0, 0]
        ck_batchnorm_backward(&dx, &dgamma, &dbeta, dy, x, gamma, mean, invstd, Int32(n), Int32(c), Int32(s), 1)
        assertClose(expectedGrads.dx, dx, .float32, "ck_batchnorm_backward dx, offset 1e4", shape: [n, c, s])
        assertClose(expectedGrads.dgamma, dgamma, .float32, "ck_batchnorm_backward dgamma, offset 1e4", shape: [c])
    }

    /// The kernel's documented choice for n*s == 1 (PyTorch refuses such a batch): y = beta,
    /// the running mean is updated, the running variance is left unchanged, nothing is NaN.
    func testSingleValuePerChannelLeavesRunningVarianceUnchanged() {
        let c = 3
        let x: [Float] = [4, -2, 0.5], gamma: [Float] = [2, 3, 4], beta: [Float] = [0.25, -1, 2]
        var y = [Float](repeating: .nan, count: c)
        var mean = [Float](repeating: .nan, count: c), invstd = [Float](repeating: .nan, count: c)
        var runningMean: [Float] = [1, 1, 1], runningVar: [Float] = [2, 3, 4]
        ck_batchnorm_forward_training(&y, &mean, &invstd, &runningMean, &runningVar, x, gamma, beta,
                                      1, Int32(c), 1, 0.5, eps)
        XCTAssertEqual(y, beta)
        XCTAssertEqual(mean, x)
        assertClose([Float](repeating: 1 / eps.squareRoot(), count: c), invstd, .float32, "invstd with n*s = 1")
        XCTAssertEqual(runningMean, [2.5, -0.5, 0.75])
        XCTAssertEqual(runningVar, [2, 3, 4])
        let expected = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: [1, 1, 1],
                                                         runningVar: [2, 3, 4], n: 1, c: c, s: 1,
                                                         momentum: 0.5, eps: eps)
        XCTAssertEqual(expected.runningVar, runningVar, "kernel and reference make the same choice")
    }

    func testInferenceForwardMatchesReference() {
        var rng = SeededGenerator(seed: 44)
        for (n, c, s) in Self.shapes + [(1, 5, 1)] {
            let x = randomFloats(n * c * s, in: -1...3, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng), beta = randomFloats(c, using: &rng)
            let runningMean = randomFloats(c, using: &rng), runningVar = randomFloats(c, in: 0.5...2, using: &rng)
            var y = [Float](repeating: .nan, count: x.count)
            ck_batchnorm_forward_inference(&y, x, gamma, beta, runningMean, runningVar,
                                           Int32(n), Int32(c), Int32(s), eps)
            assertClose(referenceBatchNormInferenceForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                           runningVar: runningVar, n: n, c: c, s: s, eps: eps),
                        y, .float32, "ck_batchnorm_forward_inference (\(n),\(c),\(s))", shape: [n, c, s])
        }
    }

    /// Backward from the statistics the training forward saved; every output starts
    /// non-zero, so the kernel must add, not overwrite.
    func testTrainingBackwardMatchesReference() {
        var rng = SeededGenerator(seed: 45)
        for (n, c, s) in Self.shapes {
            let shape = "(\(n),\(c),\(s))"
            let x = randomFloats(n * c * s, in: -1...3, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng), beta = randomFloats(c, using: &rng)
            let saved = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta,
                                                          runningMean: beta, runningVar: gamma,
                                                          n: n, c: c, s: s, momentum: momentum, eps: eps)
            let dy = randomFloats(n * c * s, using: &rng)
            let expected = referenceBatchNormBackward(dy: dy, x: x, gamma: gamma, mean: saved.mean,
                                                      invstd: saved.invstd, n: n, c: c, s: s)
            let dx0 = randomFloats(x.count, using: &rng)
            let dgamma0 = randomFloats(c, using: &rng), dbeta0 = randomFloats(c, using: &rng)
            var dx = dx0, dgamma = dgamma0, dbeta = dbeta0
            ck_batchnorm_backward(&dx, &dgamma, &dbeta, dy, x, gamma, saved.mean, saved.invstd,
                                  Int32(n), Int32(c), Int32(s), 1)
            assertClose(zip(dx0, expected.dx).map { $0 + $1 }, dx, .float32,
                        "ck_batchnorm_backward dx \(shape)", shape: [n, c, s])
            // accumulate 0 writes dx whatever it held (NaN here); dgamma and dbeta still add.
            var written = [Float](repeating: .nan, count: x.count), dgamma2 = dgamma0, dbeta2 = dbeta0
            ck_batchnorm_backward(&written, &dgamma2, &dbeta2, dy, x, gamma, saved.mean, saved.invstd,
                                  Int32(n), Int32(c), Int32(s), 0)
            assertClose(expected.dx, written, .float32, "ck_batchnorm_backward dx written \(shape)", shape: [n, c, s])
            XCTAssertEqual(dgamma.map(\.bitPattern), dgamma2.map(\.bitPattern), "dgamma adds with accumulate 0 \(shape)")
            XCTAssertEqual(dbeta.map(\.bitPattern), dbeta2.map(\.bitPattern), "dbeta adds with accumulate 0 \(shape)")
            assertClose(zip(dgamma0, expected.dgamma).map { $0 + $1 }, dgamma, .float32,
                        "ck_batchnorm_backward dgamma \(shape)", shape: [c])
            assertClose(zip(dbeta0, expected.dbeta).map { $0 + $1 }, dbeta, .float32,
                        "ck_batchnorm_backward dbeta \(shape)", shape: [c])
        }
    }

    /// The fused batch norm + ReLU against the reference batch norm followed by max(., 0)
    /// and its backward against the reference backward of the masked dy, on every shape;
    /// dx added to and written. float32 tolerance as the unfused kernels (same arithmetic;
    /// the mask is exact). beta spreads around 0 so both sides of the ReLU occur.
    func testFusedReLUTrainingForwardAndBackwardMatchReference() {
        var rng = SeededGenerator(seed: 47)
        for (n, c, s) in Self.shapes {
            let shape = "(\(n),\(c),\(s))"
            let x = randomFloats(n * c * s, in: -1...3, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng), beta = randomFloats(c, using: &rng)
            let mean0 = randomFloats(c, using: &rng), var0 = randomFloats(c, in: 0.5...2, using: &rng)
            let expected = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta,
                                                             runningMean: mean0, runningVar: var0,
                                                             n: n, c: c, s: s, momentum: momentum, eps: eps)
            var y = [Float](repeating: .nan, count: x.count)
            var mean = [Float](repeating: .nan, count: c), invstd = [Float](repeating: .nan, count: c)
            var runningMean = mean0, runningVar = var0
            ck_batchnorm_relu_forward_training(&y, &mean, &invstd, &runningMean, &runningVar, x, gamma, beta,
                                               Int32(n), Int32(c), Int32(s), momentum, eps)
            assertClose(expected.y.map { max($0, 0) }, y, .float32, "ck_batchnorm_relu_forward_training y \(shape)",
                        shape: [n, c, s])
            assertClose(expected.mean, mean, .float32, "ck_batchnorm_relu_forward_training mean \(shape)", shape: [c])
            assertClose(expected.invstd, invstd, .float32, "ck_batchnorm_relu_forward_training invstd \(shape)", shape: [c])
            assertClose(expected.runningVar, runningVar, .float32,
                        "ck_batchnorm_relu_forward_training running var \(shape)", shape: [c])

            let dy = randomFloats(n * c * s, using: &rng)
            let grads = referenceBatchNormReLUBackward(dy: dy, y: y, x: x, gamma: gamma, mean: mean, invstd: invstd,
                                                       n: n, c: c, s: s)
            let dx0 = randomFloats(x.count, using: &rng)
            var dx = dx0, dgamma = [Float](repeating: 0, count: c), dbeta = [Float](repeating: 0, count: c)
            ck_batchnorm_relu_backward(&dx, &dgamma, &dbeta, dy, y, x, gamma, mean, invstd,
                                       Int32(n), Int32(c), Int32(s), 1)
            assertClose(zip(dx0, grads.dx).map { $0 + $1 }, dx, .float32, "ck_batchnorm_relu_backward dx \(shape)",
                        shape: [n, c, s])
            assertClose(grads.dgamma, dgamma, .float32, "ck_batchnorm_relu_backward dgamma \(shape)", shape: [c])
            assertClose(grads.dbeta, dbeta, .float32, "ck_batchnorm_relu_backward dbeta \(shape)", shape: [c])
            var written = [Float](repeating: .nan, count: x.count)
            ck_batchnorm_relu_backward(&written, &dgamma, &dbeta, dy, y, x, gamma, mean, invstd,
                                       Int32(n), Int32(c), Int32(s), 0)
            assertClose(grads.dx, written, .float32, "ck_batchnorm_relu_backward dx written \(shape)", shape: [n, c, s])
        }
    }

    func testInferenceBackwardMatchesReference() {
        var rng = SeededGenerator(seed: 46)
        for (n, c, s) in Self.shapes + [(1, 5, 1)] {
            let shape = "(\(n),\(c),\(s))"
            let x = randomFloats(n * c * s, in: -1...3, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng)
            let runningMean = randomFloats(c, using: &rng), runningVar = randomFloats(c, in: 0.5...2, using: &rng)
            let dy = randomFloats(n * c * s, using: &rng)
            let expected = referenceBatchNormInferenceBackward(dy: dy, x: x, gamma: gamma, runningMean: runningMean,
                                                               runningVar: runningVar, n: n, c: c, s: s, eps: eps)
            let dx0 = randomFloats(x.count, using: &rng)
            let dgamma0 = randomFloats(c, using: &rng), dbeta0 = randomFloats(c, using: &rng)
            var dx = dx0, dgamma = dgamma0, dbeta = dbeta0
            ck_batchnorm_backward_inference(&dx, &dgamma, &dbeta, dy, x, gamma, runningMean, runningVar,
                                            Int32(n), Int32(c), Int32(s), eps)
            assertClose(zip(dx0, expected.dx).map { $0 + $1 }, dx, .float32,
                        "ck_batchnorm_backward_inference dx \(shape)", shape: [n, c, s])
            assertClose(zip(dgamma0, expected.dgamma).map { $0 + $1 }, dgamma, .float32,
                        "ck_batchnorm_backward_inference dgamma \(shape)", shape: [c])
            assertClose(zip(dbeta0, expected.dbeta).map { $0 + $1 }, dbeta, .float32,
                        "ck_batchnorm_backward_inference dbeta \(shape)", shape: [c])
        }
    }
}
