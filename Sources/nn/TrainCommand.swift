import ArgumentParser
import Foundation
import NN

/// `nn train`: trains one of NN's `Models` on Fashion-MNIST and prints its test accuracy,
/// or an MLP on a tabular file (`--data FILE`, see TabularTrain.swift).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a built-in model on Fashion-MNIST, or an MLP on a CSV or NumPy file.",
        discussion: """
            Fashion-MNIST (--model): mlp and cnn train with Adam, lr 1e-3, batch 64 \
            (10 and 5 epochs); resnet with SGD + Nesterov momentum 0.9, lr 0.1, weight decay 5e-4, \
            a cosine schedule, batch 128, 15 epochs. Pixels are standardized with the training \
            set's mean and standard deviation, which the checkpoint stores.

            Tabular data (--data FILE.csv|.csv.gz|.npz|.npy --target COLUMN): an MLP, 64-64 by \
            default (--hidden none: one Dense layer, i.e. logistic or linear regression), Adam, \
            lr 1e-3, batch 32, 100 epochs. The task is inferred from the target unless --task \
            says it (text or at most 20 distinct integers: classification; several 0/1 columns: \
            multilabel; other numbers: regression). Features are standardized with the training \
            rows' statistics, regression targets too unless --raw-targets (predictions are \
            mapped back; the epoch line's mse is in standardized units, R² is the same in both); \
            the checkpoint stores them with the task and class names for nn eval and nn predict. \
            --folds K runs stratified k-fold cross-validation of the same recipe instead.

            With --resume, every option not given is taken from the checkpoint, and --epochs is \
            the total to reach.
            """
    )

    @Option(help: "The network: mlp, cnn or resnet (with --resume: the checkpoint's).")
    var model: ModelName?

    @Option(help: "Epochs to train in all (default: 10 mlp, 5 cnn, 15 resnet).")
    var epochs: Int?

    @Option(help: "Images per minibatch (default: 64, resnet 128).")
    var batchSize: Int?

    @Option(help: "The optimizer; momentum and nesterov use 0.9 (default: the model's recipe).")
    var optimizer: OptimizerName?

    @Option(name: .customLong("lr"), help: "The (initial) learning rate.")
    var learningRate: Float?

    @Option(help: "L2 weight decay (decoupled for adamw).")
    var weightDecay: Float?

    @Option(help: ArgumentHelp("The learning-rate schedule, stepped after each epoch (default: none; resnet cosine).",
                               discussion: "step divides the rate by 10 after a third and two thirds of the epochs; "
                                   + "exponential decays it to 5% by the last epoch; cosine anneals it to 0; plateau "
                                   + "divides it by 5 after 2 epochs without a better (validation, else training) loss; "
                                   + "warmup-cosine warms up linearly from 10% over the first epochs (2 at most), then anneals."))
    var schedule: ScheduleName?

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Seed of the initial weights, the data order, augmentation and dropout (default: 1).")
    var seed: UInt64?

    @Option(help: "The directory of the Fashion-MNIST IDX files (gzip or raw; default: \(FashionMNIST.defaultDirectory)), or a tabular .csv, .csv.gz, .npz or .npy file.")
    var data: String?

    @OptionGroup(title: "Tabular data")
    var tabular: TabularOptions

    @Option(help: "Tabular data: the task (default: inferred from the target).")
    var task: TaskName?

    @Option(help: "Tabular data: hidden layer widths, e.g. 128,64; none (or 0) for a linear model (default: 64,64).")
    var hidden: String?

    @Option(help: "Tabular data: dropout probability after each hidden layer (default: 0).")
    var dropout: Float?

    @Flag(help: "Tabular data: batch norm after each hidden Dense layer.")
    var batchNorm = false

    @Flag(help: "Tabular regression: train on the targets in their own units instead of standardized ones.")
    var rawTargets = false

    @Option(help: "Tabular data: k-fold cross-validation of the recipe, on scikit-learn's folds for --seed (StratifiedKFold for classes, else KFold; shuffle=True, random_state=seed): each fold's figures, then mean ± std.")
    var folds: Int?

    @Option(help: "Fraction of the training images held out for validation, in [0, 1) (default: 0).")
    var valSplit: Double?

    @Option(help: "Train on the first N training images only.")
    var limit: Int?

    @Flag(help: "Random horizontal flips and crops (see --crop-padding) of the training images.")
    var augment = false

    @Option(help: "With --augment: pad each side by this many pixels, then crop back to 28x28 at random; 0 flips only (default: 2).")
    var cropPadding: Int?

    @Option(help: "Save the model and training state here after every epoch (safetensors, written atomically).")
    var checkpoint: String?

    @Option(help: "Continue the run saved in this checkpoint.")
    var resume: String?

    @Option(help: "Write the per-epoch figures here as CSV.")
    var log: String?

    @Option(help: "Draw the training curves (loss and accuracy per epoch) into this SVG file.")
    var plot: String?

    @Flag(help: "Under mpirun: batch norm over all ranks' samples (N ranks x batch B compute what one process does with N*B).")
    var syncBatchNorm = false

    @Option(help: "Under mpirun: seconds a collective may wait for the other ranks before the job is aborted (default: 300).")
    var collectiveTimeout: Double?

    @Flag(inversion: .prefixedNo, help: "Under mpirun: all-reduce gradients during backward (default: only when the ranks span several nodes).")
    var overlapAllReduce: Bool?

    @Flag(inversion: .prefixedNo, help: "Under mpirun on one machine: keep the gradients in memory all ranks map and sum them there, not through MPI (default: on).")
    var sharedMemoryAllReduce = true

    func validate() throws {
        let tabularData = data.map(isTabularPath) ?? false
        if model == nil && resume == nil && !tabularData {
            throw ValidationError("--model is required (mlp, cnn or resnet) unless --resume is given or --data names a tabular file")
        }
        if let hidden { _ = try TabularNetwork.parseHidden(hidden) }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
        if let folds, folds < 2 { throw ValidationError("--folds must be at least 2, got \(folds)") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--lr must be a positive number, got \(learningRate)")
        }
        if let weightDecay, !(weightDecay >= 0 && weightDecay.isFinite) {
            throw ValidationError("--weight-decay must be zero or positive, got \(weightDecay)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let valSplit, !(valSplit >= 0 && valSplit < 1) {
            throw ValidationError("--val-split must be in [0, 1), got \(valSplit)")
        }
        if let collectiveTimeout, !(collectiveTimeout > 0 && collectiveTimeout.isFinite) {
            throw ValidationError("--collective-timeout must be a positive number of seconds, got \(collectiveTimeout)")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let cropPadding, !(0...8).contains(cropPadding) {
            throw ValidationError("--crop-padding must be in 0...8, got \(cropPadding)")
        }
        for (option, value) in [("--checkpoint", checkpoint), ("--resume", resume), ("--log", log), ("--plot", plot)] {
            if let value, value.isEmpty { throw ValidationError("\(option) needs a file name") }
        }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let communicator: any Communicator = Main.job ?? SingleProcessCommunicator()
        if let collectiveTimeout { Main.job?.timeout = collectiveTimeout }
        // Only rank 0 writes files; every rank reads (the resume checkpoint, the data).
        let leader = communicator.isLeader

        // What a resumed run continues: its checkpoint's recipe fills every option not given.
        let resumeURL = resume.map { URL(fileURLWithPath: $0) }
        let saved = try resumeURL.map { try SafeTensorsFile.read(from: $0).metadata } ?? [:]
        if TabularCheckpoint.isTabular(saved) || (resume == nil && data.map(isTabularPath) == true) {
            return try runTabular(saved: saved, communicator: communicator)
        }
        if let data, isTabularPath(data) {
            throw CLIError("\(resume!) holds a Fashion-MNIST model; --data must be the directory of its IDX files, not \(data)")
        }
        if tabular.isUsed || task != nil || hidden != nil || dropout != nil || batchNorm || folds != nil || rawTargets {
            throw CLIError("--target, --task, --hidden, --dropout, --batch-norm, --raw-targets, --folds and the CSV options need tabular --data FILE")
        }
        let data = self.data ?? FashionMNIST.defaultDirectory
        let modelName: ModelName
        if let resume {
            guard let stored = ModelName.of(checkpoint: saved) else {
                throw CLIError("\(resume): not a checkpoint of nn train (no model_name in its metadata)")
            }
            if let model, model != stored {
                throw CLIError("\(resume) holds a \(stored.rawValue) model, not --model \(model.rawValue)")
            }
            modelName = stored
        } else {
            modelName = model!
        }
        func stored<T>(_ key: String, _ parse: (String) -> T?) throws -> T? {
            try storedValue(saved, "recipe." + key, parse)
        }
        let recipe = try resolvedRecipe(base: modelName.defaults, saved: saved)
        let seed = try self.seed ?? stored("seed", { UInt64($0) }) ?? 1
        let valSplit = try self.valSplit ?? stored("val_split", { Double($0) }) ?? 0
        let limit = try self.limit ?? stored("limit", { Int($0) })
        let augment = try self.augment || (stored("augment", { Bool($0) }) ?? false)
        let cropPadding = try self.cropPadding ?? stored("crop_padding", { Int($0) }) ?? 2

        // Outputs first: a bad path should fail now, not after the first epoch.
        let checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) }
        let logURL = log.map { URL(fileURLWithPath: $0) }
        let plotURL = plot.map { URL(fileURLWithPath: $0) }
        for (option, url) in [("--checkpoint", checkpointURL), ("--log", logURL), ("--plot", plotURL)] {
            if let url, leader { try prepareOutput(url, option: option) }
        }

        // Data: the split and the statistics come from the training images only.
        // --limit cuts the bytes: the images past it are never expanded to floats.
        let trainingFiles = try FashionMNIST.read(.train, directory: data)
        var training = (limit.map { trainingFiles.prefix($0) } ?? trainingFiles).imageDataset()
        // Read (and so checked) now, expanded to floats only once training is done.
        let testFiles = try FashionMNIST.read(.test, directory: data)
        let available = training.count
        var validation: ImageDataset?
        if valSplit > 0 {
            var splitGenerator = RandomGenerator(seed: seed ^ 0x5B17_5EED)
            let parts = training.split(validationFraction: valSplit, using: &splitGenerator)
            (training, validation) = (parts.train, parts.validation)
            if validation?.count == 0 { validation = nil }
        }
        guard training.count > 0 else {
            throw CLIError("--val-split \(valSplit) of \(available) training images leaves none to train on")
        }
        let statistics = resumeURL == nil ? training.statistics() : try storedStatistics(saved, path: resume!)
        training.standardize(with: statistics)
        validation?.standardize(with: statistics)

        let network = modelName.build(seed: seed)
        let optimizer = recipe.optimizer.make(network.parameters, learningRate: recipe.learningRate,
                                              weightDecay: recipe.weightDecay)
        let trainer = Trainer(model: network, optimizer: optimizer, seed: seed)
        trainOver(communicator, trainer: trainer, model: network)
        trainer.schedule = recipe.schedule.make(learningRate: recipe.learningRate, epochs: recipe.epochs)
        if let resumeURL {
            try Checkpoint.resume(from: resumeURL, trainer: trainer)
            // The checkpoint holds the rate its own schedule chose; with a new --epochs a
            // closed-form schedule (cosine's period, step's steps) gives another one.
            if let closedForm = trainer.schedule as? ClosedFormSchedule {
                optimizer.learningRate = closedForm.learningRate(atEpoch: closedForm.epoch)
            }
        }

        let metadata: [String: String] = [
            "model_name": modelName.rawValue,
            "recipe.epochs": String(recipe.epochs),
            "recipe.batch_size": String(recipe.batchSize),
            "recipe.optimizer": recipe.optimizer.rawValue,
            "recipe.learning_rate": "\(recipe.learningRate)",
            "recipe.weight_decay": "\(recipe.weightDecay)",
            "recipe.schedule": recipe.schedule.rawValue,
            "recipe.seed": String(seed),
            "recipe.val_split": "\(valSplit)",
            "recipe.augment": String(augment),
            "recipe.crop_padding": String(cropPadding),
        ].merging(limit.map { ["recipe.limit": String($0)] } ?? [:]) { $1 }
        let title = "\(modelName.rawValue) (\(modelName.workload)): \(recipe.optimizer.summary), lr \(recipe.learningRate), "
            + "batch \(recipe.batchSize)" + (recipe.schedule == .none ? "" : ", \(recipe.schedule.rawValue) schedule")
            + (augment ? (cropPadding > 0 ? ", flip + crop \(cropPadding)" : ", flip") : "")
        let recorder = RunRecorder(checkpoint: checkpointURL, log: logURL, plot: plotURL, standardization: statistics,
                                   metadata: metadata, title: title)
        trainer.callbacks = leader ? [recorder] : []

        print("nn train: \(modelName.rawValue) (\(modelName.workload), \(network.parameterCount) parameters), "
              + "\(recipe.optimizer.summary), lr \(recipe.learningRate), weight decay \(recipe.weightDecay), "
              + "batch \(recipe.batchSize), schedule \(recipe.schedule.rawValue), augmentation \(augment ? (cropPadding > 0 ? "flip + crop pad \(cropPadding)" : "flip") : "off"), "
              + "seed \(seed), \(Threads.count) threads"
              + ranksSummary(communicator, batchSize: recipe.batchSize))
        print("data: \(training.count) training, \(validation?.count ?? 0) validation, \(testFiles.count) test images from \(data)")
        if trainer.epochsCompleted > 0 {
            print("resuming \(resume!) after epoch \(trainer.epochsCompleted) of \(recipe.epochs)")
        }
        var trained = false
        if trainer.epochsCompleted >= recipe.epochs {
            print("nothing to train: the checkpoint has \(trainer.epochsCompleted) epochs, --epochs is \(recipe.epochs)")
        } else {
            trained = true
            try trainer.fit(training, validation: validation, epochs: recipe.epochs, batchSize: recipe.batchSize,
                            augmentation: augment ? Augmentation(horizontalFlip: true, cropPadding: cropPadding) : nil)
        }
        // The other ranks are done: their weights are rank 0's.
        guard leader else { return }
        // Once more at the end: the outputs then match the final state even after an early stop.
        try recorder.record(trainer)
        if trained { printAllReducePath(trainer, ranks: communicator.size) }

        // W2's training images are 188 MB as floats: gone before the test set's 31 MB arrive
        // (nn train --model cnn peaked at 297 MB holding both, at 272 MB this way).
        (training, validation) = (training.prefix(0), nil)
        let evaluation = trainer.evaluate(testFiles.imageDataset().standardized(with: statistics))
        printResult(evaluation)
        if let checkpoint { print("checkpoint: \(checkpoint)") }
        if let log { print("log: \(log)") }
        if let plot { print("plot: \(plot)") }
    }
}

