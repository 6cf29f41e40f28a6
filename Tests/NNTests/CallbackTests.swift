import Foundation
import NN
import TestSupport
import XCTest

/// Early stopping on scripted metric sequences, the epoch log's format and its behaviour
/// on resume, the checkpoint saver, and the order in which `fit` runs schedule and callbacks.
final class CallbackTests: XCTestCase {
    // MARK: Early stopping

    /// A model with a parameter and a buffer, and a trainer around it (never fitted here).
    func scriptedTrainer() -> (Trainer, Sequential) {
        let model = Sequential {
            Dense(inputSize: 2, outputSize: 2)
            BatchNorm1D(2)
        }
        return (quietTrainer(model, SGD(parameters: model.parameters, learningRate: 0.1), seed: 0), model)
    }

    /// Sets every parameter and buffer to `value`, standing for "the weights after epoch `value`".
    func stamp(_ model: any Layer, _ value: Float) {
        for p in model.parameters { p.value = Tensor(repeating: value, shape: p.shape) }
        for (_, b) in model.namedBuffers { b.value = Tensor(repeating: value, shape: b.value.shape) }
    }

    /// Feeds `values` as the monitored figure of epochs 1, 2, ... (weights stamped with the
    /// epoch) until the callback stops; returns the epoch it stopped at, if any.
    func run(_ stopping: EarlyStopping, _ trainer: Trainer, losses values: [Double], validation: Bool = true,
             accuracy: Bool = false) throws -> Int? {
        for (i, value) in values.enumerated() {
            let epoch = i + 1
            stamp(trainer.model, Float(epoch))
            var m = EpochMetrics(epoch: epoch, trainLoss: 9, trainAccuracy: 0.01, learningRate: 0.1)
            switch (validation, accuracy) {
            case (true, false): m.validationLoss = value; m.validationAccuracy = 0.5
            case (true, true): m.validationAccuracy = value; m.validationLoss = 9
            case (false, false): m.trainLoss = value
            case (false, true): m.trainAccuracy = value
            }
            if try stopping.epochEnded(m, trainer: trainer) == .stop { return epoch }
        }
        return nil
    }

    func assertWeights(_ model: any Layer, are value: Float, file: StaticString = #filePath, line: UInt = #line) {
        for (name, values) in modelState(model) {
            XCTAssertEqual(values, [Float](repeating: value, count: values.count), name, file: file, line: line)
        }
    }

    func testStopsAfterPatienceEpochsWithoutImprovementBeyondMinDelta() throws {
        let (trainer, model) = scriptedTrainer()
        let losses = [1.0, 0.8, 0.79, 0.85, 0.78, 0.7]
        // minDelta 0.05: 0.79 is not better than 0.8 by more than 0.05, so epochs 3 and 4 are
        // the two bad epochs and training stops after epoch 4 with epoch 2's weights.
        let stopping = EarlyStopping(monitor: .loss, patience: 2, minDelta: 0.05)
        XCTAssertEqual(try run(stopping, trainer, losses: losses), 4)
        XCTAssertEqual(stopping.bestEpoch, 2)
        XCTAssertEqual(stopping.bestValue, 0.8)
        XCTAssertEqual(stopping.stoppedEpoch, 4)
        assertWeights(model, are: 2)

        // Without minDelta, 0.79 and 0.78 are improvements: it runs to the end, and keeps
        // the last weights (Keras restores only when it stops).
        let lenient = EarlyStopping(monitor: .loss, patience: 2)
        XCTAssertNil(try run(lenient, trainer, losses: losses))
        XCTAssertEqual(lenient.bestEpoch, 6)
        try lenient.trainingEnded(trainer: trainer)
        assertWeights(model, are: 6)
    }

    func testMonitorsAccuracyUpwardsAndFallsBackToTrainingFigures() throws {
        let (trainer, model) = scriptedTrainer()
        let accuracy = EarlyStopping(monitor: .accuracy, patience: 2)
        XCTAssertEqual(try run(accuracy, trainer, losses: [0.5, 0.6, 0.6, 0.55], accuracy: true), 4)
        XCTAssertEqual(accuracy.bestEpoch, 2, "an equal value is no improvement")
        assertWeights(model, are: 2)

        // No validation figures: the training loss is watched (the validation fields are nil).
        let training = EarlyStopping(monitor: .loss, patience: 1)
        XCTAssertEqual(try run(training, trainer, losses: [3, 2, 2.5], validation: false), 3)
        XCTAssertEqual(training.bestValue, 2)
        assertWeights(model, are: 2)
        let trainingAccuracy = EarlyStopping(monitor: .accuracy, patience: 1)
        XCTAssertEqual(try run(trainingAccuracy, trainer, losses: [0.3, 0.2], validation: false, accuracy: true), 2)
        assertWeights(model, are: 1)
    }

