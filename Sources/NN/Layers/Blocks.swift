/// A residual block (He et al., 2016): relu(body(x) + shortcut(x)), where the shortcut is
/// the identity or a projection (e.g. a 1x1 strided convolution + batch norm) when the
/// body changes the shape.
public final class Residual: Layer {
    /// The main path; its output must have the shortcut's shape.
    public let body: any Layer
    /// The projection applied to the input before the addition, or nil for the identity.
    public let shortcut: (any Layer)?
    /// Whether ReLU follows the addition (true for the basic block).
    public let activationAfterAdd: Bool
    /// This block's own flag; the block itself behaves the same either way (use
    /// `setTraining(_:)` to switch its body and shortcut too).
    public var isTraining = true

    /// A residual block around `body`, with an optional projection `shortcut`.
    public init(body: any Layer, shortcut: (any Layer)? = nil, activationAfterAdd: Bool = true) {
        self.body = body
        self.shortcut = shortcut
        self.activationAfterAdd = activationAfterAdd
    }

    /// "body", then "shortcut" when there is one.
    public var children: [(name: String, layer: any Layer)] {
        [("body", body)] + (shortcut.map { [("shortcut", $0)] } ?? [])
    }

    /// body(input) + shortcut(input) (then ReLU if `activationAfterAdd`); a precondition
    /// names both shapes when they differ.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let main = body(input)
        let skip = shortcut.map { $0(input) } ?? input
        precondition(main.shape == skip.shape,
                     "Residual: body output \(main.shape) and shortcut output \(skip.shape) differ; add a projection shortcut")
        // relu(main + skip) in one pass each way.
        return activationAfterAdd ? addReLU(main, skip) : main + skip
    }

    /// The basic block of ResNet: conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU;
    /// with stride 2 or a channel change the shortcut is a 1x1 strided conv + BN.
    public static func basicBlock(inChannels: Int, outChannels: Int, stride: Int = 1) -> Residual {
        let body = Sequential {
            Conv2D(inChannels: inChannels, outChannels: outChannels, kernelSize: 3, stride: stride, padding: 1, useBias: false)
            BatchNorm(outChannels)
            ReLU()
            Conv2D(inChannels: outChannels, outChannels: outChannels, kernelSize: 3, padding: 1, useBias: false)
            BatchNorm(outChannels)
        }
        let needsProjection = stride != 1 || inChannels != outChannels
        let shortcut: (any Layer)? = needsProjection ? Sequential {
            Conv2D(inChannels: inChannels, outChannels: outChannels, kernelSize: 1, stride: stride, useBias: false)
            BatchNorm(outChannels)
        } : nil
        return Residual(body: body, shortcut: shortcut)
    }
}

/// Parallel branches applied to the same input and concatenated along channels
/// (dimension 1), as in an Inception module.
public final class Concat: Layer {
    /// The branches, in the order their outputs are concatenated.
    public let branches: [any Layer]
    /// This layer's own flag; concatenation behaves the same either way (use
    /// `setTraining(_:)` to switch the branches too).
    public var isTraining = true

    /// Branches built with the result builder.
    public init(@LayerBuilder _ build: () -> [any Layer]) { branches = build() }
    /// The given branches.
    public init(_ branches: [any Layer]) { self.branches = branches }

    /// The branches, named "0", "1", ... in order.
    public var children: [(name: String, layer: any Layer)] {
        branches.enumerated().map { (String($0.offset), $0.element) }
    }

    /// Every branch's output for `input`, concatenated along dimension 1: (N, C1 + C2 + ...,
    /// ...); the other dimensions must agree.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        Tensor.concatenate(branches.map { $0(input) }, alongAxis: 1)
    }
}
