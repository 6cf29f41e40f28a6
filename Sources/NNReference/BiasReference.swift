/// y (n,c,s) + bias (c) broadcast over n and s (returned, not accumulated in place).
public func referenceBiasAddForward(_ y: [Float], bias: [Float], n: Int, c: Int, s: Int) -> [Float] {
    precondition(y.count == n * c * s && bias.count == c,
                 "bias add forward: y has \(y.count) elements for (\(n),\(c),\(s)), bias \(bias.count)")
    var out = y
    for i in 0..<n {
        for j in 0..<c {
            for k in 0..<s { out[(i * c + j) * s + k] += bias[j] }
        }
    }
    return out
}

/// The bias gradient (returned, not accumulated): dbias[c] = sum of dy (n,c,s) over n and
/// s, summed in Double.
public func referenceBiasAddBackward(dy: [Float], n: Int, c: Int, s: Int) -> [Float] {
    precondition(dy.count == n * c * s, "bias add backward: dy has \(dy.count) elements for (\(n),\(c),\(s))")
    var dbias = [Double](repeating: 0, count: c)
    for i in 0..<n {
        for j in 0..<c {
            for k in 0..<s { dbias[j] += Double(dy[(i * c + j) * s + k]) }
        }
    }
    return dbias.map { Float($0) }
}
