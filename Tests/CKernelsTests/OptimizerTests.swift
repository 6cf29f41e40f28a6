import CKernels
import NNReference
import TestSupport
import XCTest

/// 20 steps of every optimizer kernel and option against its reference, each step with a
/// fresh random gradient, comparing the parameters and every state buffer after each step.
final class OptimizerTests: XCTestCase {
    static let sizes = [1, 7, 13, 1000, 100_003]
    static let steps = 20
    /// Params and state are O(0.01..1) and see a handful of float roundings per step, so
    /// 20 steps stay within ~1e-6 relative; 1e-5 is headroom yet an order of magnitude below
    /// any one-term slip (a misplaced eps, bias correction or decay term changes an update
    /// by 1e-4 or more with these hyper-parameters).
    static let tolerance = Tolerance(atol: 1e-6, rtol: 1e-5)
    /// RMSProp's momentum buffer sums terms g / sqrt(v) that start near ±10 (v = (1 - alpha)
    /// g^2 on step 1) and cancel to ~0.05, so its rounding error scales with ulp(10) ~ 1e-6
    /// per step rather than with its own value: 20 steps need an atol of ~2e-5.
    static let rmspropMomentumTolerance = Tolerance(atol: 2e-5, rtol: 1e-5)

    /// After one mismatch the trajectories have diverged and every later step would repeat
    /// it; the loops return on the first failure instead.
    private var hasFailed: Bool { (testRun?.totalFailureCount ?? 0) > 0 }

    private func compare(_ expected: [Double], _ observed: [Float], _ what: String, count: Int,
                         tolerance: Tolerance = OptimizerTests.tolerance,
                         file: StaticString = #filePath, line: UInt = #line) {
        assertClose(expected.map { Float($0) }, observed, tolerance, what, shape: [count], file: file, line: line)
    }

    func testSGD() {
        func params(momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                    nesterov: Bool = false, maximize: Bool = false) -> ck_sgd_params {
            ck_sgd_params(lr: 0.05, momentum: momentum, dampening: dampening, weight_decay: weightDecay,
                          nesterov: nesterov ? 1 : 0, maximize: maximize ? 1 : 0)
        }
        let configs: [(String, ck_sgd_params)] = [
            ("plain", params()),
            ("momentum", params(momentum: 0.9)),
            ("dampening", params(momentum: 0.9, dampening: 0.3)),
            ("nesterov", params(momentum: 0.9, nesterov: true)),
            ("weight decay", params(weightDecay: 0.1)),
            ("maximize", params(maximize: true)),
            ("maximize+weight decay+nesterov", params(momentum: 0.8, weightDecay: 0.1, nesterov: true, maximize: true)),
        ]
        var rng = SeededGenerator(seed: 501)
        for (name, config) in configs {
            var p = config
            for count in Self.sizes {
                var param = randomFloats(count, using: &rng)
                var expected = param
                var state = ReferenceSGDState()
                // NaN: the first step must overwrite the buffer without reading it.
                var buffer = [Float](repeating: .nan, count: count)
                for step in 1...Self.steps {
                    let grad = randomFloats(count, using: &rng)
                    referenceSGDStep(param: &expected, grad: grad, state: &state, lr: p.lr, momentum: p.momentum,
                                     dampening: p.dampening, weightDecay: p.weight_decay, nesterov: p.nesterov != 0,
                                     maximize: p.maximize != 0)
                    if p.momentum == 0 {
                        ck_sgd_step(&param, nil, grad, count, &p, Int64(step))
                    } else {
                        ck_sgd_step(&param, &buffer, grad, count, &p, Int64(step))
                    }
                    let what = "ck_sgd_step \(name) step \(step)"
                    assertClose(expected, param, Self.tolerance, "\(what) param", shape: [count])
                    if let referenceBuffer = state.momentumBuffer {
                        compare(referenceBuffer, buffer, "\(what) momentum_buf", count: count)
                    }
                    if hasFailed { return }
                }
            }
        }
    }

