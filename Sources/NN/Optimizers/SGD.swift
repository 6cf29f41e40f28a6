import CKernels

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
/// decay, as `torch.optim.SGD`; one `ck_sgd_step_many` over all the parameters.
///
/// Nesterov momentum in the form of Sutskever, Martens, Dahl & Hinton, "On the importance
/// of initialization and momentum in deep learning", ICML 2013.
public final class SGD: Optimizer {
    /// The parameters this optimizer updates, in the order given to `init` (the order that
    /// numbers their state: "0.momentum_buffer" is the first one's).
    public let parameters: [Parameter]
    /// The step size (PyTorch: `lr`; no default, as in PyTorch).
    public var learningRate: Float
    /// The momentum factor μ: the buffer is b = μ b + (1 - dampening) g (PyTorch: `momentum`,
    /// default 0, no buffer kept).
    public let momentum: Float
    /// The fraction of each gradient left out of the momentum buffer (PyTorch: `dampening`,
    /// default 0).
    public let dampening: Float
    /// L2 penalty: weightDecay * param is added to the gradient (PyTorch: `weight_decay`,
    /// default 0).
    public let weightDecay: Float
    /// Steps along g + μ b instead of b (PyTorch: `nesterov`, default false; needs momentum > 0
    /// and zero dampening).
    public let nesterov: Bool
    /// Climbs the gradient instead of descending it (PyTorch: `maximize`, default false).
    public let maximize: Bool
    /// Calls to `step()` so far (restored by `load(state:stepCount:)`).
    public private(set) var stepCount = 0
    private let momentumBuffers: StateBuffers

    /// SGD over `parameters`; every option defaults to PyTorch's.
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

    /// Updates every parameter in place from its accumulated gradient: g += weightDecay * p,
    /// b = μ b + (1 - dampening) g (b = g on the first step), then p -= learningRate * b
    /// (g + μ b with Nesterov). Does not zero the gradients.
    public func step() {
        stepCount += 1
        var p = ck_sgd_params(lr: learningRate, momentum: momentum, dampening: dampening,
                              weight_decay: weightDecay, nesterov: nesterov ? 1 : 0, maximize: maximize ? 1 : 0)
        let tensors = parameters.enumerated().map { i, parameter in
            let (value, gradient) = parameter.stepPointers()
            return ck_param_buffers(param: value, grad: gradient, state: (momentumBuffers.pointer(i), nil, nil),
                                    count: Tensor.elementCount(parameter.shape))
        }
        ck_sgd_step_many(tensors, Int32(tensors.count), &p, Int64(stepCount))
    }

    /// "i.momentum_buffer" for each parameter i (PyTorch's key), or nothing when momentum
    /// is 0.
    public var state: [String: Tensor] { exportState([momentumBuffers]) }

    /// Restores the momentum buffers saved by `state` and the step count.
    ///
    /// - Throws: `OptimizerStateError`, changing nothing, when a buffer is missing, has
    ///   another shape than its parameter, or a key belongs to no buffer of this optimizer.
    public func load(
state: [String: Tensor], stepCount: Int) throws {
        try loadState(state, into: [momentumBuffers], optimizer: "SGD")
        self.stepCount = stepCount
    }
}
