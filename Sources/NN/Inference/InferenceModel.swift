/// A request the model cannot answer: thrown, so a server answers the request with an error
/// and goes on serving the next one.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    /// An input whose shape is not (N, example shape...) with N >= 1.
    case shapeMismatch(expectedExample: [Int], found: [Int])
    /// Scalars whose count does not fill the shape they were given for.
    case scalarCount(found: Int, shape: [Int], expected: Int)
    /// `InferenceModel(copying:into:)`: the architecture lacks a tensor of the trained model,
    /// has one it lacks, or has it with another shape.
    case architectureMismatch(tensor: String, trained: [Int]?, architecture: [Int]?)

    /// What went wrong and what was expected.
    public var description: String {
        switch self {
        case let .shapeMismatch(example, found):
            return "input shape \(found) does not fit the model: expected [N] + \(example) with N >= 1"
        case let .scalarCount(found, shape, expected):
            return "\(found) scalars cannot fill shape \(shape): it needs \(expected)"
        case let .architectureMismatch(tensor, trained, architecture):
            func show(_ s: [Int]?) -> String { s.map { "\($0)" } ?? "absent" }
            return "tensor \"\(tensor)\" is \(show(trained)) in the trained model but \(show(architecture)) in the architecture"
        }
    }
}

extension Tensor {
    /// A tensor holding `scalars` (row-major) with `shape`, or a thrown
    /// `InferenceError.scalarCount` when their count does not fill it (for shapes that
    /// come from requests; `init(_:shape:)` stops the process instead).
    public init(validating scalars: [Float], shape: [Int]) throws(InferenceError) {
        let expected = shape.allSatisfy { $0 >= 0 } ? Tensor.elementCount(shape) : -1
        guard scalars.count == expected else {
            throw .scalarCount(found: scalars.count, shape: shape, expected: expected)
        }
        self.init(scalars, shape: shape)
    }
}

/// An immutable snapshot of a trained model for inference, which any number of tasks and
/// threads may call at once (a server's request handlers, a UI while training goes on).
///
/// It owns its layers: they are in inference mode (batch norm reads its running statistics,
/// dropout is the identity), nothing can reach them from outside, and `predict` only reads
/// them, records no autodiff graph and checks the input's shape first. Its weights share
/// storage with the tensors they were copied from until either side writes (copy-on-write),
/// so a snapshot of a model that goes on training costs no copy and does not change.
/// `predict` runs a plan made once at init (`InferenceStep`): convolutions from weights
/// packed once for the direct kernel, with the same bits as the model itself.
///
/// Why `@unchecked Sendable`: layers are classes with settable state (`isTraining`, parameter
/// values), so the compiler cannot prove this; the snapshot keeps them private and never
/// writes them after `init`, and the concurrency tests run under ThreadSanitizer
/// (`make tsan`). `Tensor` itself is not `Sendable`: besides its copy-on-write storage (safe
/// to share, as an `Array`'s is) it carries its autodiff node, a reference into a graph that
/// `backward()` mutates and releases, so sending a tensor with a history to another task
/// would race. Pass requests across tasks as `[Float]` (as `InferenceBatcher` does) or keep
/// each tensor within the task that made it, as `predict` does.
public final class InferenceModel: @unchecked Sendable {
    /// The shape of one example, without the batch dimension (e.g. [1, 28, 28]).
    public let exampleShape: [Int]
    /// The shape of one example's output, without the batch dimension (e.g. [10]).
    public let outputShape: [Int]
    /// Elements of one example and of one output.
    public let exampleCount: Int, outputCount: Int
    /// Never written after init (see the type's comment).
    private let model: any Layer
    /// `model`'s forward pass as `predict` runs it (`InferenceStep`), made once in init.
    private let steps: [InferenceStep]

    /// A snapshot that takes over `model` (one just built and loaded from a checkpoint, or
    /// one that is done training): it sets it to inference mode and runs one example of
    /// zeros through it to learn the output shape. `sending`: the caller cannot touch the
    /// model afterwards. A model that does not accept `exampleShape` stops the process with
    /// its layer's shape message here, once, at setup, rather than in a request.
    public init(_ model: sending any Layer, exampleShape: [Int]) {
        precondition(!exampleShape.isEmpty && exampleShape.allSatisfy { $0 > 0 },
                     "InferenceModel: example shape \(exampleShape) must have positive dimensions")
        model.setTraining(false)
        self.model = model
        steps = InferenceStep.plan(model)
        self.exampleShape = exampleShape
        exampleCount = Tensor.elementCount(exampleShape)
        let probe = withoutGradient { [steps] in InferenceStep.run(steps, Tensor(zeros: [1] + exampleShape)) }
        precondition(probe.rank >= 1 && probe.shape[0] == 1,
                     "InferenceModel: one example of shape \(exampleShape) gave output shape \(probe.shape), not [1, ...]")
        outputShape = Array(probe.shape.dropFirst())
        outputCount = Tensor.elementCount(outputShape)
    }

