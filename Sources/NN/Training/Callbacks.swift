import Foundation

// MARK: Early stopping

/// Stops training when a monitored figure has not improved for `patience` epochs, as
/// Keras's `EarlyStopping`, and can put back the weights of the best epoch.
///
/// An epoch improves on the best so far when its value beats it by more than `minDelta`
/// (`value < best - minDelta` for the loss, `value > best + minDelta` for accuracy); the
/// first epoch always does. After `patience` epochs in a row without improvement the
/// callback returns `.stop`. The figure is the validation one when the epoch has it, else
/// the training one.
///
/// With `restoreBestWeights` (the default), stopping copies back the parameters and buffers
/// (batch-norm running statistics) saved at the best epoch, as Keras's
/// `restore_best_weights`; with `restoreAtEnd` also, a run that ends without stopping gets
/// the best weights too. Dropout generators and the optimizer are not rewound.
///
/// Its state (best value, epochs without improvement, best weights) lives in this object
/// only: a run resumed from a checkpoint starts counting afresh.
public final class EarlyStopping: TrainingCallback {
    /// The figure early stopping watches.
    public enum Monitor: Sendable {
        /// The loss (lower is better).
        case loss
        /// The accuracy (higher is better).
        case accuracy
        /// Any figure by its `EpochMetrics.value(named:)` name ("val_r2", "f1", "val_mae"),
        /// maximized or not as `LearningTask.isMaximized` says; validation first as above.
        case named(String)

        /// Whether higher values are better.
        var maximizes: Bool {
            switch self {
            case .loss: return false
            case .accuracy: return true
            case .named(let name): return LearningTask.isMaximized(name)
            }
        }
    }

    /// The figure watched: validation loss or accuracy, training figures without validation.
    public let monitor: Monitor
    /// Epochs without improvement tolerated before stopping.
    public let patience: Int
    /// How much better than the best a value must be to count as an improvement.
    public let minDelta: Double
    /// Whether to copy the best epoch's weights back when stopping.
    public let restoreBestWeights: Bool
    /// Whether to copy the best epoch's weights back when training ends without stopping.
    public let restoreAtEnd: Bool

    /// The best value seen so far, nil before the first epoch.
    public private(set) var bestValue: Double?
    /// The epoch that gave `bestValue`.
    public private(set) var bestEpoch: Int?
    /// Epochs since the last improvement.
    public private(set) var epochsWithoutImprovement = 0
    /// The epoch after which this callback stopped training, if it did.
    public private(set) var stoppedEpoch: Int?
    /// Copies of the parameters and buffers at `bestEpoch` (by the model's own order).
    private var bestParameters: [Tensor] = []
    private var bestBuffers: [Tensor] = []

    /// Early stopping on `monitor` after `patience` epochs without an improvement larger
    /// than `minDelta`.
    public init(monitor: Monitor = .loss, patience: Int = 5, minDelta: Double = 0,
                restoreBestWeights: Bool = true, restoreAtEnd: Bool = false) {
        precondition(patience >= 0, "EarlyStopping: patience must be non-negative, got \(patience)")
        precondition(minDelta >= 0 && minDelta.isFinite, "EarlyStopping: minDelta must be non-negative, got \(minDelta)")
        (self.monitor, self.patience, self.minDelta) = (monitor, patience, minDelta)
        (self.restoreBestWeights, self.restoreAtEnd) = (restoreBestWeights, restoreAtEnd)
    }

    /// The value `monitor` picks from `metrics`: the validation figure if there is one.
    public func monitoredValue(_ metrics: EpochMetrics) -> Double {
        switch monitor {
        case .loss: return metrics.validationLoss ?? metrics.trainLoss
        case .accuracy: return metrics.validationAccuracy ?? metrics.trainAccuracy
        case .named(let name):
            // A bare name means the validation figure when the epoch has one, as for .loss.
            if !name.hasPrefix("val_"), let value = metrics.value(named: "val_" + name) { return value }
            guard let value = metrics.value(named: name) else {
                preconditionFailure("EarlyStopping: no metric \"\(name)\" in epoch \(metrics.epoch)")
            }
            return value
        }
    }

