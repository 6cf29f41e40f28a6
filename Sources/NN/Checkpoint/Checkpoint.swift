import Foundation

/// Saving and restoring models and whole training runs as safetensors files.
///
/// Layout: the model's parameters and buffers under their own names ("0.weight",
/// "1.running_mean"), so `safetensors.torch.load_file` or NumPy read them directly;
/// optimizer state under "optimizer.<i>.<kind>"; random generators as U64 [4] under
/// "rng.data" (the trainer's) and "rng.<layer path>" (`Layer.namedRandomStates`: a
/// dropout's is "rng.11"); everything else (epoch, learning rate, schedule
/// state, standardization, the model's description) in `__metadata__`. Files are written
/// atomically: a crash leaves the previous checkpoint intact.
public enum Checkpoint {
    static let optimizerPrefix = "optimizer."
    static let rngPrefix = "rng."

    /// Writes `model`'s parameters and buffers, plus the training state of `trainer` if
    /// given (optimizer, schedule, epoch, generators, history), atomically to `url`: a crash
    /// or error at any point leaves the previous file at `url` as it was.
    ///
    /// `standardization` and `metadata` go into `__metadata__` (keys this format uses, such
    /// as "format" or "epochs_completed", win over `metadata`). `beforeRename` is passed to
    /// `SafeTensorsFile.write(to:beforeRename:)`: a test hook to simulate a crash.
    public static func save(to url: URL, model: any Layer, trainer: Trainer? = nil,
                            standardization: Standardization? = nil,
                            metadata extra: [String: String] = [:],
                            beforeRename: ((URL) throws -> Void)? = nil) throws {
        var tensors: [String: StoredTensor] = [:]
        for (name, parameter) in model.namedParameters { tensors[name] = StoredTensor(parameter.value.scalars, shape: parameter.shape) }
        for (name, buffer) in model.namedBuffers { tensors[name] = StoredTensor(buffer.value.scalars, shape: buffer.value.shape) }
        var metadata = extra
        metadata["format"] = "swift-nn checkpoint 1"
        metadata["model"] = describe(model)
        if let standardization {
            metadata["standardization_mean"] = standardization.mean.map { "\($0)" }.joined(separator: ",")
            metadata["standardization_std"] = standardization.std.map { "\($0)" }.joined(separator: ",")
        }
        for (name, state) in randomStates(model) {
            tensors[name] = StoredTensor(words(state.generator), shape: [4])
        }
        if let trainer {
            for (name, tensor) in trainer.optimizer.state {
                tensors[optimizerPrefix + name] = StoredTensor(tensor.scalars, shape: tensor.shape)
            }
            tensors[rngPrefix + "data"] = StoredTensor(words(trainer.dataGenerator), shape: [4])
            metadata["epochs_completed"] = String(trainer.epochsCompleted)
            metadata["optimizer_steps"] = String(trainer.optimizer.stepCount)
            // Float's description is its shortest round-trip form; resume parses it as Float.
            metadata["learning_rate"] = "\(trainer.optimizer.learningRate)"
            if let schedule = trainer.schedule {
                for (key, value) in schedule.state { metadata["schedule." + key] = "\(value)" }
            }
            if let history = try? JSONEncoder().encode(trainer.history.map(HistoryRecord.init)),
               let text = String(data: history, encoding: .utf8) {
                metadata["history"] = text
            }
        }
        try SafeTensorsFile(metadata: metadata, tensors: tensors).write(to: url, beforeRename: beforeRename)
    }

    /// Loads the parameters and buffers saved in `url` into `model`, checking that every
    /// tensor is there with its shape and dtype and that nothing unknown is; returns the
    /// file (for its metadata). Nothing in `model` changes unless everything checks out.
    /// Layers' generators (dropout's) are restored when the file has them; optimizer state and the data
    /// generator of a training checkpoint are allowed and ignored (see `resume`).
    @discardableResult
    public static func loadModel(from url: URL, into model: any Layer) throws -> SafeTensorsFile {
        let file = try SafeTensorsFile.read(from: url)
        try loadModel(file, path: url.path, into: model)
        return file
    }

    /// `loadModel(from:into:)` for a file already read (its metadata inspected first, say):
    /// the same checks, with errors naming `path`.
    public static func loadModel(_ file: SafeTensorsFile, path: String, into model: any Layer) throws {
        try validatedModelLoad(file, path: path, into: model)()
    }