    func testAdaGrad() {
        func params(lrDecay: Float = 0, weightDecay: Float = 0, maximize: Bool = false) -> ck_adagrad_params {
            ck_adagrad_params(lr: 0.05, lr_decay: lrDecay, weight_decay: weightDecay, eps: 1e-10,
                              maximize: maximize ? 1 : 0)
        }
        // (name, parameters, initial accumulator): PyTorch's default accumulator is 0.
        let configs: [(String, ck_adagrad_params, Float)] = [
            ("plain", params(), 0),
            ("initial accumulator", params(), 0.1),
            ("lr decay", params(lrDecay: 0.1), 0),
            ("weight decay", params(weightDecay: 0.1), 0),
            ("lr decay+weight decay+maximize", params(lrDecay: 0.05, weightDecay: 0.1, maximize: true), 0.1),
        ]
        var rng = SeededGenerator(seed: 502)
        for (name, config, initial) in configs {
            var p = config
            for count in Self.sizes {
                var param = randomFloats(count, using: &rng)
                var expected = param
                var state = ReferenceAdaGradState(count: count, initialAccumulator: initial)
                var stateSum = [Float](repeating: initial, count: count)
                for step in 1...Self.steps {
                    let grad = randomFloats(count, using: &rng)
                    referenceAdaGradStep(param: &expected, grad: grad, state: &state, lr: p.lr, lrDecay: p.lr_decay,
                                         weightDecay: p.weight_decay, eps: p.eps, maximize: p.maximize != 0)
                    ck_adagrad_step(&param, &stateSum, grad, count, &p, Int64(step))
                    let what = "ck_adagrad_step \(name) step \(step)"
                    assertClose(expected, param, Self.tolerance, "\(what) param", shape: [count])
                    compare(state.sum, stateSum, "\(what) state_sum", count: count)
                    if hasFailed { return }
                }
            }
        }
    }

    func testRMSProp() {
        func params(weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false,
                    maximize: Bool = false) -> ck_rmsprop_params {
            ck_rmsprop_params(lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: weightDecay, momentum: momentum,
                              centered: centered ? 1 : 0, maximize: maximize ? 1 : 0)
        }
        let configs: [(String, ck_rmsprop_params)] = [
            ("plain", params()),
            ("momentum", params(momentum: 0.9)),
            ("centered", params(centered: true)),
            ("weight decay", params(weightDecay: 0.1)),
            ("centered+momentum+weight decay+maximize",
             params(weightDecay: 0.1, momentum: 0.5, centered: true, maximize: true)),
        ]
        var rng = SeededGenerator(seed: 503)
        for (name, config) in configs {
            var p = config
            for count in Self.sizes {
                var param = randomFloats(count, using: &rng)
                var expected = param
                var state = ReferenceRMSPropState(count: count)
                // PyTorch starts all three buffers at zero.
                var squareAverage = [Float](repeating: 0, count: count)
                var momentumBuffer = squareAverage, gradAverage = squareAverage
                for step in 1...Self.steps {
                    let grad = randomFloats(count, using: &rng)
                    referenceRMSPropStep(param: &expected, grad: grad, state: &state, lr: p.lr, alpha: p.alpha, eps: p.eps,
                                         weightDecay: p.weight_decay, momentum: p.momentum,
                                         centered: p.centered != 0, maximize: p.maximize != 0)
                    switch (p.momentum > 0, p.centered != 0) {
                    case (false, false):
                        ck_rmsprop_step(&param, &squareAverage, nil, nil, grad, count, &p)
                    case (true, false):
                        ck_rmsprop_step(&param, &squareAverage, &momentumBuffer, nil, grad, count, &p)
                    case (false, true):
                        ck_rmsprop_step(&param, &squareAverage, nil, &gradAverage, grad, count, &p)
                    case (true, true):
                        ck_rmsprop_step(&param, &squareAverage, &momentumBuffer, &gradAverage, grad, count, &p)
                    }
                    let what = "ck_rmsprop_step \(name) step \(step)"
                    assertClose(expected, param, Self.tolerance, "\(what) param", shape: [count])
                    compare(state.squareAvg, squareAverage, "\(what) square_avg", count: count)
                    if p.momentum > 0 {
                        compare(state.momentumBuffer, momentumBuffer, "\(what) momentum_buf", count: count,
                                tolerance: Self.rmspropMomentumTolerance)
                    }
                    if p.centered != 0 {
                        compare(state.gradAvg, gradAverage, "\(what) grad_avg", count: count)
                    }
                    if hasFailed { return }
                }
            }
        }
    }

