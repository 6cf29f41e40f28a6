import NN
import TestSupport
import XCTest

/// Central finite-difference gradient check of `f` for its inputs and `parameters`.
///
/// The scalar checked is L = sum(f(x) * r) for a fixed random r, so every output element
/// contributes with its own weight. L is summed in Double for the numeric side so that
/// the only float32 error left is in f itself: with h = 1e-2 the truncation error is
/// O(h^2 * f''') and the rounding error about 1e-7 * |L| / h, both well inside
/// `Tolerance.finiteDifference` (1e-2 absolute or relative) for the smooth, O(1)-sized
/// functions tested. Inputs must stay more than h away from kinks (ReLU at 0, max ties).
///
/// The backward pass runs with `GradientMode.poisonsFirstGradients`, and every element of
/// every gradient must be finite: an op that writes a first gradient and leaves an element
/// unwritten shows as NaN (in the gradient it writes, or in those computed from it).
func checkGradients(
    _ what: String,
    inputs: [Tensor],
    parameters: [Parameter] = [],
    h: Float = 1e-2,
    tolerance: Tolerance = .finiteDifference,
    maxElementsPerTensor: Int = 48,
    seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line,
    _ f: ([Tensor]) -> Tensor
) {
    var generator = RandomGenerator(seed: seed)
    let leaves = inputs.map { $0.requiringGradient() }
    for parameter in parameters { parameter.zeroGradient() }
    let output = f(leaves)
    let weights = Tensor(randomUniform: output.shape, in: -1...1, using: &generator)
    GradientMode.$poisonsFirstGradients.withValue(true) { output.backward(seed: weights) }
    for (k, leaf) in leaves.enumerated() {
        XCTAssertTrue(leaf.gradient!.scalars.allSatisfy(\.isFinite),
                      "\(what): gradient of input \(k) has a non-finite element", file: file, line: line)
    }
    for (k, parameter) in parameters.enumerated() {
        XCTAssertTrue(parameter.gradient.scalars.allSatisfy(\.isFinite),
                      "\(what): gradient of parameter \(k) has a non-finite element", file: file, line: line)
    }

    func loss(_ xs: [Tensor]) -> Double {
        withoutGradient {
            let y = f(xs)
            XCTAssertEqual(y.shape, output.shape, "\(what): output shape changed", file: file, line: line)
            return zip(y.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
    }

    // Elements to probe: all of a small tensor, an evenly spread sample of a large one.
    func probes(_ count: Int) -> [Int] {
        count <= maxElementsPerTensor ? Array(0..<count)
            : (0..<maxElementsPerTensor).map { $0 * count / maxElementsPerTensor }
    }

    let plain = inputs.map(\.detached)
    for (k, input) in plain.enumerated() {
        let analytic = leaves[k].gradient!.scalars
        var numeric: [Float] = [], expected: [Float] = []
        for i in probes(input.count) {
            var xs = plain
            var plus = input, minus = input
            plus.withUnsafeMutableBufferPointer { $0[i] += h }
            minus.withUnsafeMutableBufferPointer { $0[i] -= h }
            xs[k] = plus
            let lp = loss(xs)
            xs[k] = minus
            let lm = loss(xs)
            numeric.append(Float((lp - lm) / (2 * Double(h))))
            expected.append(analytic[i])
        }
        assertClose(numeric, expected, tolerance, "\(what): d/d input \(k) \(input.shape)",
                    file: file, line: line)
    }
    for (k, parameter) in parameters.enumerated() {
        let analytic = parameter.gradient.scalars
        let original = parameter.value
        var numeric: [Float] = [], expected: [Float] = []
        for i in probes(original.count) {
            var plus = original.detached, minus = original.detached
            plus.withUnsafeMutableBufferPointer { $0[i] += h }
            minus.withUnsafeMutableBufferPointer { $0[i] -= h }
            parameter.value = plus
            let lp = loss(plain)
            parameter.value = minus
            let lm = loss(plain)
            parameter.value = original
            numeric.append(Float((lp - lm) / (2 * Double(h))))
            expected.append(analytic[i])
        }
        assertClose(numeric, expected, tolerance, "\(what): d/d parameter \(k) \(original.shape)",
                    file: file, line: line)
    }
}

/// A tensor of `shape` with values uniform in `range`, from a fixed seed.
func randomTensor(_ shape: [Int], in range: ClosedRange<Float> = -1...1, seed: UInt64 = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    return Tensor(randomUniform: shape, in: range, using: &generator)
}

/// A tensor of `shape` whose values are at least `margin` away from 0 (uniform magnitudes
/// in margin...margin+scale, random signs): keeps ReLU-like kinks and |w| outside the
/// finite-difference stencil when margin > h.
func awayFromZero(_ shape: [Int], margin: Float = 0.1, scale: Float = 1, seed: UInt64 = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    let count = Tensor.elementCount(shape)
    let values = (0..<count).map { _ -> Float in
        let magnitude = margin + scale * generator.nextUnitFloat()
        return generator.nextUnitFloat() < 0.5 ? -magnitude : magnitude
    }
    return Tensor(values, shape: shape)
}

/// A tensor of `shape` holding a random permutation of -1, -1 + spacing, ...: all values
/// distinct and at least `spacing` apart, so a perturbation smaller than spacing / 2
/// never changes which element of a window is the maximum (no ties for max pooling).
func spacedTensor(_ shape: [Int], spacing: Float = 0.05, seed: UInt64 = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    let count = Tensor.elementCount(shape)
    var values = (0..<count).map { Float($0) * spacing - 1 }
    values.shuffle(using: &generator)
    return Tensor(values, shape: shape)
}
