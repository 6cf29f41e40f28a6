import NN
import NNReference
import TestSupport
import XCTest

/// Batch normalization in training and inference, for (N,F) and (N,C,H,W): outputs and
/// running statistics against the naive reference (Tolerance.float32), central-difference
/// gradients for x, gamma and beta (Tolerance.finiteDifference, h = 1e-2: the training
/// output is smooth in x as long as the batch variance stays well above 0, which inputs
/// uniform in [-1, 1] over 6+ values per channel guarantee), and the running statistics
/// after several steps against their formula.
final class BatchNormOpsTests: XCTestCase {
    /// (shape, n, c, s) for the two layouts.
    static let layouts: [(shape: [Int], n: Int, c: Int, s: Int)] = [
        ([6, 3], 6, 3, 1),
        ([3, 2, 2, 3], 3, 2, 6),
    ]

    /// The fused batch norm + ReLU: values and gradients equal to relu(batchNorm) (float32),
    /// and a finite-difference check on an input whose normalized values all stay 0.08 from
    /// the kink (the first such seed; h = 1e-2 moves them by under 0.04); in both layouts,
    /// and in inference (the two ops).
    func testFusedReLUMatchesTheTwoOpsAndGradients() {
        for layout in Self.layouts + [([1, 3, 2, 3], 1, 3, 6)] {
            let c = layout.c
            let gamma = randomTensor([c], in: 0.5...1.5, seed: 5), beta = randomTensor([c], in: -0.5...0.5, seed: 6)
            func pre(_ x: Tensor) -> Tensor {
                var rm = Tensor(zeros: [c]), rv = Tensor(ones: [c])
                return withoutGradient {
                    batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm, runningVariance: &rv, training: true)
                }
            }
            guard let x = (1...200).lazy.map({ randomTensor(layout.shape, seed: UInt64($0)) })
                .first(where: { pre($0).scalars.allSatisfy { abs($0) > 0.08 } }) else {
                return XCTFail("no input clear of the ReLU kink for \(layout.shape)")
            }
            XCTAssertTrue(pre(x).scalars.contains { $0 < 0 } && pre(x).scalars.contains { $0 > 0 },
                          "both sides of the ReLU occur \(layout.shape)")
            for training in [true, false] {
                let what = "batchNormReLU \(training ? "training" : "inference") \(layout.shape)"
                func fused(_ t: [Tensor]) -> Tensor {
                    var rm = Tensor(zeros: [c]), rv = Tensor(ones: [c])
                    return batchNormReLU(t[0], gamma: t[1], beta: t[2], runningMean: &rm, runningVariance: &rv,
                                         training: training)
                }
                func separate(_ t: [Tensor]) -> Tensor {
                    var rm = Tensor(zeros: [c]), rv = Tensor(ones: [c])
                    return relu(batchNorm(t[0], gamma: t[1], beta: t[2], runningMean: &rm, runningVariance: &rv,
                                          training: training))
                }
                let seed = randomTensor(layout.shape, seed: 99)
                var gradients: [[[Float]]] = []
                for f in [fused, separate] {
                    let leaves = [x, gamma, beta].map { $0.requiringGradient() }
                    f(leaves).backward(seed: seed)
                    gradients.append(leaves.map { $0.gradient!.scalars })
                }
                assertClose(separate([x, gamma, beta]).scalars, fused([x, gamma, beta]).scalars, .float32,
                            "\(what) values", shape: layout.shape)
                for (k, name) in ["x", "gamma", "beta"].enumerated() {
                    assertClose(gradients[1][k], gradients[0][k], .float32, "\(what) d\(name)")
                }
                checkGradients(what, inputs: [x, gamma, beta], fused)
            }
        }
    }

    func testTrainingMatchesReferenceAndGradients() {
        for layout in Self.layouts {
            let c = layout.c
            let x = randomTensor(layout.shape, seed: 4)
            let gamma = randomTensor([c], in: 0.5...1.5, seed: 5), beta = randomTensor([c], seed: 6)
            let rm0 = randomTensor([c], seed: 7), rv0 = randomTensor([c], in: 0.5...2, seed: 8)
            var rm = rm0, rv = rv0
            let y = batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm, runningVariance: &rv,
                              training: true, momentum: 0.2, epsilon: 1e-5)
            let ref = referenceBatchNormTrainingForward(
                x: x.scalars, gamma: gamma.scalars, beta: beta.scalars, runningMean: rm0.scalars,
                runningVar: rv0.scalars, n: layout.n, c: c, s: layout.s, momentum: 0.2, eps: 1e-5)
            let what = "batchNorm training \(layout.shape)"
            assertClose(ref.y, y.scalars, .float32, what, shape: x.shape)
            assertClose(ref.runningMean, rm.scalars, .float32, "\(what) running mean")
            assertClose(ref.runningVar, rv.scalars, .float32, "\(what) running variance")
            checkGradients(what, inputs: [x, gamma, beta]) {
                var rm = rm0, rv = rv0  // fresh statistics each evaluation (they do not affect y)
                return batchNorm($0[0], gamma: $0[1], beta: $0[2], runningMean: &rm, runningVariance: &rv,
                                 training: true, momentum: 0.2)
            }
            checkGradients("\(what), x only", inputs: [x]) {
                var rm = rm0, rv = rv0
                return batchNorm($0[0], gamma: gamma, beta: beta, runningMean: &rm, runningVariance: &rv, training: true)
            }
            checkGradients("\(what), gamma and beta only", inputs: [gamma, beta]) {
                var rm = rm0, rv = rv0
                return batchNorm(x, gamma: $0[0], beta: $0[1], runningMean: &rm, runningVariance: &rv, training: true)
            }
        }
    }

    /// Over one rank the synchronized op is plain batch norm: the same outputs, running
    /// statistics and gradients (Tolerance.float32: its sums run in double precision, the
    /// kernel's in another order), and its own central-difference gradients.
    func testSynchronizedOverOneRankMatchesBatchNorm() {
        let communicator = SingleProcessCommunicator()
        for layout in Self.layouts {
            let c = layout.c
            let x = randomTensor(layout.shape, seed: 14).requiringGradient()
            let gamma = randomTensor([c], in: 0.5...1.5, seed: 15).requiringGradient()
            let beta = randomTensor([c], seed: 16).requiringGradient()
            let rm0 = randomTensor([c], seed: 17), rv0 = randomTensor([c], in: 0.5...2, seed: 18)
            let weights = randomTensor(layout.shape, seed: 19)
            var (rm, rv, srm, srv) = (rm0, rv0, rm0, rv0)
            let y = batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm, runningVariance: &rv, training: true, momentum: 0.2)
            y.backward(seed: weights)
            let expected = [x.gradient!.scalars, gamma.gradient!.scalars, beta.gradient!.scalars]
            let (x2, gamma2, beta2) = (x.detached.requiringGradient(), gamma.detached.requiringGradient(),
                                       beta.detached.requiringGradient())
            let z = synchronizedBatchNorm(x2, gamma: gamma2, beta: beta2, runningMean: &srm, runningVariance: &srv,
                                          momentum: 0.2, communicator: communicator)
            z.backward(seed: weights)
            let what = "synchronizedBatchNorm \(layout.shape)"
            assertClose(y.scalars, z.scalars, .float32, what, shape: x.shape)
            assertClose(rm.scalars, srm.scalars, .float32, "\(what) running mean")
            assertClose(rv.scalars, srv.scalars, .float32, "\(what) running variance")
            assertClose(expected[0], x2.gradient!.scalars, .float32, "\(what) dx", shape: x.shape)
            assertClose(expected[1], gamma2.gradient!.scalars, .float32, "\(what) dgamma")
            assertClose(expected[2], beta2.gradient!.scalars, .float32, "\(what) dbeta")
            checkGradients(what, inputs: [x.detached, gamma.detached, beta.detached]) {
                var rm = rm0, rv = rv0
                return synchronizedBatchNorm($0[0], gamma: $0[1], beta: $0[2], runningMean: &rm, runningVariance: &rv,
                                             communicator: communicator)
            }
        }
    }

    /// `BatchNorm.withReLU` is relu(layer(x)) in each mode: fused in local training, and
    /// through the layer's own path in inference and with a communicator, whose statistics
    /// it must then all-reduce (the fused kernel knows nothing of ranks). Tolerance.float32:
    /// the synchronized op sums in double precision, the kernels in float.
    func testLayerWithReLUIsReLUOfTheLayerInEveryMode() {
        let x = randomTensor([4, 3, 2, 2], seed: 21)
        for (training, synchronized) in [(true, false), (true, true), (false, false)] {
            let what = "BatchNorm.withReLU training \(training) synchronized \(synchronized)"
            let (fused, plain) = (BatchNorm(3, momentum: 0.2), BatchNorm(3, momentum: 0.2))
            let counter = CountingCommunicator()
            for layer in [fused, plain] {
                layer.weight.value = Tensor([1.5, 0.5, 1], shape: [3])
                layer.runningVariance.value = Tensor([2, 0.5, 1], shape: [3])
                layer.isTraining = training
            }
            if synchronized { fused.communicator = counter }
            let y = fused.withReLU(x)
            assertClose(relu(plain(x)).scalars, y.scalars, .float32, what, shape: x.shape)
            assertClose(plain.runningMean.value.scalars, fused.runningMean.value.scalars, .float32, "\(what) running mean")
            assertClose(plain.runningVariance.value.scalars, fused.runningVariance.value.scalars, .float32,
                        "\(what) running variance")
            XCTAssertEqual(counter.allReduces > 0, synchronized, "\(what): \(counter.allReduces) all-reduces")
        }
    }

    func testInferenceMatchesReferenceAndGradients() {
        for layout in Self.layouts {
            let c = layout.c
            let x = randomTensor(layout.shape, seed: 4)
            let gamma = randomTensor([c], in: 0.5...1.5, seed: 5), beta = randomTensor([c], seed: 6)
            let rm0 = randomTensor([c], seed: 7), rv0 = randomTensor([c], in: 0.5...2, seed: 8)
            var rm = rm0, rv = rv0
            let y = batchNorm(x, gamma: gamma, beta: beta, runningMean: &rm, runningVariance: &rv, training: false)
            let what = "batchNorm inference \(layout.shape)"
            assertClose(referenceBatchNormInferenceForward(
                            x: x.scalars, gamma: gamma.scalars, beta: beta.scalars, runningMean: rm0.scalars,
                            runningVar: rv0.scalars, n: layout.n, c: c, s: layout.s, eps: 1e-5),
                        y.scalars, .float32, what, shape: x.shape)
            XCTAssertEqual(rm, rm0, "\(what) leaves the running mean alone")
            XCTAssertEqual(rv, rv0, "\(what) leaves the running variance alone")
            checkGradients(what, inputs: [x, gamma, beta]) {
                var rm = rm0, rv = rv0
                return batchNorm($0[0], gamma: $0[1], beta: $0[2], runningMean: &rm, runningVariance: &rv,
                                 training: false)
            }
            checkGradients("\(what), gamma only", inputs: [gamma]) {
                var rm = rm0, rv = rv0
                return batchNorm(x, gamma: $0[0], beta: beta, runningMean: &rm, runningVariance: &rv, training: false)
            }
        }
    }

    /// k training calls of the layer on different batches leave running = (1 - m) running
    /// + m * stat with the unbiased batch variance; inference then computes
    /// (x - rm) / sqrt(rv + eps) * gamma + beta with them. The formula is evaluated here in
    /// Double, so Tolerance.float32 covers the kernel's Float arithmetic.
    func testRunningStatisticsAfterSeveralStepsAndInferenceUsesThem() {
        for shape in [[5, 2], [4, 2, 3, 2]] {
            let layer = BatchNorm(2, momentum: 0.3)
            layer.weight.value = Tensor([1.5, 0.5], shape: [2])
            layer.bias.value = Tensor([0.25, -1], shape: [2])
            let (n, c, s) = (shape[0], 2, Tensor.elementCount(shape) / (shape[0] * 2))
            var runningMean = [Double](repeating: 0, count: c), runningVariance = [Double](repeating: 1, count: c)
            for step in 0..<4 {
                // Batches with different means and spreads per step.
                let x = randomTensor(shape, in: -1...Float(1 + step), seed: UInt64(40 + step))
                _ = layer(x)
                for j in 0..<c {
                    var values: [Double] = []
                    for i in 0..<n { for k in 0..<s { values.append(Double(x.scalars[(i * c + j) * s + k])) } }
                    let mean = values.reduce(0, +) / Double(values.count)
                    let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
                    runningMean[j] = 0.7 * runningMean[j] + 0.3 * mean
                    runningVariance[j] = 0.7 * runningVariance[j] + 0.3 * unbiased
                }
                assertClose(runningMean.map { Float($0) }, layer.runningMean.value.scalars, .float32,
                            "\(shape) running mean after \(step + 1) steps")
                assertClose(runningVariance.map { Float($0) }, layer.runningVariance.value.scalars, .float32,
                            "\(shape) running variance after \(step + 1) steps")
            }
            layer.isTraining = false
            let x = randomTensor(shape, in: -2...2, seed: 50)
            let y = layer(x)
            let (gamma, beta) = ([1.5, 0.5], [0.25, -1.0])
            var expected = [Float](repeating: 0, count: x.count)
            for i in 0..<n { for j in 0..<c { for k in 0..<s {
                let index = (i * c + j) * s + k
                let xhat = (Double(x.scalars[index]) - runningMean[j]) / (runningVariance[j] + 1e-5).squareRoot()
                expected[index] = Float(xhat * gamma[j] + beta[j])
            } } }
            assertClose(expected, y.scalars, .float32, "\(shape) inference with the running statistics", shape: shape)
            // Inference does not move the statistics.
            _ = layer(x)
            assertClose(runningMean.map { Float($0) }, layer.runningMean.value.scalars, .float32, "\(shape) after inference")
        }
    }
}

/// One process whose all-reduces are counted: the identity, as `SingleProcessCommunicator`.
private final class CountingCommunicator: Communicator {
    let rank = 0, size = 1
    private(set) var allReduces = 0
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) { allReduces += 1 }
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) { allReduces += 1 }
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {}
    func barrier(label: String) {}
    func abort(_ message: String) -> Never { fatalError(message) }
}
