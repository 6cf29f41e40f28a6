/// What every copy holds after an all-reduce's sum (times `scale`) over `copies`, element by
/// element: the sum taken in Float in copy order, as MPI's two-rank all-reduce and
/// `ck_sum_to_all` both take it, then scaled.
public func referenceSumToAll(_ copies: [[Float]], scale: Float) -> [Float] {
    precondition(!copies.isEmpty, "sum to all: no copies")
    let count = copies[0].count
    precondition(copies.allSatisfy { $0.count == count }, "sum to all: copies of \(copies.map(\.count)) floats")
    return (0..<count).map { i in
        var sum = copies[0][i]
        for copy in copies.dropFirst() { sum += copy[i] }
        return sum * scale
    }
}