/// A checkpoint of `nn train`, read once: the model its metadata names and the
/// standardization its inputs need (for `eval` and `predict`).
struct TrainedCheckpoint {
    let path: String
    let file: SafeTensorsFile
    let modelName: ModelName
    let statistics: Standardization

    init(path: String, file: SafeTensorsFile? = nil) throws {
        self.path = path
        self.file = try file ?? SafeTensorsFile.read(from: URL(fileURLWithPath: path))
        let file = self.file
        guard let modelName = ModelName.of(checkpoint: file.metadata) else {
            throw CLIError("\(path): not a checkpoint of nn train (its metadata names no known model)")
        }
        self.modelName = modelName
        statistics = try storedStatistics(file.metadata, path: path)
    }

    /// A fresh model of the checkpoint's kind holding its weights.
    func loadModel() throws -> Sequential {
        let network = modelName.build(seed: 0)
        try Checkpoint.loadModel(file, path: path, into: network)
        return network
    }
}

/// The standardization a checkpoint was trained with; training on other statistics would
/// silently shift every input the weights have learned.
func storedStatistics(_ metadata: [String: String], path: String) throws -> Standardization {
    let file = SafeTensorsFile(metadata: metadata, tensors: [:])
    guard let statistics = Checkpoint.standardization(in: file) else {
        throw CheckpointError.badMetadataValue(path: path, key: "standardization_mean",
                                               reason: "missing or malformed (expected comma-separated means and positive stds)")
    }
    return statistics
}

