import Foundation
import NN
import TestSupport
import XCTest

/// Checkpoints of models and training runs: exact round trips (parameters, batch-norm
/// buffers, dropout generators, optimizer state), plain-safetensors layout, and every way a
/// file can fail to fit the model, each naming the file and the tensor and changing nothing.
/// Bitwise comparisons are right here: a checkpoint stores float32 bit patterns.
final class CheckpointTests: XCTestCase {
    /// A W2 network whose batch-norm statistics and dropout generator have moved away from
    /// their initial values (one training-mode forward pass).
    func trainedCNN(seed: UInt64) -> Sequential {
        DefaultRandom.manualSeed(seed)
        let model = Models.cnn(dropoutSeed: seed)
        var generator = RandomGenerator(seed: seed)
        _ = model(Tensor(randomNormal: [4, 1, 28, 28], using: &generator))
        return model
    }

    func testRoundTripRestoresParametersBuffersAndDropoutState() throws {
        let url = try temporaryFile(self, "model.safetensors")
        let source = trainedCNN(seed: 1)
        try Checkpoint.save(to: url, model: source, standardization: Standardization(mean: [0.25], std: [0.5]))

        let target = trainedCNN(seed: 2)
        XCTAssertNotEqual(modelState(target), modelState(source), "the two models must start different")
        XCTAssertNotEqual(dropoutGenerators(target), dropoutGenerators(source))
        let file = try Checkpoint.loadModel(from: url, into: target)

        XCTAssertEqual(modelState(target), modelState(source))
        XCTAssertEqual(dropoutGenerators(target), dropoutGenerators(source))
        XCTAssertEqual(Checkpoint.standardization(in: file), Standardization(mean: [0.25], std: [0.5]))
        // Same generator state: the next dropout masks, hence the next outputs, are identical.
        var generator = RandomGenerator(seed: 9)
        let x = Tensor(randomNormal: [2, 1, 28, 28], using: &generator)
        XCTAssertEqual(target(x).scalars, source(x).scalars)
        XCTAssertEqual(modelState(target), modelState(source), "running statistics after one more step")
    }

    func testFileIsPlainSafeTensorsWithPyTorchNames() throws {
        let url = try temporaryFile(self, "model.safetensors")
        let model = trainedCNN(seed: 1)
        try Checkpoint.save(to: url, model: model, metadata: ["note": "hello"])
        let file = try SafeTensorsFile.read(from: url)
        let expected = Set(model.namedParameters.map(\.name) + model.namedBuffers.map(\.name)).union(["rng.11"])
        XCTAssertEqual(Set(file.tensors.keys), expected)
        XCTAssertTrue(file.tensors.keys.contains("0.weight") && file.tensors.keys.contains("1.running_mean"))
        XCTAssertEqual(file.tensors["0.weight"]?.dtype, .f32)
        XCTAssertEqual(file.tensors["0.weight"]?.shape, [32, 1, 3, 3])
        XCTAssertEqual(file.tensors["9.weight"]?.shape, [128, 3136])
        XCTAssertEqual(try file.values("1.running_var", as: Float.self), model.namedBuffers[1].buffer.value.scalars)
        XCTAssertEqual(file.tensors["rng.11"]?.dtype, .u64)
        XCTAssertEqual(file.metadata["note"], "hello")
        XCTAssertEqual(file.metadata["format"], "swift-nn checkpoint 1")
        XCTAssertNil(file.metadata["epochs_completed"], "a model-only file has no training state")
    }

    /// Writes `source`'s checkpoint with `edit` applied to its tensors to a new file.
    func editedCheckpoint(_ source: any Layer, _ edit: (inout [String: StoredTensor]) -> Void) throws -> URL {
        let url = try temporaryFile(self, "edited.safetensors")
        try Checkpoint.save(to: url, model: source)
        var file = try SafeTensorsFile.read(from: url)
        edit(&file.tensors)
        try file.write(to: url)
        return url
    }

    /// Loading `url` into a fresh model throws `expected` and leaves the model as it was.
    func assertRejected(_ url: URL, _ expected: CheckpointError, file: StaticString = #filePath, line: UInt = #line) {
        let target = trainedCNN(seed: 2)
        let before = modelState(target), generators = dropoutGenerators(target)
        XCTAssertThrowsError(try Checkpoint.loadModel(from: url, into: target), file: file, line: line) {
            XCTAssertEqual($0 as? CheckpointError, expected, file: file, line: line)
            XCTAssertTrue("\($0)".contains(url.path), "the message names the file: \($0)", file: file, line: line)
        }
        XCTAssertEqual(modelState(target), before, "the model changed after a failed load", file: file, line: line)
        XCTAssertEqual(dropoutGenerators(target), generators, file: file, line: line)
    }

    func testRejectsAMissingTensor() throws {
        let url = try editedCheckpoint(trainedCNN(seed: 1)) { $0["5.running_var"] = nil }
        assertRejected(url, .missingTensor(path: url.path, name: "5.running_var"))
    }

