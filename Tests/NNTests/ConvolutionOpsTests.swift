import NN
import NNReference
import TestSupport
import XCTest

/// conv2d over several geometries: the output against the naive reference (Tolerance.float32;
/// the reference sums in Double, the kernel in Float through im2col + GEMM, at most 27
/// terms here) and central-difference gradients for input, weight and bias
/// (Tolerance.finiteDifference; conv2d is linear in each argument, so only rounding error).
final class ConvolutionOpsTests: XCTestCase {
    struct Case {
        var name: String
        var x: [Int], w: [Int]
        var stride = (1, 1), padding = (0, 0), dilation = (1, 1)
        var bias = true
    }

    static let cases: [Case] = [
        Case(name: "3x3 valid", x: [2, 2, 5, 5], w: [3, 2, 3, 3]),
        Case(name: "3x3 stride 2 padding 1", x: [2, 2, 6, 6], w: [3, 2, 3, 3], stride: (2, 2), padding: (1, 1)),
        Case(name: "3x3 dilation 2 padding 2", x: [1, 2, 7, 7], w: [2, 2, 3, 3], padding: (2, 2), dilation: (2, 2)),
        Case(name: "1x1", x: [2, 3, 4, 4], w: [4, 3, 1, 1]),
        Case(name: "non-square 2x3 kernel on 5x7, stride (2,1), padding (1,0), no bias",
             x: [1, 2, 5, 7], w: [3, 2, 2, 3], stride: (2, 1), padding: (1, 0), bias: false),
        Case(name: "1x1 stride 2, no bias (a projection shortcut)", x: [2, 3, 5, 5], w: [2, 3, 1, 1],
             stride: (2, 2), bias: false),
    ]

    func geometry(_ c: Case) -> ReferenceConv2DGeometry {
        ReferenceConv2DGeometry(n: c.x[0], c: c.x[1], h: c.x[2], w: c.x[3], oc: c.w[0], kh: c.w[2], kw: c.w[3],
                                strideH: c.stride.0, strideW: c.stride.1, padH: c.padding.0, padW: c.padding.1,
                                dilationH: c.dilation.0, dilationW: c.dilation.1)
    }

    func testForwardMatchesReference() {
        for (i, c) in Self.cases.enumerated() {
            let x = randomTensor(c.x, seed: UInt64(10 + i)), w = randomTensor(c.w, seed: UInt64(20 + i))
            let b = c.bias ? randomTensor([c.w[0]], seed: UInt64(30 + i)) : nil
            let y = conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation)
            let g = geometry(c)
            XCTAssertEqual(y.shape, [g.n, g.oc, g.outH, g.outW], c.name)
            assertClose(referenceConv2DForward(x: x.scalars, filter: w.scalars, bias: b?.scalars, g), y.scalars,
                        .float32, "conv2d \(c.name)", shape: y.shape)
        }
    }

    func testGradients() {
        for (i, c) in Self.cases.enumerated() {
            let x = randomTensor(c.x, seed: UInt64(10 + i)), w = randomTensor(c.w, seed: UInt64(20 + i))
            let conv = { (x: Tensor, w: Tensor, b: Tensor?) in
                conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation)
            }
            if c.bias {
                let b = randomTensor([c.w[0]], seed: UInt64(30 + i))
                checkGradients("conv2d \(c.name)", inputs: [x, w, b]) { conv($0[0], $0[1], $0[2]) }
                // Bias without weight gradient takes its own path in the pullback.
                checkGradients("conv2d \(c.name), x and bias only", inputs: [x, b]) { conv($0[0], w, $0[1]) }
                checkGradients("conv2d \(c.name), bias only", inputs: [b]) { conv(x, w, $0[0]) }
            } else {
                checkGradients("conv2d \(c.name)", inputs: [x, w]) { conv($0[0], $0[1], nil) }
            }
            checkGradients("conv2d \(c.name), weight only", inputs: [w]) { conv(x, $0[0], nil) }
        }
    }
}
