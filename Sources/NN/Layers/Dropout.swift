/// Inverted dropout: in training zeroes each element with probability `probability` and
/// scales the rest by 1/(1 - probability); the identity in inference. Seedable.
public final class Dropout: Layer {
    /// The probability of zeroing each element in training (PyTorch: `p`); in [0, 1).
    public let probability: Float
    /// The generator the masks are drawn from (saved in checkpoints for exact resumption).
    public var generator: RandomGenerator {
        get { randomState.generator }
        set { randomState.generator = newValue }
    }
    private let randomState: RandomState
    /// Dropout applies only in training; inference returns the input unchanged.
    public var isTraining = true

    /// Dropout with drop probability in [0, 1), masks drawn from a generator seeded with `seed`.
    public init(_ probability: Float, seed: UInt64 = 0xD209) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1), got \(probability)")
        self.probability = probability
        randomState = RandomState(RandomGenerator(seed: seed))
    }

    /// The mask generator, unnamed: checkpoints store it under the layer's path.
    public var ownRandomStates: [(name: String, state: RandomState)] { [("", randomState)] }

    /// In training, `input` with each element zeroed with probability `probability` and the
    /// rest scaled by 1 / (1 - probability) (a new mask per call); otherwise `input` itself.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return input }
        return dropout(input, probability: probability, using: &randomState.generator)
    }
}
