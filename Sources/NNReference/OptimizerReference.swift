import Foundation

// One-step references of torch.optim's algorithms, written from the pseudocode of PyTorch's
// documentation with the state kept in Double. Where the documentation and PyTorch's code
// differ, the code wins: `maximize` negates the raw gradient before weight decay is added
// (the SGD page applies it at the end, which would make decay push weights away from zero
// when maximizing). Hyper-parameters are taken as Float, as the kernels receive them.

private func checkStep(_ param: [Float], _ grad: [Float], _ count: Int, _ name: String) {
    precondition(param.count == count && grad.count == count,
                 "\(name): param \(param.count), grad \(grad.count), state \(count) elements")
}

/// SGD with momentum, dampening, Nesterov momentum, L2 weight decay and maximize
/// (Sutskever et al. 2013 for the Nesterov form PyTorch uses).
public struct ReferenceSGD: Sendable {
    public let lr, momentum, dampening, weightDecay: Double
    public let nesterov, maximize: Bool
    /// The momentum buffer b; nil until the first step (then b_1 = g_1, undampened).
    public private(set) var momentumBuffer: [Double]?
    /// Steps taken so far.
    public private(set) var t = 0

    public init(lr: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
                nesterov: Bool = false, maximize: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov needs momentum > 0 and dampening 0 (momentum \(momentum), dampening \(dampening))")
        self.lr = Double(lr); self.momentum = Double(momentum); self.dampening = Double(dampening)
        self.weightDecay = Double(weightDecay); self.nesterov = nesterov; self.maximize = maximize
    }

    /// One step: updates `param` in place from `grad`.
    public mutating func step(param: inout [Float], grad: [Float]) {
        checkStep(param, grad, momentumBuffer?.count ?? param.count, "SGD")
        t += 1
        var buffer = momentumBuffer ?? [Double](repeating: 0, count: param.count)
        for i in param.indices {
            let theta = Double(param[i])
            var g = maximize ? -Double(grad[i]) : Double(grad[i])
            if weightDecay != 0 { g += weightDecay * theta }
            if momentum != 0 {
                buffer[i] = t > 1 ? momentum * buffer[i] + (1 - dampening) * g : g
                g = nesterov ? g + momentum * buffer[i] : buffer[i]
            }
            param[i] = Float(theta - lr * g)
        }
        if momentum != 0 { momentumBuffer = buffer }
    }
}

/// AdaGrad (Duchi et al. 2011) with learning-rate decay, L2 weight decay and maximize.
public struct ReferenceAdaGrad: Sendable {
    public let lr, lrDecay, weightDecay, eps: Double
    public let maximize: Bool
    /// The running sum of squared gradients; starts at the initial accumulator value.
    public private(set) var stateSum: [Double]
    /// Steps taken so far.
    public private(set) var t = 0

    public init(count: Int, lr: Float, lrDecay: Float = 0, weightDecay: Float = 0, eps: Float = 1e-10,
                initialAccumulator: Float = 0, maximize: Bool = false) {
        self.lr = Double(lr); self.lrDecay = Double(lrDecay); self.weightDecay = Double(weightDecay)
        self.eps = Double(eps); self.maximize = maximize
        stateSum = [Double](repeating: Double(initialAccumulator), count: count)
    }

    /// One step: updates `param` in place from `grad`.
    public mutating func step(param: inout [Float], grad: [Float]) {
        checkStep(param, grad, stateSum.count, "AdaGrad")
        t += 1
        let decayedLR = lr / (1 + Double(t - 1) * lrDecay)
        for i in param.indices {
            let theta = Double(param[i])
            var g = maximize ? -Double(grad[i]) : Double(grad[i])
            if weightDecay != 0 { g += weightDecay * theta }
            stateSum[i] += g * g
            param[i] = Float(theta - decayedLR * g / (stateSum[i].squareRoot() + eps))
        }
    }
}

