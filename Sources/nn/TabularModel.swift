import Foundation
import NN

/// The network `nn train` fits to tabular data: an MLP (Dense, [BatchNorm], ReLU,
/// [Dropout] per hidden layer, then a Dense output layer), or, with no hidden layers, one
/// Dense layer (logistic or linear regression).
///
/// Every Dense layer starts as PyTorch's `nn.Linear` (kaiming_uniform with a = sqrt(5)):
/// weights and biases uniform in ±1/sqrt(fan-in), so the figures compare with PyTorch's.
struct TabularNetwork: Equatable {
    /// Per-sample feature shape (a table row: [columns]); flattened before the first layer.
    var inputShape: [Int]
    /// Outputs: classes, 1 for binary, labels, or regression values per sample.
    var outputs: Int
    /// Hidden layer widths, first to last; empty for a linear model.
    var hidden: [Int]
    /// Dropout probability after each hidden layer's activation (0: none).
    var dropout: Float
    /// Batch norm after each hidden Dense layer.
    var batchNorm: Bool

    var inputs: Int { inputShape.reduce(1, *) }

    /// A freshly initialized network; `seed` fixes the weights and dropout's masks.
    func build(seed: UInt64) -> Sequential {
        var generator = RandomGenerator(seed: seed ^ 0x7AB1_E000)
        func dense(_ i: Int, _ o: Int) -> Dense { Dense.pyTorchDefault(inputSize: i, outputSize: o, using: &generator) }
        var layers: [any Layer] = inputShape.count > 1 ? [Flatten()] : []
        var width = inputs
        for (k, size) in hidden.enumerated() {
            layers.append(dense(width, size))
            if batchNorm { layers.append(BatchNorm(size)) }
            layers.append(ReLU())
            if dropout > 0 { layers.append(Dropout(dropout, seed: seed ^ (0xD209 &+ UInt64(k)))) }
            width = size
        }
        layers.append(dense(width, outputs))
        return Sequential(layers)
    }

    /// "MLP 4-64-64-3" or "linear 30-1", plus batch norm and dropout.
    var summary: String {
        let sizes = ([inputs] + hidden + [outputs]).map(String.init).joined(separator: "-")
        return (hidden.isEmpty ? "linear model \(sizes) (one Dense layer)" : "MLP \(sizes)")
            + (batchNorm ? ", batch norm" : "") + (dropout > 0 ? ", dropout \(dropout)" : "")
    }

    /// The checkpoint metadata that rebuilds this network (`model_name` "tabular").
    var metadata: [String: String] {
        ["model_name": "tabular", "tabular.input_shape": inputShape.map(String.init).joined(separator: ","),
         "tabular.outputs": String(outputs), "tabular.hidden": hidden.map(String.init).joined(separator: ","),
         "tabular.dropout": "\(dropout)", "tabular.batch_norm": String(batchNorm)]
    }

    init(inputShape: [Int], outputs: Int, hidden: [Int], dropout: Float, batchNorm: Bool) {
        (self.inputShape, self.outputs, self.hidden, self.dropout, self.batchNorm) = (inputShape, outputs, hidden, dropout, batchNorm)
    }

    /// The network a tabular checkpoint describes; an error naming the file and key otherwise.
    init(metadata: [String: String], path: String) throws {
        func value<T>(_ key: String, _ parse: (String) -> T?) throws -> T {
            guard let text = metadata["tabular." + key], let v = parse(text) else {
                throw CheckpointError.badMetadataValue(path: path, key: "tabular." + key,
                                                       reason: metadata["tabular." + key].map { "unreadable value \"\($0)\"" } ?? "missing")
            }
            return v
        }
        func sizes(_ text: String) -> [Int]? {
            if text.isEmpty { return [] }
            let parts = text.split(separator: ",").map { Int($0) }
            guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
            return parts.map { $0! }
        }
        inputShape = try value("input_shape") { sizes($0).flatMap { $0.isEmpty ? nil : $0 } }
        outputs = try value("outputs") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
        hidden = try value("hidden", sizes)
        dropout = try value("dropout") { Float($0).flatMap { $0 >= 0 && $0 < 1 ? $0 : nil } }
        batchNorm = try value("batch_norm") { Bool($0) }
    }

    /// `--hidden`: "128,64"; "", "0" or "none" for a linear model.
    static func parseHidden(_ text: String) throws -> [Int] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if ["", "0", "none"].contains(trimmed.lowercased()) { return [] }
        let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw CLIError("--hidden must list positive layer widths such as 64,64 (or none for a linear model), got '\(text)'")
        }
        return sizes.map { $0! }
    }
}

