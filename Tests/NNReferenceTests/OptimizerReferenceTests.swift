import Foundation
import NNReference
import TestSupport
import XCTest

/// Single steps of the optimizer references worked by hand from torch.optim's rules.
final class OptimizerReferenceTests: XCTestCase {
    /// From zero state, m_hat = g and v_hat = g^2, so the first step is lr * g / (|g| + eps):
    /// lr * sign(g) up to eps.
    func testAdamFirstStepMovesEachParamByLearningRate() {
        let lr: Float = 1e-3
        let start: [Float] = [0.5, -0.25, 1, 0]
        let grad: [Float] = [3, -0.01, 1e-3, -100]
        var param = start
        var state = ReferenceAdamState(count: param.count)
        referenceAdamStep(param: &param, grad: grad, state: &state, lr: lr)
        for i in param.indices {
            let sign: Float = grad[i] > 0 ? 1 : -1
            // The only error is rounding param to float: half an ulp of 1.
            XCTAssertEqual(param[i], start[i] - lr * sign, accuracy: 1e-6, "adam param \(i)")
        }
        var maximizing = ReferenceAdamState(count: 1)
        var p: [Float] = [0]
        referenceAdamStep(param: &p, grad: [2], state: &maximizing, lr: lr, maximize: true)
        XCTAssertEqual(p[0], lr, accuracy: 1e-9, "adam maximize climbs the gradient")
    }

    /// With a zero gradient m and v stay zero, so AdamW's only change is the decoupled
    /// shrink param *= 1 - lr * wd; Adam's L2 decay instead enters the gradient and moves
    /// the parameter by lr towards zero.
    func testAdamWShrinksAndAdamDecaysThroughTheGradient() {
        var adamW = ReferenceAdamState(count: 1)
        var p: [Float] = [2]
        referenceAdamStep(param: &p, grad: [0], state: &adamW, lr: 0.1, weightDecay: 0.5, decoupledWeightDecay: true)
        XCTAssertEqual(p[0], 2 * (1 - 0.1 * 0.5), accuracy: 1e-6)
        var adam = ReferenceAdamState(count: 1)
        var q: [Float] = [2]
        referenceAdamStep(param: &q, grad: [0], state: &adam, lr: 0.1, weightDecay: 0.5)
        XCTAssertEqual(q[0], 2 - 0.1, accuracy: 1e-6)
    }

    /// AMSGrad keeps the largest raw v: after a large gradient then a zero one,
    /// max_exp_avg_sq is still the first v while v (exp_avg_sq) itself decays.
    func testAMSGradKeepsMaximumSecondMoment() {
        var state = ReferenceAdamState(count: 1)
        var p: [Float] = [0]
        referenceAdamStep(param: &p, grad: [2], state: &state, lr: 0.1, beta2: 0.9, amsgrad: true)
        XCTAssertEqual(state.expAvgSq[0], 0.1 * 4, accuracy: 1e-7)
        referenceAdamStep(param: &p, grad: [0], state: &state, lr: 0.1, beta2: 0.9, amsgrad: true)
        XCTAssertEqual(state.expAvgSq[0], 0.9 * 0.1 * 4, accuracy: 1e-7)
        XCTAssertEqual(state.maxExpAvgSq[0], 0.1 * 4, accuracy: 1e-7)
        XCTAssertEqual(state.step, 2)
    }

    func testSGDMomentumDampeningNesterovByHand() {
        // Momentum 0.9, dampening 0.5: b1 = g1 = 1 (no dampening on the first step),
        // b2 = 0.9 * 1 + 0.5 * 1 = 1.4; param = 1 - 0.1 * 1 - 0.1 * 1.4.
        var sgd = ReferenceSGDState()
        var p: [Float] = [1]
        for _ in 0..<2 { referenceSGDStep(param: &p, grad: [1], state: &sgd, lr: 0.1, momentum: 0.9, dampening: 0.5) }
        XCTAssertEqual(p[0], 1 - 0.1 - 0.14, accuracy: 1e-6)
        XCTAssertEqual(sgd.momentumBuffer![0], 1.4, accuracy: 1e-6)
        // Nesterov: the step uses g + momentum * b = 1 + 0.9 * 1 on the first step.
        var nesterov = ReferenceSGDState()
        var q: [Float] = [1]
        referenceSGDStep(param: &q, grad: [1], state: &nesterov, lr: 0.1, momentum: 0.9, nesterov: true)
        XCTAssertEqual(q[0], 1 - 0.19, accuracy: 1e-6)
    }

    /// maximize negates the gradient before weight decay, so decay still pulls towards 0:
    /// g = -0.5 + 0.1 * 1 = -0.4, param = 1 - 0.1 * (-0.4) = 1.04.
    func testSGDMaximizeNegatesGradientBeforeWeightDecay() {
        var sgd = ReferenceSGDState()
        var p: [Float] = [1]
        referenceSGDStep(param: &p, grad: [0.5], state: &sgd, lr: 0.1, weightDecay: 0.1, maximize: true)
        XCTAssertNil(sgd.momentumBuffer, "no momentum, no buffer")
        XCTAssertEqual(p[0], 1.04, accuracy: 1e-6)
    }

    func testAdaGradLearningRateDecayByHand() {
        // Step 1: sum = 4, param -= 0.1 * 2 / 2. Step 2: lr / (1 + 1 * 0.5), sum = 8.
        var adagrad = ReferenceAdaGradState(count: 1)
        var p: [Float] = [0]
        referenceAdaGradStep(param: &p, grad: [2], state: &adagrad, lr: 0.1, lrDecay: 0.5, eps: 0)
        XCTAssertEqual(p[0], -0.1, accuracy: 1e-7)
        referenceAdaGradStep(param: &p, grad: [2], state: &adagrad, lr: 0.1, lrDecay: 0.5, eps: 0)
        XCTAssertEqual(p[0], Float(-0.1 - 0.1 / 1.5 * 2 / sqrt(8.0)), accuracy: 1e-7)
        XCTAssertEqual(adagrad.sum[0], 8)
    }

    /// From zero state, v = (1 - alpha) g^2, so the first step is lr / sqrt(1 - alpha) * sign(g);
    /// centered subtracts ((1 - alpha) g)^2, leaving alpha (1 - alpha) g^2.
    func testRMSPropFirstStepByHand() {
        var plain = ReferenceRMSPropState(count: 1)
        var p: [Float] = [0]
        referenceRMSPropStep(param: &p, grad: [-3], state: &plain, lr: 0.01, alpha: 0.99, eps: 0)
        XCTAssertEqual(p[0], Float(0.01 / sqrt(0.01)), accuracy: 1e-6)
        var centered = ReferenceRMSPropState(count: 1)
        var q: [Float] = [0]
        referenceRMSPropStep(param: &q, grad: [-3], state: &centered, lr: 0.01, alpha: 0.99, eps: 0, centered: true)
        XCTAssertEqual(q[0], Float(0.01 / sqrt(0.99 * 0.01)), accuracy: 1e-6)
        // Momentum: the buffer starts at zero, so the first step equals the plain one.
        var momentum = ReferenceRMSPropState(count: 1)
        var r: [Float] = [0]
        referenceRMSPropStep(param: &r, grad: [-3], state: &momentum, lr: 0.01, alpha: 0.99, eps: 0, momentum: 0.9)
        XCTAssertEqual(r[0], p[0])
        // alpha arrives as Float(0.99), so 1 - alpha is 0.01 only to ~5e-7 relative.
        XCTAssertEqual(momentum.momentumBuffer[0], -10, accuracy: 1e-4)
    }
}
