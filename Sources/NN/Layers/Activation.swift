/// A layer applying one element-wise activation, as PyTorch's nn.ReLU, nn.Tanh, ...: each
/// activation is a type of its own (so `layer is ReLU` works and a model's description
/// names it), and all of them call the one op `activation(_:_:alpha:)`.
public protocol ElementwiseActivation: Layer {
    /// The function applied to every element.
    var kind: ActivationKind { get }
    /// LeakyReLU's slope or ELU's scale; 0 for the others.
    var alpha: Float { get }
}

extension ElementwiseActivation {
    public var alpha: Float { 0 }
    public func callAsFunction(_ input: Tensor) -> Tensor { activation(input, kind, alpha: alpha) }
}

/// max(x, 0).
public final class ReLU: ElementwiseActivation {
    public var kind: ActivationKind { .relu }
    public var isTraining = true
    /// A ReLU layer.
    public init() {}
}

/// x if x > 0 else alpha * x.
public final class LeakyReLU: ElementwiseActivation {
    public var kind: ActivationKind { .leakyReLU }
    /// The slope for x <= 0 (PyTorch's negative_slope).
    public let alpha: Float
    public var isTraining = true
    /// A leaky ReLU with slope `alpha` for x <= 0.
    public init(alpha: Float = 0.01) { self.alpha = alpha }
}

/// x if x > 0 else alpha * (exp(x) - 1).
public final class ELU: ElementwiseActivation {
    public var kind: ActivationKind { .elu }
    /// The value approached as x goes to minus infinity is -alpha.
    public let alpha: Float
    public var isTraining = true
    /// An ELU with scale `alpha` for x <= 0.
    public init(alpha: Float = 1) { self.alpha = alpha }
}

/// 1 / (1 + exp(-x)).
public final class Sigmoid: ElementwiseActivation {
    public var kind: ActivationKind { .sigmoid }
    public var isTraining = true
    /// A sigmoid layer.
    public init() {}
}

/// tanh(x).
public final class Tanh: ElementwiseActivation {
    public var kind: ActivationKind { .tanh }
    public var isTraining = true
    /// A tanh layer.
    public init() {}
}

/// atan(x).
public final class Arctan: ElementwiseActivation {
    public var kind: ActivationKind { .arctan }
    public var isTraining = true
    /// An arctangent layer.
    public init() {}
}

/// log(1 + exp(x)).
public final class SoftPlus: ElementwiseActivation {
    public var kind: ActivationKind { .softplus }
    public var isTraining = true
    /// A softplus layer.
    public init() {}
}

/// 1 if x >= 0 else 0 (the sign unit of a perceptron; its gradient is zero).
public final class BinaryStep: ElementwiseActivation {
    public var kind: ActivationKind { .binaryStep }
    public var isTraining = true
    /// A binary step layer.
    public init() {}
}

/// x (a placeholder layer, as torch.nn.Identity).
public final class Identity: ElementwiseActivation {
    public var kind: ActivationKind { .identity }
    public var isTraining = true
    /// An identity layer.
    public init() {}
}

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