    /// Checks `file` against `model` and returns the closure that copies it in, which
    /// cannot fail: callers validate everything before changing anything.
    static func validatedModelLoad(_ file: SafeTensorsFile, path: String, into model: any Layer) throws -> () -> Void {
        let parameters = model.namedParameters, buffers = model.namedBuffers
        var expected: [String: [Int]] = [:]
        for (name, p) in parameters { expected[name] = p.shape }
        for (name, b) in buffers { expected[name] = b.value.shape }
        for name in expected.keys.sorted() {
            guard let stored = file.tensors[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
            guard stored.dtype == .f32 else {
                throw CheckpointError.dtypeMismatch(path: path, tensor: name, expected: "F32", found: stored.dtype.rawValue)
            }
            guard stored.shape == expected[name]! else {
                throw CheckpointError.shapeMismatch(path: path, tensor: name, expected: expected[name]!, found: stored.shape)
            }
        }
        let states = randomStates(model)
        let known = Set(expected.keys).union(states.map(\.name)).union([rngPrefix + "data"])
        for name in file.tensors.keys.sorted() where !known.contains(name) && !name.hasPrefix(optimizerPrefix) {
            throw CheckpointError.unexpectedTensor(path: path, name: name)
        }
        var generators: [(RandomState, RandomGenerator)] = []
        for (name, state) in states {
            if let stored = file.tensors[name] { generators.append((state, try generator(stored, name: name, path: path))) }
        }
        return {
            // Validated above: every name is present as F32 with the model's shape.
            for (name, p) in parameters { p.value = Tensor(file.tensors[name]!.values(as: Float.self)!, shape: p.shape) }
            for (name, b) in buffers { b.value = Tensor(file.tensors[name]!.values(as: Float.self)!, shape: b.value.shape) }
            for (state, g) in generators { state.generator = g }
        }
    }

    /// Restores a whole training run saved with a trainer: the model, the optimizer state,
    /// the learning rate, the schedule, the epoch count, the history and every generator, so
    /// `fit` continues exactly as an uninterrupted run would. The trainer must have been
    /// built like the saved one (same model architecture, optimizer kind and options, and a
    /// schedule of the same kind if one was saved); its initial weights and seeds do not
    /// matter. On any error nothing in the trainer, its model or its optimizer changes.
    @discardableResult
    public static func resume(from url: URL, trainer: Trainer) throws -> SafeTensorsFile {
        let file = try SafeTensorsFile.read(from: url)
        let path = url.path
        func integer(_ key: String) throws -> Int {
            // Parsed as an integer, not through Double: Int(Double) traps on "nan" or "1e300".
            guard let text = file.metadata[key], let value = Int(text), value >= 0 else {
                throw CheckpointError.badMetadataValue(
                    path: path, key: key, reason: "\(file.metadata[key].map { "\"\($0)\"" } ?? "missing"), expected a whole "
                        + "number >= 0 (is this a training checkpoint?)")
            }
            return value
        }
        // Everything is parsed and checked before the first change.
        let applyModel = try validatedModelLoad(file, path: path, into: trainer.model)
        var optimizerState: [String: Tensor] = [:]
        for (name, stored) in file.tensors where name.hasPrefix(optimizerPrefix) {
            guard let values = stored.values(as: Float.self) else {
                throw CheckpointError.dtypeMismatch(path: path, tensor: name, expected: "F32", found: stored.dtype.rawValue)
            }
            optimizerState[String(name.dropFirst(optimizerPrefix.count))] = Tensor(values, shape: stored.shape)
        }
        // State the optimizer keeps must come with its shape (Optimizer.load would only
        // find a mismatch halfway through its buffers).
        for (name, current) in trainer.optimizer.state.sorted(by: { $0.key < $1.key }) {
            if let stored = optimizerState[name], stored.shape != current.shape {
                throw CheckpointError.shapeMismatch(path: path, tensor: optimizerPrefix + name, expected: current.shape,
                                                    found: stored.shape)
            }
        }
        let steps = try integer("optimizer_steps")
        let epochsCompleted = try integer("epochs_completed")
        guard let rateText = file.metadata["learning_rate"], let learningRate = Float(rateText),
              learningRate.isFinite, learningRate >= 0 else {
            throw CheckpointError.badMetadataValue(
                path: path, key: "learning_rate",
                reason: "\(file.metadata["learning_rate"].map { "\"\($0)\"" } ?? "missing"), expected a finite number >= 0")
        }
        var scheduleState: [String: Double] = [:]
        for (key, value) in file.metadata where key.hasPrefix("schedule.") {
            guard let number = Double(value) else {
                throw CheckpointError.badMetadataValue(path: path, key: key, reason: "\"\(value)\" is not a number")
            }
            scheduleState[String(key.dropFirst("schedule.".count))] = number
        }
        guard let data = file.tensors[rngPrefix + "data"] else {
            throw CheckpointError.missingTensor(path: path, name: rngPrefix + "data")
        }
        let dataGenerator = try generator(data, name: rngPrefix + "data", path: path)
        var history: [EpochMetrics]?
        if let text = file.metadata["history"] {
            guard let records = try? JSONDecoder().decode([HistoryRecord].self, from: Data(text.utf8)) else {
                throw CheckpointError.badMetadataValue(path: path, key: "history", reason: "not a JSON list of epoch records")
            }
            history = records.map(\.metrics)
        }

        // The optimizer and the schedule check their own state as they load it, possibly
        // after changing part of it: keep what they had to put back on failure.
        let optimizer = trainer.optimizer
        let previousOptimizerState = optimizer.state, previousSteps = optimizer.stepCount
        let previousScheduleState = trainer.schedule?.state
        do {
            try optimizer.load(state: optimizerState, stepCount: steps)
        } catch let error as OptimizerStateError {
            try? optimizer.load(state: previousOptimizerState, stepCount: previousSteps)
            throw CheckpointError.invalidEntry(path: path, tensor: "optimizer", reason: error.description)
        }
        if let schedule = trainer.schedule {
            do { try schedule.load(state: scheduleState) } catch let error as ScheduleStateError {
                try? optimizer.load(state: previousOptimizerState, stepCount: previousSteps)
                try? schedule.load(state: previousScheduleState ?? [:])
                throw CheckpointError.badMetadataValue(path: path, key: "schedule", reason: error.description)
            }
        }
        applyModel()
        optimizer.learningRate = learningRate
        trainer.dataGenerator = dataGenerator
        trainer.epochsCompleted = epochsCompleted
        if let history { trainer.history = history }
        return file
    }

    /// The standardization statistics stored with a model, if any.
    public static func standardization(in file: SafeTensorsFile) -> Standardization? {
        guard let mean = file.metadata["standardization_mean"]?.split(separator: ",").compactMap({ Float($0) }),
              let std = file.metadata["standardization_std"]?.split(separator: ",").compactMap({ Float($0) }),
              !mean.isEmpty, mean.count == std.count, mean.allSatisfy(\.isFinite),
              std.allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }  // as Standardization requires
        return Standardization(mean: mean, std: std)
    }

    /// `__metadata__` entries describing what a model was trained on, for eval and predict:
    /// the task, the class (or label) names, the feature names and per-sample shape (pass
    /// the feature statistics as `standardization` to `save`), and the statistics targets
    /// were standardized with for regression, if any.
    public static func datasetMetadata(task: LearningTask, data: Dataset, targetStandardization: Standardization? = nil)
        -> [String: String] {
        var metadata = ["task": task.rawValue,
                        "feature_shape": data.featureShape.map(String.init).joined(separator: ",")]
        if let names = data.classNames { metadata["class_names"] = jsonStringArray(names) }
        if !data.featureNames.isEmpty { metadata["feature_names"] = jsonStringArray(data.featureNames) }
        if let t = targetStandardization {
            metadata["target_standardization_mean"] = t.mean.map { "\($0)" }.joined(separator: ",")
            metadata["target_standardization_std"] = t.std.map { "\($0)" }.joined(separator: ",")
        }
        return metadata
    }

    /// The task stored with a model; nil when absent, an error when not one of `LearningTask`'s names.
    public static func task(in file: SafeTensorsFile, path: String) throws -> LearningTask? {
        guard let text = file.metadata["task"] else { return nil }
        guard let task = LearningTask(rawValue: text) else {
            throw CheckpointError.badMetadataValue(path: path, key: "task", reason: "\"\(text)\" is not one of "
                + LearningTask.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return task
    }

    /// The class names stored with a model (nil when absent), an error when not a JSON list of strings.
    public static func classNames(in file: SafeTensorsFile, path: String) throws -> [String]? {
        try stringList("class_names", in: file, path: path)
    }

    /// The feature names stored with a model (nil when absent).
    public static func featureNames(in file: SafeTensorsFile, path: String) throws -> [String]? {
        try stringList("feature_names", in: file, path: path)
    }

    /// The statistics regression targets were standardized with (nil when absent).
    public static func targetStandardization(in file: SafeTensorsFile) -> Standardization? {
        guard let mean = file.metadata["target_standardization_mean"]?.split(separator: ",").compactMap({ Float($0) }),
              let std = file.metadata["target_standardization_std"]?.split(separator: ",").compactMap({ Float($0) }),
              !mean.isEmpty, mean.count == std.count, mean.allSatisfy(\.isFinite),
              std.allSatisfy({ $0 > 0 && $0.isFinite }) else { return nil }
        return Standardization(mean: mean, std: std)
    }

    private static func stringList(_ key: String, in file: SafeTensorsFile, path: String) throws -> [String]? {
        guard let text = file.metadata[key] else { return nil }
        guard let list = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw CheckpointError.badMetadataValue(path: path, key: key, reason: "not a JSON list of strings")
        }
        return list
    }

    private static func jsonStringArray(_ strings: [String]) -> String {
        String(data: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), encoding: .utf8) ?? "[]"
    }

    /// A one-line description of the model's layers (stored in the metadata).
    public static func describe(_ model: any Layer) -> String {
        func walk(_ layer: any Layer) -> String {
            let name = String(describing: type(of: layer))
            let kids = layer.children
            return kids.isEmpty ? name : "\(name)(\(kids.map { walk($0.layer) }.joined(separator: ", ")))"
        }
        return walk(model) + " [\(model.parameterCount) parameters]"
    }

    /// The model's random states under their tensor names: "rng." and the path. A model that
    /// is itself a random layer (a lone Dropout) has an empty path; format 1 names its
    /// generator "rng.dropout", kept so such files still load.
    static func randomStates(_ model: any Layer) -> [(name: String, state: RandomState)] {
        model.namedRandomStates.map { (rngPrefix + ($0.name.isEmpty ? "dropout" : $0.name), $0.state) }
    }

    static func words(_ g: RandomGenerator) -> [UInt64] {
        let s = g.state
        return [s.0, s.1, s.2, s.3]
    }

    static func generator(_ stored: StoredTensor, name: String, path: String) throws -> RandomGenerator {
        guard stored.dtype == .u64 else {
            throw CheckpointError.dtypeMismatch(path: path, tensor: name, expected: "U64", found: stored.dtype.rawValue)
        }
        guard stored.shape == [4], let w = stored.values(as: UInt64.self) else {
            throw CheckpointError.shapeMismatch(path: path, tensor: name, expected: [4], found: stored.shape)
        }
        return RandomGenerator(state: (w[0], w[1], w[2], w[3]))
    }
}

