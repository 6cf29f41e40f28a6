/// An element-wise activation as a layer.
public final class Activation: Layer {
    public let kind: ActivationKind
    public let alpha: Float
    public var isTraining = true
    /// The activation `kind` (alpha: LeakyReLU's slope, ELU's scale).
    public init(_ kind: ActivationKind, alpha: Float = 0) { (self.kind, self.alpha) = (kind, alpha) }
    public func callAsFunction(_ input: Tensor) -> Tensor { activation(input, kind, alpha: alpha) }
}

/// max(x, 0).
public func ReLU() -> Activation { Activation(.relu) }
/// x if x > 0 else alpha * x.
public func LeakyReLU(alpha: Float = 0.01) -> Activation { Activation(.leakyReLU, alpha: alpha) }
/// x if x > 0 else alpha * (exp(x) - 1).
public func ELU(alpha: Float = 1) -> Activation { Activation(.elu, alpha: alpha) }
/// 1 / (1 + exp(-x)).
public func Sigmoid() -> Activation { Activation(.sigmoid) }
/// tanh(x).
public func Tanh() -> Activation { Activation(.tanh) }
/// atan(x).
public func Arctan() -> Activation { Activation(.arctan) }
/// log(1 + exp(x)).
public func SoftPlus() -> Activation { Activation(.softplus) }
/// 1 if x >= 0 else 0 (the sign unit of a perceptron).
public func BinaryStep() -> Activation { Activation(.binaryStep) }
/// x.
public func Identity() -> Activation { Activation(.identity) }

/// PReLU (He et al., 2015): x if x > 0 else a[c] * x with a learnable slope per channel.
public final class PReLU: Layer {
    /// The slopes, shape (channels), initially 0.25 as in PyTorch.
    public let weight: Parameter
    public var isTraining = true
    /// PReLU with one slope per channel (dimension 1 of the input).
    public init(channels: Int = 1, initialSlope: Float = 0.25) {
        weight = Parameter(Tensor(repeating: initialSlope, shape: [channels]))
    }
    public var ownParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }
    public func callAsFunction(_ input: Tensor) -> Tensor { prelu(input, alpha: weight.value) }
}

/// Softmax over the last dimension as a layer.
public final class Softmax: Layer {
    public var isTraining = true
    /// A softmax layer.
    public init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { softmax(input) }
}

/// Log-softmax over the last dimension as a layer (pair with `negativeLogLikelihood`).
public final class LogSoftmax: Layer {
    public var isTraining = true
    /// A log-softmax layer.
    public init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { logSoftmax(input) }
}
