import ArgumentParser
import Foundation
import NN

/// The tasks `--task` accepts (LearningTask's names).
enum TaskName: String, CaseIterable, ExpressibleByArgument {
    case classification, binary, multilabel, regression

    var task: LearningTask { LearningTask(rawValue: rawValue)! }
}

/// The tabular recipe: the issue's protocol (Adam 1e-3, batch 32, 100 epochs, MLP 64-64).
let tabularDefaults = Recipe(epochs: 100, batchSize: 32, optimizer: .adam, learningRate: 1e-3, weightDecay: 0, schedule: .none)

extension TrainCommand {
    /// `nn train --data FILE`: an MLP (or linear model) on a table, or k-fold
    /// cross-validation of it with `--folds`.
    func runTabular(saved: [String: String], communicator: any Communicator) throws {
        let leader = communicator.isLeader
        if model != nil { throw CLIError("--model names a Fashion-MNIST network; for tabular --data, shape the MLP with --hidden") }
        if augment || cropPadding != nil {
            throw CLIError("--augment and --crop-padding apply to Fashion-MNIST images, not tabular --data")
        }
        if let folds {
            for (option, given) in [("--checkpoint", checkpoint != nil), ("--resume", resume != nil), ("--log", log != nil),
                                    ("--plot", plot != nil), ("--val-split", valSplit != nil)] where given {
                throw CLIError("\(option) does not combine with --folds \(folds): cross-validation trains \(folds) models and keeps none")
            }
        }
        func stored<T>(_ key: String, _ parse: (String) -> T?) throws -> T? { try storedValue(saved, key, parse) }
        guard let dataPath = data ?? saved["tabular.data"] else { throw CLIError("--data is required") }
        if !isTabularPath(dataPath) { throw CLIError("\(resume ?? ""): holds a tabular model; --data \(dataPath) is a directory, not a data file") }
        let source = try TabularSource(data: dataPath, options: tabular, stored: saved)

        // Data and task.
        let table = try TabularData.read(source, targetRequired: true)
        let storedTask = try stored("task", LearningTask.init(rawValue:))
        var (targets, learningTask, reason) = try tabularTargets(table.target!, task: task?.task ?? storedTask)
        if let storedTask {
            guard learningTask == storedTask else {
                throw CLIError("\(resume!) holds a \(storedTask.rawValue) model; this run's task is \(learningTask.rawValue)")
            }
            reason = "the checkpoint's"
        }
        var all = Dataset(features: table.features, featureShape: table.featureShape, targets: targets,
                          featureNames: table.featureNames.count == table.featureShape.reduce(1, *) ? table.featureNames : [])
        let limit = try self.limit ?? stored("recipe.limit", { Int($0) })
        if let limit, limit < all.count { all = all.subset(Array(0..<limit)) }
        targets = all.targets

        let hidden = try self.hidden.map(TabularNetwork.parseHidden) ?? stored("tabular.hidden", { try? TabularNetwork.parseHidden($0) }) ?? [64, 64]
        let dropout = try self.dropout ?? stored("tabular.dropout", { Float($0) }) ?? 0
        let batchNorm = try self.batchNorm || (stored("tabular.batch_norm", { Bool($0) }) ?? false)
        if syncBatchNorm && !batchNorm { throw CLIError("--sync-batch-norm needs a network with --batch-norm") }
        let network = TabularNetwork(inputShape: all.featureShape, outputs: outputCount(task: learningTask, targets: targets),
                                     hidden: hidden, dropout: dropout, batchNorm: batchNorm)
        if let resume, saved["model_name"] != nil {
            let savedNetwork = try TabularNetwork(metadata: saved, path: resume)
            guard savedNetwork == network else {
                throw CLIError("\(resume) holds a \(savedNetwork.summary); these options and data make a \(network.summary)")
            }
            if let names = try Checkpoint.classNames(in: SafeTensorsFile(metadata: saved, tensors: [:]), path: resume),
               let current = all.classNames, names != current {
                throw CLIError("\(resume) was trained on classes \(columnList(names)); \(dataPath) has \(columnList(current))")
            }
        }

        let recipe = try resolvedRecipe(base: tabularDefaults, saved: saved)
        let seed = try self.seed ?? stored("recipe.seed", { UInt64($0) }) ?? 1
        let valSplit = try self.valSplit ?? stored("recipe.val_split", { Double($0) }) ?? 0
        let isClasses = all.labels != nil
        let rawTargets = try self.rawTargets || (stored("recipe.raw_targets", { Bool($0) }) ?? false)
        if rawTargets && learningTask != .regression { throw CLIError("--raw-targets applies to regression, not \(learningTask.rawValue)") }
        let scalesTargets = learningTask == .regression && !rawTargets

        let header = "\(network.summary), \(learningTask.rawValue) (\(reason)), \(recipe.optimizer.summary), lr \(recipe.learningRate), "
            + "weight decay \(recipe.weightDecay), batch \(recipe.batchSize), \(recipe.epochs) epochs, "
            + (recipe.schedule == .none ? "" : "schedule \(recipe.schedule.rawValue), ")
            + "seed \(seed), \(Threads.count) threads"
        let rows = "\(all.count) rows x \(all.featureSize) features from \(dataPath)"
            + (source.targetsFile.map { " (targets: \($0))" } ?? "")
            + (table.droppedRows > 0 ? ", \(table.droppedRows) invalid rows dropped" : "")

        if let folds {
            guard folds <= all.count else { throw CLIError("--folds \(folds) is more than the \(all.count) rows of \(dataPath)") }
            print("nn train: \(folds)-fold cross-validation\(isClasses ? " (stratified)" : ""), " + header
                  + ranksSummary(communicator, batchSize: recipe.batchSize))
            print("data: " + rows + "; features standardized on each training fold"
                  + (scalesTargets ? ", targets too" : ""))
            var plan = CrossValidation(folds: folds, stratified: isClasses, seed: seed, standardizesTargets: scalesTargets)
            plan.communicator = communicator
            plan.makeSchedule = recipe.schedule == .none
                ? nil : { recipe.schedule.make(learningRate: recipe.learningRate, epochs: recipe.epochs)! }
            let result = try plan
                .run(all, task: learningTask, epochs: recipe.epochs, batchSize: recipe.batchSize,
                     // A seed of its own per (seed, fold), as the fold's trainer has (build mixes it
                     // into a stream of its own): fold f of seed s must not start from fold f+1 of seed s-1's weights.
                     makeModel: { network.build(seed: plan.trainerSeed(fold: $0)) },
                     makeOptimizer: { recipe.optimizer.make($0, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay) })
            print(result.report)
            let metric = primaryMetric(learningTask)
            print(String(format: "cross-validation %@: %.4f ± %.4f (mean ± std over %d folds)", metric,
                         result.mean(metric), result.standardDeviation(metric), folds))
            return
        }

        // Outputs first: a bad path should fail now, not after the first epoch.
        let checkpointURL = checkpoint.map { URL(fileURLWithPath: $0) }
        let logURL = log.map { URL(fileURLWithPath: $0) }
        let plotURL = plot.map { URL(fileURLWithPath: $0) }
        for (option, url) in [("--checkpoint", checkpointURL), ("--log", logURL), ("--plot", plotURL)] {
            if let url, leader { try prepareOutput(url, option: option) }
        }

        // The split and every statistic come from the training part only.
        var training = all, validation: Dataset?
        if valSplit > 0 {
            var generator = RandomGenerator(seed: seed ^ 0x5B17_5EED)
            let parts = all.split(validationFraction: valSplit, stratified: isClasses, using: &generator)
            (training, validation) = (parts.train, parts.validation.count > 0 ? parts.validation : nil)
        }
        guard training.count > 0 else { throw CLIError("--val-split \(valSplit) of \(all.count) rows leaves none to train on") }
        let statistics = resume == nil ? training.statistics() : try storedStatistics(saved, path: resume!)
        guard statistics.mean.count == training.featureSize else {
            throw CLIError("\(resume!): its statistics cover \(statistics.mean.count) features; \(dataPath) has \(training.featureSize)")
        }
        training.standardize(with: statistics)
        validation?.standardize(with: statistics)
        // Regression targets are standardized for training too (stored, mapped back for scoring).
        var targetStatistics: Standardization?
        var fitTraining = training, fitValidation = validation
        if scalesTargets {
            targetStatistics = resume == nil ? valueStatistics(training.targets)
                : Checkpoint.targetStandardization(in: SafeTensorsFile(metadata: saved, tensors: [:]))
            if let t = targetStatistics {
                fitTraining = withTargets(training, standardized: t)
                fitValidation = validation.map { withTargets($0, standardized: t) }
            }
        }

        let model = network.build(seed: seed)
        let optimizer = recipe.optimizer.make(model.parameters, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay)
        let trainer = Trainer(model: model, optimizer: optimizer, task: learningTask, seed: seed)
        trainOver(communicator, trainer: trainer, model: model)
        trainer.schedule = recipe.schedule.make(learningRate: recipe.learningRate, epochs: recipe.epochs)
        if let resume {
            try Checkpoint.resume(from: URL(fileURLWithPath: resume), trainer: trainer)
            if let closedForm = trainer.schedule as? ClosedFormSchedule {
                optimizer.learningRate = closedForm.learningRate(atEpoch: closedForm.epoch)
            }
        }

        var metadata = network.metadata.merging(source.metadata) { $1 }
            .merging(Checkpoint.datasetMetadata(task: learningTask, data: training, targetStandardization: targetStatistics)) { $1 }
        metadata.merge([
            "recipe.epochs": String(recipe.epochs), "recipe.batch_size": String(recipe.batchSize),
            "recipe.optimizer": recipe.optimizer.rawValue, "recipe.learning_rate": "\(recipe.learningRate)",
            "recipe.weight_decay": "\(recipe.weightDecay)", "recipe.schedule": recipe.schedule.rawValue,
            "recipe.seed": String(seed), "recipe.val_split": "\(valSplit)", "recipe.raw_targets": String(rawTargets),
        ]) { $1 }
        if let limit { metadata["recipe.limit"] = String(limit) }
        if let columns = table.sourceColumns { metadata["tabular.source_columns"] = String(columns) }
        metadata["tabular.target_names"] = TabularSource.encodeList(table.target!.columnNames)
        let title = "\(network.summary), \(learningTask.rawValue): \(recipe.optimizer.summary), lr \(recipe.learningRate), batch \(recipe.batchSize)"
        let recorder = RunRecorder(checkpoint: checkpointURL, log: logURL, plot: plotURL, standardization: statistics,
                                   metadata: metadata, title: title, plotMetric: primaryMetric(learningTask))
        trainer.callbacks = leader ? [recorder] : []

        print("nn train: \(network.summary) (\(model.parameterCount) parameters), \(learningTask.rawValue) (\(reason)), "
              + "\(recipe.optimizer.summary), lr \(recipe.learningRate), weight decay \(recipe.weightDecay), batch \(recipe.batchSize), "
              + "schedule \(recipe.schedule.rawValue), seed \(seed), \(Threads.count) threads"
              + ranksSummary(communicator, batchSize: recipe.batchSize))
        print("data: " + rows + "; \(training.count) training, \(validation?.count ?? 0) validation"
              + (scalesTargets ? "; features and targets standardized on the training rows" : "; features standardized on the training rows"))
        if trainer.epochsCompleted > 0 { print("resuming \(resume!) after epoch \(trainer.epochsCompleted) of \(recipe.epochs)") }
        var trained = false
        if trainer.epochsCompleted >= recipe.epochs {
            print("nothing to train: the checkpoint has \(trainer.epochsCompleted) epochs, --epochs is \(recipe.epochs)")
        } else {
            trained = true
            try trainer.fit(fitTraining, validation: fitValidation, epochs: recipe.epochs, batchSize: recipe.batchSize)
        }
        // The other ranks are done: their weights are rank 0's.
        guard leader else { return }
        try recorder.record(trainer)
        if trained { printAllReducePath(trainer, ranks: communicator.size) }

        let outputs = network.outputs
        printTabularResult(tabularEvaluation(model, training, task: learningTask, outputs: outputs, targetStatistics: targetStatistics),
                           part: "training", detail: false)
        if let validation {
            printTabularResult(tabularEvaluation(model, validation, task: learningTask, outputs: outputs, targetStatistics: targetStatistics),
                               part: "validation", detail: true)
        }
        if let checkpoint { print("checkpoint: \(checkpoint)") }
        if let log { print("log: \(log)") }
        if let plot { print("plot: \(plot)") }
    }
}

