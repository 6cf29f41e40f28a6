import Foundation
import NN
import XCTest

// MARK: - Helpers shared by the training, checkpoint and callback tests

/// Fashion-MNIST, loaded once per test process (about a second per split).
enum FashionData {
    private static let train: Result<ImageDataset, any Error>? = load(.train)
    private static let test: Result<ImageDataset, any Error>? = load(.test)

    private static func load(_ split: DatasetSplit) -> Result<ImageDataset, any Error>? {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else { return nil }
        return Result { try FashionMNIST.load(split) }
    }

    /// The whole training split, or a skip when the dataset is not installed.
    static func trainingSet() throws -> ImageDataset {
        guard let train else { throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed") }
        return try train.get()
    }

    /// The whole test split, or a skip when the dataset is not installed.
    static func testSet() throws -> ImageDataset {
        guard let test else { throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed") }
        return try test.get()
    }

    /// The first `trainCount` training images and the next `validationCount` as validation,
    /// both standardized with the statistics of the training part.
    static func subsets(train trainCount: Int, validation validationCount: Int = 0) throws
        -> (train: ImageDataset, validation: ImageDataset, statistics: Standardization) {
        let all = try trainingSet()
        let train = all.prefix(trainCount)
        let validation = all.subset(Array(trainCount..<(trainCount + validationCount)))
        let statistics = train.statistics()
        return (train.standardized(with: statistics), validation.standardized(with: statistics), statistics)
    }
}

/// A small CNN with the ingredients of W2 that carry state (batch norm buffers, a dropout
/// generator) but about 1/50 of its cost, so resume tests run in well under a second:
/// conv 3x3 1->4, BN, ReLU, maxpool 2, dense 784->32, ReLU, dropout 0.25, dense 32->10.
func smallCNN(dropoutSeed: UInt64) -> Sequential {
    Sequential {
        Conv2D(inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1)
        BatchNorm2D(4)
        ReLU()
        MaxPool2D(2)
        Flatten()
        Dense(inputSize: 4 * 14 * 14, outputSize: 32)
        ReLU()
        Dropout(0.25, seed: dropoutSeed)
        Dense(inputSize: 32, outputSize: 10)
    }
}

/// Every parameter and buffer of `model`, by name, as plain arrays.
func modelState(_ model: any Layer) -> [String: [Float]] {
    var state: [String: [Float]] = [:]
    for (name, p) in model.namedParameters { state[name] = p.value.scalars }
    for (name, b) in model.namedBuffers { state[name] = b.value.scalars }
    return state
}

/// The generator of every random layer (dropout) in `model`, in order.
func dropoutGenerators(_ model: any Layer) -> [RandomGenerator] {
    model.namedRandomStates.map(\.state.generator)
}

/// A trainer that prints nothing.
func quietTrainer(_ model: any Layer, _ optimizer: any Optimizer, seed: UInt64,
                  lossFunction: @escaping (Tensor, [Int32]) -> Tensor = { crossEntropy(logits: $0, labels: $1) })
    -> Trainer {
    let trainer = Trainer(model: model, optimizer: optimizer, seed: seed, lossFunction: lossFunction)
    trainer.printsEpochs = false
    trainer.showsProgress = false
    return trainer
}

/// A tiny separable problem (no dataset needed): 2x2 single-channel images of 2 classes,
/// class 1 brighter on the left, class 0 on the right, with seeded noise.
func tinyDataset(count: Int, seed: UInt64 = 3) -> ImageDataset {
    var generator = RandomGenerator(seed: seed)
    var images: [Float] = [], labels: [Int32] = []
    for i in 0..<count {
        let label = Int32(i % 2)
        let (left, right): (Float, Float) = label == 1 ? (1, -1) : (-1, 1)
        for base in [left, right, left, right] { images.append(base + 0.5 * generator.nextNormal()) }
        labels.append(label)
    }
    return ImageDataset(images: images, labels: labels, channels: 1, height: 2, width: 2, classNames: ["right", "left"])
}

/// The model `tinyDataset` trains: flatten, dense 4->2.
func tinyModel() -> Sequential {
    Sequential {
        Flatten()
        Dense(inputSize: 4, outputSize: 2)
    }
}

/// A file URL in a fresh temporary directory removed at teardown.
func temporaryFile(_ test: XCTestCase, _ name: String) throws -> URL {
    URL(fileURLWithPath: try makeTemporaryDirectory(test)).appendingPathComponent(name)
}
