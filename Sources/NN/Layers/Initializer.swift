/// How a weight tensor is filled at creation. Fan-in and fan-out follow PyTorch: for a
/// (out, in) dense weight they are in and out; for a (oc, c, kh, kw) convolution weight,
/// c*kh*kw and oc*kh*kw.
public enum Initializer: Sendable {
    /// All zeros (the default for biases and batch norm's shift).
    case zeros
    /// Every element `value` (batch norm's scale uses 1).
    case constant(Float)
    /// Normal with mean 0 and the given standard deviation.
    case normal(standardDeviation: Float)
    /// Glorot & Bengio (2010): normal with std sqrt(2 / (fanIn + fanOut)).
    case xavierNormal
    /// Glorot & Bengio (2010): uniform in ±sqrt(6 / (fanIn + fanOut)).
    case xavierUniform
    /// He et al. (2015): normal with std sqrt(2 / fanIn), for layers feeding ReLU.
    case heNormal
    /// He et al. (2015): uniform in ±sqrt(6 / fanIn), for layers feeding ReLU (the default).
    case heUniform

    /// The fan-in and fan-out of a weight of `shape` (dimension 0 is the output).
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        guard shape.count >= 2 else { return (max(shape.first ?? 1, 1), max(shape.first ?? 1, 1)) }
        let receptive = shape[2...].reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// A tensor of `shape` filled by this rule from `generator`.
    public func make(_ shape: [Int], using generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(shape)
        switch self {
        case .zeros: return Tensor(zeros: shape)
        case .constant(let value): return Tensor(repeating: value, shape: shape)
        case .normal(let std): return Tensor(randomNormal: shape, standardDeviation: std, using: &generator)
        case .xavierNormal:
            return Tensor(randomNormal: shape, standardDeviation: (2 / Float(fanIn + fanOut)).squareRoot(),
                          using: &generator)
        case .xavierUniform:
            let bound = (6 / Float(fanIn + fanOut)).squareRoot()
            return Tensor(randomUniform: shape, in: -bound...bound, using: &generator)
        case .heNormal:
            return Tensor(randomNormal: shape, standardDeviation: (2 / Float(fanIn)).squareRoot(), using: &generator)
        case .heUniform:
            let bound = (6 / Float(fanIn)).squareRoot()
            return Tensor(randomUniform: shape, in: -bound...bound, using: &generator)
        }
    }

    /// A tensor of `shape` filled by this rule from the default generator.
    public func make(_ shape: [Int]) -> Tensor {
        DefaultRandom.with { make(shape, using: &$0) }
    }
}