    /// Forgets everything seen, to reuse the callback for a new run.
    public func reset() {
        (bestValue, bestEpoch, stoppedEpoch, epochsWithoutImprovement) = (nil, nil, nil, 0)
        (bestParameters, bestBuffers) = ([], [])
    }

    /// Records the epoch's value; keeps the weights if it is the best; stops (restoring the
    /// best weights if asked) after `patience` epochs without improvement.
    public func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        let value = monitoredValue(metrics)
        if isImprovement(value) {
            bestValue = value
            bestEpoch = metrics.epoch
            epochsWithoutImprovement = 0
            if restoreBestWeights || restoreAtEnd {
                // Tensor copies, not shared storage: the next steps update parameters in place.
                bestParameters = trainer.model.parameters.map { Tensor($0.value.scalars, shape: $0.shape) }
                bestBuffers = trainer.model.namedBuffers.map { Tensor($0.buffer.value.scalars, shape: $0.buffer.value.shape) }
            }
            return .proceed
        }
        epochsWithoutImprovement += 1
        guard epochsWithoutImprovement >= patience else { return .proceed }
        stoppedEpoch = metrics.epoch
        if restoreBestWeights { restoreBest(into: trainer.model) }
        return .stop
    }

    /// With `restoreAtEnd`, copies the best weights back when the run ended without stopping.
    public func trainingEnded(trainer: Trainer) throws {
        if restoreAtEnd && stoppedEpoch == nil { restoreBest(into: trainer.model) }
    }

    /// NaN never improves; the first finite value always does.
    private func isImprovement(_ value: Double) -> Bool {
        guard !value.isNaN else { return false }
        guard let best = bestValue else { return true }
        return monitor.maximizes ? value > best + minDelta : value < best - minDelta
    }

    private func restoreBest(into model: any Layer) {
        let parameters = model.parameters, buffers = model.namedBuffers
        guard !bestParameters.isEmpty || !bestBuffers.isEmpty else { return }
        precondition(parameters.count == bestParameters.count && buffers.count == bestBuffers.count,
                     "EarlyStopping: the model has \(parameters.count) parameters and \(buffers.count) buffers, "
                     + "the saved best weights \(bestParameters.count) and \(bestBuffers.count) (a different model?)")
        for (p, best) in zip(parameters, bestParameters) { p.value = best }
        for ((_, b), best) in zip(buffers, bestBuffers) { b.value = best }
    }
}

// MARK: Epoch log

/// Writes one line per epoch to a CSV file, or to a JSON-lines file when the name ends in
/// ".jsonl": epoch, training loss and accuracy, validation loss and accuracy (empty or
/// null without validation), learning rate, seconds and images per second.
///
/// CSV columns: `epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second`,
/// numbers in Swift's shortest round-trip form. JSON lines use the same keys, in that order.
///
/// Resuming: the first epoch this logger sees rewrites the file (atomically) from
/// `trainer.history`, which `Checkpoint.resume` restores, so the file holds exactly the
/// epochs the checkpoint had plus the new one: rows written after the checkpoint by the
/// interrupted run are not duplicated and none are lost. Later epochs append one line.
/// An existing file from another run is therefore replaced, not extended.
public final class CSVLogger: TrainingCallback {
    /// The two layouts.
    public enum Format: Sendable {
        /// Comma-separated values with a header line.
        case csv
        /// One JSON object per line, no header.
        case jsonLines
    }

