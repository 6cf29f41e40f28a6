import NN
import NNReference
import TestSupport
import XCTest

/// The Swift optimizers (state per parameter, step counting, the C kernels underneath)
/// against the naive reference formulas over 20 steps with two parameters of different
/// shapes. Tolerance: the reference keeps its state in Double, the kernels in Float;
/// after 20 steps parameters agree to about 1e-6 relative (atol 1e-5, rtol 1e-4 leaves room).
final class OptimizerAPITests: XCTestCase {
    let tolerance = Tolerance(atol: 1e-5, rtol: 1e-4)

    /// Runs `optimizer` and `reference` side by side from the same start and gradients.
    func compare(_ name: String, make: ([Parameter]) -> any Optimizer,
                 reference: (Int) -> (inout [Float], [Float]) -> Void) {
        var generator = RandomGenerator(seed: 11)
        let shapes = [[3, 4], [5]]
        let parameters = shapes.map { Parameter(Tensor(randomUniform: $0, in: -1...1, using: &generator)) }
        var expected = parameters.map(\.value.scalars)
        let references = shapes.map { reference(Tensor.elementCount($0)) }
        let optimizer = make(parameters)
        for step in 1...20 {
            optimizer.zeroGradients()
            // A loss whose gradient is a fresh random tensor g: sum(p * g).
            var grads: [[Float]] = []
            for p in parameters {
                let g = Tensor(randomUniform: p.shape, in: -1...1, using: &generator)
                grads.append(g.scalars)
                (p.value * g).sum().backward()
            }
            optimizer.step()
            XCTAssertEqual(optimizer.stepCount, step)
            for i in parameters.indices {
                references[i](&expected[i], grads[i])
                assertClose(expected[i], parameters[i].value.scalars, tolerance, "\(name) step \(step) parameter \(i)",
                            shape: shapes[i])
            }
        }
    }

    /// A step closure over one parameter that owns the reference's state for it.
    func stepper<S>(_ initial: S, _ step: @escaping (inout [Float], [Float], inout S) -> Void) -> (inout [Float], [Float]) -> Void {
        var state = initial
        return { param, grad in step(&param, grad, &state) }
    }

    func testSGDVariants() {
        for (momentum, dampening, decay, nesterov, maximize) in [
            (Float(0), Float(0), Float(0), false, false), (0.9, 0, 0, false, false), (0.9, 0.3, 0.01, false, false),
            (0.9, 0, 5e-4, true, false), (0.5, 0, 0.1, false, true),
        ] {
            compare("SGD m\(momentum) d\(dampening) wd\(decay) n\(nesterov) max\(maximize)", make: {
                SGD(parameters: $0, learningRate: 0.05, momentum: momentum, dampening: dampening,
                    weightDecay: decay, nesterov: nesterov, maximize: maximize)
            }, reference: { _ in
                self.stepper(ReferenceSGDState()) {
                    referenceSGDStep(param: &$0, grad: $1, state: &$2, lr: 0.05, momentum: momentum, dampening: dampening,
                                     weightDecay: decay, nesterov: nesterov, maximize: maximize)
                }
            })
        }
    }

    func testAdamVariants() {
        for (decay, amsgrad, maximize) in [(Float(0), false, false), (0.01, false, false), (0, true, false), (0.01, true, true)] {
            compare("Adam wd\(decay) ams\(amsgrad) max\(maximize)", make: {
                Adam(parameters: $0, learningRate: 0.01, weightDecay: decay, amsgrad: amsgrad, maximize: maximize)
            }, reference: { n in
                self.stepper(ReferenceAdamState(count: n)) {
                    referenceAdamStep(param: &$0, grad: $1, state: &$2, lr: 0.01, weightDecay: decay, amsgrad: amsgrad,
                                      maximize: maximize)
                }
            })
            compare("AdamW wd\(decay) ams\(amsgrad) max\(maximize)", make: {
                AdamW(parameters: $0, learningRate: 0.01, weightDecay: decay, amsgrad: amsgrad, maximize: maximize)
            }, reference: { n in
                self.stepper(ReferenceAdamState(count: n)) {
                    referenceAdamStep(param: &$0, grad: $1, state: &$2, lr: 0.01, weightDecay: decay, amsgrad: amsgrad,
                                      maximize: maximize, decoupledWeightDecay: true)
                }
            })
        }
    }

    func testAdaGradAndRMSProp() {
        compare("AdaGrad", make: {
            AdaGrad(parameters: $0, learningRate: 0.1, learningRateDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1)
        }, reference: { n in
            self.stepper(ReferenceAdaGradState(count: n, initialAccumulator: 0.1)) {
                referenceAdaGradStep(param: &$0, grad: $1, state: &$2, lr: 0.1, lrDecay: 0.01, weightDecay: 0.01)
            }
        })
        for (momentum, centered, decay) in [(Float(0), false, Float(0)), (0.9, false, 0.01), (0.5, true, 0), (0, true, 0.01)] {
            compare("RMSProp m\(momentum) c\(centered) wd\(decay)", make: {
                RMSProp(parameters: $0, learningRate: 0.01, weightDecay: decay, momentum: momentum, centered: centered)
            }, reference: { n in
                self.stepper(ReferenceRMSPropState(count: n)) {
                    referenceRMSPropStep(param: &$0, grad: $1, state: &$2, lr: 0.01, weightDecay: decay, momentum: momentum,
                                         centered: centered)
                }
            })
        }
    }

    func testLearningRateCanChangeBetweenSteps() {
        let p = Parameter(Tensor([1, 2], shape: [2]))
        let sgd = SGD(parameters: [p], learningRate: 0.1)
        (p.value * Tensor([1, 1], shape: [2])).sum().backward()
        sgd.step()
        sgd.learningRate = 0.5
        sgd.step()  // the same gradient again (not zeroed)
        assertClose([1 - 0.1 - 0.5, 2 - 0.1 - 0.5], p.value.scalars)
    }

    func testStateRoundTripsThroughExportAndLoad() throws {
        var generator = RandomGenerator(seed: 2)
        let a = Parameter(Tensor(randomUniform: [4], using: &generator))
        let b = Parameter(a.value)
        let adamA = Adam(parameters: [a], amsgrad: true), adamB = Adam(parameters: [b], amsgrad: true)
        let g = Tensor(randomUniform: [4], using: &generator)
        for _ in 0..<3 { adamA.zeroGradients(); (a.value * g).sum().backward(); adamA.step() }
        b.value = a.value
        try adamB.load(state: adamA.state, stepCount: adamA.stepCount)
        XCTAssertEqual(Set(adamA.state.keys), ["0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq"])
        for (o, p) in [(adamA, a), (adamB, b)] { o.zeroGradients(); (p.value * g).sum().backward(); o.step() }
        XCTAssertEqual(a.value.scalars, b.value.scalars)
        XCTAssertThrowsError(try adamB.load(state: [:], stepCount: 1))
        // Another optimizer's state is refused, not silently ignored.
        XCTAssertThrowsError(try SGD(parameters: [b], learningRate: 0.1).load(state: adamA.state, stepCount: 3)) {
            XCTAssertTrue("\($0)".contains("0.exp_avg"), "\($0)")
        }
    }
}
