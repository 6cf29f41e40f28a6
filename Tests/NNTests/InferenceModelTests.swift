import NN
import XCTest

/// `InferenceModel` runs its own plan of the model (nested `Sequential`s flattened,
/// convolutions from weights packed once): its outputs must be the bits the model itself
/// gives in inference mode, for every layer kind the plan treats specially and for layers it
/// calls as they are (a residual block), at batch 1 (serving) and larger, at 1 and 2 threads.
final class InferenceModelTests: XCTestCase {
    override func tearDown() { Threads.set(nil) }

    /// A model with what the plan handles: nested sequences, 3x3 convolutions at stride 1
    /// and 2 with and without bias (packed), a 1-channel first convolution (small path), a
    /// 1x1 and a 5x5 convolution (nothing to pack), a residual block (called as it is).
    private static func mixedModel() -> Sequential {
        Sequential {
            Conv2D(inChannels: 1, outChannels: 12, kernelSize: 3, padding: 1)
            BatchNorm2D(12)
            ReLU()
            Sequential {
                Conv2D(inChannels: 12, outChannels: 20, kernelSize: 3, stride: 2, padding: 1, useBias: false)
                Sequential {
                    Conv2D(inChannels: 20, outChannels: 9, kernelSize: 1)
                    ReLU()
                }
            }
            Conv2D(inChannels: 9, outChannels: 8, kernelSize: 5, padding: 2)
            Residual.basicBlock(inChannels: 8, outChannels: 16, stride: 2)
            GlobalAvgPool2D()
            Dense(inputSize: 16, outputSize: 3)
        }
    }

    /// Non-trivial running statistics, as after training.
    private static func randomizeBuffers(_ model: any Layer, seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        for (_, buffer) in model.namedBuffers {
            buffer.value = Tensor(randomUniform: buffer.value.shape, in: 0.5...1.5, using: &generator)
        }
    }

    private func checkSnapshotGivesTheModelsBits(_ make: () -> Sequential, exampleShape: [Int], _ what: String) throws {
        DefaultRandom.manualSeed(23)
        let trained = make()
        Self.randomizeBuffers(trained, seed: 3)
        let snapshot = try InferenceModel(copying: trained, into: make(), exampleShape: exampleShape)
        trained.setTraining(false)
        var generator = RandomGenerator(seed: 4)
        for threads in [1, 2] where threads <= Threads.available {
            Threads.set(threads)
            for n in [1, 3] {
                let x = Tensor(randomNormal: [n] + exampleShape, using: &generator)
                let expected = withoutGradient { trained(x) }.scalars
                let observed = try snapshot.predict(x).scalars
                XCTAssertEqual(observed.map(\.bitPattern), expected.map(\.bitPattern),
                               "\(what): batch \(n) at \(threads) threads differs from the model's own output")
            }
        }
    }

    func testW2SnapshotGivesTheModelsBits() throws {
        try checkSnapshotGivesTheModelsBits({ Models.cnn() }, exampleShape: [1, 28, 28], "W2")
    }

    func testMixedModelSnapshotGivesTheModelsBits() throws {
        try checkSnapshotGivesTheModelsBits(Self.mixedModel, exampleShape: [1, 13, 11], "mixed model")
    }
}
