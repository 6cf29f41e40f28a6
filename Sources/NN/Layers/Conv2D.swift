/// A 2-D convolution layer over (N, inChannels, H, W) inputs.
public final class Conv2D: Layer {
    /// The filters, shape (outChannels, inChannels, kernelSize.0, kernelSize.1) as in PyTorch.
    public let weight: Parameter
    /// The bias, shape (outChannels), or nil (e.g. before a batch norm).
    public let bias: Parameter?
    /// The step between windows, (vertical, horizontal).
    public let stride: (Int, Int)
    /// Zeros added on each side, (top and bottom, left and right).
    public let padding: (Int, Int)
    /// The spacing between kernel taps, (vertical, horizontal); 1 is a dense kernel.
    public let dilation: (Int, Int)
    /// Unused: a convolution computes the same in training and inference.
    public var isTraining = true

    /// A convolution; weights He-uniform by default (for layers feeding ReLU), bias zeros.
    public init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1),
                useBias: Bool = true, weightInitializer: Initializer = .heUniform,
                biasInitializer: Initializer = .zeros) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0,
                     "Conv2D: channels \(inChannels)->\(outChannels) and kernel \(kernelSize) must be positive")
        weight = Parameter(weightInitializer.make([outChannels, inChannels, kernelSize.0, kernelSize.1]))
        bias = useBias ? Parameter(biasInitializer.make([outChannels])) : nil
        (self.stride, self.padding, self.dilation) = (stride, padding, dilation)
    }

    /// A convolution with a square kernel and equal strides, padding and dilation.
    public convenience init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Int = 0, dilation: Int = 1, useBias: Bool = true,
                            weightInitializer: Initializer = .heUniform, biasInitializer: Initializer = .zeros) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation),
                  useBias: useBias, weightInitializer: weightInitializer, biasInitializer: biasInitializer)
    }

    /// "weight", then "bias" when there is one (PyTorch's names).
    public var ownParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// The convolution of `input`, (N, inChannels, H, W), to (N, outChannels, OH, OW) with
    /// OH = (H + 2 padding.0 - dilation.0 (kernel.0 - 1) - 1) / stride.0 + 1 (likewise OW).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2d(input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding, dilation: dilation)
    }
}
