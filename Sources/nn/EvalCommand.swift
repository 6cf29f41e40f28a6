import ArgumentParser
import Foundation
import NN

/// `nn eval`: the test accuracy of a saved model, or a tabular model's metrics on a data file.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Print the loss and metrics of a checkpoint on a dataset of its kind (accuracy, per-class accuracy and confusion matrix for classes).",
        discussion: "The model is rebuilt from the checkpoint's metadata and its inputs standardized "
            + "with the statistics stored in it. A Fashion-MNIST checkpoint is scored on the test set of --data "
            + "(a directory of IDX files); a tabular one on --data FILE (default: the file it was trained on), read "
            + "with the options it was trained with unless given again (--skip-lines only for that same file); "
            + "classes are matched by the names stored in the checkpoint."
    )

    @Option(help: "A checkpoint written by nn train --checkpoint.")
    var checkpoint: String

    @Option(help: "The directory of the Fashion-MNIST IDX files (default: \(FashionMNIST.defaultDirectory)), or for a tabular checkpoint a data file with the target.")
    var data: String?

    @OptionGroup(title: "Tabular data")
    var tabular: TabularOptions

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if checkpoint.isEmpty { throw ValidationError("--checkpoint needs a file name") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let file = try SafeTensorsFile.read(from: URL(fileURLWithPath: checkpoint))
        if TabularCheckpoint.isTabular(file.metadata) { return try runTabular(file) }
        let trained = try TrainedCheckpoint(path: checkpoint, file: file)
        if let data, isTabularPath(data) {
            throw CLIError("\(checkpoint) holds a Fashion-MNIST \(trained.modelName.rawValue) model; --data must be the directory "
                           + "of Fashion-MNIST's IDX files, not the file \(data)")
        }
        if tabular.isUsed { throw CLIError("--target, --targets and the CSV options apply to tabular checkpoints; \(checkpoint) is a Fashion-MNIST one") }
        let network = try trained.loadModel()
        let test = try FashionMNIST.load(.test, directory: data ?? FashionMNIST.defaultDirectory).standardized(with: trained.statistics)
        let modelName = trained.modelName
        let epochs = trained.file.metadata["epochs_completed"].map { ", \($0) epochs" } ?? ""
        print("nn eval: \(checkpoint): \(modelName.rawValue) (\(modelName.workload), \(network.parameterCount) parameters\(epochs))")
        printResult(Trainer.evaluate(network, on: test))
    }

    /// A tabular checkpoint on a data file holding the target: the task's loss and metrics.
    func runTabular(_ file: SafeTensorsFile) throws {
        let trained = try TabularCheckpoint(path: checkpoint, file: file)
        guard let dataPath = data ?? file.metadata["tabular.data"] else { throw CLIError("--data is required") }
        if !isTabularPath(dataPath) {
            throw CLIError("\(checkpoint) holds a tabular model; --data \(dataPath) is a directory, not a data file of its kind")
        }
        let source = try TabularSource(data: dataPath, options: tabular, stored: file.metadata)
        let (dataset, _, dropped) = try trained.dataset(source, targetRequired: true)
        let model = try trained.loadModel()
        let epochs = file.metadata["epochs_completed"].map { ", \($0) epochs" } ?? ""
        print("nn eval: \(checkpoint): \(trained.network.summary) (\(model.parameterCount) parameters\(epochs)), "
              + "\(trained.task.rawValue), on \(dataset.count) rows of \(dataPath)" + (dropped > 0 ? " (\(dropped) invalid rows dropped)" : ""))
        printTabularResult(tabularEvaluation(model, dataset, task: trained.task, outputs: trained.network.outputs,
                                             targetStatistics: trained.targetStatistics), part: "test", detail: true)
    }
}