    /// The column names (CSV header, JSON keys), in order.
    public static let columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                 "learning_rate", "seconds", "images_per_second"]

    /// The file written.
    public let url: URL
    /// CSV, or JSON lines for a ".jsonl" file.
    public let format: Format
    /// Whether the file has been rewritten from the history yet.
    private var started = false

    /// A logger writing to `url`, in the format its extension names.
    public init(url: URL) {
        self.url = url
        format = url.pathExtension.lowercased() == "jsonl" ? .jsonLines : .csv
    }

    /// Writes the epoch's line (the whole history on the first call).
    public func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        if !started {
            // The history ends with `metrics` when called by `fit`; a direct call may not
            // have recorded it.
            var epochs = trainer.history.filter { $0.epoch < metrics.epoch }
            epochs.append(metrics)
            var text = format == .csv ? CSVLogger.columns.joined(separator: ",") + "\n" : ""
            for m in epochs { text += line(m) + "\n" }
            do {
                try Data(text.utf8).write(to: url, options: .atomic)
            } catch {
                throw CheckpointError.cannotWrite(path: url.path, reason: error.localizedDescription)
            }
            started = true
            return .proceed
        }
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line(metrics) + "\n").utf8))
        } catch {
            throw CheckpointError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
        return .proceed
    }

    /// The line of one epoch, without the newline.
    public func line(_ m: EpochMetrics) -> String {
        var values: [String?] = [String(m.epoch), number(m.trainLoss), number(m.trainAccuracy)]
        values.append(m.validationLoss.flatMap { number($0) })
        values.append(m.validationAccuracy.flatMap { number($0) })
        values.append(number(Double(m.learningRate), shortest: "\(m.learningRate)"))
        values += [number(m.seconds), number(m.imagesPerSecond)]
        switch format {
        case .csv:
            return values.map { $0 ?? "" }.joined(separator: ",")
        case .jsonLines:
            let fields = zip(CSVLogger.columns, values).map { "\"\($0)\":\($1 ?? "null")" }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }

    /// A number as text; JSON has no NaN or infinity, so those are null there.
    private func number(_ x: Double) -> String? { number(x, shortest: "\(x)") }

    private func number(_ x: Double, shortest: String) -> String? {
        format == .jsonLines && !x.isFinite ? nil : shortest
    }
}

// MARK: Checkpoints

/// Saves a full training checkpoint (`Checkpoint.save` with the trainer) to `url` after
/// every epoch, atomically, replacing the previous one: `Checkpoint.resume(from:trainer:)`
/// on a trainer built the same way continues the run as if it had not stopped.
///
/// The checkpoint holds the state after the epoch's schedule step (the learning rate of the
/// next epoch). Put this callback before `EarlyStopping` in `trainer.callbacks` if the
/// checkpoint should hold the weights training reached rather than the restored best ones.
/// A failed write throws out of `fit` and leaves the previous checkpoint as it was.
public final class CheckpointSaver: TrainingCallback {
    /// Where the checkpoint is written.
    public let url: URL
    /// Standardization statistics stored with every checkpoint (for inference later).
    public var standardization: Standardization?
    /// Extra `__metadata__` entries stored with every checkpoint.
    public var metadata: [String: String]
    /// The epoch of the last checkpoint written by this saver.
    public private(set) var lastSavedEpoch: Int?
    /// With a name (`EpochMetrics.value(named:)`), only epochs that improve that figure are
    /// saved (minimized or maximized as `LearningTask.isMaximized` says); nil saves every epoch.
    public var monitor: String?
    /// The best monitored value saved so far.
    public private(set) var bestValue: Double?

    /// A saver writing to `url`, with optional statistics and metadata.
    public init(url: URL, standardization: Standardization? = nil, metadata: [String: String] = [:]) {
        self.url = url
        self.standardization = standardization
        self.metadata = metadata
    }

    /// Writes the checkpoint.
    public func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        if let monitor {
            guard let value = metrics.value(named: monitor) else {
                preconditionFailure("CheckpointSaver: no metric \"\(monitor)\" in epoch \(metrics.epoch)")
            }
            if let best = bestValue, !(LearningTask.isMaximized(monitor) ? value > best : value < best) { return .proceed }
            bestValue = value
        }
        try Checkpoint.save(to: url, model: trainer.model, trainer: trainer, standardization: standardization,
                            metadata: metadata)
        lastSavedEpoch = metrics.epoch
        return .proceed
    }
}
