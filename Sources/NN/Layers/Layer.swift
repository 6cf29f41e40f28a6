/// A building block of a network: maps an input tensor to an output tensor, owns its
/// parameters and buffers, and may contain sub-layers. Layers are thin: they hold state
/// and call ops; the math lives in ops and kernels.
public protocol Layer: AnyObject {
    /// The output for `input`.
    func callAsFunction(_ input: Tensor) -> Tensor
    /// Training (true) or inference (false) behaviour of this layer itself; use
    /// `setTraining(_:)` to switch a whole model.
    var isTraining: Bool { get set }
    /// Parameters owned directly by this layer, by PyTorch's names ("weight", "bias").
    var ownParameters: [(name: String, parameter: Parameter)] { get }
    /// Buffers owned directly by this layer ("running_mean", "running_var").
    var ownBuffers: [(name: String, buffer: Buffer)] { get }
    /// Random generators owned directly by this layer, which checkpoints save so a resumed
    /// run draws the same numbers; "" names a layer's only one by the layer's path.
    var ownRandomStates: [(name: String, state: RandomState)] { get }
    /// Direct sub-layers, by name.
    var children: [(name: String, layer: any Layer)] { get }
}

extension Layer {
    /// None: a layer without parameters (an activation, a pooling) need not declare any.
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }
    /// None: only layers with running statistics (`BatchNorm`) have buffers.
    public var ownBuffers: [(name: String, buffer: Buffer)] { [] }
    /// None: only layers that draw random numbers (`Dropout`) have random states.
    public var ownRandomStates: [(name: String, state: RandomState)] { [] }
    /// None: a leaf layer has no sub-layers.
    public var children: [(name: String, layer: any Layer)] { [] }

    /// Every parameter of this layer and its sub-layers, named by path ("0.weight").
    public var namedParameters: [(name: String, parameter: Parameter)] {
        var result = ownParameters
        for child in children {
            result += child.layer.namedParameters.map { ("\(child.name).\($0.name)", $0.parameter) }
        }
        return result
    }

    /// Every buffer of this layer and its sub-layers, named by path ("1.running_mean").
    public var namedBuffers: [(name: String, buffer: Buffer)] {
        var result = ownBuffers
        for child in children {
            result += child.layer.namedBuffers.map { ("\(child.name).\($0.name)", $0.buffer) }
        }
        return result
    }

    /// Every random state of this layer and its sub-layers, named by path: "3" for the
    /// unnamed one of a dropout at index 3, "3.noise" for one its layer names "noise"; ""
    /// for the unnamed one of the layer itself.
    public var namedRandomStates: [(name: String, state: RandomState)] {
        var result = ownRandomStates
        for child in children {
            result += child.layer.namedRandomStates.map {
                ($0.name.isEmpty ? child.name : "\(child.name).\($0.name)", $0.state)
            }
        }
        return result
    }

    /// Every parameter of this layer and its sub-layers.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// The number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + Tensor.elementCount($1.shape) } }

    /// Switches this layer and every sub-layer to training (true) or inference (false).
    public func setTraining(_ training: Bool) {
        isTraining = training
        for child in children { child.layer.setTraining(training) }
    }

    /// Zeroes the gradient of every parameter.
    public func zeroGradients() {
        for parameter in parameters { parameter.zeroGradient() }
    }
}

/// Builds the layer list of a `Sequential` from a block of layer expressions.
@resultBuilder
public enum LayerBuilder {
    /// One layer statement: a list of that layer.
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    /// The statements of a block, in order.
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    /// An `if` without `else`: its layers, or none when the condition is false.
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    /// The `if` branch of an `if`/`else` (or the first case of a `switch`).
    public static func buildEither(first part: [any Layer]) -> [any Layer] { part }
    /// The `else` branch of an `if`/`else` (or a later case of a `switch`).
    public static func buildEither(second part: [any Layer]) -> [any Layer] { part }
    /// A `for` loop: the layers of every iteration, in order.
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
}

/// Layers applied one after the other; sub-layers are named "0", "1", ... as in PyTorch.
public final class Sequential: Layer {
    /// The layers, in order.
    public let layers: [any Layer]
    /// This container's own flag; chaining behaves the same either way (use
    /// `setTraining(_:)` to switch the layers too).
    public var isTraining = true

    /// A sequence built with the result builder: `Sequential { Dense(...); ReLU() }`.
    public init(@LayerBuilder _ build: () -> [any Layer]) { layers = build() }

    /// A sequence of `layers`.
    public init(_ layers: [any Layer]) { self.layers = layers }

    /// The layers, named "0", "1", ... in order (PyTorch's `nn.Sequential` names).
    public var children: [(name: String, layer: any Layer)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    /// Each layer applied to the previous one's output, first to last; `input` unchanged
    /// when there are no layers.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { $1($0) }
    }
}