/// The closing lines of `train` and `eval`: the accuracy on a line of its own, then the report.
func printResult(_ evaluation: Evaluation) {
    print(String(format: "test loss: %.4f", evaluation.loss))
    print(String(format: "test accuracy: %.4f", evaluation.accuracy))
    print(evaluation.report)
}

extension TrainCommand {
    /// The value a resumed checkpoint's metadata holds under `key` (nil when absent); an
    /// unreadable one is an error naming the checkpoint and the key.
    func storedValue<T>(_ saved: [String: String], _ key: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = saved[key] else { return nil }
        guard let value = parse(text) else {
            throw CheckpointError.badMetadataValue(path: resume ?? "", key: key, reason: "unreadable value \"\(text)\"")
        }
        return value
    }

    /// The run's recipe, part by part: the option as given, else the resumed run's
    /// (`recipe.*` in `saved`), else `base`'s; another optimizer than `base`'s brings its own
    /// default learning rate and weight decay.
    func resolvedRecipe(base: Recipe, saved: [String: String]) throws -> Recipe {
        func stored<T>(_ key: String, _ parse: (String) -> T?) throws -> T? {
            try storedValue(saved, "recipe." + key, parse)
        }
        let optimizerName = try optimizer ?? stored("optimizer", OptimizerName.init(rawValue:)) ?? base.optimizer
        let sameOptimizer = optimizerName == base.optimizer
        return Recipe(
            epochs: try epochs ?? stored("epochs", { Int($0) }) ?? base.epochs,
            batchSize: try batchSize ?? stored("batch_size", { Int($0) }) ?? base.batchSize,
            optimizer: optimizerName,
            learningRate: try learningRate ?? stored("learning_rate", { Float($0) })
                ?? (sameOptimizer ? base.learningRate : optimizerName.defaultLearningRate),
            weightDecay: try weightDecay ?? stored("weight_decay", { Float($0) })
                ?? (sameOptimizer ? base.weightDecay : optimizerName.defaultWeightDecay),
            schedule: try schedule ?? stored("schedule", ScheduleName.init(rawValue:)) ?? base.schedule)
    }
}

