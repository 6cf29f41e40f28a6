import NNReference
import TestSupport
import XCTest

/// The batch-norm oracle pinned to hand-worked numbers, its running statistics to the
/// closed form, and its backward passes checked by central differences of its forwards.
final class BatchNormReferenceTests: XCTestCase {
    /// The reference computes in Double and rounds once to Float: hand-worked values agree
    /// to a few float ulps.
    private let exact = Tolerance(atol: 1e-6, rtol: 1e-6)

    // MARK: - Hand-worked examples

    /// One channel, x = [1, 2, 3, 4] as (N,F) = (4,1): mean 2.5, biased variance 1.25,
    /// unbiased 5/3; eps 0 keeps the numbers round.
    func testTrainingForwardByHand() {
        let r = referenceBatchNormTrainingForward(x: [1, 2, 3, 4], gamma: [2], beta: [1],
                                                  runningMean: [0], runningVar: [1],
                                                  n: 4, c: 1, s: 1, momentum: 0.1, eps: 0)
        let invstd = 1 / 1.25.squareRoot()   // 0.894427191
        assertClose([2.5], r.mean, exact, "mean")
        assertClose([Float(invstd)], r.invstd, exact, "invstd")
        // y = 1 + 2 * (x - 2.5) * invstd
        assertClose([-1.683281573, 0.105572809, 1.894427191, 3.683281573], r.y, exact, "y", shape: [4, 1, 1])
        // running mean 0.9 * 0 + 0.1 * 2.5; running var 0.9 * 1 + 0.1 * 5/3 (unbiased).
        assertClose([0.25], r.runningMean, exact, "running mean")
        assertClose([1.066666667], r.runningVar, exact, "running var")
    }

    /// The same numbers in the (N,C,S) image layout: two channels of N=2, S=2 each,
    /// interleaved per sample, so the channel's values are not contiguous.
    func testTrainingForwardImageLayoutByHand() {
        // Channel 0 holds 1, 2 (sample 0) and 3, 4 (sample 1); channel 1 holds 10, 10, 10, 30.
        let x: [Float] = [1, 2, 10, 10, 3, 4, 10, 30]
        let r = referenceBatchNormTrainingForward(x: x, gamma: [2, 1], beta: [1, 0],
                                                  runningMean: [0, 0], runningVar: [1, 1],
                                                  n: 2, c: 2, s: 2, momentum: 0.1, eps: 0)
        // Channel 1: mean 15, biased variance 75, so x - mean = [-5, -5, -5, 15] / sqrt(75).
        let third = Float(5 / 75.0.squareRoot())
        assertClose([2.5, 15], r.mean, exact, "mean")
        assertClose([-1.683281573, 0.105572809, -third, -third,
                     1.894427191, 3.683281573, -third, 3 * third], r.y, exact, "y", shape: [2, 2, 2])
        // Unbiased variance of channel 1: 300 / 3 = 100.
        assertClose([1.066666667, 0.9 + 0.1 * 100], r.runningVar, exact, "running var")
    }

    /// Same data, dy = [1, 0, 0, 0]: dbeta = 1, dgamma = xhat[0] = -1.5 * invstd, and
    /// dx = gamma * invstd / 4 * (4 dy - sum dy - xhat * sum(dy xhat)) = 0.4472 * [1.2, -1.6, -0.4, 0.8].
    func testTrainingBackwardByHand() {
        let x: [Float] = [1, 2, 3, 4]
        let f = referenceBatchNormTrainingForward(x: x, gamma: [2], beta: [1], runningMean: [0], runningVar: [1],
                                                  n: 4, c: 1, s: 1, momentum: 0.1, eps: 0)
        let g = referenceBatchNormBackward(dy: [1, 0, 0, 0], x: x, gamma: [2], mean: f.mean, invstd: f.invstd,
                                           n: 4, c: 1, s: 1)
        assertClose([1], g.dbeta, exact, "dbeta")
        assertClose([-1.341640786], g.dgamma, exact, "dgamma")
        assertClose([0.536656315, -0.715541753, -0.178885438, 0.357770876], g.dx, exact, "dx", shape: [4, 1, 1])
    }

