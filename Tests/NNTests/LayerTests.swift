import NN
import NNReference
import TestSupport
import XCTest

/// Every layer: its output against the naive reference for the same weights
/// (Tolerance.float32) and a central-difference gradient check for its input and its
/// parameters (Tolerance.finiteDifference), in training and inference mode where they
/// differ.
///
/// Step size: single ops use the checker's h = 1e-2 with inputs kept away from kinks.
/// Composite layers (residual blocks, the CNN) put a ReLU or a max pool after a
/// convolution or batch norm, so some pre-activations land near a kink and no input
/// choice keeps them all away; there h = 1e-3 makes a kink inside the stencil ten times
/// less likely while the rounding error (about 1e-7 |L| / h ~ 1e-3 for these O(1)-sized
/// outputs) stays well inside the 1e-2 tolerance.
final class LayerTests: XCTestCase {
    let compositeH: Float = 1e-3

    override func setUp() {
        DefaultRandom.manualSeed(1234)
    }

    // MARK: Convolution and pooling

    func testConv2DLayer() {
        let layers: [(String, Conv2D, [Int])] = [
            ("3x3 stride 2 padding 1", Conv2D(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1), [2, 2, 5, 5]),
            ("2x3 dilation (2,1), no bias",
             Conv2D(inChannels: 2, outChannels: 2, kernelSize: (2, 3), padding: (1, 0), dilation: (2, 1), useBias: false),
             [1, 2, 5, 6]),
        ]
        for (name, layer, shape) in layers {
            if let bias = layer.bias { bias.value = randomTensor(bias.shape, seed: 3) }  // non-zero bias in the comparison
            let x = randomTensor(shape, seed: 2)
            let w = layer.weight.shape
            let g = ReferenceConv2DGeometry(n: shape[0], c: shape[1], h: shape[2], w: shape[3], oc: w[0], kh: w[2], kw: w[3],
                                            strideH: layer.stride.0, strideW: layer.stride.1,
                                            padH: layer.padding.0, padW: layer.padding.1,
                                            dilationH: layer.dilation.0, dilationW: layer.dilation.1)
            let y = layer(x)
            assertClose(referenceConv2DForward(x: x.scalars, filter: layer.weight.value.scalars,
                                               bias: layer.bias?.value.scalars, g),
                        y.scalars, .float32, "Conv2D \(name)", shape: y.shape)
            checkGradients("Conv2D \(name)", inputs: [x], parameters: layer.parameters) { layer($0[0]) }
        }
    }

