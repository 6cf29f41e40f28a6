import Foundation
import NN
import TestSupport
import XCTest

/// The trainer on real data: resuming from a checkpoint repeats an uninterrupted run,
/// seeds fix every loss, a non-finite loss stops training without touching checkpoints,
/// evaluation counts correctly, and a short run learns Fashion-MNIST.
///
/// Equality is asserted bitwise (`XCTAssertEqual` on Float and Double): within one process
/// the thread count is fixed, every kernel splits work the same way for the same shapes, and
/// a checkpoint stores exact float32 bit patterns, so a resumed run performs the very same
/// floating-point operations in the same order as an uninterrupted one.
final class TrainingTests: XCTestCase {
    // MARK: Resume equivalence

    /// Trains 2 epochs straight, and 1 epoch + checkpoint + 1 epoch in a fresh trainer built
    /// with other seeds; asserts both runs agree exactly.
    func assertResumeMatchesUninterrupted(optimizer makeOptimizer: @escaping ([Parameter]) -> any Optimizer,
                                          schedule makeSchedule: @escaping () -> (any LearningRateSchedule)? = { nil },
                                          augmentation: Augmentation? = nil,
                                          model makeModel: @escaping (UInt64) -> Sequential = { smallCNN(dropoutSeed: $0) },
                                          trainingImages: Int = 512,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let (train, validation, _) = try FashionData.subsets(train: trainingImages, validation: trainingImages / 2)
        let url = try temporaryFile(self, "resume.safetensors")
        func makeTrainer(seed: UInt64) -> Trainer {
            DefaultRandom.manualSeed(seed)
            let model = makeModel(seed)
            let trainer = quietTrainer(model, makeOptimizer(model.parameters), seed: seed)
            trainer.schedule = makeSchedule()
            return trainer
        }

        let straight = makeTrainer(seed: 1)
        let straightEpochs = try straight.fit(train, validation: validation, epochs: 2, batchSize: 64, augmentation: augmentation)

        let first = makeTrainer(seed: 1)
        first.callbacks = [CheckpointSaver(url: url)]
        try first.fit(train, validation: validation, epochs: 1, batchSize: 64, augmentation: augmentation)

        let resumed = makeTrainer(seed: 77)
        XCTAssertNotEqual(modelState(resumed.model), modelState(first.model), "the fresh model must start elsewhere",
                          file: file, line: line)
        try Checkpoint.resume(from: url, trainer: resumed)
        let resumedEpochs = try resumed.fit(train, validation: validation, epochs: 2, batchSize: 64, augmentation: augmentation)

        XCTAssertEqual(resumedEpochs.map(\.epoch), [2], file: file, line: line)
        for (a, b) in zip(straight.history, resumed.history) {
            XCTAssertEqual(a.trainLoss, b.trainLoss, "epoch \(a.epoch) training loss", file: file, line: line)
            XCTAssertEqual(a.trainAccuracy, b.trainAccuracy, "epoch \(a.epoch) training accuracy", file: file, line: line)
            XCTAssertEqual(a.validationLoss, b.validationLoss, "epoch \(a.epoch) validation loss", file: file, line: line)
            XCTAssertEqual(a.learningRate, b.learningRate, "epoch \(a.epoch) learning rate", file: file, line: line)
        }
        XCTAssertEqual(resumed.history.count, 2, file: file, line: line)
        XCTAssertEqual(straightEpochs[1].trainLoss, resumedEpochs[0].trainLoss, file: file, line: line)
        XCTAssertEqual(modelState(resumed.model), modelState(straight.model), "final parameters and buffers",
                       file: file, line: line)
        XCTAssertEqual(resumed.optimizer.state.mapValues(\.scalars), straight.optimizer.state.mapValues(\.scalars),
                       file: file, line: line)
        XCTAssertEqual(resumed.optimizer.learningRate, straight.optimizer.learningRate, file: file, line: line)
        XCTAssertEqual(dropoutGenerators(resumed.model), dropoutGenerators(straight.model), file: file, line: line)
        XCTAssertEqual(resumed.dataGenerator, straight.dataGenerator, file: file, line: line)
    }

    func testResumeOfW2WithAdamMatchesAnUninterruptedRun() throws {
        // The real W2 network on 256 images (4 epochs of training in all: a few seconds);
        // the other cases use the small CNN on 512.
        try assertResumeMatchesUninterrupted(optimizer: { Adam(parameters: $0, learningRate: 1e-3) },
                                             model: { Models.cnn(dropoutSeed: $0) }, trainingImages: 256)
    }

