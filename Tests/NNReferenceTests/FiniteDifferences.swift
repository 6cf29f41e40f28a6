import TestSupport

/// Central finite differences for the references' gradient checks (the one helper of this
/// target: element-wise ops, softmax, pooling, batch norm and convolution use it).
enum FiniteDifferences {
    /// df/dx_i by central differences with step h. The denominator is the step actually
    /// taken, (x + h) - (x - h) after float rounding, so that rounding does not bias it.
    static func gradient(at x: [Float], h: Float = 1e-3, _ f: ([Float]) -> Double) -> [Float] {
        var probe = x
        return x.indices.map { i in
            let plus = x[i] + h, minus = x[i] - h
            probe[i] = plus
            let fPlus = f(probe)
            probe[i] = minus
            let fMinus = f(probe)
            probe[i] = x[i]
            return Float((fPlus - fMinus) / (Double(plus) - Double(minus)))
        }
    }

    /// The gradient of the scalar loss sum(f(x) * r) (accumulated in Double) with respect
    /// to x, by `gradient(at:h:_:)`: every output element of f counts with its own weight
    /// r[i], so one call checks a whole backward pass given dy = r.
    static func gradient(at x: [Float], weightedBy r: [Float], h: Float, _ f: ([Float]) -> [Float]) -> [Float] {
        gradient(at: x, h: h) { x in
            let y = f(x)
            precondition(y.count == r.count, "finite differences: f gives \(y.count) values, r has \(r.count)")
            return dot(y, r)
        }
    }

    /// sum(y * r) in Double: a scalar loss whose gradient with respect to y is r.
    static func dot(_ y: [Float], _ r: [Float]) -> Double {
        zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// `count` values with magnitude in [0.1, 2] and a random sign: far enough from the
    /// kinks at 0 that a step of 1e-3 never crosses one.
    static func awayFromZero(_ count: Int, using rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in
            Float.random(in: 0.1...2, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
        }
    }
}
