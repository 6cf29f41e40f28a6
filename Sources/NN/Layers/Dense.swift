/// A fully connected layer: y = x * weight^T + bias, for x of shape (N, inputSize).
public final class Dense: Layer {
    /// The weight, shape (outputSize, inputSize) as in PyTorch's `Linear`.
    public let weight: Parameter
    /// The bias, shape (outputSize), or nil.
    public let bias: Parameter?
    /// Unused: a dense layer computes the same in training and inference.
    public var isTraining = true

    /// A dense layer; weights He-uniform by default (for layers feeding ReLU), bias zeros.
    public init(inputSize: Int, outputSize: Int, useBias: Bool = true,
                weightInitializer: Initializer = .heUniform, biasInitializer: Initializer = .zeros) {
        precondition(inputSize > 0 && outputSize > 0,
                     "Dense: sizes must be positive, got input \(inputSize), output \(outputSize)")
        weight = Parameter(weightInitializer.make([outputSize, inputSize]))
        bias = useBias ? Parameter(biasInitializer.make([outputSize])) : nil
    }

    /// "weight", then "bias" when there is one (PyTorch's names).
    public var ownParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// x * weight^T + bias for `input` x of shape (N, inputSize): (N, outputSize). A
    /// precondition names both shapes when they do not fit.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank == 2 && input.shape[1] == weight.shape[1],
                     "Dense: input shape \(input.shape) does not fit weight shape \(weight.shape) (expected [N, \(weight.shape[1])])")
        guard let bias else { return matmul(input, weight.value, transposeB: true) }
        return linear(input, weight: weight.value, bias: bias.value)
    }
}

/// Flattens (N, ...) to (N, rest).
public final class Flatten: Layer {
    /// Unused: flattening is the same in training and inference.
    public var isTraining = true
    /// A flattening layer.
    public init() {}
    /// `input` (N, d1, d2, ...) as (N, d1 * d2 * ...), sharing its elements.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.flattenedBatch() }
}

/// Reshapes each example: (N, ...) to (N, shape...).
public final class Reshape: Layer {
    /// The per-example target shape.
    public let shape: [Int]
    /// Unused: reshaping is the same in training and inference.
    public var isTraining = true
    /// A layer reshaping each example to `shape`.
    public init(_ shape: [Int]) { self.shape = shape }
    /// `input` (N, ...) as (N, shape...); each example must hold exactly the product of
    /// `shape` elements.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.reshaped(to: [input.shape[0]] + shape) }
}

extension Dense {
    /// A Dense layer as PyTorch's `nn.Linear` starts by default (kaiming_uniform with
    /// a = sqrt(5)): weight and bias uniform in ±1/sqrt(inputSize), the weight drawn from
    /// `generator` first. Models built this way compare with PyTorch's from the first step.
    public static func pyTorchDefault(inputSize: Int, outputSize: Int, using generator: inout RandomGenerator) -> Dense {
        let bound = 1 / Float(inputSize).squareRoot()
        let layer = Dense(inputSize: inputSize, outputSize: outputSize)
        layer.weight.value = Tensor(randomUniform: [outputSize, inputSize], in: -bound...bound, using: &generator)
        layer.bias!.value = Tensor(randomUniform: [outputSize], in: -bound...bound, using: &generator)
        return layer
    }
}

