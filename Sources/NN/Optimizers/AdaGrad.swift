import CKernels

/// AdaGrad with learning-rate decay and L2 weight decay, as `torch.optim.Adagrad`; one
/// `ck_adagrad_step` per parameter.
///
/// Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
/// Optimization", JMLR 2011.
public final class AdaGrad: Optimizer {
    /// The parameters this optimizer updates, in the order given to `init` (the order that
    /// numbers their state: "0.sum" is the first one's).
    public let parameters: [Parameter]
    /// The step size before decay (PyTorch: `lr`, default 1e-2).
    public var learningRate: Float
    /// Step t uses learningRate / (1 + (t - 1) * learningRateDecay) (PyTorch: `lr_decay`,
    /// default 0).
    public let learningRateDecay: Float
    /// L2 penalty: weightDecay * param is added to the gradient (PyTorch: `weight_decay`,
    /// default 0).
    public let weightDecay: Float
    /// Added to sqrt(sum of squared gradients) before dividing (PyTorch: `eps`, default 1e-10).
    public let epsilon: Float
    /// Climbs the gradient instead of descending it (PyTorch: `maximize`, default false).
    public let maximize: Bool
    /// Calls to `step()` so far; the decay uses it (restored by `load(state:stepCount:)`).
    public private(set) var stepCount = 0
    private let sums: StateBuffers

    /// AdaGrad over `parameters`; every option defaults to PyTorch's. `initialAccumulatorValue`
    /// is where every sum of squared gradients starts (PyTorch: `initial_accumulator_value`,
    /// default 0).
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

    /// Updates every parameter in place from its accumulated gradient: g += weightDecay * p,
    /// s += g², p -= lr_t * g / (sqrt(s) + epsilon) with lr_t the decayed rate. Does not zero
    /// the gradients.
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

    /// "i.sum", the running sum of squared gradients of each parameter i (PyTorch's key).
    public var state: [String: Tensor] { exportState([sums]) }

    /// Restores the sums saved by `state` and the step count.
    ///
    /// - Throws: `OptimizerStateError`, changing nothing, when a sum is missing, has another
    ///   shape than its parameter, or a key belongs to no buffer of this optimizer.
    public func load(
state: [String: Tensor], stepCount: Int) throws {
        try loadState(state, into: [sums], optimizer: "AdaGrad")
        self.stepCount = stepCount
    }
}