/// The figure a task is judged by: accuracy, exact match, or R².
func primaryMetric(_ task: LearningTask) -> String {
    switch task {
    case .classification, .binary: return "accuracy"
    case .multiLabel: return "exact_match"
    case .regression: return "r2"
    }
}

/// Mean and population std of each regression output (nil for other targets).
func valueStatistics(_ targets: Targets) -> Standardization? {
    guard case .values(let values, let shape) = targets else { return nil }
    let size = shape.reduce(1, *)
    return Dataset(features: values, featureShape: [size], targets: .values(values, shape: shape)).statistics()
}

/// `data` with its regression targets standardized by `t`.
func withTargets(_ data: Dataset, standardized t: Standardization) -> Dataset {
    guard case .values(let values, let shape) = data.targets else { return data }
    let size = shape.reduce(1, *)
    let scaled = values.enumerated().map { ($0.element - t.mean[$0.offset % size]) / t.std[$0.offset % size] }
    return Dataset(features: data.features, featureShape: data.featureShape, targets: .values(scaled, shape: shape),
                   featureNames: data.featureNames, standardization: data.standardization)
}

/// The task's loss and metrics of `model` on `data` (features standardized, targets as in
/// the file): regression predictions are mapped back to target units first, the loss is
/// then their MSE. The very outputs `nn predict` writes.
func tabularEvaluation(_ model: any Layer, _ data: Dataset, task: LearningTask, outputs: Int,
                       targetStatistics: Standardization?) -> TaskEvaluation {
    guard task == .regression, case .values(let targets, _) = data.targets else {
        return Trainer.evaluate(model, on: data, task: task)
    }
    let values = readOutputs(Trainer.predict(model, on: data).scalars, task: task, outputs: outputs, targetStatistics: targetStatistics)
    var evaluation = task.evaluate(predictions: values, outputs: outputs, targets: targets)
    evaluation.loss = evaluation.metrics["mse"] ?? .nan
    return evaluation
}

/// `part loss: ...` and one line per metric; classification adds the count of right
/// answers, and with `detail` the per-class accuracy and confusion matrix.
func printTabularResult(_ e: TaskEvaluation, part: String, detail: Bool) {
    print(String(format: "%@ loss: %.6f", part, e.loss))
    for name in e.task.metricNames {
        var line = String(format: "%@ %@: %.6f", part, name, e.metrics[name] ?? .nan)
        if name == "accuracy", !e.confusion.isEmpty {
            let total = e.confusion.reduce(0) { $0 + $1.reduce(0, +) }
            let right = e.confusion.indices.reduce(0) { $0 + e.confusion[$1][$1] }
            line += " (\(right) of \(total))"
        }
        print(line)
    }
    if detail, e.task == .classification || e.task == .binary, e.confusion.count <= 20 {
        print(Evaluation(loss: e.loss, confusion: e.confusion, classNames: e.classNames).report)
    }
    if detail, e.task == .multiLabel {
        for (name, f1) in zip(e.classNames, e.perLabelF1) { print(String(format: "  %@: F1 %.4f", name, f1)) }
    }
}