/// RMSProp (Hinton's lecture 6e; centered form from Graves 2013) with momentum, L2 weight
/// decay and maximize. All state starts at zero.
public struct ReferenceRMSProp: Sendable {
    public let lr, alpha, eps, weightDecay, momentum: Double
    public let centered, maximize: Bool
    /// v: the running average of g^2.
    public private(set) var squareAverage: [Double]
    /// The running average of g (used when centered).
    public private(set) var gradAverage: [Double]
    /// The momentum buffer (used when momentum > 0).
    public private(set) var momentumBuffer: [Double]

    public init(count: Int, lr: Float, alpha: Float = 0.99, eps: Float = 1e-8, weightDecay: Float = 0,
                momentum: Float = 0, centered: Bool = false, maximize: Bool = false) {
        self.lr = Double(lr); self.alpha = Double(alpha); self.eps = Double(eps)
        self.weightDecay = Double(weightDecay); self.momentum = Double(momentum)
        self.centered = centered; self.maximize = maximize
        squareAverage = [Double](repeating: 0, count: count)
        gradAverage = squareAverage
        momentumBuffer = squareAverage
    }

    /// One step: updates `param` in place from `grad`.
    public mutating func step(param: inout [Float], grad: [Float]) {
        checkStep(param, grad, squareAverage.count, "RMSProp")
        for i in param.indices {
            let theta = Double(param[i])
            var g = maximize ? -Double(grad[i]) : Double(grad[i])
            if weightDecay != 0 { g += weightDecay * theta }
            squareAverage[i] = alpha * squareAverage[i] + (1 - alpha) * g * g
            var variance = squareAverage[i]
            if centered {
                gradAverage[i] = alpha * gradAverage[i] + (1 - alpha) * g
                variance -= gradAverage[i] * gradAverage[i]
            }
            let scaled = g / (variance.squareRoot() + eps)
            if momentum > 0 {
                momentumBuffer[i] = momentum * momentumBuffer[i] + scaled
                param[i] = Float(theta - lr * momentumBuffer[i])
            } else {
                param[i] = Float(theta - lr * scaled)
            }
        }
    }
}

/// Adam (Kingma & Ba 2015) with L2 weight decay, AMSGrad (Reddi et al. 2018) and maximize;
/// with `decoupledWeightDecay` it is AdamW (Loshchilov & Hutter 2019). State starts at zero.
public struct ReferenceAdam: Sendable {
    public let lr, beta1, beta2, eps, weightDecay: Double
    public let amsgrad, maximize, decoupledWeightDecay: Bool
    /// m: the running average of g.
    public private(set) var m: [Double]
    /// v: the running average of g^2.
    public private(set) var v: [Double]
    /// The running maximum of v (used with AMSGrad).
    public private(set) var vMax: [Double]
    /// Steps taken so far.
    public private(set) var t = 0

    public init(count: Int, lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, amsgrad: Bool = false, maximize: Bool = false,
                decoupledWeightDecay: Bool = false) {
        self.lr = Double(lr); self.beta1 = Double(beta1); self.beta2 = Double(beta2)
        self.eps = Double(eps); self.weightDecay = Double(weightDecay)
        self.amsgrad = amsgrad; self.maximize = maximize; self.decoupledWeightDecay = decoupledWeightDecay
        m = [Double](repeating: 0, count: count)
        v = m
        vMax = m
    }

    /// One step: updates `param` in place from `grad`.
    public mutating func step(param: inout [Float], grad: [Float]) {
        checkStep(param, grad, m.count, "Adam")
        t += 1
        for i in param.indices {
            var theta = Double(param[i])
            var g = maximize ? -Double(grad[i]) : Double(grad[i])
            if weightDecay != 0 {
                if decoupledWeightDecay { theta *= 1 - lr * weightDecay } else { g += weightDecay * theta }
            }
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            let mHat = m[i] / (1 - pow(beta1, Double(t)))
            // AMSGrad keeps the maximum of the raw v and bias-corrects that, as PyTorch does.
            if amsgrad { vMax[i] = max(vMax[i], v[i]) }
            let vHat = (amsgrad ? vMax[i] : v[i]) / (1 - pow(beta2, Double(t)))
            param[i] = Float(theta - lr * mHat / (vHat.squareRoot() + eps))
        }
    }
}