    /// A snapshot of `trained`'s current weights and buffers in `architecture`, a fresh
    /// model of the same structure (`Models.cnn()`), which the snapshot takes over. The
    /// tensors are shared copy-on-write: `trained` may go on training afterwards. Take it
    /// where `trained` is not being stepped (on the training task, e.g. in a callback).
    /// Throws if the two models' tensor names or shapes differ; dropout generators are not
    /// copied (inference draws nothing).
    public convenience init(copying trained: any Layer, into architecture: sending any Layer,
                            exampleShape: [Int]) throws(InferenceError) {
        let source = Dictionary(uniqueKeysWithValues: trained.namedParameters.map { ($0.name, $0.parameter.value) }
            + trained.namedBuffers.map { ($0.name, $0.buffer.value) })
        let targetParameters = architecture.namedParameters, targetBuffers = architecture.namedBuffers
        let targetShapes = Dictionary(uniqueKeysWithValues: targetParameters.map { ($0.name, $0.parameter.shape) }
            + targetBuffers.map { ($0.name, $0.buffer.value.shape) })
        // Validate everything, then change anything.
        for name in Set(source.keys).union(targetShapes.keys).sorted() where source[name]?.shape != targetShapes[name] {
            throw .architectureMismatch(tensor: name, trained: source[name]?.shape, architecture: targetShapes[name])
        }
        for (name, p) in targetParameters { p.value = source[name]!.detached }
        for (name, b) in targetBuffers { b.value = source[name]!.detached }
        // The compiler sees `architecture` joined to `trained`'s region by the shared
        // tensors. What they share is copy-on-write storage that neither side writes in
        // place while the other holds it (writers copy first), and `architecture` itself
        // is ours alone: handing it on is safe.
        nonisolated(unsafe) let owned = architecture
        self.init(owned, exampleShape: exampleShape)
    }

    /// The outputs, (N) + `outputShape`, for a batch of inputs, (N) + `exampleShape` with
    /// N >= 1; any other shape throws `InferenceError.shapeMismatch` saying what was
    /// expected. Safe to call from any number of tasks at once; the result is the same bits
    /// whichever thread computes it.
    public func predict(_ input: Tensor) throws(InferenceError) -> Tensor {
        guard input.rank == exampleShape.count + 1, input.shape[0] >= 1,
              input.shape.dropFirst().elementsEqual(exampleShape) else {
            throw .shapeMismatch(expectedExample: exampleShape, found: input.shape)
        }
        return withoutGradient { InferenceStep.run(steps, input.detached) }
    }

    /// The outputs for `scalars`, the row-major elements of (N) + `exampleShape` for
    /// N = scalars.count / exampleCount, as (N) + `outputShape`; a count that is not a
    /// positive multiple of `exampleCount` throws.
    public func predict(_ scalars: [Float]) throws(InferenceError) -> Tensor {
        guard scalars.count >= exampleCount, scalars.count % exampleCount == 0 else {
            throw .scalarCount(found: scalars.count, shape: [-1] + exampleShape, expected: exampleCount)
        }
        return try predict(Tensor(validating: scalars, shape: [scalars.count / exampleCount] + exampleShape))
    }
}

/// One step of an `InferenceModel`'s forward pass. Nested `Sequential`s are flattened (the
/// same composition); a `Conv2D` runs from weights packed once at the snapshot
/// (`PackedConvolution`, the same bits as the layer), since they never change there; any
/// other layer is called as it is.
enum InferenceStep {
    case convolution(PackedConvolution)
    case layer(any Layer)

    /// The steps of `layer`, in order.
    static func plan(_ layer: any Layer) -> [InferenceStep] {
        if let sequence = layer as? Sequential { return sequence.layers.flatMap(plan) }
        if let conv = layer as? Conv2D {
            return [.convolution(PackedConvolution(weight: conv.weight.value, bias: conv.bias?.value, stride: conv.stride,
                                                   padding: conv.padding, dilation: conv.dilation))]
        }
        return [.layer(layer)]
    }

    /// `input` through `steps`, first to last.
    static func run(_ steps: [InferenceStep], _ input: Tensor) -> Tensor {
        var x = input
        for step in steps {
            switch step {
            case let .convolution(conv): x = conv(x)
            case let .layer(layer): x = layer(x)
            }
        }
        return x
    }
}