    func testResumeWithSGDMomentumAndAScheduleMatchesAnUninterruptedRun() throws {
        try assertResumeMatchesUninterrupted(
            optimizer: { SGD(parameters: $0, learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true) },
            schedule: { StepDecay(baseLearningRate: 0.05, stepSize: 1, gamma: 0.5) })
    }

    func testResumeWithAugmentationAndPlateauScheduleMatchesAnUninterruptedRun() throws {
        try assertResumeMatchesUninterrupted(
            optimizer: { Adam(parameters: $0, learningRate: 2e-3) },
            schedule: { ReduceOnPlateau(baseLearningRate: 2e-3, factor: 0.5, patience: 0) },
            augmentation: Augmentation(horizontalFlip: true, cropPadding: 2))
    }

    // MARK: Reproducibility

    /// The loss of every training step of 2 epochs with `seed` (the loss function records them).
    func stepLosses(seed: UInt64, data: ImageDataset) throws -> [Float] {
        var losses: [Float] = []
        DefaultRandom.manualSeed(seed)
        let model = smallCNN(dropoutSeed: seed)
        let trainer = quietTrainer(model, Adam(parameters: model.parameters), seed: seed) { logits, labels in
            let loss = crossEntropy(logits: logits, labels: labels)
            losses.append(loss.scalar)
            return loss
        }
        try trainer.fit(data, epochs: 2, batchSize: 64, augmentation: Augmentation())
        return losses
    }

    func testSameSeedGivesTheSameLossesStepForStep() throws {
        let data = try FashionData.subsets(train: 256).train
        let a = try stepLosses(seed: 5, data: data)
        let b = try stepLosses(seed: 5, data: data)
        XCTAssertEqual(a.count, 8)
        XCTAssertEqual(a, b, "same seed, same thread count (\(Threads.count))")
        let c = try stepLosses(seed: 6, data: data)
        XCTAssertNotEqual(a, c)
        XCTAssertNotEqual(a[0], c[0], "another seed gives other weights, data order and masks from the first step")
    }

    // MARK: Non-finite losses

    /// Trains `model` 1 epoch on clean data with a checkpoint saver, poisons one pixel of
    /// image 100 with NaN, and trains on: returns the error, the step at which epoch 2's
    /// shuffled order meets the image, and whether the checkpoint of epoch 1 is unchanged.
    func trainIntoNaN(_ model: any Layer) throws -> (error: (any Error)?, expectedStep: Int, checkpointKept: Bool) {
        var data = try FashionData.subsets(train: 256).train
        let url = try temporaryFile(self, "run.safetensors")
        let trainer = quietTrainer(model, Adam(parameters: model.parameters), seed: 1)
        trainer.callbacks = [CheckpointSaver(url: url)]
        try trainer.fit(data, epochs: 1, batchSize: 64)
        let saved = try Data(contentsOf: url)

        let poisoned = 100
        data.images[poisoned * data.imageSize + 300] = .nan
        var batches = Minibatches(dataset: data, batchSize: 64, generator: trainer.dataGenerator)
        let expectedStep = batches.nextEpoch().order.firstIndex(of: poisoned)! / 64 + 1
        var caught: (any Error)?
        do { try trainer.fit(data, epochs: 3, batchSize: 64) } catch { caught = error }
        XCTAssertEqual(trainer.epochsCompleted, 1)
        return (caught, expectedStep, try Data(contentsOf: url) == saved)
    }

    func testNaNInTheDataStopsWithEpochAndStepAndKeepsTheCheckpoint() throws {
        // A linear model carries the NaN to the logits, so the loss is NaN.
        DefaultRandom.manualSeed(1)
        let (error, expectedStep, kept) = try trainIntoNaN(Sequential { Flatten(); Dense(inputSize: 784, outputSize: 10) })
        guard case let .nonFiniteLoss(epoch, step, value)? = error as? TrainingError else {
            return XCTFail("expected a non-finite loss, got \(String(describing: error))")
        }
        XCTAssertEqual(epoch, 2)
        XCTAssertEqual(step, expectedStep)
        XCTAssertTrue(value.isNaN)
        XCTAssertTrue("\(error!)".contains("epoch 2, step \(expectedStep)"), "\(error!)")
        XCTAssertTrue(kept, "the checkpoint of epoch 1 changed")
    }

