import TestSupport

/// Central finite differences for the element-wise references' gradient checks.
enum ElementwiseGradientCheck {
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
