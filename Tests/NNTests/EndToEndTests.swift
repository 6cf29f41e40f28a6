import NN
import TestSupport
import XCTest

/// Seeded end-to-end runs: XOR learned by a 2-2-1 sigmoid network, logic gates computed by
/// single binary-step neurons with hand-set weights, a tiny CNN's loss falling on a fixed
/// batch, and the issue's user code as written.
final class EndToEndTests: XCTestCase {
    /// The four rows of a two-input truth table.
    let xorInputs = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2])

    /// A 2-2-1 sigmoid network trained full-batch with SGD + momentum on MSE from a fixed
    /// seed gets all four XOR rows right. The first two losses are pinned to the values of
    /// a recorded run: any change in initialization order, the ops or the optimizer shows
    /// up here first. They are compared with rtol 1e-6 (a few ulps) rather than bit for
    /// bit because OpenBLAS picks its GEMM kernel by CPU, and kernels may round the last
    /// bit of a 2-term dot product differently.
    func testXORWithSigmoidNetwork() {
        DefaultRandom.manualSeed(XORRun.seed)
        let model = Sequential {
            Dense(inputSize: 2, outputSize: 2)
            Sigmoid()
            Dense(inputSize: 2, outputSize: 1)
            Sigmoid()
        }
        let targets = Tensor([0, 1, 1, 0], shape: [4, 1])
        let optimizer = SGD(parameters: model.parameters, learningRate: XORRun.learningRate, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<XORRun.steps {
            optimizer.zeroGradients()
            let loss = meanSquaredError(model(xorInputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.scalar)
        }
        let pinned = Tolerance(atol: 0, rtol: 1e-6)
        assertClose(XORRun.firstLosses[0], losses[0], pinned, "XOR loss at step 1")
        assertClose(XORRun.firstLosses[1], losses[1], pinned, "XOR loss at step 2")
        let predictions = withoutGradient { model(xorInputs) }.scalars
        XCTAssertEqual(predictions.map { $0 > 0.5 ? 1 : 0 }, [0, 1, 1, 0], "predictions \(predictions)")
        XCTAssertLessThan(losses.last!, 0.05, "final loss")
    }

    /// Single neurons step(w . x + b) with the classic perceptron weights.
    func testBinaryStepNeuronsComputeLogicGates() {
        func neuron(_ weights: [Float], _ bias: Float) -> Sequential {
            let dense = Dense(inputSize: weights.count, outputSize: 1)
            dense.weight.value = Tensor(weights, shape: [1, weights.count])
            dense.bias!.value = Tensor([bias], shape: [1])
            return Sequential { dense; BinaryStep() }
        }
        XCTAssertEqual(neuron([1, 1], -1.5)(xorInputs).scalars, [0, 0, 0, 1], "AND")
        XCTAssertEqual(neuron([1, 1], -0.5)(xorInputs).scalars, [0, 1, 1, 1], "OR")
        XCTAssertEqual(neuron([-1], 0.5)(Tensor([0, 1], shape: [2, 1])).scalars, [1, 0], "NOT")
    }

    /// Conv2D-BN-ReLU-MaxPool-Flatten-Dense with Adam on 8 fixed random 1x8x8 images and
    /// 3 classes: after 30 full-batch steps the loss is below half its initial value.
    func testTinyCNNLossFallsOnAFixedBatch() {
        DefaultRandom.manualSeed(77)
        let model = Sequential {
            Conv2D(inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1)
            BatchNorm2D(4)
            ReLU()
            MaxPool2D(2)
            Flatten()
            Dense(inputSize: 4 * 4 * 4, outputSize: 3)
        }
        let images = randomTensor([8, 1, 8, 8], seed: 78)
        let labels = [0, 1, 2, 0, 1, 2, 0, 1]
        let optimizer = Adam(parameters: model.parameters, learningRate: 1e-2)
        var losses: [Float] = []
        for _ in 0..<30 {
            optimizer.zeroGradients()
            let loss = crossEntropy(logits: model(images), labels: labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.scalar)
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "losses \(losses)")
    }

    /// The user code of issue 3, as written, on two MNIST-sized images.
    func testIssueUserCode() {
        DefaultRandom.manualSeed(3)
        let images = randomTensor([2, 1, 28, 28], in: 0...1, seed: 4)
        let labels = [3, 7]

        var model = Sequential {
            Conv2D(inChannels: 1, outChannels: 32, kernelSize: 3, padding: 1)
            BatchNorm2D(32)
            ReLU()
            MaxPool2D(2)
            Flatten()
            Dense(inputSize: 32 * 14 * 14, outputSize: 10)
        }
        let logits = model(images)                 // images: Tensor [N, 1, 28, 28]
        let loss = crossEntropy(logits: logits, labels: labels)
        loss.backward()

        XCTAssertEqual(logits.shape, [2, 10])
        // Every parameter got a gradient, except the convolution's bias: batch norm in
        // training subtracts each channel's batch mean, so a per-channel constant cannot
        // change the output and its gradient is 0 up to rounding (the kernels compute it
        // as a sum of terms that cancel).
        let gradients = model.namedParameters.map { (name: $0.name, norm: $0.parameter.gradient.scalars.map(abs).max()!) }
        XCTAssertEqual(gradients.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"])
        for (name, norm) in gradients where name != "0.bias" {
            XCTAssertGreaterThan(norm, 1e-6, "gradient of \(name)")
        }
        XCTAssertLessThan(gradients[1].norm, 1e-4 * gradients[0].norm, "conv bias before batch norm")

        // The graph is released by backward(); a second backward() on the same loss stops
        // with PyTorch's message (MisuseTests, in a child process) instead of silently
        // reaching no parameter.

        // setTraining switches every layer, nested ones included.
        model = Models.resnet()
        func allLayers(_ layer: any Layer) -> [any Layer] { [layer] + layer.children.flatMap { allLayers($0.layer) } }
        XCTAssertGreaterThan(allLayers(model).count, 30)
        model.setTraining(false)
        XCTAssertTrue(allLayers(model).allSatisfy { !$0.isTraining })
        model.setTraining(true)
        XCTAssertTrue(allLayers(model).allSatisfy { $0.isTraining })
    }
}

/// The recorded XOR run. Seed 1 converges at learning rates 0.5, 1 and 2 (a 2-2-1 sigmoid
/// network has local minima; seed 0 stalls at loss 0.125 for lr <= 1), so the test does not
/// sit on the edge of failing. The losses were printed from a run on this seed.
enum XORRun {
    static let seed: UInt64 = 1
    static let learningRate: Float = 1
    static let steps = 1000
    static let firstLosses: [Float] = [0.25259313, 0.25170195]
}
