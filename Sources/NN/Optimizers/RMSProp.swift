import CKernels

/// RMSProp with momentum, the centered variant and L2 weight decay, as
/// `torch.optim.RMSprop`; one `ck_rmsprop_step` per parameter.
///
/// Tieleman & Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for Machine
/// Learning, 2012; the centered form from Graves, "Generating Sequences With Recurrent
/// Neural Networks", 2013.
public final class RMSProp: Optimizer {
    /// The parameters this optimizer updates, in the order given to `init` (the order that
    /// numbers their state: "0.square_avg" is the first one's).
    public let parameters: [Parameter]
    /// The step size (PyTorch: `lr`, default 1e-2).
    public var learningRate: Float
    /// The decay of the running average of squared gradients, v = alpha v + (1 - alpha) g^2
    /// (PyTorch: `alpha`, default 0.99).
    public let alpha: Float
    /// Added to sqrt(v) before dividing (PyTorch: `eps`, default 1e-8).
    public let epsilon: Float
    /// L2 penalty: weightDecay * param is added to the gradient (PyTorch: `weight_decay`,
    /// default 0).
    public let weightDecay: Float
    /// The momentum factor applied to the scaled step (PyTorch: `momentum`, default 0, no
    /// buffer kept).
    public let momentum: Float
    /// Divides by the estimated variance v - mean(g)^2 instead of v (PyTorch: `centered`,
    /// default false).
    public let centered: Bool
    /// Climbs the gradient instead of descending it (PyTorch: `maximize`, default false).
    public let maximize: Bool
    /// Calls to `step()` so far (restored by `load(state:stepCount:)`).
    public private(set) var stepCount = 0
    private let squareAvg: StateBuffers, momentumBuffers: StateBuffers, gradAvg: StateBuffers

    /// RMSProp over `parameters`; every option defaults to PyTorch's.
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

    /// Updates every parameter in place from its accumulated gradient: g += weightDecay * p,
    /// v = alpha v + (1 - alpha) g², then p -= learningRate * g / (sqrt(v) + epsilon), through
    /// the momentum buffer when momentum > 0. Does not zero the gradients.
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

    /// "i.square_avg" for each parameter i, plus "i.momentum_buffer" when momentum > 0 and
    /// "i.grad_avg" when centered (PyTorch's keys).
    public var state: [String: Tensor] { exportState([squareAvg, momentumBuffers, gradAvg]) }

    /// Restores the buffers saved by `state` and the step count.
    ///
    /// - Throws: `OptimizerStateError`, changing nothing, when a buffer is missing, has
    ///   another shape than its parameter, or a key belongs to no buffer of this optimizer
    ///   (e.g. "0.grad_avg" offered to an RMSProp that is not centered).
    public func load(
state: [String: Tensor], stepCount: Int) throws {
        try loadState(state, into: [squareAvg, momentumBuffers, gradAvg], optimizer: "RMSProp")
        self.stepCount = stepCount
    }
}