    /// Running mean 2 and variance 4 with gamma 2, beta 1: y = 1 + 2 * (x - 2) / 2 = x - 1.
    func testInferenceForwardAndBackwardByHand() {
        let x: [Float] = [1, 2, 3, 4]
        let y = referenceBatchNormInferenceForward(x: x, gamma: [2], beta: [1], runningMean: [2], runningVar: [4],
                                                   n: 4, c: 1, s: 1, eps: 0)
        assertClose([0, 1, 2, 3], y, exact, "inference y", shape: [4, 1, 1])
        let g = referenceBatchNormInferenceBackward(dy: [1, 1, 1, 1], x: x, gamma: [2], runningMean: [2],
                                                    runningVar: [4], n: 4, c: 1, s: 1, eps: 0)
        assertClose([1, 1, 1, 1], g.dx, exact, "inference dx", shape: [4, 1, 1])
        assertClose([1], g.dgamma, exact, "inference dgamma")   // (-1 + 0 + 1 + 2) / 2
        assertClose([4], g.dbeta, exact, "inference dbeta")
    }

    /// One value per channel (n*s == 1): the variance is 0, y = beta, the running mean moves
    /// and the running variance, undefined unbiased, is left as it was.
    func testSingleValuePerChannelKeepsRunningVariance() {
        let r = referenceBatchNormTrainingForward(x: [3, -7], gamma: [2, 5], beta: [0.5, -1],
                                                  runningMean: [1, 1], runningVar: [2, 3],
                                                  n: 1, c: 2, s: 1, momentum: 0.5, eps: 1e-5)
        XCTAssertEqual(r.y, [0.5, -1])
        XCTAssertEqual(r.mean, [3, -7])
        XCTAssertEqual(r.runningMean, [2, -3])
        XCTAssertEqual(r.runningVar, [2, 3])
    }

