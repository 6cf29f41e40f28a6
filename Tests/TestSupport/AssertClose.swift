import XCTest

/// The tolerance every comparison in the test suite uses: `|observed - expected| <=
/// max(atol, rtol * |expected|)`. On the first element that fails, the message names the
/// kernel (`what`), the shape, the flat index and both values.
public struct Tolerance: Sendable {
    public var atol: Float
    public var rtol: Float
    public init(atol: Float, rtol: Float) {
        self.atol = atol
        self.rtol = rtol
    }
    /// Float32 kernels against a float32 reference doing the same sums in another order:
    /// rounding grows with the reduction length, so a few thousand ulps of headroom.
    public static let float32 = Tolerance(atol: 1e-4, rtol: 1e-4)
    /// Central finite differences in float32 with h ~ 1e-2..1e-3: truncation error O(h^2)
    /// plus cancellation error O(eps/h) ~ 1e-4 relative, so about 1e-2 overall.
    public static let finiteDifference = Tolerance(atol: 1e-2, rtol: 1e-2)

    public func allows(expected: Float, observed: Float) -> Bool {
        if expected.isNaN || observed.isNaN { return expected.isNaN && observed.isNaN }
        return abs(observed - expected) <= max(atol, rtol * abs(expected))
    }
}

/// Fails (once, at the first mismatch) unless `observed` matches `expected` element by
/// element within `tolerance`.
public func assertClose(
    _ expected: [Float], _ observed: [Float],
    _ tolerance: Tolerance = .float32,
    _ what: @autoclosure () -> String = "",
    shape: [Int]? = nil,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard expected.count == observed.count else {
        XCTFail("\(what()): count differs: expected \(expected.count), observed \(observed.count)",
                file: file, line: line)
        return
    }
    for i in 0..<expected.count where !tolerance.allows(expected: expected[i], observed: observed[i]) {
        let shapeText = shape.map { " shape \($0)" } ?? ""
        let indexText = shape.map { " index \(unravel(i, $0))" } ?? ""
        XCTFail("""
            \(what())\(shapeText): element \(i)\(indexText): expected \(expected[i]), \
            observed \(observed[i]) (|diff| \(abs(expected[i] - observed[i])), \
            atol \(tolerance.atol), rtol \(tolerance.rtol))
            """, file: file, line: line)
        return
    }
}

/// Scalar form of `assertClose`.
public func assertClose(
    _ expected: Float, _ observed: Float,
    _ tolerance: Tolerance = .float32,
    _ what: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    assertClose([expected], [observed], tolerance, what(), file: file, line: line)
}

/// The multi-index of flat index `i` in a row-major array of `shape`.
public func unravel(_ i: Int, _ shape: [Int]) -> [Int] {
    var rest = i
    var index = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        index[d] = rest % shape[d]
        rest /= shape[d]
    }
    return index
}

/// A small seeded generator (SplitMix64) so every test draws the same numbers.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` floats uniform in `range`, from `generator`.
public func randomFloats(_ count: Int, in range: ClosedRange<Float> = -1...1,
                         using generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &generator) }
}
