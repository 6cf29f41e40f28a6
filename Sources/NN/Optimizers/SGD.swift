import CKernels

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum (Sutskever et
/// al., 2013) and L2 weight decay, as `torch.optim.SGD`.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float, dampening: Float, weightDecay: Float
    public let nesterov: Bool, maximize: Bool
    public private(set) var stepCount = 0
    private var momentumBuffers: StateBuffers

    public init(parameters: [Parameter], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false, maximize: Bool = false) {
        precondition(learningRate >= 0, "SGD: learning rate must be non-negative, got \(learningRate)")
        precondition(momentum >= 0, "SGD: momentum must be non-negative, got \(momentum)")
        precondition(weightDecay >= 0, "SGD: weight decay must be non-negative, got \(weightDecay)")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov momentum needs momentum > 0 and zero dampening (momentum \(momentum), dampening \(dampening))")
        self.parameters = parameters
        self.learningRate = learningRate
        (self.momentum, self.dampening, self.weightDecay) = (momentum, dampening, weightDecay)
        (self.nesterov, self.maximize) = (nesterov, maximize)
        momentumBuffers = StateBuffers("momentum_buffer", momentum > 0 ? parameters : [])
    }

    public func step() {
        stepCount += 1
        var p = ck_sgd_params(lr: learningRate, momentum: momentum, dampening: dampening,
                              weight_decay: weightDecay, nesterov: nesterov ? 1 : 0, maximize: maximize ? 1 : 0)
        for (i, parameter) in parameters.enumerated() {
            parameter.update { value, gradient in
                momentumBuffers.withOptionalBuffer(i) {
                    ck_sgd_step(value.baseAddress!, $0, gradient.baseAddress!, value.count, &p, Int64(stepCount))
                }
            }
        }
    }

    public var state: [String: Tensor] {
        var state: [String: Tensor] = [:]
        momentumBuffers.export(into: &state)
        return state
    }

    public func load(state: [String: Tensor], stepCount: Int) throws {
        try checkStateKeys(state, [momentumBuffers], optimizer: "SGD")
        try momentumBuffers.load(from: state)
        self.stepCount = stepCount
    }
}