    func testRejectsAnExtraTensor() throws {
        let url = try editedCheckpoint(trainedCNN(seed: 1)) { $0["13.weight"] = StoredTensor([Float(1)], shape: [1]) }
        assertRejected(url, .unexpectedTensor(path: url.path, name: "13.weight"))
    }

    func testRejectsAWrongShape() throws {
        let url = try editedCheckpoint(trainedCNN(seed: 1)) {
            $0["12.weight"] = StoredTensor([Float](repeating: 0, count: 1280), shape: [128, 10])
        }
        assertRejected(url, .shapeMismatch(path: url.path, tensor: "12.weight", expected: [10, 128], found: [128, 10]))
    }

    func testRejectsAWrongDType() throws {
        let url = try editedCheckpoint(trainedCNN(seed: 1)) { $0["0.bias"] = StoredTensor([Double](repeating: 0, count: 32), shape: [32]) }
        assertRejected(url, .dtypeMismatch(path: url.path, tensor: "0.bias", expected: "F32", found: "F64"))
        let rng = try editedCheckpoint(trainedCNN(seed: 1)) { $0["rng.11"] = StoredTensor([Float](repeating: 0, count: 4), shape: [4]) }
        assertRejected(rng, .dtypeMismatch(path: rng.path, tensor: "rng.11", expected: "U64", found: "F32"))
    }

    func testCorruptFilesThrowAndLeaveTheModelUnchanged() throws {
        let url = try temporaryFile(self, "model.safetensors")
        try Checkpoint.save(to: url, model: trainedCNN(seed: 1))
        let bytes = [UInt8](try Data(contentsOf: url))

        let truncated = url.deletingLastPathComponent().appendingPathComponent("truncated.safetensors")
        try Data(bytes.dropLast(100)).write(to: truncated)
        assertRejectedAnyError(truncated)

        var header = bytes
        let huge = UInt64(bytes.count)  // more than the bytes that follow the length
        for k in 0..<8 { header[k] = UInt8(truncatingIfNeeded: huge >> (8 * UInt64(k))) }
        let pastEnd = url.deletingLastPathComponent().appendingPathComponent("past-end.safetensors")
        try Data(header).write(to: pastEnd)
        assertRejected(pastEnd, .headerPastEnd(path: pastEnd.path, headerLength: huge, available: bytes.count - 8))

        let short = url.deletingLastPathComponent().appendingPathComponent("short.safetensors")
        try Data(bytes.prefix(5)).write(to: short)
        assertRejected(short, .fileTooShort(path: short.path, size: 5))
    }

    /// Like `assertRejected` for failures whose exact case is the reader's business.
    func assertRejectedAnyError(_ url: URL, file: StaticString = #filePath, line: UInt = #line) {
        let target = trainedCNN(seed: 2)
        let before = modelState(target)
        XCTAssertThrowsError(try Checkpoint.loadModel(from: url, into: target), file: file, line: line) {
            XCTAssertTrue($0 is CheckpointError && "\($0)".contains(url.path), "\($0)", file: file, line: line)
        }
        XCTAssertEqual(modelState(target), before, file: file, line: line)
    }

    func testTrainingCheckpointRoundTripsOptimizerScheduleAndGenerators() throws {
        let url = try temporaryFile(self, "run.safetensors")
        let data = tinyDataset(count: 40)
        DefaultRandom.manualSeed(1)
        let model = tinyModel()
        let trainer = quietTrainer(model, Adam(parameters: model.parameters, learningRate: 0.01), seed: 1)
        trainer.schedule = ReduceOnPlateau(baseLearningRate: 0.01, factor: 0.5, patience: 0)
        try trainer.fit(data, epochs: 3, batchSize: 8)
        try Checkpoint.save(to: url, model: model, trainer: trainer)

        DefaultRandom.manualSeed(2)
        let fresh = tinyModel()
        let other = quietTrainer(fresh, Adam(parameters: fresh.parameters, learningRate: 0.5), seed: 2)
        other.schedule = ReduceOnPlateau(baseLearningRate: 0.01, factor: 0.5, patience: 0)
        try Checkpoint.resume(from: url, trainer: other)
        XCTAssertEqual(modelState(fresh), modelState(model))
        XCTAssertEqual(other.optimizer.state.mapValues(\.scalars), trainer.optimizer.state.mapValues(\.scalars))
        XCTAssertEqual(other.optimizer.stepCount, trainer.optimizer.stepCount)
        XCTAssertEqual(other.optimizer.learningRate, trainer.optimizer.learningRate)
        XCTAssertEqual(other.schedule?.state, trainer.schedule?.state)
        XCTAssertEqual(other.dataGenerator, trainer.dataGenerator)
        XCTAssertEqual(other.epochsCompleted, 3)
        XCTAssertEqual(other.history, trainer.history)
    }