    func testNaNHiddenFromTheLossIsCaughtInTheGradients() throws {
        // The binary step maps the NaN logits of the first layer to 0 (NaN >= 0 is false),
        // so the loss stays finite; but the first layer's weight gradient is
        // dy^T x = 0 * NaN = NaN.
        DefaultRandom.manualSeed(1)
        let model = Sequential {
            Flatten()
            Dense(inputSize: 784, outputSize: 10)
            BinaryStep()
            Dense(inputSize: 10, outputSize: 10)
        }
        let (error, expectedStep, kept) = try trainIntoNaN(model)
        guard case let .nonFiniteGradient(epoch, step, parameter)? = error as? TrainingError else {
            return XCTFail("expected a non-finite gradient, got \(String(describing: error))")
        }
        XCTAssertEqual(epoch, 2)
        XCTAssertEqual(step, expectedStep)
        XCTAssertTrue(parameter.hasPrefix("1."), parameter)
        XCTAssertTrue(kept, "the checkpoint of epoch 1 changed")
    }

    /// The check the trainer runs before each update finds one NaN or infinity at every
    /// position: in each of its four vector sums and in the scalar tail, on sizes around
    /// its 64-element blocks.
    func testGradientIsFiniteFindsEveryPosition() {
        for count in [1, 15, 16, 17, 63, 64, 65, 130] {
            let parameter = Parameter(Tensor(ones: [count]))
            let finite = (0..<count).map { Float($0) - 1e30 * Float($0 % 2) }
            parameter.zeroGradient()
            (parameter.value * 1).backward(seed: Tensor(finite, shape: [count]))
            XCTAssertTrue(parameter.gradientIsFinite, "count \(count), all finite")
            for position in 0..<count {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var values = finite
                    values[position] = bad
                    parameter.zeroGradient()
                    (parameter.value * 1).backward(seed: Tensor(values, shape: [count]))
                    XCTAssertFalse(parameter.gradientIsFinite, "count \(count), \(bad) at \(position)")
                }
            }
        }
    }

    func testAHugeLearningRateStopsWithNonFiniteLoss() throws {
        let data = try FashionData.subsets(train: 512).train
        let url = try temporaryFile(self, "run.safetensors")
        DefaultRandom.manualSeed(1)
        let model = Models.mlp()
        let sgd = SGD(parameters: model.parameters, learningRate: 0.01)
        let trainer = quietTrainer(model, sgd, seed: 1)
        trainer.callbacks = [CheckpointSaver(url: url)]
        try trainer.fit(data, epochs: 1, batchSize: 64)
        let saved = try Data(contentsOf: url)

        sgd.learningRate = 1e30
        XCTAssertThrowsError(try trainer.fit(data, epochs: 2, batchSize: 64)) { error in
            guard case let .nonFiniteLoss(epoch, step, _)? = error as? TrainingError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(epoch, 2)
            XCTAssertGreaterThan(step, 1, "the first step's loss is computed before any huge update")
        }
        XCTAssertEqual(try Data(contentsOf: url), saved)
    }

    // MARK: Evaluation

    func testEvaluationCountsAHandMadeCase() {
        // The model is the identity on 1x1x3 "images": the pixels are the logits.
        let images: [Float] = [
            5, 0, 0,  // class 0 -> 0
            5, 0, 0,  // class 0 -> 0
            0, 5, 0,  // class 0 -> 1
            0, 5, 0,  // class 1 -> 1
            0, 0, 5,  // class 1 -> 2
            0, 0, 5,  // class 2 -> 2
            0, 0, 5,  // class 2 -> 2
        ]
        let labels: [Int32] = [0, 0, 0, 1, 1, 2, 2]
        let data = ImageDataset(images: images, labels: labels, channels: 1, height: 1, width: 3,
                                classNames: ["a", "b", "c"])
        let model = Sequential { Flatten() }
        let evaluation = Trainer.evaluate(model, on: data, batchSize: 3)  // 3 batches, the last partial
        XCTAssertEqual(evaluation.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 2]])
        XCTAssertEqual(evaluation.count, 7)
        XCTAssertEqual(evaluation.accuracy, 5.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(evaluation.perClassAccuracy[0], 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(evaluation.perClassAccuracy[1], 0.5, accuracy: 1e-12)
        XCTAssertEqual(evaluation.perClassAccuracy[2], 1.0, accuracy: 1e-12)
        // Right: -log softmax of (5,0,0) at the 5; wrong: at a 0.
        let z = log(exp(5.0) + 2)
        XCTAssertEqual(evaluation.loss, (5 * (z - 5) + 2 * z) / 7, accuracy: 1e-5)
        XCTAssertTrue(evaluation.report.contains("0.6667"), evaluation.report)
        XCTAssertTrue(evaluation.report.contains("confusion matrix"), evaluation.report)
    }

    // MARK: Learning

    func testShortMLPRunLearnsFashionMNIST() throws {
        let (train, _, statistics) = try FashionData.subsets(train: 6000)
        let test = try FashionData.testSet().prefix(2000).standardized(with: statistics)
        DefaultRandom.manualSeed(42)
        let model = Models.mlp()
        let trainer = quietTrainer(model, Adam(parameters: model.parameters, learningRate: 1e-3), seed: 42)
        let epochs = try trainer.fit(train, epochs: 3, batchSize: 64)
        XCTAssertLessThan(epochs[2].trainLoss, epochs[0].trainLoss)
        let evaluation = trainer.evaluate(test)
        XCTAssertGreaterThan(evaluation.accuracy, 0.75, evaluation.report)
    }
}

