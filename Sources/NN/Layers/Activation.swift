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
    /// 0: only LeakyReLU and ELU have a parameter, and they declare their own `alpha`.
    public var alpha: Float { 0 }
    /// `activation(input, kind, alpha: alpha)`: the same shape as `input`, every element mapped.
    public func callAsFunction(_ input: Tensor) -> Tensor { activation(input, kind, alpha: alpha) }
}

/// max(x, 0).
public final class ReLU: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .relu }
    /// Unused: `ReLU` computes the same in training and inference.
    public var isTraining = true
    /// A ReLU layer.
    public init() {}
}

/// x if x > 0 else alpha * x.
public final class LeakyReLU: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .leakyReLU }
    /// The slope for x <= 0 (PyTorch's negative_slope).
    public let alpha: Float
    /// Unused: `LeakyReLU` computes the same in training and inference.
    public var isTraining = true
    /// A leaky ReLU with slope `alpha` for x <= 0.
    public init(alpha: Float = 0.01) { self.alpha = alpha }
}

/// x if x > 0 else alpha * (exp(x) - 1).
public final class ELU: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .elu }
    /// The value approached as x goes to minus infinity is -alpha.
    public let alpha: Float
    /// Unused: `ELU` computes the same in training and inference.
    public var isTraining = true
    /// An ELU with scale `alpha` for x <= 0.
    public init(alpha: Float = 1) { self.alpha = alpha }
}

/// 1 / (1 + exp(-x)).
public final class Sigmoid: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .sigmoid }
    /// Unused: `Sigmoid` computes the same in training and inference.
    public var isTraining = true
    /// A sigmoid layer.
    public init() {}
}

/// tanh(x).
public final class Tanh: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .tanh }
    /// Unused: `Tanh` computes the same in training and inference.
    public var isTraining = true
    /// A tanh layer.
    public init() {}
}

/// atan(x).
public final class Arctan: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .arctan }
    /// Unused: `Arctan` computes the same in training and inference.
    public var isTraining = true
    /// An arctangent layer.
    public init() {}
}

/// log(1 + exp(x)).
public final class SoftPlus: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .softplus }
    /// Unused: `SoftPlus` computes the same in training and inference.
    public var isTraining = true
    /// A softplus layer.
    public init() {}
}

/// 1 if x >= 0 else 0 (the sign unit of a perceptron; its gradient is zero).
public final class BinaryStep: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .binaryStep }
    /// Unused: `BinaryStep` computes the same in training and inference.
    public var isTraining = true
    /// A binary step layer.
    public init() {}
}

/// x (a placeholder layer, as torch.nn.Identity).
public final class Identity: ElementwiseActivation {
    /// The activation this type applies; fixed for the type.
    public var kind: ActivationKind { .identity }
    /// Unused: `Identity` computes the same in training and inference.
    public var isTraining = true
    /// An identity layer.
    public init() {}
}

/// PReLU (He et al., 2015): x if x > 0 else a[c] * x with a learnable slope per channel.
public final class PReLU: Layer {
    /// The slopes, shape (channels), initially 0.25 as in PyTorch.
    public let weight: Parameter
    /// Unused: `PReLU` computes the same in training and inference.
    public var isTraining = true
    /// PReLU with one slope per channel (dimension 1 of the input).
    public init(channels: Int = 1, initialSlope: Float = 0.25) {
        weight = Parameter(Tensor(repeating: initialSlope, shape: [channels]))
    }
    /// The slopes, as "weight" (PyTorch's name).
    public var ownParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }
    /// The same shape as `input`, which must be (N, C, ...) with C = `channels` (a
    /// precondition names both shapes); each channel scaled by its own slope below 0.
    public func callAsFunction(_ input: Tensor) -> Tensor { prelu(input, alpha: weight.value) }
}

/// Softmax over the last dimension as a layer.
public final class Softmax: Layer {
    /// Unused: `Softmax` computes the same in training and inference.
    public var isTraining = true
    /// A softmax layer.
    public init() {}
    /// `softmax(input)`: the same shape, each row along the last dimension summing to 1.
    public func callAsFunction(_ input: Tensor) -> Tensor { softmax(input) }
}

/// Log-softmax over the last dimension as a layer (pair with `negativeLogLikelihood`).
public final class LogSoftmax: Layer {
    /// Unused: `LogSoftmax` computes the same in training and inference.
    public var isTraining = true
    /// A log-softmax layer.
    public init() {}
    /// `logSoftmax(input)`: the same shape, log-probabilities along the last dimension.
    public func callAsFunction(_ input: Tensor) -> Tensor { logSoftmax(input) }
}