extension TrainCommand {
    /// The MPI options applied: `trainer` trains over `communicator`, with `model`'s batch
    /// norm synchronized if asked, and the all-reduce as chosen.
    func trainOver(_ communicator: any Communicator, trainer: Trainer, model: any Layer) {
        trainer.communicator = communicator
        if syncBatchNorm { model.synchronizeBatchNorm(over: communicator) }
        if let overlapAllReduce { trainer.overlapsGradientAllReduce = overlapAllReduce }
        trainer.sharesGradientMemory = sharedMemoryAllReduce
    }

    /// The banner's " x N ranks (batch B per rank...)" with several ranks, else "".
    func ranksSummary(_ communicator: any Communicator, batchSize: Int) -> String {
        communicator.size > 1 ? " x \(communicator.size) ranks (batch \(batchSize) per rank"
            + (syncBatchNorm ? ", synchronized batch norm)" : ")") : ""
    }
}

/// With several ranks, the line saying how the gradients were all-reduced (after a fit).
func printAllReducePath(_ trainer: Trainer, ranks: Int) {
    guard ranks > 1 else { return }
    print("gradients all-reduced " + (trainer.overlapsGradientAllReduce ? "through MPI during backward"
                                      : trainer.gradientBucketsAreShared ? "in shared memory" : "through MPI"))
}