/// `EpochMetrics` as JSON in a checkpoint's metadata.
struct HistoryRecord: Codable {
    var epoch: Int, trainLoss: Double, trainAccuracy: Double
    var validationLoss: Double?, validationAccuracy: Double?
    var learningRate: Float, seconds: Double, imagesPerSecond: Double
    /// Optional so format-1 histories without them still decode; JSON has no NaN, so
    /// non-finite values are left out.
    var taskMetrics: [String: Double]?, validationMetrics: [String: Double]?

    init(_ m: EpochMetrics) {
        taskMetrics = m.metrics.isEmpty ? nil : m.metrics.filter { $0.value.isFinite }
        validationMetrics = m.validationMetrics?.filter { $0.value.isFinite }
        (epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy) =
            (m.epoch, m.trainLoss, m.trainAccuracy, m.validationLoss, m.validationAccuracy)
        (learningRate, seconds, imagesPerSecond) = (m.learningRate, m.seconds, m.imagesPerSecond)
    }

    var metrics: EpochMetrics {
        var m = EpochMetrics(epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAccuracy, validationLoss: validationLoss,
                     validationAccuracy: validationAccuracy, learningRate: learningRate, seconds: seconds,
                     imagesPerSecond: imagesPerSecond)
        m.metrics = taskMetrics ?? [:]
        m.validationMetrics = validationMetrics
        return m
    }
}