    func testResumeIntoAMismatchedTrainerThrowsAndChangesNothing() throws {
        let url = try temporaryFile(self, "run.safetensors")
        DefaultRandom.manualSeed(1)
        let model = tinyModel()
        let trainer = quietTrainer(model, Adam(parameters: model.parameters, learningRate: 0.01), seed: 1)
        try trainer.fit(tinyDataset(count: 16), epochs: 1, batchSize: 8)
        try Checkpoint.save(to: url, model: model, trainer: trainer)

        // An Adam run's moments do not belong to an SGD with momentum (which would also
        // need "momentum_buffer" state the file lacks).
        DefaultRandom.manualSeed(2)
        let fresh = tinyModel()
        let sgd = SGD(parameters: fresh.parameters, learningRate: 0.1, momentum: 0.9)
        let other = quietTrainer(fresh, sgd, seed: 2)
        let before = modelState(fresh), generator = other.dataGenerator
        XCTAssertThrowsError(try Checkpoint.resume(from: url, trainer: other)) {
            guard case .invalidEntry(url.path, "optimizer", let reason)? = $0 as? CheckpointError else {
                return XCTFail("unexpected error \($0)")
            }
            XCTAssertTrue(reason.contains("exp_avg") || reason.contains("momentum_buffer"), reason)
        }
        XCTAssertEqual(modelState(fresh), before)
        XCTAssertEqual(other.dataGenerator, generator)
        XCTAssertEqual(other.epochsCompleted, 0)
        XCTAssertEqual(sgd.stepCount, 0)
        XCTAssertEqual(sgd.learningRate, 0.1)

        // A model-only file is not a training checkpoint.
        let modelOnly = try temporaryFile(self, "model.safetensors")
        try Checkpoint.save(to: modelOnly, model: model)
        XCTAssertThrowsError(try Checkpoint.resume(from: modelOnly, trainer: quietTrainer(fresh, Adam(parameters: fresh.parameters), seed: 0))) {
            guard case .badMetadataValue(modelOnly.path, _, _)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(modelState(fresh), before)
    }

    func testCrashBetweenWriteAndRenameLeavesThePreviousCheckpoint() throws {
        let url = try temporaryFile(self, "run.safetensors")
        let data = tinyDataset(count: 32)
        DefaultRandom.manualSeed(1)
        let model = tinyModel()
        let trainer = quietTrainer(model, SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9), seed: 1)
        trainer.callbacks = [CheckpointSaver(url: url)]
        try trainer.fit(data, epochs: 1, batchSize: 8)
        let saved = try Data(contentsOf: url)
        let stateAtEpoch1 = modelState(model)

        trainer.callbacks = []
        try trainer.fit(data, epochs: 2, batchSize: 8)
        struct SimulatedCrash: Error {}
        XCTAssertThrowsError(try Checkpoint.save(to: url, model: model, trainer: trainer) { temporary in
            XCTAssertTrue(FileManager.default.fileExists(atPath: temporary.path))
            throw SimulatedCrash()
        }) { XCTAssertTrue($0 is SimulatedCrash) }

        XCTAssertEqual(try Data(contentsOf: url), saved)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path),
                       ["run.safetensors"], "the temporary file was left behind")
        DefaultRandom.manualSeed(2)
        let fresh = tinyModel()
        let resumed = quietTrainer(fresh, SGD(parameters: fresh.parameters, learningRate: 0.1, momentum: 0.9), seed: 2)
        try Checkpoint.resume(from: url, trainer: resumed)
        XCTAssertEqual(resumed.epochsCompleted, 1)
        XCTAssertEqual(modelState(fresh), stateAtEpoch1)
    }

    /// A layer that draws from its own generator, as a new random layer would (not a Dropout).
    final class NoiseLayer: Layer {
        var isTraining = true
        let noise: RandomState
        init(seed: UInt64) { noise = RandomState(RandomGenerator(seed: seed)) }
        var ownRandomStates: [(name: String, state: RandomState)] { [("noise", noise)] }
        func callAsFunction(_ input: Tensor) -> Tensor { input }
    }

    func testEveryLayersRandomStateIsSavedAndRestoredByName() throws {
        func model(seed: UInt64) -> Sequential {
            Sequential {
                Dense(inputSize: 2, outputSize: 2)
                NoiseLayer(seed: seed)
                Dropout(0.5, seed: seed)
            }
        }
        let url = try temporaryFile(self, "random.safetensors")
        let source = model(seed: 1)
        _ = (source.layers[1] as! NoiseLayer).noise.generator.next()
        try Checkpoint.save(to: url, model: source)
        let file = try SafeTensorsFile.read(from: url)
        XCTAssertEqual(Set(file.tensors.keys), ["0.weight", "0.bias", "rng.1.noise", "rng.2"])

        let target = model(seed: 2)
        XCTAssertNotEqual(dropoutGenerators(target), dropoutGenerators(source))
        try Checkpoint.loadModel(from: url, into: target)
        XCTAssertEqual(dropoutGenerators(target), dropoutGenerators(source))

        // A model that is a lone Dropout keeps the name format 1 gave its generator.
        try Checkpoint.save(to: url, model: Dropout(0.5, seed: 3))
        XCTAssertEqual(Set(try SafeTensorsFile.read(from: url).tensors.keys), ["rng.dropout"])
        let lone = Dropout(0.5, seed: 4)
        try Checkpoint.loadModel(from: url, into: lone)
        XCTAssertEqual(lone.generator, Dropout(0.5, seed: 3).generator)
    }
}
