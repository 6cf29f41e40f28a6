import Foundation

/// An element-wise activation of the reference, one case per `ck_activation` kind; the
/// cases with a parameter carry it.
public enum ReferenceActivation: Sendable, Equatable {
    /// f(x) = x.
    case identity
    /// f(x) = 1 if x >= 0 else 0; derivative taken as 0 everywhere.
    case binaryStep
    /// f(x) = 1 / (1 + e^-x).
    case sigmoid
    /// f(x) = tanh(x).
    case tanh
    /// f(x) = atan(x).
    case arctan
    /// f(x) = max(x, 0); derivative at 0 taken as 0 (PyTorch's choice).
    case relu
    /// f(x) = x if x > 0 else alpha * x.
    case leakyReLU(alpha: Float)
    /// f(x) = x if x > 0 else alpha * (e^x - 1).
    case elu(alpha: Float)
    /// f(x) = log(1 + e^x).
    case softplus
}

/// The activation's value at one point, in Double.
private func activationValue(_ x: Double, _ kind: ReferenceActivation) -> Double {
    switch kind {
    case .identity: return x
    case .binaryStep: return x >= 0 ? 1 : 0
    case .sigmoid: return 1 / (1 + exp(-x))  // exp overflows to +inf only for x < -709: 1/inf = 0, right.
    case .tanh: return Foundation.tanh(x)
    case .arctan: return atan(x)
    case .relu: return x < 0 ? 0 : x  // NaN passes through
    case .leakyReLU(let alpha): return x > 0 ? x : Double(alpha) * x
    case .elu(let alpha): return x > 0 ? x : Double(alpha) * (exp(x) - 1)
    case .softplus:
        // Past x = 700, e^x overflows Double, while log(1 + e^x) = x to within e^-700.
        return x > 700 ? x : log1p(exp(x))
    }
}

/// The activation's derivative at one point, in Double, from x alone.
private func activationDerivative(_ x: Double, _ kind: ReferenceActivation) -> Double {
    switch kind {
    case .identity: return 1
    case .binaryStep: return 0
    case .sigmoid:
        let s = activationValue(x, .sigmoid)
        return s * (1 - s)
    case .tanh:
        let t = Foundation.tanh(x)
        return 1 - t * t
    case .arctan: return 1 / (1 + x * x)
    case .relu: return x > 0 ? 1 : 0
    case .leakyReLU(let alpha): return x > 0 ? 1 : Double(alpha)
    case .elu(let alpha): return x > 0 ? 1 : Double(alpha) * exp(x)
    case .softplus: return activationValue(x, .sigmoid)  // d/dx log(1 + e^x) = e^x / (1 + e^x)
    }
}

/// y = f(x) element by element.
public func referenceActivationForward(_ x: [Float], _ kind: ReferenceActivation) -> [Float] {
    x.map { Float(activationValue(Double($0), kind)) }
}

/// The gradient f'(x) * dy element by element (returned, not accumulated).
public func referenceActivationBackward(dy: [Float], x: [Float], _ kind: ReferenceActivation) -> [Float] {
    precondition(dy.count == x.count, "activation backward: dy has \(dy.count) elements, x \(x.count)")
    return (0..<x.count).map { Float(Double(dy[$0]) * activationDerivative(Double(x[$0]), kind)) }
}

/// PReLU with one slope per channel: x is (n,c,s), alpha is (c); y = x if x > 0 else alpha[c] * x.
public func referencePReLUForward(_ x: [Float], alpha: [Float], n: Int, c: Int, s: Int) -> [Float] {
    precondition(x.count == n * c * s && alpha.count == c,
                 "prelu forward: x has \(x.count) elements for (\(n),\(c),\(s)), alpha \(alpha.count)")
    var y = [Float](repeating: 0, count: x.count)
    for i in 0..<n {
        for j in 0..<c {
            for k in 0..<s {
                let index = (i * c + j) * s + k
                y[index] = x[index] > 0 ? x[index] : alpha[j] * x[index]
            }
        }
    }
    return y
}

/// PReLU gradients (returned, not accumulated): dx = dy * (x > 0 ? 1 : alpha[c]) and
/// dalpha[c] = sum of dy * x over the entries of channel c where x <= 0, summed in Double.
public func referencePReLUBackward(dy: [Float], x: [Float], alpha: [Float],
                                   n: Int, c: Int, s: Int) -> (dx: [Float], dalpha: [Float]) {
    precondition(x.count == n * c * s && dy.count == x.count && alpha.count == c,
                 "prelu backward: x \(x.count), dy \(dy.count) for (\(n),\(c),\(s)), alpha \(alpha.count)")
    var dx = [Float](repeating: 0, count: x.count)
    var dalpha = [Double](repeating: 0, count: c)
    for i in 0..<n {
        for j in 0..<c {
            for k in 0..<s {
                let index = (i * c + j) * s + k
                if x[index] > 0 {
                    dx[index] = dy[index]
                } else {
                    dx[index] = Float(Double(alpha[j]) * Double(dy[index]))
                    dalpha[j] += Double(dy[index]) * Double(x[index])
                }
            }
        }
    }
    return (dx, dalpha.map { Float($0) })
}
