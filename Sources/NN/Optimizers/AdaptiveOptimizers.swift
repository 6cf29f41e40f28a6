import CKernels

/// AdaGrad (Duchi et al., 2011) with learning-rate decay and L2 weight decay, as
/// `torch.optim.Adagrad`.
public final class AdaGrad: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let learningRateDecay: Float, weightDecay: Float, epsilon: Float, maximize: Bool
    public private(set) var stepCount = 0
    private var sums: StateBuffers

    public init(parameters: [Parameter], learningRate: Float = 1e-2, learningRateDecay: Float = 0,
                weightDecay: Float = 0, initialAccumulatorValue: Float = 0, epsilon: Float = 1e-10,
                maximize: Bool = false) {
        precondition(learningRate >= 0, "AdaGrad: learning rate must be non-negative, got \(learningRate)")
        precondition(learningRateDecay >= 0, "AdaGrad: lr decay must be non-negative, got \(learningRateDecay)")
        precondition(weightDecay >= 0, "AdaGrad: weight decay must be non-negative, got \(weightDecay)")
        precondition(initialAccumulatorValue >= 0, "AdaGrad: initial accumulator must be non-negative, got \(initialAccumulatorValue)")
        precondition(epsilon >= 0, "AdaGrad: epsilon must be non-negative, got \(epsilon)")
        self.parameters = parameters
        self.learningRate = learningRate
        (self.learningRateDecay, self.weightDecay, self.epsilon, self.maximize) = (learningRateDecay, weightDecay, epsilon, maximize)
        sums = StateBuffers("sum", parameters, initialValue: initialAccumulatorValue)
    }

    public func step() {
        stepCount += 1
        var p = ck_adagrad_params(lr: learningRate, lr_decay: learningRateDecay, weight_decay: weightDecay,
                                  eps: epsilon, maximize: maximize ? 1 : 0)
        for (i, parameter) in parameters.enumerated() {
            parameter.update { value, gradient in
                sums.withBuffer(i) { ck_adagrad_step(value.baseAddress!, $0, gradient.baseAddress!, value.count, &p, Int64(stepCount)) }
            }
        }
    }

    public var state: [String: Tensor] {
        var state: [String: Tensor] = [:]
        sums.export(into: &state)
        return state
    }

    public func load(state: [String: Tensor], stepCount: Int) throws {
        try checkStateKeys(state, [sums], optimizer: "AdaGrad")
        try sums.load(from: state)
        self.stepCount = stepCount
    }
}

/// RMSProp (Hinton, Coursera lecture 6e, 2012) with momentum, the centered variant
/// (Graves, 2013) and L2 weight decay, as `torch.optim.RMSprop`.
public final class RMSProp: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let alpha: Float, epsilon: Float, weightDecay: Float, momentum: Float
    public let centered: Bool, maximize: Bool
    public private(set) var stepCount = 0
    private var squareAvg: StateBuffers, momentumBuffers: StateBuffers, gradAvg: StateBuffers

    public init(parameters: [Parameter], learningRate: Float = 1e-2, alpha: Float = 0.99, epsilon: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false, maximize: Bool = false) {
        precondition(learningRate >= 0, "RMSProp: learning rate must be non-negative, got \(learningRate)")
        precondition(alpha >= 0 && alpha <= 1, "RMSProp: alpha must be in [0, 1], got \(alpha)")
        precondition(epsilon >= 0, "RMSProp: epsilon must be non-negative, got \(epsilon)")
        precondition(weightDecay >= 0, "RMSProp: weight decay must be non-negative, got \(weightDecay)")
        precondition(momentum >= 0, "RMSProp: momentum must be non-negative, got \(momentum)")
        self.parameters = parameters
        self.learningRate = learningRate
        (self.alpha, self.epsilon, self.weightDecay, self.momentum) = (alpha, epsilon, weightDecay, momentum)
        (self.centered, self.maximize) = (centered, maximize)
        squareAvg = StateBuffers("square_avg", parameters)
        momentumBuffers = StateBuffers("momentum_buffer", momentum > 0 ? parameters : [])
        gradAvg = StateBuffers("grad_avg", centered ? parameters : [])
    }

    public func step() {
        stepCount += 1
        var p = ck_rmsprop_params(lr: learningRate, alpha: alpha, eps: epsilon, weight_decay: weightDecay,
                                  momentum: momentum, centered: centered ? 1 : 0, maximize: maximize ? 1 : 0)
        for (i, parameter) in parameters.enumerated() {
            parameter.update { value, gradient in
                squareAvg.withBuffer(i) { v in
                    momentumBuffers.withOptionalBuffer(i) { buf in
                        gradAvg.withOptionalBuffer(i) { avg in
                            ck_rmsprop_step(value.baseAddress!, v, buf, avg, gradient.baseAddress!, value.count, &p)
                        }
                    }
                }
            }
        }
    }

    public var state: [String: Tensor] {
        var state: [String: Tensor] = [:]
        squareAvg.export(into: &state)
        momentumBuffers.export(into: &state)
        gradAvg.export(into: &state)
        return state
    }

    public func load(state: [String: Tensor], stepCount: Int) throws {
        try checkStateKeys(state, [squareAvg, momentumBuffers, gradAvg], optimizer: "RMSProp")
        try squareAvg.load(from: state)
        try momentumBuffers.load(from: state)
        try gradAvg.load(from: state)
        self.stepCount = stepCount
    }
}
