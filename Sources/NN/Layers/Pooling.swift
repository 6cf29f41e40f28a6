/// Max pooling over windows of (N, C, H, W).
public final class MaxPool2D: Layer {
    /// The window, (height, width).
    public let kernel: (Int, Int)
    /// The step between windows, (vertical, horizontal).
    public let stride: (Int, Int)
    /// Padding on each side, (top and bottom, left and right); padded elements never win the max.
    public let padding: (Int, Int)
    /// Unused: `MaxPool2D` computes the same in training and inference.
    public var isTraining = true
    /// Max pooling with a square window; the stride defaults to the window size.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        kernel = (kernelSize, kernelSize)
        self.stride = (stride ?? kernelSize, stride ?? kernelSize)
        self.padding = (padding, padding)
    }
    /// The maximum of each window of `input` (N, C, H, W): (N, C, OH, OW) with
    /// OH = (H + 2 padding.0 - kernel.0) / stride.0 + 1 (likewise OW).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2d(input, kernel: kernel, stride: stride, padding: padding)
    }
}

/// Average pooling over windows of (N, C, H, W).
public final class AvgPool2D: Layer {
    /// The window, (height, width).
    public let kernel: (Int, Int)
    /// The step between windows, (vertical, horizontal).
    public let stride: (Int, Int)
    /// Padding on each side, (top and bottom, left and right); padded elements count as zeros.
    public let padding: (Int, Int)
    /// Whether padded zeros count in the divisor (PyTorch's default: true).
    public let countIncludePad: Bool
    /// Unused: `AvgPool2D` computes the same in training and inference.
    public var isTraining = true
    /// Average pooling with a square window; the stride defaults to the window size.
    public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) {
        kernel = (kernelSize, kernelSize)
        self.stride = (stride ?? kernelSize, stride ?? kernelSize)
        self.padding = (padding, padding)
        self.countIncludePad = countIncludePad
    }
    /// The mean of each window of `input` (N, C, H, W): (N, C, OH, OW) with
    /// OH = (H + 2 padding.0 - kernel.0) / stride.0 + 1 (likewise OW).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2d(input, kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }
}

/// The mean of each channel: (N, C, H, W) to (N, C).
public final class GlobalAvgPool2D: Layer {
    /// Unused: `GlobalAvgPool2D` computes the same in training and inference.
    public var isTraining = true
    /// A global average pooling layer.
    public init() {}
    /// The mean over H and W of each channel of `input` (N, C, H, W): (N, C).
    public func callAsFunction(_ input: Tensor) -> Tensor { globalAvgPool2d(input) }
}
