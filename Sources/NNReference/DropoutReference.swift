/// A dropout mask of `count` entries: each is 0 with probability p, else 1 / (1 - p)
/// (inverted dropout keeps the expected activation unchanged).
public func referenceDropoutMask<G: RandomNumberGenerator>(count: Int, p: Float,
                                                          using generator: inout G) -> [Float] {
    precondition(p >= 0 && p < 1, "dropout: p = \(p) must be in [0, 1)")
    let keep = 1 / (1 - p)
    return (0..<count).map { _ in Float.random(in: 0..<1, using: &generator) < p ? 0 : keep }
}

/// y = x * mask element by element.
public func referenceDropoutForward(_ x: [Float], mask: [Float]) -> [Float] {
    precondition(x.count == mask.count, "dropout forward: x has \(x.count) elements, mask \(mask.count)")
    return zip(x, mask).map { $0 * $1 }
}

/// The gradient dy * mask (returned, not accumulated): the mask is a constant factor.
public func referenceDropoutBackward(dy: [Float], mask: [Float]) -> [Float] {
    precondition(dy.count == mask.count, "dropout backward: dy has \(dy.count) elements, mask \(mask.count)")
    return zip(dy, mask).map { $0 * $1 }
}