    func testRestoreOptions() throws {
        let (trainer, model) = scriptedTrainer()
        let keep = EarlyStopping(patience: 1, restoreBestWeights: false)
        XCTAssertEqual(try run(keep, trainer, losses: [1, 2]), 2)
        assertWeights(model, are: 2)

        // restoreAtEnd: a run that ends without stopping gets the best weights back.
        let atEnd = EarlyStopping(patience: 5, restoreAtEnd: true)
        XCTAssertNil(try run(atEnd, trainer, losses: [1, 0.5, 0.7, 0.9]))
        assertWeights(model, are: 4)
        try atEnd.trainingEnded(trainer: trainer)
        assertWeights(model, are: 2)

        atEnd.reset()
        XCTAssertNil(atEnd.bestValue)
        XCTAssertEqual(try run(atEnd, trainer, losses: [Double.nan, 4, 3]), nil)
        XCTAssertEqual(atEnd.bestEpoch, 3, "NaN is never the best")
    }

    func testFitEndsWhenACallbackStopsAndRunsTheScheduleFirst() throws {
        final class Probe: TrainingCallback {
            var seen: [(epoch: Int, recorded: Float, current: Float)] = []
            var ended = 0
            func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
                seen.append((metrics.epoch, metrics.learningRate, trainer.optimizer.learningRate))
                return metrics.epoch == 2 ? .stop : .proceed
            }
            func trainingEnded(trainer: Trainer) throws { ended += 1 }
        }
        DefaultRandom.manualSeed(1)
        let model = tinyModel()
        let trainer = quietTrainer(model, SGD(parameters: model.parameters, learningRate: 0.4), seed: 1)
        trainer.schedule = StepDecay(baseLearningRate: 0.4, stepSize: 1, gamma: 0.5)
        let probe = Probe()
        let stopping = EarlyStopping(patience: 100)
        trainer.callbacks = [probe, stopping]
        let ran = try trainer.fit(tinyDataset(count: 32), epochs: 5, batchSize: 8)
        XCTAssertEqual(ran.map(\.epoch), [1, 2])
        XCTAssertEqual(trainer.epochsCompleted, 2)
        XCTAssertEqual(probe.ended, 1)
        // Metrics carry the rate the epoch trained with; the callback already sees the next one.
        XCTAssertEqual(probe.seen.map(\.recorded), [0.4, 0.2])
        XCTAssertEqual(probe.seen.map(\.current), [0.2, 0.1])
        XCTAssertEqual(stopping.bestValue.map { _ in stopping.epochsWithoutImprovement + stopping.bestEpoch! }, 2,
                       "later callbacks still ran on the stopping epoch")
        XCTAssertGreaterThan(ran[1].trainAccuracy, 0.9, "the tiny problem is separable")
    }

    // MARK: Epoch log

    func testCSVAndJSONLinesFormats() throws {
        let (trainer, _) = scriptedTrainer()
        let dir = try makeTemporaryDirectory(self)
        let epochs = [
            EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.75, validationLoss: 0.25, validationAccuracy: 0.875,
                         learningRate: 0.001, seconds: 2, imagesPerSecond: 1000),
            EpochMetrics(epoch: 2, trainLoss: 0.125, trainAccuracy: 1, learningRate: 0.0005, seconds: 1.5,
                         imagesPerSecond: 1500),
        ]
        let csv = CSVLogger(url: URL(fileURLWithPath: dir + "/log.csv"))
        let jsonl = CSVLogger(url: URL(fileURLWithPath: dir + "/log.jsonl"))
        XCTAssertEqual(csv.format, .csv)
        XCTAssertEqual(jsonl.format, .jsonLines)
        for m in epochs {
            XCTAssertEqual(try csv.epochEnded(m, trainer: trainer), .proceed)
            XCTAssertEqual(try jsonl.epochEnded(m, trainer: trainer), .proceed)
        }
        XCTAssertEqual(try String(contentsOf: csv.url, encoding: .utf8), """
            epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second
            1,0.5,0.75,0.25,0.875,0.001,2.0,1000.0
            2,0.125,1.0,,,0.0005,1.5,1500.0

            """)
        XCTAssertEqual(try String(contentsOf: jsonl.url, encoding: .utf8), """
            {"epoch":1,"train_loss":0.5,"train_accuracy":0.75,"val_loss":0.25,"val_accuracy":0.875,\
            "learning_rate":0.001,"seconds":2.0,"images_per_second":1000.0}
            {"epoch":2,"train_loss":0.125,"train_accuracy":1.0,"val_loss":null,"val_accuracy":null,\
            "learning_rate":0.0005,"seconds":1.5,"images_per_second":1500.0}

            """)
        // Each JSON line is valid JSON.
        for line in try String(contentsOf: jsonl.url, encoding: .utf8).split(separator: "\n") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)))
        }
    }

    func testResumedRunNeitherDuplicatesNorLosesRows() throws {
        let dir = try makeTemporaryDirectory(self)
        let checkpoint = URL(fileURLWithPath: dir + "/run.safetensors")
        let epoch2 = URL(fileURLWithPath: dir + "/epoch2.safetensors")
        let log = URL(fileURLWithPath: dir + "/log.csv")
        let data = tinyDataset(count: 32)
        func makeTrainer(seed: UInt64) -> Trainer {
            DefaultRandom.manualSeed(seed)
            let model = tinyModel()
            let trainer = quietTrainer(model, Adam(parameters: model.parameters, learningRate: 0.01), seed: seed)
            trainer.callbacks = [CheckpointSaver(url: checkpoint), CSVLogger(url: log)]
            return trainer
        }
        // The interrupted run: checkpoints after epochs 1, 2, 3; it "crashes" after logging
        // epoch 3, and the checkpoint of epoch 2 is the one we resume from.
        let interrupted = makeTrainer(seed: 1)
        try interrupted.fit(data, epochs: 2, batchSize: 8)
        try FileManager.default.copyItem(at: checkpoint, to: epoch2)
        try interrupted.fit(data, epochs: 3, batchSize: 8)
        let before = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(before.count, 4)

        let resumed = makeTrainer(seed: 2)
        try Checkpoint.resume(from: epoch2, trainer: resumed)
        try resumed.fit(data, epochs: 4, batchSize: 8)
        let rows = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, Substring(CSVLogger.columns.joined(separator: ",")))
        XCTAssertEqual(rows.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0] },
                       ["1", "2", "3", "4"])
        XCTAssertEqual(Array(rows[0...2]), Array(before[0...2]), "rows of the epochs in the checkpoint are kept as written")
        // Epoch 3 was recomputed from the same state: identical figures but the timings.
        func figures(_ row: Substring) -> [Substring] { Array(row.split(separator: ",", omittingEmptySubsequences: false).prefix(6)) }
        XCTAssertEqual(figures(rows[3]), figures(before[3]))
    }

    // MARK: Checkpoint saver

    func testSaverWritesAfterEveryEpochWithMetadata() throws {
        let url = try temporaryFile(self, "run.safetensors")
        DefaultRandom.manualSeed(1)
        let model = tinyModel()
        let trainer = quietTrainer(model, Adam(parameters: model.parameters), seed: 1)
        let stats = Standardization(mean: [0.5], std: [0.25])
        final class Check: TrainingCallback {
            let url: URL
            var epochs: [String?] = []
            init(url: URL) { self.url = url }
            func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
                epochs.append(try SafeTensorsFile.read(from: url).metadata["epochs_completed"])
                return .proceed
            }
        }
        let saver = CheckpointSaver(url: url, standardization: stats, metadata: ["run": "test"])
        let check = Check(url: url)
        trainer.callbacks = [saver, check]
        try trainer.fit(tinyDataset(count: 16), epochs: 3, batchSize: 8)
        XCTAssertEqual(check.epochs, ["1", "2", "3"])
        XCTAssertEqual(saver.lastSavedEpoch, 3)
        let file = try SafeTensorsFile.read(from: url)
        XCTAssertEqual(file.metadata["run"], "test")
        XCTAssertEqual(Checkpoint.standardization(in: file), stats)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path),
                       ["run.safetensors"])
    }
}
