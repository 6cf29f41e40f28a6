import ArgumentParser
import Foundation
import NN

/// `nn eval`: the test accuracy of a saved model.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Print the test accuracy, per-class accuracy and confusion matrix of a checkpoint.",
        discussion: "The model is rebuilt from the checkpoint's metadata and its inputs standardized "
            + "with the statistics stored in it."
    )

    @Option(help: "A checkpoint written by nn train --checkpoint.")
    var checkpoint: String

    @Option(help: "Directory with the Fashion-MNIST IDX files (gzip or raw).")
    var data: String = FashionMNIST.defaultDirectory

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if checkpoint.isEmpty { throw ValidationError("--checkpoint needs a file name") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let trained = try TrainedCheckpoint(path: checkpoint)
        let network = try trained.loadModel()
        let test = try FashionMNIST.load(.test, directory: data).standardized(with: trained.statistics)
        let modelName = trained.modelName
        let epochs = trained.file.metadata["epochs_completed"].map { ", \($0) epochs" } ?? ""
        print("nn eval: \(checkpoint): \(modelName.rawValue) (\(modelName.workload), \(network.parameterCount) parameters\(epochs))")
        printResult(Trainer.evaluate(network, on: test))
    }
}
