import CKernels

/// Adam with L2 weight decay, AMSGrad and maximize, as `torch.optim.Adam`; one
/// `ck_adam_step_many` over all the parameters. `AdamW` (below) is the same with decoupled
/// weight decay.
///
/// Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015; AMSGrad from
/// Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
public class Adam: Optimizer {
    /// The parameters this optimizer updates, in the order given to `init` (the order that
    /// numbers their state: "0.exp_avg" is the first one's).
    public let parameters: [Parameter]
    /// The step size (PyTorch: `lr`, default 1e-3).
    public var learningRate: Float
    /// The decay of the running average of gradients m (PyTorch: `betas[0]`, default 0.9).
    public let beta1: Float
    /// The decay of the running average of squared gradients v (PyTorch: `betas[1]`,
    /// default 0.999).
    public let beta2: Float
    /// Added to sqrt(v̂) before dividing (PyTorch: `eps`, default 1e-8).
    public let epsilon: Float
    /// Adam: L2 penalty, weightDecay * param added to the gradient (PyTorch: `weight_decay`,
    /// default 0). AdamW: the decoupled shrink param *= 1 - learningRate * weightDecay
    /// (default 1e-2).
    public let weightDecay: Float
    /// Divides by the largest v seen so far instead of the current one (PyTorch: `amsgrad`,
    /// default false).
    public let amsgrad: Bool
    /// Climbs the gradient instead of descending it (PyTorch: `maximize`, default false).
    public let maximize: Bool
    /// True for AdamW: weight decay shrinks the parameter instead of entering the gradient.
    let decoupledWeightDecay: Bool
    /// Calls to `step()` so far; the bias corrections 1 - β^t use it (restored by
    /// `load(state:stepCount:)`).
    public private(set) var stepCount = 0
    private let expAvg: StateBuffers, expAvgSq: StateBuffers, maxExpAvgSq: StateBuffers

    private var name: String { decoupledWeightDecay ? "AdamW" : "Adam" }

    /// Adam over `parameters`; every option defaults to PyTorch's.
    public convenience init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9,
                            beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0,
                            amsgrad: Bool = false, maximize: Bool = false) {
        self.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupledWeightDecay: false)
    }

    /// The one initializer of Adam and AdamW, which differ only in how weight decay applies.
    init(parameters: [Parameter], learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
         weightDecay: Float, amsgrad: Bool, maximize: Bool, decoupledWeightDecay: Bool) {
        let name = decoupledWeightDecay ? "AdamW" : "Adam"
        precondition(learningRate >= 0, "\(name): learning rate must be non-negative, got \(learningRate)")
        precondition(beta1 >= 0 && beta1 < 1, "\(name): beta1 must be in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "\(name): beta2 must be in [0, 1), got \(beta2)")
        precondition(epsilon >= 0, "\(name): epsilon must be non-negative, got \(epsilon)")
        precondition(weightDecay >= 0, "\(name): weight decay must be non-negative, got \(weightDecay)")
        self.parameters = parameters
        self.learningRate = learningRate
        (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        (self.amsgrad, self.maximize, self.decoupledWeightDecay) = (amsgrad, maximize, decoupledWeightDecay)
        expAvg = StateBuffers("exp_avg", parameters)
        expAvgSq = StateBuffers("exp_avg_sq", parameters)
        maxExpAvgSq = StateBuffers("max_exp_avg_sq", amsgrad ? parameters : [])
    }

    /// Updates every parameter in place from its accumulated gradient: m = β1 m + (1 - β1) g,
    /// v = β2 v + (1 - β2) g², p -= learningRate * m̂ / (sqrt(v̂) + epsilon) with the
    /// bias-corrected m̂, v̂, and weight decay as ``weightDecay`` says. Does not zero the
    /// gradients.
    public func step() {
        stepCount += 1
        var p = ck_adam_params(lr: learningRate, beta1: beta1, beta2: beta2, eps: epsilon, weight_decay: weightDecay,
                               amsgrad: amsgrad ? 1 : 0, maximize: maximize ? 1 : 0,
                               decoupled_weight_decay: decoupledWeightDecay ? 1 : 0)
        let tensors = parameters.enumerated().map { i, parameter in
            let (value, gradient) = parameter.stepPointers()
            return ck_param_buffers(param: value, grad: gradient,
                                    state: (expAvg.pointer(i), expAvgSq.pointer(i), maxExpAvgSq.pointer(i)),
                                    count: Tensor.elementCount(parameter.shape))
        }
        ck_adam_step_many(tensors, Int32(tensors.count), &p, Int64(stepCount))
    }

    /// "i.exp_avg" and "i.exp_avg_sq" for each parameter i, plus "i.max_exp_avg_sq" with
    /// AMSGrad (PyTorch's keys).
    public var state: [String: Tensor] { exportState([expAvg, expAvgSq, maxExpAvgSq]) }

    /// Restores the moments saved by `state` and the step count. Adam's and AdamW's states
    /// are interchangeable.
    ///
    /// - Throws: `OptimizerStateError`, changing nothing, when a moment is missing, has
    ///   another shape than its parameter, or a key belongs to no buffer of this optimizer.
    public func load(
state: [String: Tensor], stepCount: Int) throws {
        try loadState(state, into: [expAvg, expAvgSq, maxExpAvgSq], optimizer: name)
        self.stepCount = stepCount
    }
}

/// AdamW: Adam with decoupled weight decay (param *= 1 - lr * weightDecay before the Adam
/// update), as `torch.optim.AdamW`; its checkpoints hold the same tensors as Adam's.
///
/// Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
public final class AdamW: Adam {
    /// AdamW over `parameters`; every option defaults to PyTorch's, which differ from Adam's
    /// only in `weightDecay` (1e-2 instead of 0).
    public init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
        super.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupledWeightDecay: true)
    }
}
