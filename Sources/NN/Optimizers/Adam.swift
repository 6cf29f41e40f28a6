import CKernels

/// Adam (Kingma & Ba, 2015) with L2 weight decay, AMSGrad (Reddi et al., 2018) and
/// maximize, as `torch.optim.Adam`; with `decoupledWeightDecay` it is AdamW.
public class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public let amsgrad: Bool, maximize: Bool
    let decoupledWeightDecay: Bool
    public private(set) var stepCount = 0
    private var expAvg: StateBuffers, expAvgSq: StateBuffers, maxExpAvgSq: StateBuffers

    public init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false, maximize: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        (self.amsgrad, self.maximize) = (amsgrad, maximize)
        decoupledWeightDecay = false
        expAvg = StateBuffers("exp_avg", parameters)
        expAvgSq = StateBuffers("exp_avg_sq", parameters)
        maxExpAvgSq = StateBuffers("max_exp_avg_sq", amsgrad ? parameters : [])
        Adam.check(self)
    }

    init(parameters: [Parameter], learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
         weightDecay: Float, amsgrad: Bool, maximize: Bool, decoupled: Bool) {
        self.parameters = parameters
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        (self.amsgrad, self.maximize) = (amsgrad, maximize)
        decoupledWeightDecay = decoupled
        expAvg = StateBuffers("exp_avg", parameters)
        expAvgSq = StateBuffers("exp_avg_sq", parameters)
        maxExpAvgSq = StateBuffers("max_exp_avg_sq", amsgrad ? parameters : [])
        Adam.check(self)
    }

    private static func check(_ o: Adam) {
        let name = o.decoupledWeightDecay ? "AdamW" : "Adam"
        precondition(o.learningRate >= 0, "\(name): learning rate must be non-negative, got \(o.learningRate)")
        precondition(o.beta1 >= 0 && o.beta1 < 1, "\(name): beta1 must be in [0, 1), got \(o.beta1)")
        precondition(o.beta2 >= 0 && o.beta2 < 1, "\(name): beta2 must be in [0, 1), got \(o.beta2)")
        precondition(o.epsilon >= 0, "\(name): epsilon must be non-negative, got \(o.epsilon)")
        precondition(o.weightDecay >= 0, "\(name): weight decay must be non-negative, got \(o.weightDecay)")
    }

    public func step() {
        stepCount += 1
        var p = ck_adam_params(lr: learningRate, beta1: beta1, beta2: beta2, eps: epsilon, weight_decay: weightDecay,
                               amsgrad: amsgrad ? 1 : 0, maximize: maximize ? 1 : 0,
                               decoupled_weight_decay: decoupledWeightDecay ? 1 : 0)
        for (i, parameter) in parameters.enumerated() {
            parameter.update { value, gradient in
                expAvg.withBuffer(i) { m in
                    expAvgSq.withBuffer(i) { v in
                        maxExpAvgSq.withOptionalBuffer(i) { vmax in
                            ck_adam_step(value.baseAddress!, m, v, vmax, gradient.baseAddress!, value.count, &p, Int64(stepCount))
                        }
                    }
                }
            }
        }
    }

    public var state: [String: Tensor] {
        var state: [String: Tensor] = [:]
        expAvg.export(into: &state)
        expAvgSq.export(into: &state)
        maxExpAvgSq.export(into: &state)
        return state
    }

    public func load(state: [String: Tensor], stepCount: Int) throws {
        try checkStateKeys(state, [expAvg, expAvgSq, maxExpAvgSq], optimizer: decoupledWeightDecay ? "AdamW" : "Adam")
        try expAvg.load(from: state)
        try expAvgSq.load(from: state)
        try maxExpAvgSq.load(from: state)
        self.stepCount = stepCount
    }
}

/// AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay
/// (param *= 1 - lr * weightDecay before the Adam update), as `torch.optim.AdamW`.
public final class AdamW: Adam {
    public override init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
        super.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: true)
    }
}