/// The number of outputs a network needs for `targets` as `task`.
func outputCount(task: LearningTask, targets: Targets) -> Int {
    switch (task, targets) {
    case (.binary, _): return 1
    default: return task == .classification ? targets.classNamesCount : targets.sizePerSample
    }
}

/// A tabular checkpoint, read once: its network, task, names and statistics (eval, predict).
struct TabularCheckpoint {
    let path: String
    let file: SafeTensorsFile
    let network: TabularNetwork
    let task: LearningTask
    let classNames: [String]?
    let expected: ExpectedFeatures
    let statistics: Standardization
    let targetStatistics: Standardization?

    /// Whether `metadata` is that of a tabular checkpoint.
    static func isTabular(_ metadata: [String: String]) -> Bool { metadata["model_name"] == "tabular" }

    init(path: String, file: SafeTensorsFile) throws {
        self.path = path
        self.file = file
        network = try TabularNetwork(metadata: file.metadata, path: path)
        guard let task = try Checkpoint.task(in: file, path: path) else {
            throw CheckpointError.badMetadataValue(path: path, key: "task", reason: "missing")
        }
        self.task = task
        classNames = try Checkpoint.classNames(in: file, path: path)
        if task != .regression, classNames?.count != (task == .binary ? 2 : network.outputs) {
            throw CheckpointError.badMetadataValue(path: path, key: "class_names",
                                                   reason: "\(classNames?.count ?? 0) names for a \(task.rawValue) model of \(network.outputs) outputs")
        }
        expected = ExpectedFeatures(names: try Checkpoint.featureNames(in: file, path: path) ?? [], shape: network.inputShape,
                                    sourceColumns: file.metadata["tabular.source_columns"].flatMap { Int($0) })
        statistics = try storedStatistics(file.metadata, path: path)
        guard statistics.mean.count == network.inputs else {
            throw CheckpointError.badMetadataValue(path: path, key: "standardization_mean",
                                                   reason: "\(statistics.mean.count) values for \(network.inputs) features")
        }
        targetStatistics = Checkpoint.targetStandardization(in: file)
    }

    /// A fresh network of the checkpoint's architecture holding its weights.
    func loadModel() throws -> Sequential {
        let model = network.build(seed: 0)
        try Checkpoint.loadModel(file, path: path, into: model)
        return model
    }

    /// Reads `source` as this model's input (features standardized with the stored
    /// statistics; targets, when present, as the task's, classes by the stored names).
    func dataset(_ source: TabularSource, targetRequired: Bool) throws -> (data: Dataset, hasTargets: Bool, dropped: Int) {
        let table = try TabularData.read(source, targetRequired: targetRequired, expected: expected)
        let targets: Targets
        if let target = table.target {
            targets = try tabularTargets(target, task: task, classNames: classNames, outputs: network.outputs)
        } else {
            // Placeholder targets for a file without them: only the features are used.
            targets = .values([Float](repeating: 0, count: table.rowCount), shape: [1])
        }
        let data = Dataset(features: table.features, featureShape: table.featureShape, targets: targets,
                           featureNames: table.featureNames.count == table.featureShape.reduce(1, *) ? table.featureNames : [])
        return (data.standardized(with: statistics), table.target != nil, table.droppedRows)
    }

    /// The model's outputs for `data` as the task reads them, `network.outputs` per sample:
    /// class probabilities (softmax), label probabilities (sigmoid; binary: of the second
    /// class), or values in target units.
    func outputs(_ model: Sequential, _ data: Dataset) -> [Float] {
        let raw = Trainer.predict(model, on: data).scalars
        return readOutputs(raw, task: task, outputs: network.outputs, targetStatistics: targetStatistics)
    }
}

/// Raw network outputs as the task reads them (see `TabularCheckpoint.outputs`); regression
/// values are mapped back through the target statistics the model was trained with.
func readOutputs(_ raw: [Float], task: LearningTask, outputs: Int, targetStatistics: Standardization?) -> [Float] {
    switch task {
    case .classification:
        var out = raw
        for start in stride(from: 0, to: raw.count, by: outputs) {
            let row = raw[start..<(start + outputs)]
            let top = row.max()!
            let exps = row.map { Foundation.exp(Double($0 - top)) }
            let sum = exps.reduce(0, +)
            for (k, e) in exps.enumerated() { out[start + k] = Float(e / sum) }
        }
        return out
    case .binary, .multiLabel:
        return raw.map { Float(1 / (1 + Foundation.exp(-Double($0)))) }
    case .regression:
        guard let t = targetStatistics else { return raw }
        return raw.enumerated().map { $0.element * t.std[$0.offset % outputs] + t.mean[$0.offset % outputs] }
    }
}