/// The README's "Training API" example, run on a tiny subset for one epoch so that it is
/// compiled and exercised. The code between the markers is the README's, except the lines
/// marked `// test:` (a 600-image subset, a temporary directory, 500 test images).
final class TrainingReadmeExampleTests: XCTestCase {
    func testReadmeExampleCompiles() throws {
        let runDirectory = try makeTemporaryDirectory(self)
        let fullTrain = try FashionData.trainingSet()
        let fullTest = try FashionData.testSet()

        // README begins
        // Data: pixels in [0,1], 10% held out for validation, standardized with the
        // training part's statistics.
        var splitter = RandomGenerator(seed: 7)
        let all = fullTrain.prefix(600)  // test: README has `try FashionMNIST.load(.train)`
        let (trainPart, validationPart) = all.split(validationFraction: 0.1, using: &splitter)
        let statistics = trainPart.statistics()
        let train = trainPart.standardized(with: statistics)
        let validation = validationPart.standardized(with: statistics)
        let test = fullTest.prefix(500).standardized(with: statistics)  // test: README has `try FashionMNIST.load(.test)`

        // Model (the CNN), optimizer and schedule. Seeds fix initial weights, data order,
        // augmentation and dropout.
        DefaultRandom.manualSeed(42)
        let model = Models.cnn()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 1e-3), seed: 42)
        trainer.schedule = CosineAnnealing(baseLearningRate: 1e-3, period: 10)
        trainer.showsProgress = false  // test: quiet test logs

        // Callbacks: a resumable checkpoint and a log line per epoch, and early stopping
        // on the validation loss that restores the best weights.
        let directory = URL(fileURLWithPath: runDirectory)  // test: README has `URL(fileURLWithPath: "runs/cnn")`
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let checkpoint = directory.appendingPathComponent("checkpoint.safetensors")
        trainer.callbacks = [
            CheckpointSaver(url: checkpoint, standardization: statistics),
            CSVLogger(url: directory.appendingPathComponent("log.csv")),
            EarlyStopping(monitor: .loss, patience: 3, minDelta: 1e-3),
        ]

        // Continue an interrupted run where its last checkpoint left it.
        if FileManager.default.fileExists(atPath: checkpoint.path) {
            try Checkpoint.resume(from: checkpoint, trainer: trainer)
        }
        try trainer.fit(train, validation: validation, epochs: 1, batchSize: 64,  // test: README has 10 epochs
                        augmentation: Augmentation(horizontalFlip: true, cropPadding: 2))

        // Test accuracy, per-class accuracy and the confusion matrix.
        let evaluation = trainer.evaluate(test)
        print(String(format: "test accuracy %.4f", evaluation.accuracy))
        print(evaluation.report)

        // The trained model alone, for inference, with its standardization.
        let modelURL = directory.appendingPathComponent("model.safetensors")
        try Checkpoint.save(to: modelURL, model: model, standardization: statistics)
        let restored = Models.cnn()
        let file = try Checkpoint.loadModel(from: modelURL, into: restored)
        let restoredStatistics = Checkpoint.standardization(in: file)!
        let again = Trainer.evaluate(restored, on: test)
        // README ends

        XCTAssertEqual(restoredStatistics, statistics)
        XCTAssertEqual(again.confusion, evaluation.confusion)
        XCTAssertGreaterThan(evaluation.accuracy, 0.2, "one epoch on 540 images: well above chance (0.1)")
        XCTAssertEqual(try String(contentsOf: directory.appendingPathComponent("log.csv"), encoding: .utf8)
            .split(separator: "\n").count, 2)
        let resumedTrainer = Trainer(model: restored, optimizer: Adam(parameters: restored.parameters), seed: 0)
        resumedTrainer.schedule = CosineAnnealing(baseLearningRate: 1e-3, period: 10)
        try Checkpoint.resume(from: checkpoint, trainer: resumedTrainer)
        XCTAssertEqual(resumedTrainer.epochsCompleted, 1)
    }
}
