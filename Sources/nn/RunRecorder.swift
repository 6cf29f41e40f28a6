import Foundation
import NN

/// Writes what a run has produced after every epoch: the checkpoint (atomically), the CSV
/// log and the SVG plot, each rewritten from the trainer's whole history so a resumed run
/// gets one log and one plot covering every epoch.
///
/// It lives in the CLI because the library's callbacks (checkpoint saver, CSV logger) are
/// being written separately; it can be replaced by them once they land.
final class RunRecorder: TrainingCallback {
    let checkpoint: URL?
    let log: URL?
    let plot: URL?
    let standardization: Standardization
    let metadata: [String: String]
    let title: String
    /// The figure the plot's right panel draws: "accuracy", or a task's own ("r2", ...).
    let plotMetric: String

    init(checkpoint: URL?, log: URL?, plot: URL?, standardization: Standardization,
         metadata: [String: String], title: String, plotMetric: String = "accuracy") {
        (self.checkpoint, self.log, self.plot) = (checkpoint, log, plot)
        (self.standardization, self.metadata, self.title, self.plotMetric) = (standardization, metadata, title, plotMetric)
    }

    func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        try record(trainer)
        return .proceed
    }

    /// Writes every output from the trainer's current state.
    func record(_ trainer: Trainer) throws {
        if let checkpoint {
            try Checkpoint.save(to: checkpoint, model: trainer.model, trainer: trainer,
                                standardization: standardization, metadata: metadata)
        }
        if let log { try writeAtomically(RunRecorder.csv(trainer.history), to: log) }
        if let plot { try writeAtomically(TrainingPlot(history: trainer.history, title: title, metric: plotMetric).svg(), to: plot) }
    }

    /// One row per epoch; validation columns are empty when there is no validation set. The
    /// metric columns are accuracy for the image models, and a task's own metrics (sorted by
    /// name, as Keras's CSVLogger) for a tabular run: a regression has no accuracy.
    static func csv(_ history: [EpochMetrics]) -> String {
        func number(_ value: Double?) -> String { value.map { String(format: "%.6f", $0) } ?? "" }
        let names = history.first.map { $0.metrics.isEmpty ? ["accuracy"] : $0.metrics.keys.sorted() } ?? ["accuracy"]
        let header = ["epoch", "train_loss"] + names.map { "train_" + $0 } + ["val_loss"] + names.map { "val_" + $0 }
            + ["learning_rate", "seconds", "images_per_second"]
        var lines = [header.joined(separator: ",")]
        for m in history {
            lines.append(([String(m.epoch), number(m.trainLoss)] + names.map { number(m.value(named: $0)) }
                          + [number(m.validationLoss)] + names.map { number(m.value(named: "val_" + $0)) }
                          + ["\(m.learningRate)", String(format: "%.2f", m.seconds), String(format: "%.1f", m.imagesPerSecond)])
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Writes `text` to `url` through a temporary file and a rename, naming the file on failure.
func writeAtomically(_ text: String, to url: URL) throws {
    do {
        try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
        throw CLIError("\(url.path): cannot write: \(error.localizedDescription)")
    }
}

/// Creates the directory that will hold `url`, so `--checkpoint runs/x.safetensors` works
/// in a fresh clone, and fails before training rather than after the first epoch.
func prepareOutput(_ url: URL, option: String) throws {
    let directory = url.deletingLastPathComponent()
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw CLIError("\(option) \(url.path): is a directory, expected a file name")
    }
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw CLIError("\(option) \(url.path): cannot create the directory \(directory.path): \(error.localizedDescription)")
    }
    guard access(directory.path, W_OK) == 0 else {
        throw CLIError("\(option) \(url.path): the directory \(directory.path) is not writable")
    }
}
