import Foundation

// One-step references of torch.optim's algorithms, written from the pseudocode of PyTorch's
// documentation with the state kept in Double. Where the documentation and PyTorch's code
// differ, the code wins: `maximize` negates the raw gradient before weight decay is added
// (the SGD page applies it at the end, which would make decay push weights away from zero
// when maximizing). Hyper-parameters are taken as Float, as the kernels receive them.
//
// Like the other references, each optimizer is a function, `reference<Optimizer>Step`: it
// updates one parameter in place from its gradient and its state, passed inout. The state
// is a struct per optimizer whose fields carry PyTorch's names for `state[p]` (exp_avg is
// `expAvg`), the names the checkpoints use too.

private func checkStep(_ param: [Float], _ grad: [Float], _ count: Int, _ name: String) {
    precondition(param.count == count && grad.count == count,
                 "\(name): param \(param.count), grad \(grad.count), state \(count) elements")
}

/// SGD's state for one parameter.
public struct ReferenceSGDState: Sendable {
    /// The momentum buffer b; nil until the first step with momentum (then b_1 = g_1,
    /// undampened, as PyTorch seeds it).
    public var momentumBuffer: [Double]?

    public init() {}
}

/// One step of SGD with momentum, dampening, Nesterov momentum (in the form of Sutskever et
/// al. 2013 that PyTorch uses), L2 weight decay and maximize: updates `param` and `state`
/// from `grad`.
public func referenceSGDStep(param: inout [Float], grad: [Float], state: inout ReferenceSGDState,
                             lr: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                             nesterov: Bool = false, maximize: Bool = false) {
    precondition(!nesterov || (momentum > 0 && dampening == 0),
                 "SGD: Nesterov needs momentum > 0 and dampening 0 (momentum \(momentum), dampening \(dampening))")
    checkStep(param, grad, state.momentumBuffer?.count ?? param.count, "SGD")
    let (lr, mu, dampening, weightDecay) = (Double(lr), Double(momentum), Double(dampening), Double(weightDecay))
    let first = state.momentumBuffer == nil
    var buffer = state.momentumBuffer ?? [Double](repeating: 0, count: param.count)
    for i in param.indices {
        let theta = Double(param[i])
        var g = maximize ? -Double(grad[i]) : Double(grad[i])
        if weightDecay != 0 { g += weightDecay * theta }
        if mu != 0 {
            buffer[i] = first ? g : mu * buffer[i] + (1 - dampening) * g
            g = nesterov ? g + mu * buffer[i] : buffer[i]
        }
        param[i] = Float(theta - lr * g)
    }
    if mu != 0 { state.momentumBuffer = buffer }
}

/// AdaGrad's state for one parameter.
public struct ReferenceAdaGradState: Sendable {
    /// Steps taken so far.
    public var step = 0
    /// The running sum of squared gradients; starts at the initial accumulator value.
    public var sum: [Double]

    public init(count: Int, initialAccumulator: Float = 0) {
        sum = [Double](repeating: Double(initialAccumulator), count: count)
    }
}

/// One step of AdaGrad (Duchi et al. 2011) with learning-rate decay, L2 weight decay and
/// maximize: updates `param` and `state` from `grad`.
public func referenceAdaGradStep(param: inout [Float], grad: [Float], state: inout ReferenceAdaGradState,
                                 lr: Float, lrDecay: Float = 0, weightDecay: Float = 0, eps: Float = 1e-10,
                                 maximize: Bool = false) {
    checkStep(param, grad, state.sum.count, "AdaGrad")
    state.step += 1
    let (weightDecay, eps) = (Double(weightDecay), Double(eps))
    let decayedLR = Double(lr) / (1 + Double(state.step - 1) * Double(lrDecay))
    for i in param.indices {
        let theta = Double(param[i])
        var g = maximize ? -Double(grad[i]) : Double(grad[i])
        if weightDecay != 0 { g += weightDecay * theta }
        state.sum[i] += g * g
        param[i] = Float(theta - decayedLR * g / (state.sum[i].squareRoot() + eps))
    }
}

/// RMSProp's state for one parameter; every buffer starts at zero.
public struct ReferenceRMSPropState: Sendable {
    /// v: the running average of g^2.
    public var squareAvg: [Double]
    /// The running average of g (used when centered).
    public var gradAvg: [Double]
    /// The momentum buffer (used when momentum > 0).
    public var momentumBuffer: [Double]

