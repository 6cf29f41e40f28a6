/// Max pooling over windows of (N, C, H, W).
public final class MaxPool2D: Layer {
    public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    public var isTraining = true
    /// Max pooling with a square window; the stride defaults to the window size.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        kernel = (kernelSize, kernelSize)
        self.stride = (stride ?? kernelSize, stride ?? kernelSize)
        self.padding = (padding, padding)
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2d(input, kernel: kernel, stride: stride, padding: padding)
    }
}

/// Average pooling over windows of (N, C, H, W).
public final class AvgPool2D: Layer {
    public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    /// Whether padded zeros count in the divisor (PyTorch's default: true).
    public let countIncludePad: Bool
    public var isTraining = true
    /// Average pooling with a square window; the stride defaults to the window size.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) {
        kernel = (kernelSize, kernelSize)
        self.stride = (stride ?? kernelSize, stride ?? kernelSize)
        self.padding = (padding, padding)
        self.countIncludePad = countIncludePad
    }
    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2d(input, kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }
}

/// The mean of each channel: (N, C, H, W) to (N, C).
public final class GlobalAvgPool2D: Layer {
    public var isTraining = true
    /// A global average pooling layer.
    public init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { globalAvgPool2d(input) }
}