    func testConv2DDefaultInitialization() {
        let layer = Conv2D(inChannels: 4, outChannels: 8, kernelSize: 3)
        let bound = (6 / Float(4 * 9)).squareRoot()  // He uniform, fan-in c*kh*kw
        XCTAssertTrue(layer.weight.value.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(layer.weight.value.scalars.map(abs).max()!, 0.9 * bound)
        XCTAssertEqual(layer.bias!.value, Tensor(zeros: [8]))
        XCTAssertEqual(layer.namedParameters.map(\.name), ["weight", "bias"])
    }

    func testPoolingLayers() {
        let x = spacedTensor([2, 2, 5, 5], seed: 4)
        let g = Pool2DGeometry(n: 2, c: 2, h: 5, w: 5, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1)
        let maxPool = MaxPool2D(3, stride: 2, padding: 1)
        assertClose(referenceMaxPool2DForward(x: x.scalars, geometry: g).y, maxPool(x).scalars, .float32,
                    "MaxPool2D", shape: g.outputShape)
        checkGradients("MaxPool2D", inputs: [x]) { maxPool($0[0]) }
        for includePad in [true, false] {
            let avgPool = AvgPool2D(3, stride: 2, padding: 1, countIncludePad: includePad)
            assertClose(referenceAvgPool2DForward(x: x.scalars, geometry: g, countIncludePad: includePad),
                        avgPool(x).scalars, .float32, "AvgPool2D countIncludePad \(includePad)", shape: g.outputShape)
            checkGradients("AvgPool2D countIncludePad \(includePad)", inputs: [x]) { avgPool($0[0]) }
        }
        // Default stride = kernel.
        let g2 = Pool2DGeometry(n: 2, c: 2, h: 5, w: 5, kh: 2, kw: 2, strideH: 2, strideW: 2)
        assertClose(referenceMaxPool2DForward(x: x.scalars, geometry: g2).y, MaxPool2D(2)(x).scalars, .float32,
                    "MaxPool2D(2)", shape: g2.outputShape)
        assertClose(referenceAvgPool2DForward(x: x.scalars, geometry: g2, countIncludePad: true), AvgPool2D(2)(x).scalars,
                    .float32, "AvgPool2D(2)", shape: g2.outputShape)
        let gap = GlobalAvgPool2D()
        assertClose(referenceGlobalAvgPoolForward(x: x.scalars, n: 2, c: 2, hw: 25), gap(x).scalars, .float32,
                    "GlobalAvgPool2D", shape: [2, 2])
        checkGradients("GlobalAvgPool2D", inputs: [x]) { gap($0[0]) }
    }

    // MARK: Normalization and dropout

    func testBatchNormLayerTrainingAndInference() {
        for shape in [[6, 3], [3, 3, 2, 2]] {
            let (n, c, s) = (shape[0], 3, Tensor.elementCount(shape) / (shape[0] * 3))
            let layer = BatchNorm(c)  // 1D and 2D are the same layer
            XCTAssertEqual(layer.weight.value, Tensor(ones: [c]))
            XCTAssertEqual(layer.bias.value, Tensor(zeros: [c]))
            layer.weight.value = randomTensor([c], in: 0.5...1.5, seed: 5)
            layer.bias.value = randomTensor([c], seed: 6)
            let x = randomTensor(shape, seed: 7)
            let (rm, rv) = (layer.runningMean.value.scalars, layer.runningVariance.value.scalars)
            let y = layer(x)
            let ref = referenceBatchNormTrainingForward(
                x: x.scalars, gamma: layer.weight.value.scalars, beta: layer.bias.value.scalars,
                runningMean: rm, runningVar: rv, n: n, c: c, s: s, momentum: 0.1, eps: 1e-5)
            assertClose(ref.y, y.scalars, .float32, "BatchNorm \(shape) training", shape: shape)
            assertClose(ref.runningMean, layer.runningMean.value.scalars, .float32, "BatchNorm \(shape) running mean")
            assertClose(ref.runningVar, layer.runningVariance.value.scalars, .float32, "BatchNorm \(shape) running var")
            checkGradients("BatchNorm \(shape) training", inputs: [x], parameters: layer.parameters) { layer($0[0]) }

            layer.setTraining(false)
            let (rm2, rv2) = (layer.runningMean.value.scalars, layer.runningVariance.value.scalars)
            let x2 = randomTensor(shape, in: -2...2, seed: 8)
            assertClose(referenceBatchNormInferenceForward(
                            x: x2.scalars, gamma: layer.weight.value.scalars, beta: layer.bias.value.scalars,
                            runningMean: rm2, runningVar: rv2, n: n, c: c, s: s, eps: 1e-5),
                        layer(x2).scalars, .float32, "BatchNorm \(shape) inference", shape: shape)
            checkGradients("BatchNorm \(shape) inference", inputs: [x2], parameters: layer.parameters) { layer($0[0]) }
            XCTAssertEqual(layer.runningMean.value.scalars, rm2, "inference leaves the statistics alone")
        }
    }

    func testDropoutLayer() {
        let layer = Dropout(0.5, seed: 3)
        let x = randomTensor([4, 6])
        // Training: the mask changes every call, so the checker's closure resets the
        // generator to make f one fixed linear map.
        checkGradients("Dropout training", inputs: [x]) {
            layer.generator = RandomGenerator(seed: 3)
            return layer($0[0])
        }
        layer.generator = RandomGenerator(seed: 3)
        let first = layer(x), second = layer(x)
        XCTAssertNotEqual(first, second, "a new mask every call")
        // The expected value over many calls on a constant input: 500 calls x 400 elements
        // = 200,000 draws of 0 or 1/(1-p) = 2 (variance 1 each, input 1), so the mean's
        // standard deviation is 1/sqrt(200,000) = 0.0022; 5 sigma = 0.011.
        var total = 0.0
        let ones = Tensor(ones: [400])
        for _ in 0..<500 { total += layer(ones).scalars.reduce(0.0) { $0 + Double($1) } }
        XCTAssertEqual(total / 200_000, 1, accuracy: 0.011)
        // Inference: the identity, for values and gradients.
        layer.setTraining(false)
        XCTAssertEqual(layer(x), x)
        checkGradients("Dropout inference", inputs: [x]) { layer($0[0]) }
    }

    // MARK: Shape layers and activations

    func testFlattenAndReshape() {
        let x = randomTensor([2, 3, 2, 2])
        let flat = Flatten()(x)
        XCTAssertEqual(flat.shape, [2, 12])
        XCTAssertEqual(flat.scalars, x.scalars)
        checkGradients("Flatten", inputs: [x]) { Flatten()($0[0]) * $0[0].reshaped(to: [2, 12]) }
        let reshaped = Reshape([4, -1])(x)
        XCTAssertEqual(reshaped.shape, [2, 4, 3])
        XCTAssertEqual(reshaped.scalars, x.scalars)
        checkGradients("Reshape", inputs: [x]) { Reshape([6, 2])($0[0]) }
    }

    func testActivationLayers() {
        let layers: [(any ElementwiseActivation, ReferenceActivation)] = [
            (Identity(), .identity), (BinaryStep(), .binaryStep), (Sigmoid(), .sigmoid), (Tanh(), .tanh),
            (Arctan(), .arctan), (ReLU(), .relu), (LeakyReLU(), .leakyReLU(alpha: 0.01)),
            (LeakyReLU(alpha: 0.2), .leakyReLU(alpha: 0.2)), (ELU(), .elu(alpha: 1)), (ELU(alpha: 0.5), .elu(alpha: 0.5)),
            (SoftPlus(), .softplus),
        ]
        let x = awayFromZero([2, 3, 4], scale: 2)
        for (layer, reference) in layers {
            assertClose(referenceActivationForward(x.scalars, reference), layer(x).scalars, .float32,
                        "\(reference) layer", shape: x.shape)
            checkGradients("\(reference) layer", inputs: [x]) { layer($0[0]) }
        }
        let rows = randomTensor([3, 4], in: -3...3)
        assertClose(referenceSoftmaxForward(rows.scalars, rows: 3, cols: 4), Softmax()(rows).scalars, .float32, "Softmax")
        assertClose(referenceLogSoftmaxForward(rows.scalars, rows: 3, cols: 4), LogSoftmax()(rows).scalars, .float32,
                    "LogSoftmax")
        checkGradients("Softmax layer", inputs: [rows]) { Softmax()($0[0]) }
        checkGradients("LogSoftmax layer", inputs: [rows]) { LogSoftmax()($0[0]) }
    }

    func testActivationsAreTypesNamedInDescriptions() {
        let model = Sequential {
            Dense(inputSize: 2, outputSize: 2)
            ReLU()
            LeakyReLU(alpha: 0.2)
            ELU()
            Sigmoid()
            Tanh()
            Arctan()
            SoftPlus()
            BinaryStep()
            Identity()
        }
        XCTAssertTrue(model.layers[1] is ReLU)
        XCTAssertFalse(model.layers[2] is ReLU)
        XCTAssertEqual((model.layers[2] as? LeakyReLU)?.alpha, 0.2)
        XCTAssertEqual(model.layers.filter { $0 is any ElementwiseActivation }.count, 9)
        XCTAssertEqual(Checkpoint.describe(model),
                       "Sequential(Dense, ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Arctan, SoftPlus, BinaryStep, Identity) [6 parameters]")
    }

    func testPReLULayer() {
        let layer = PReLU(channels: 3)
        XCTAssertEqual(layer.weight.value, Tensor(repeating: 0.25, shape: [3]))
        layer.weight.value = Tensor([0.25, -0.5, 0.1], shape: [3])
        let x = awayFromZero([2, 3, 2, 2])
        assertClose(referencePReLUForward(x.scalars, alpha: layer.weight.value.scalars, n: 2, c: 3, s: 4),
                    layer(x).scalars, .float32, "PReLU", shape: x.shape)
        checkGradients("PReLU", inputs: [x], parameters: layer.parameters) { layer($0[0]) }
        let single = PReLU()  // one slope shared by (N, 1) features
        checkGradients("PReLU single channel", inputs: [awayFromZero([5, 1])], parameters: single.parameters) { single($0[0]) }
    }

    // MARK: Blocks

    func testResidualBlocks() {
        let x = randomTensor([2, 2, 4, 4], seed: 9)
        let identity = Residual.basicBlock(inChannels: 2, outChannels: 2)
        XCTAssertNil(identity.shortcut)
        let projection = Residual.basicBlock(inChannels: 2, outChannels: 3, stride: 2)
        XCTAssertNotNil(projection.shortcut)
        XCTAssertEqual(projection(x).shape, [2, 3, 2, 2])
        for (name, block) in [("identity", identity), ("projection stride 2", projection)] {
            for training in [true, false] {
                block.setTraining(training)
                checkGradients("Residual \(name) training \(training)", inputs: [x], parameters: block.parameters,
                               h: compositeH) { block($0[0]) }
            }
        }
        // The definition: relu(body(x) + shortcut(x)), and body + x without the ReLU.
        let body = Conv2D(inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1)
        let plain = Residual(body: body, activationAfterAdd: false)
        XCTAssertEqual(plain(x), body(x) + x)
        XCTAssertEqual(Residual(body: body)(x), relu(body(x) + x))
        checkGradients("Residual plain", inputs: [x], parameters: plain.parameters) { plain($0[0]) }
    }

    func testConcatLayerAndConcatenate() {
        let x = randomTensor([2, 2, 3, 3], seed: 10)
        let a = Conv2D(inChannels: 2, outChannels: 1, kernelSize: 1)
        let b = Conv2D(inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1)
        let concat = Concat { a; b }
        XCTAssertEqual(concat.namedParameters.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias"])
        let y = concat(x)
        XCTAssertEqual(y.shape, [2, 4, 3, 3])
        XCTAssertEqual(y, Tensor.concatenate([a(x), b(x)], alongAxis: 1))
        checkGradients("Concat", inputs: [x], parameters: concat.parameters) { concat($0[0]) }
        // The op along every axis, three parts of different widths.
        for axis in 0..<3 {
            var shapes = [[2, 3, 2], [2, 3, 2], [2, 3, 2]]
            for k in 0..<3 { shapes[k][axis] = k + 1 }
            let parts = shapes.enumerated().map { randomTensor($0.element, seed: UInt64(11 + $0.offset)) }
            let joined = Tensor.concatenate(parts, alongAxis: axis)
            var expectedShape = [2, 3, 2]
            expectedShape[axis] = 6
            XCTAssertEqual(joined.shape, expectedShape)
            // Element check: part k occupies indices offset..<offset+k+1 along the axis.
            for (k, part) in parts.enumerated() {
                let offset = k * (k + 1) / 2
                for flat in 0..<part.count {
                    var index = unravel(flat, part.shape)
                    index[axis] += offset
                    XCTAssertEqual(joined[index[0], index[1], index[2]], part.scalars[flat], "axis \(axis) part \(k)")
                }
            }
            checkGradients("concatenate axis \(axis)", inputs: parts) { Tensor.concatenate($0, alongAxis: axis) }
        }
    }

    /// A layer applied twice in one graph receives both contributions: every pullback
    /// must ADD into the gradients it is given (one that overwrote would keep only the
    /// last use). Same for an input feeding two branches.
    func testSharedLayersAccumulateGradients() {
        let conv = Conv2D(inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1)
        let norm = BatchNorm(2), prelu = PReLU(channels: 2)
        prelu.weight.value = Tensor([0.3, -0.2], shape: [2])
        let twice = Sequential { conv; norm; prelu; conv; norm; prelu }
        let x = randomTensor([2, 2, 4, 4], seed: 13)
        for training in [true, false] {
            twice.setTraining(training)
            XCTAssertEqual(twice.parameters.count, 10)  // each shared layer listed per use
            checkGradients("shared layers training \(training)", inputs: [x], parameters: conv.parameters + norm.parameters + prelu.parameters,
                           h: compositeH) { twice($0[0]) }
        }
        let dense = Dense(inputSize: 3, outputSize: 3)
        checkGradients("shared dense and two branches", inputs: [randomTensor([4, 3], seed: 14)], parameters: dense.parameters) {
            dense(dense($0[0])) + dense($0[0]) * $0[0]
        }
        let w = randomTensor([2, 2, 2, 2], seed: 16)
        checkGradients("one input into max pool, average pool and conv", inputs: [spacedTensor([1, 2, 4, 4], seed: 15)]) {
            maxPool2d($0[0], kernel: (2, 2)) + avgPool2d($0[0], kernel: (2, 2)) + conv2d($0[0], weight: w, stride: (2, 2))
        }
    }

    /// Every shape-preserving op as one of two uses of its input, in both orders of the sum
    /// (the graph walk runs the pullbacks in a fixed order, so one of the two orders puts
    /// the op's pullback after the other contribution): a pullback that overwrote dx
    /// instead of adding to it would lose the other term.
    func testOpsAddIntoInputGradients() {
        let x = spacedTensor([2, 2, 3, 3], seed: 17) * 2 + 0.05  // distinct, 0.1 apart, none within 0.05 of 0
        let w = randomTensor([2, 2, 3, 3], seed: 18), alpha = Tensor([0.2, -0.4], shape: [2])
        let (rm, rv) = (randomTensor([2], seed: 19), randomTensor([2], in: 0.5...2, seed: 20))
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("sigmoid", sigmoid), ("relu", relu), ("elu", { elu($0) }), ("prelu", { prelu($0, alpha: alpha) }),
            ("softmax", softmax), ("logSoftmax", logSoftmax),
            ("conv2d", { conv2d($0, weight: w, padding: (1, 1)) }),
            ("maxPool2d", { maxPool2d($0, kernel: (3, 3), stride: (1, 1), padding: (1, 1)) }),
            ("avgPool2d", { avgPool2d($0, kernel: (3, 3), stride: (1, 1), padding: (1, 1)) }),
            ("batchNorm training", { var (m, v) = (rm, rv); return batchNorm($0, gamma: alpha, beta: alpha, runningMean: &m, runningVariance: &v, training: true) }),
            ("batchNorm inference", { var (m, v) = (rm, rv); return batchNorm($0, gamma: alpha, beta: alpha, runningMean: &m, runningVariance: &v, training: false) }),
            ("dropout", { var g = RandomGenerator(seed: 5); return dropout($0, probability: 0.3, using: &g) }),
            ("reshape", { $0.reshaped(to: [4, 9]).reshaped(to: [2, 2, 3, 3]) }),
        ]
        for (name, f) in ops {
            checkGradients("\(name)(x) + x / 2", inputs: [x]) { f($0[0]) + $0[0] * 0.5 }
            checkGradients("x / 2 + \(name)(x)", inputs: [x]) { $0[0] * 0.5 + f($0[0]) }
        }
    }

    func testSmallSequentialCNN() {
        let model = Sequential {
            Conv2D(inChannels: 1, outChannels: 2, kernelSize: 3, padding: 1)
            BatchNorm2D(2)
            ReLU()
            MaxPool2D(2)
            Flatten()
            Dense(inputSize: 2 * 3 * 3, outputSize: 3)
        }
        let x = randomTensor([3, 1, 6, 6], seed: 12)
        XCTAssertEqual(model(x).shape, [3, 3])
        for training in [true, false] {
            model.setTraining(training)
            checkGradients("CNN training \(training)", inputs: [x], parameters: model.parameters, h: compositeH) {
                model($0[0])
            }
        }
    }
}