    public init(count: Int) {
        squareAvg = [Double](repeating: 0, count: count)
        gradAvg = squareAvg
        momentumBuffer = squareAvg
    }
}

/// One step of RMSProp (Tieleman & Hinton 2012; centered form from Graves 2013) with
/// momentum, L2 weight decay and maximize: updates `param` and `state` from `grad`.
public func referenceRMSPropStep(param: inout [Float], grad: [Float], state: inout ReferenceRMSPropState,
                                 lr: Float, alpha: Float = 0.99, eps: Float = 1e-8, weightDecay: Float = 0,
                                 momentum: Float = 0, centered: Bool = false, maximize: Bool = false) {
    checkStep(param, grad, state.squareAvg.count, "RMSProp")
    let (lr, alpha, eps) = (Double(lr), Double(alpha), Double(eps))
    let (weightDecay, mu) = (Double(weightDecay), Double(momentum))
    for i in param.indices {
        let theta = Double(param[i])
        var g = maximize ? -Double(grad[i]) : Double(grad[i])
        if weightDecay != 0 { g += weightDecay * theta }
        state.squareAvg[i] = alpha * state.squareAvg[i] + (1 - alpha) * g * g
        var variance = state.squareAvg[i]
        if centered {
            state.gradAvg[i] = alpha * state.gradAvg[i] + (1 - alpha) * g
            variance -= state.gradAvg[i] * state.gradAvg[i]
        }
        let scaled = g / (variance.squareRoot() + eps)
        if mu > 0 {
            state.momentumBuffer[i] = mu * state.momentumBuffer[i] + scaled
            param[i] = Float(theta - lr * state.momentumBuffer[i])
        } else {
            param[i] = Float(theta - lr * scaled)
        }
    }
}

/// Adam's (and AdamW's) state for one parameter; every buffer starts at zero.
public struct ReferenceAdamState: Sendable {
    /// Steps taken so far (t).
    public var step = 0
    /// m: the running average of g.
    public var expAvg: [Double]
    /// v: the running average of g^2.
    public var expAvgSq: [Double]
    /// The running maximum of v (used with AMSGrad).
    public var maxExpAvgSq: [Double]

    public init(count: Int) {
        expAvg = [Double](repeating: 0, count: count)
        expAvgSq = expAvg
        maxExpAvgSq = expAvg
    }
}

/// One step of Adam (Kingma & Ba 2015) with L2 weight decay, AMSGrad (Reddi et al. 2018) and
/// maximize; with `decoupledWeightDecay` it is AdamW (Loshchilov & Hutter 2019): updates
/// `param` and `state` from `grad`.
public func referenceAdamStep(param: inout [Float], grad: [Float], state: inout ReferenceAdamState,
                              lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                              weightDecay: Float = 0, amsgrad: Bool = false, maximize: Bool = false,
                              decoupledWeightDecay: Bool = false) {
    checkStep(param, grad, state.expAvg.count, "Adam")
    state.step += 1
    let (lr, beta1, beta2, eps, weightDecay) = (Double(lr), Double(beta1), Double(beta2), Double(eps), Double(weightDecay))
    let t = Double(state.step)
    for i in param.indices {
        var theta = Double(param[i])
        var g = maximize ? -Double(grad[i]) : Double(grad[i])
        if weightDecay != 0 {
            if decoupledWeightDecay { theta *= 1 - lr * weightDecay } else { g += weightDecay * theta }
        }
        state.expAvg[i] = beta1 * state.expAvg[i] + (1 - beta1) * g
        state.expAvgSq[i] = beta2 * state.expAvgSq[i] + (1 - beta2) * g * g
        let mHat = state.expAvg[i] / (1 - pow(beta1, t))
        // AMSGrad keeps the maximum of the raw v and bias-corrects that, as PyTorch does.
        if amsgrad { state.maxExpAvgSq[i] = max(state.maxExpAvgSq[i], state.expAvgSq[i]) }
        let vHat = (amsgrad ? state.maxExpAvgSq[i] : state.expAvgSq[i]) / (1 - pow(beta2, t))
        param[i] = Float(theta - lr * mHat / (vHat.squareRoot() + eps))
    }
}