    func testAdamAndAdamW() {
        func params(weightDecay: Float = 0, amsgrad: Bool = false, maximize: Bool = false,
                    decoupled: Bool = false) -> ck_adam_params {
            ck_adam_params(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: weightDecay,
                           amsgrad: amsgrad ? 1 : 0, maximize: maximize ? 1 : 0,
                           decoupled_weight_decay: decoupled ? 1 : 0)
        }
        let configs: [(String, ck_adam_params)] = [
            ("Adam plain", params()),
            ("Adam weight decay", params(weightDecay: 0.1)),
            ("Adam amsgrad", params(amsgrad: true)),
            ("Adam maximize", params(maximize: true)),
            ("AdamW", params(weightDecay: 0.1, decoupled: true)),
            ("AdamW amsgrad+maximize", params(weightDecay: 0.1, amsgrad: true, maximize: true, decoupled: true)),
        ]
        var rng = SeededGenerator(seed: 504)
        for (name, config) in configs {
            var p = config
            for count in Self.sizes {
                var param = randomFloats(count, using: &rng)
                var expected = param
                var state = ReferenceAdamState(count: count)
                var m = [Float](repeating: 0, count: count)
                var v = m, vMax = m
                for step in 1...Self.steps {
                    // Gradients spanning four decades, so sqrt(v) ranges from ~eps-relevant to large.
                    let grad = randomFloats(count, using: &rng).map { $0 * Float.random(in: 1e-3...10, using: &rng) }
                    referenceAdamStep(param: &expected, grad: grad, state: &state, lr: p.lr, beta1: p.beta1, beta2: p.beta2,
                                      eps: p.eps, weightDecay: p.weight_decay, amsgrad: p.amsgrad != 0,
                                      maximize: p.maximize != 0, decoupledWeightDecay: p.decoupled_weight_decay != 0)
                    if p.amsgrad != 0 {
                        ck_adam_step(&param, &m, &v, &vMax, grad, count, &p, Int64(step))
                    } else {
                        ck_adam_step(&param, &m, &v, nil, grad, count, &p, Int64(step))
                    }
                    let what = "ck_adam_step \(name) step \(step)"
                    assertClose(expected, param, Self.tolerance, "\(what) param", shape: [count])
                    compare(state.expAvg, m, "\(what) exp_avg", count: count)
                    compare(state.expAvgSq, v, "\(what) exp_avg_sq", count: count)
                    if p.amsgrad != 0 {
                        compare(state.maxExpAvgSq, vMax, "\(what) max_exp_avg_sq", count: count)
                    }
                    if hasFailed { return }
                }
            }
        }
    }

    /// The many-tensor steps update each tensor exactly as the one-tensor steps do, bit for
    /// bit, however the threads' even split of all the elements end to end cuts the tensors:
    /// sizes on both sides of the parallel threshold (32,768), an empty one, 1-3 threads.
    func testManyTensorStepsMatchOneTensorStepsBitForBit() {
        defer { ck_set_num_threads(0) }
        let sizes = [7, 0, 40_000, 1, 32_768, 13]
        var rng = SeededGenerator(seed: 505)
        for threads: Int32 in [1, 2, 3] {
            ck_set_num_threads(threads)
            // Per path, per tensor: value, 3 state buffers, gradient (the same start for both).
            let start = sizes.map { count in (0..<5).map { _ in randomFloats(count, using: &rng) } }
            let one = start.map { $0.map(Self.buffer) }, many = start.map { $0.map(Self.buffer) }
            defer { (one + many).joined().forEach { $0.deallocate() } }
            func list(_ b: [[UnsafeMutableBufferPointer<Float>]]) -> [ck_param_buffers] {
                b.map { ck_param_buffers(param: $0[0].baseAddress, grad: $0[4].baseAddress,
                                         state: ($0[1].baseAddress, $0[2].baseAddress, $0[3].baseAddress), count: $0[0].count) }
            }
            var adam = ck_adam_params(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1,
                                      amsgrad: 1, maximize: 0, decoupled_weight_decay: 0)
            var sgd = ck_sgd_params(lr: 0.1, momentum: 0.9, dampening: 0, weight_decay: 5e-4, nesterov: 1, maximize: 0)
            for step in 1...3 {
                for i in sizes.indices {  // a fresh gradient each step, the same for both paths
                    let grad = randomFloats(sizes[i], using: &rng)
                    _ = one[i][4].update(fromContentsOf: grad)
                    _ = many[i][4].update(fromContentsOf: grad)
                }
                for t in list(one) {
                    ck_adam_step(t.param, t.state.0, t.state.1, t.state.2, t.grad, t.count, &adam, Int64(step))
                    ck_sgd_step(t.param, t.state.0, t.grad, t.count, &sgd, Int64(step))
                }
                let tensors = list(many)
                ck_adam_step_many(tensors, Int32(tensors.count), &adam, Int64(step))
                ck_sgd_step_many(tensors, Int32(tensors.count), &sgd, Int64(step))  // SGD's momentum in state 0
                for i in sizes.indices {
                    for (buffer, name) in zip(0..<4, ["value", "state 0", "state 1", "state 2"]) {
                        let differs = (0..<sizes[i]).first { many[i][buffer][$0].bitPattern != one[i][buffer][$0].bitPattern }
                        XCTAssertNil(differs, "\(name) of tensor \(i) (\(sizes[i]) floats) differs first at this index, "
                                     + "step \(step), \(threads) threads")
                    }
                }
            }
        }
    }

    private static func buffer(_ values: [Float]) -> UnsafeMutableBufferPointer<Float> {
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = b.initialize(fromContentsOf: values)
        return b
    }
}