    /// k steps on the same batch: running = (1-m)^k * running0 + (1 - (1-m)^k) * statistic,
    /// the statistic being the mean and the unbiased variance.
    func testRunningStatisticsAfterKStepsMatchClosedForm() {
        var rng = SeededGenerator(seed: 21)
        let (n, c, s, k) = (3, 2, 5, 7)
        let momentum: Float = 0.2
        let x = randomFloats(n * c * s, in: -2...3, using: &rng)
        let gamma = randomFloats(c, using: &rng), beta = randomFloats(c, using: &rng)
        let mean0: [Float] = [0.5, -1], var0: [Float] = [2, 0.25]
        var runningMean = mean0, runningVar = var0
        for _ in 0..<k {
            let r = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta,
                                                      runningMean: runningMean, runningVar: runningVar,
                                                      n: n, c: c, s: s, momentum: momentum, eps: 1e-5)
            runningMean = r.runningMean
            runningVar = r.runningVar
        }
        let decay = pow(1 - Double(momentum), Double(k))
        var expectedMean = [Float](), expectedVar = [Float]()
        for j in 0..<c {
            let values = (0..<n).flatMap { i in (0..<s).map { Double(x[(i * c + j) * s + $0]) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let unbiased = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
            expectedMean.append(Float(decay * Double(mean0[j]) + (1 - decay) * mean))
            expectedVar.append(Float(decay * Double(var0[j]) + (1 - decay) * unbiased))
        }
        // k float roundings of the running state: a few ulps each.
        let tolerance = Tolerance(atol: 1e-5, rtol: 1e-5)
        assertClose(expectedMean, runningMean, tolerance, "running mean after \(k) steps", shape: [c])
        assertClose(expectedVar, runningVar, tolerance, "running var after \(k) steps", shape: [c])
    }

    // MARK: - Backward against finite differences

    /// (n, c, s): images, (N,F) features, and N = 1 with s > 1.
    private let fdShapes = [(3, 2, 4), (5, 3, 1), (1, 2, 6), (2, 1, 3)]

    func testTrainingBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 22)
        let eps: Float = 1e-5
        for (n, c, s) in fdShapes {
            let x = randomFloats(n * c * s, in: -2...2, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng)
            let beta = randomFloats(c, using: &rng)
            let r = randomFloats(n * c * s, using: &rng)
            let zeros = [Float](repeating: 0, count: c), ones = [Float](repeating: 1, count: c)
            func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> [Float] {
                referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: zeros,
                                                  runningVar: ones, n: n, c: c, s: s,
                                                  momentum: 0.1, eps: eps).y
            }
            let saved = referenceBatchNormTrainingForward(x: x, gamma: gamma, beta: beta, runningMean: zeros,
                                                          runningVar: ones, n: n, c: c, s: s,
                                                          momentum: 0.1, eps: eps)
            let g = referenceBatchNormBackward(dy: r, x: x, gamma: gamma, mean: saved.mean, invstd: saved.invstd,
                                               n: n, c: c, s: s)
            let shape = "(\(n),\(c),\(s))"
            // The batch statistics move with x, so this checks the full dx, not just gamma * invstd * dy.
            assertClose(FiniteDifferences.gradient(at: x, weightedBy: r, h: 1e-2) { forward($0, gamma, beta) }, g.dx,
                        .finiteDifference, "batch norm training dx vs FD \(shape)", shape: [n, c, s])
            assertClose(FiniteDifferences.gradient(at: gamma, weightedBy: r, h: 1e-2) { forward(x, $0, beta) }, g.dgamma,
                        .finiteDifference, "batch norm training dgamma vs FD \(shape)", shape: [c])
            assertClose(FiniteDifferences.gradient(at: beta, weightedBy: r, h: 1e-2) { forward(x, gamma, $0) }, g.dbeta,
                        .finiteDifference, "batch norm training dbeta vs FD \(shape)", shape: [c])
        }
    }

    func testInferenceBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 23)
        let eps: Float = 1e-5
        for (n, c, s) in fdShapes {
            let x = randomFloats(n * c * s, in: -2...2, using: &rng)
            let gamma = randomFloats(c, in: 0.5...1.5, using: &rng)
            let beta = randomFloats(c, using: &rng)
            let runningMean = randomFloats(c, using: &rng)
            let runningVar = randomFloats(c, in: 0.5...2, using: &rng)
            let r = randomFloats(n * c * s, using: &rng)
            func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> [Float] {
                referenceBatchNormInferenceForward(x: x, gamma: gamma, beta: beta, runningMean: runningMean,
                                                   runningVar: runningVar, n: n, c: c, s: s, eps: eps)
            }
            let g = referenceBatchNormInferenceBackward(dy: r, x: x, gamma: gamma, runningMean: runningMean,
                                                        runningVar: runningVar, n: n, c: c, s: s, eps: eps)
            let shape = "(\(n),\(c),\(s))"
            assertClose(FiniteDifferences.gradient(at: x, weightedBy: r, h: 1e-2) { forward($0, gamma, beta) }, g.dx,
                        .finiteDifference, "batch norm inference dx vs FD \(shape)", shape: [n, c, s])
            assertClose(FiniteDifferences.gradient(at: gamma, weightedBy: r, h: 1e-2) { forward(x, $0, beta) }, g.dgamma,
                        .finiteDifference, "batch norm inference dgamma vs FD \(shape)", shape: [c])
            assertClose(FiniteDifferences.gradient(at: beta, weightedBy: r, h: 1e-2) { forward(x, gamma, $0) }, g.dbeta,
                        .finiteDifference, "batch norm inference dbeta vs FD \(shape)", shape: [c])
        }
    }
}
