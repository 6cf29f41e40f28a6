import Foundation
import NN
import TestSupport
import XCTest

/// `Trainer.fit` on general datasets: every task learns a problem it must solve, metrics
/// are monitored by name, and a checkpoint carries what eval and predict need.
final class TaskTrainingTests: XCTestCase {
    /// y = 2 x0 - x1 + 0.5 (and a second output -x0) from 64 random points.
    func regressionData(outputs: Int = 1) -> Dataset {
        var generator = RandomGenerator(seed: 11)
        let x = (0..<128).map { _ in generator.nextNormal() }
        let y = (0..<64).flatMap { i -> [Float] in
            let first = 2 * x[2 * i] - x[2 * i + 1] + 0.5
            return outputs == 1 ? [first] : [first, -x[2 * i]]
        }
        return Dataset(table: x, rowCount: 64, names: ["x0", "x1"], targets: .values(y, shape: [outputs]))
    }

    func trainer(_ model: any Layer, task: LearningTask, learningRate: Float = 0.05,
                 loss: ((Tensor, Tensor) -> Tensor)? = nil) -> Trainer {
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: learningRate),
                              task: task, seed: 1, loss: loss)
        trainer.printsEpochs = false
        trainer.showsProgress = false
        return trainer
    }

    func testRegressionWithEveryLossFitsALinearFunction() throws {
        let losses: [(String, (Tensor, Tensor) -> Tensor)] = [("mse", { meanSquaredError($0, $1) }),
                                                             ("l1", { l1Loss($0, $1) }), ("huber", { huberLoss($0, $1) })]
        for (name, loss) in losses {
            DefaultRandom.manualSeed(3)
            let model = Dense(inputSize: 2, outputSize: 2)
            let t = trainer(model, task: .regression, loss: loss)
            try t.fit(regressionData(outputs: 2), epochs: 150, batchSize: 16)
            let r2 = t.evaluate(regressionData(outputs: 2)).metrics["r2"]!
            XCTAssertGreaterThan(r2, 0.99, "\(name): a linear target is learned exactly")
            XCTAssertEqual(t.history.last!.metrics.keys.sorted(), ["mae", "mse", "r2", "rmse"])
        }
    }

    func testBinaryAndMultiLabelLearnSeparableProblems() throws {
        var generator = RandomGenerator(seed: 5)
        let x = (0..<200).map { _ in generator.nextNormal() }
        // Binary: the sign of x0 + x1; multi-label: x0 > 0 and x1 > 0 separately.
        let binary = Dataset(table: x, rowCount: 100, names: ["a", "b"],
                             targets: .classes(labels: (0..<100).map { x[2 * $0] + x[2 * $0 + 1] > 0 ? 1 : 0 }, names: ["no", "yes"]))
        DefaultRandom.manualSeed(4)
        let b = trainer(Dense(inputSize: 2, outputSize: 1), task: .binary)
        try b.fit(binary, epochs: 100, batchSize: 20)
        let binaryScore = b.evaluate(binary)
        XCTAssertGreaterThan(binaryScore.metrics["accuracy"]!, 0.95)
        XCTAssertGreaterThan(binaryScore.metrics["auc"]!, 0.99)
        let multi = Dataset(table: x, rowCount: 100, names: ["a", "b"],
                            targets: .multiLabel(values: x.map { $0 > 0 ? 1 : 0 }, names: ["a+", "b+"]))
        let m = trainer(Dense(inputSize: 2, outputSize: 2), task: .multiLabel)
        try m.fit(multi, epochs: 100, batchSize: 20)
        let multiScore = m.evaluate(multi)
        XCTAssertGreaterThan(multiScore.metrics["exact_match"]!, 0.9)
        XCTAssertEqual(multiScore.perLabelF1.count, 2)
    }

    func testEarlyStoppingAndPlateauMonitorAMetricByName() throws {
        let data = regressionData()
        var generator = RandomGenerator(seed: 2)
        let (train, validation) = data.split(validationFraction: 0.25, using: &generator)
        DefaultRandom.manualSeed(6)
        let t = trainer(Dense(inputSize: 2, outputSize: 1), task: .regression, learningRate: 0.1)
        let stopping = EarlyStopping(monitor: .named("r2"), patience: 3, minDelta: 1e-3)
        t.callbacks = [stopping]
        t.schedule = ReduceOnPlateau(baseLearningRate: 0.1, mode: .max, patience: 1)
        t.scheduleMonitor = "val_r2"
        try t.fit(train, validation: validation, epochs: 300, batchSize: 16)
        XCTAssertNotNil(stopping.stoppedEpoch, "r2 plateaus near 1 long before 300 epochs")
        XCTAssertEqual(stopping.bestValue, t.history.compactMap { $0.value(named: "val_r2") }.max(),
                       "the validation r2 is the figure watched, maximized")
        XCTAssertLessThan(t.optimizer.learningRate, 0.1, "the plateau on val_r2 lowered the rate")
    }

    func testCheckpointCarriesTaskNamesAndStatisticsForPredict() throws {
        var data = SklearnTablesTestsFixture.smallClasses()
        let statistics = data.statistics()
        data.standardize(with: statistics)
        DefaultRandom.manualSeed(8)
        let model = Dense(inputSize: 2, outputSize: 3)
        let t = trainer(model, task: .classification)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("task-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let saver = CheckpointSaver(url: url, standardization: statistics,
                                    metadata: Checkpoint.datasetMetadata(task: .classification, data: data))
        saver.monitor = "accuracy"
        t.callbacks = [saver]
        try t.fit(data, epochs: 20, batchSize: 8)
        let expected = t.evaluate(data)

        // What predict does: a fresh model, the file's statistics applied to raw features.
        let fresh = Dense(inputSize: 2, outputSize: 3)
        let file = try Checkpoint.loadModel(from: url, into: fresh)
        XCTAssertEqual(try Checkpoint.task(in: file, path: url.path), .classification)
        XCTAssertEqual(try Checkpoint.classNames(in: file, path: url.path), ["low", "mid", "high"])
        XCTAssertEqual(try Checkpoint.featureNames(in: file, path: url.path), ["u", "v"])
        let stored = try XCTUnwrap(Checkpoint.standardization(in: file))
        XCTAssertEqual(stored, statistics)
        let raw = SklearnTablesTestsFixture.smallClasses()
        let outputs = fresh(stored.apply(to: Tensor(raw.features, shape: [raw.count, 2])))
        let again = LearningTask.classification.evaluate(predictions: outputs.scalars, outputs: 3,
                                                 targets: raw.labels!.map(Float.init))
        // The saver kept the best-accuracy epoch, which the run's last epoch may not be.
        XCTAssertEqual(again.metrics["accuracy"]!, t.history.map(\.trainAccuracy).max()!, accuracy: 0.05)
        XCTAssertGreaterThanOrEqual(expected.metrics["accuracy"]!, 0.9)
        XCTAssertThrowsError(try Checkpoint.task(in: SafeTensorsFile(metadata: ["task": "ranking"], tensors: [:]), path: "f")) {
            XCTAssertTrue("\($0)".contains("ranking"), "\($0)")
        }
    }
}

enum SklearnTablesTestsFixture {
    /// Three well separated classes in two features with large offsets (so standardizing matters).
    static func smallClasses() -> Dataset {
        var generator = RandomGenerator(seed: 21)
        var x: [Float] = [], labels: [Int32] = []
        for i in 0..<60 {
            let c = i % 3
            x += [100 + 10 * Float(c) + generator.nextNormal(), -5 + 3 * Float(c) + 0.3 * generator.nextNormal()]
            labels.append(Int32(c))
        }
        return Dataset(table: x, rowCount: 60, names: ["u", "v"], targets: .classes(labels: labels, names: ["low", "mid", "high"]))
    }
}
