import Foundation

/// What ended a training run early, or a failure during it.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The loss became NaN or infinite.
    /// `epoch` and `step` count from 1; the step's update was not applied.
    case nonFiniteLoss(epoch: Int, step: Int, value: Float)
    /// A parameter's gradient held NaN or infinity although the loss was finite (an
    /// activation such as ReLU can map a NaN to 0 on the way forward, never on the way back);
    /// `parameter` is its name in the model ("0.weight"); the step's update was not applied.
    case nonFiniteGradient(epoch: Int, step: Int, parameter: String)

    /// A sentence naming the epoch, the step and the value.
    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, step, value):
            return "training stopped: the loss became \(value) at epoch \(epoch), step \(step) "
                + "(try a lower learning rate); checkpoints already written are untouched"
        case let .nonFiniteGradient(epoch, step, parameter):
            return "training stopped: the gradient of \(parameter) became NaN or infinite at epoch \(epoch), "
                + "step \(step) (look for NaN in the data or try a lower learning rate); "
                + "checkpoints already written are untouched"
        }
    }
}

/// The figures of one finished epoch.
public struct EpochMetrics: Sendable, Equatable {
    /// The epoch number, from 1.
    public var epoch: Int
    /// Mean training loss over the epoch's batches (in training mode, as Keras reports).
    public var trainLoss: Double
    /// Training accuracy over the epoch's batches.
    public var trainAccuracy: Double
    /// Mean loss on the validation data, in inference mode (nil without validation data).
    public var validationLoss: Double?
    /// Accuracy on the validation data, in inference mode (nil without validation data).
    public var validationAccuracy: Double?
    /// The learning rate the epoch was trained with.
    public var learningRate: Float
    /// Wall-clock seconds of the training part of the epoch.
    public var seconds: Double
    /// Training throughput.
    public var imagesPerSecond: Double
    /// The task's training metrics by name ("r2", "f1", ...; empty for `fit` on an `ImageDataset`).
    public var metrics: [String: Double] = [:]
    /// The task's validation metrics by name (nil without validation data).
    public var validationMetrics: [String: Double]? = nil

    /// The figure called `name`: "loss", "accuracy", a task metric ("r2"), or any of these
    /// prefixed "val_" for the validation figure; nil when the epoch has none by that name.
    public func value(named name: String) -> Double? {
        if name.hasPrefix("val_") {
            let base = String(name.dropFirst(4))
            if base == "loss" { return validationLoss }
            return validationMetrics?[base] ?? (base == "accuracy" ? validationAccuracy : nil)
        }
        if name == "loss" { return trainLoss }
        return metrics[name] ?? (name == "accuracy" && metrics.isEmpty ? trainAccuracy : nil)
    }

    /// Figures of one epoch (the trainer makes these; tests and custom loops may too).
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double? = nil,
                validationAccuracy: Double? = nil, learningRate: Float, seconds: Double = 0, imagesPerSecond: Double = 0) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

/// Something that runs at the end of each epoch: early stopping, a checkpoint, a log.
///
/// `Trainer.fit` calls `epochEnded` after the epoch's metrics are in `trainer.history` and
/// after the schedule has set the next epoch's learning rate, so a checkpoint written there
/// resumes with the right rate. Every callback runs even when an earlier one asks to stop.
public protocol TrainingCallback: AnyObject {
    /// Runs at the end of each epoch; returning `.stop` ends training after this epoch.
    /// A thrown error ends `fit`, which rethrows it.
    func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision
    /// Runs once when `fit` returns normally (all epochs done, or stopped by a callback);
    /// not when it throws. The default does nothing.
    func trainingEnded(trainer: Trainer) throws
}

extension TrainingCallback {
    /// Does nothing.
    public func trainingEnded(trainer: Trainer) throws {}
}

/// Whether training goes on after a callback.
public enum TrainingDecision: Sendable {
    /// Continue with the next epoch.
    case proceed
    /// End training after this epoch.
    case stop
}

/// Trains a classifier: minibatches reshuffled each epoch, training mode for the updates
/// and inference mode for evaluation, the loss and gradients checked for NaN at every step,
/// callbacks at every epoch end. Everything random (shuffling, augmentation, dropout) comes from seeded
/// generators saved in checkpoints, so a resumed run repeats an uninterrupted one.
public final class Trainer {
    /// The batch `evaluate` and `predict` run in unless told. Inference in the batch the
    /// workloads train in takes no memory that training has not already taken: W2 scored in
    /// batches of 500 peaked 180 MB above its training (`nn train --model cnn`, 475 MB).
    public static let evaluationBatchSize = 64

    /// The network.
    public let model: any Layer
    /// The optimizer over the model's parameters.
    public let optimizer: any Optimizer
    /// The loss of a batch from logits and labels (add penalties here), for `fit` on an
    /// `ImageDataset`; a trainer made with a `task` has the classification loss here.
    public let lossFunction: (Tensor, [Int32]) -> Tensor
    /// What the model learns, for `fit` on a `Dataset`: its metrics, and the default loss.
    public let task: LearningTask
    /// The loss of a batch from predictions and `DataBatch.targets`, for `fit` on a `Dataset`.
    public let loss: (Tensor, Tensor) -> Tensor
    /// The figure `schedule` is stepped with, by name (`EpochMetrics.value(named:)`); nil:
    /// the validation loss, else the training loss.
    public var scheduleMonitor: String?
    /// Sets the learning rate after each epoch.
    public var schedule: (any LearningRateSchedule)?
    /// Run after the schedule at each epoch end, in order.
    public var callbacks: [any TrainingCallback] = []
    /// Whether to draw a progress bar (default: when standard output is a terminal).
    public var showsProgress: Bool = isatty(STDOUT_FILENO) != 0
    /// Whether to print a line per epoch.
    public var printsEpochs = true
    /// Epochs finished so far (restored from a checkpoint when resuming).
    public internal(set) var epochsCompleted = 0
    /// The generator shuffling and augmenting the training batches.
    public var dataGenerator: RandomGenerator
    /// Metrics of every finished epoch.
    public internal(set) var history: [EpochMetrics] = []
    /// The processes training together (see Communicator.swift): with more than one, `fit`
    /// starts from rank 0's weights, each rank trains on its shard of every batch,
    /// gradients and metrics are averaged over ranks, only rank 0 prints, and an error on
    /// any rank ends them all. Every rank then holds the same weights and history.
    public var communicator: any Communicator = SingleProcessCommunicator()
    /// How gradients are grouped into all-reduces (sizes in bytes).
    public var gradientBuckets = GradientBuckets()
    /// With a `BackgroundCommunicator`: all-reduce each gradient bucket during backward as
    /// soon as backward has finished it (true), or all buckets after backward (false). The
    /// weights are the same bits either way with 2 ranks. Unless set, it is what the
    /// communicator prefers (`prefersOverlappedAllReduce`; for `MPICommunicator`: true
    /// when the ranks span several nodes, false on one, where overlapping hid the
    /// all-reduce but made W2's epochs slower, docs/distributed.md).
    public var overlapsGradientAllReduce: Bool {
        get { overlapChoice ?? (communicator as? any BackgroundCommunicator)?.prefersOverlappedAllReduce ?? false }
        set { overlapChoice = newValue }
    }
    /// `overlapsGradientAllReduce` as set, nil for the communicator's preference.
    private var overlapChoice: Bool?
    /// With a `SharedMemoryCommunicator` whose ranks share a node: keep the gradient buckets
    /// in memory every rank maps, so the all-reduce after backward sums the ranks' copies
    /// directly (true, the default), or in this process's own memory, all-reduced through
    /// the transport (false). The same bits either way with 2 ranks.
    public var sharesGradientMemory = true
    /// Whether the last epoch's gradient buckets were in memory the ranks share (false
    /// before the first multi-rank epoch).
    public var gradientBucketsAreShared: Bool { reducer?.reducer.isShared ?? false }
    /// The gradient reducer, kept from epoch to epoch while what it was made for stays
    /// the same: making one re-homes every gradient and, in shared memory, is a collective.
    private var reducer: (key: ReducerKey, reducer: GradientReducer)?
    /// Seconds this thread has spent in, or waiting for, gradient all-reduces since the
    /// trainer was made (what overlapping did not hide; 0 with one rank).
    public internal(set) var gradientAllReduceWaitSeconds = 0.0

    /// A trainer; `seed` fixes the data order and augmentation.
    public init(model: any Layer, optimizer: any Optimizer, seed: UInt64 = 0,
                lossFunction: @escaping (Tensor, [Int32]) -> Tensor = { crossEntropy(logits: $0, labels: $1) }) {
        self.model = model
        self.optimizer = optimizer
        self.lossFunction = lossFunction
        task = .classification
        loss = { lossFunction($0, classLabels($1)) }
        dataGenerator = RandomGenerator(seed: seed)
    }

    /// A trainer for `task`, with the task's default loss unless `loss` is given (a loss
    /// of predictions and `DataBatch.targets`); `seed` fixes the data order and augmentation.
    public init(model: any Layer, optimizer: any Optimizer, task: LearningTask, seed: UInt64 = 0,
                loss: ((Tensor, Tensor) -> Tensor)? = nil) {
        self.model = model
        self.optimizer = optimizer
        self.task = task
        let loss = loss ?? { task.loss($0, $1) }
        self.loss = loss
        lossFunction = { logits, labels in loss(logits, Tensor(labels.map { Float($0) }, shape: [labels.count])) }
        dataGenerator = RandomGenerator(seed: seed)
    }

    /// Trains until `epochs` epochs are completed in all (so a resumed trainer finishes the
    /// remaining ones) or a callback stops it, and returns the metrics of the epochs run by
    /// this call.
    ///
    /// At each epoch end, in order: validation, `history`, the printed line, the schedule
    /// (its monitored metric is the validation loss, else the training loss), then the
    /// callbacks. Throws `TrainingError.nonFiniteLoss` as soon as a batch's loss is NaN or
    /// infinite, and `.nonFiniteGradient` if a parameter's gradient is (both before that
    /// step's update and before any callback of the epoch, so checkpoints already written
    /// stay as they were); rethrows callbacks' errors.
    @discardableResult
    public func fit(_ training: ImageDataset, validation: ImageDataset? = nil, epochs: Int, batchSize: Int,
                    augmentation: Augmentation? = nil) throws -> [EpochMetrics] {
        precondition(epochs >= 1, "fit: epochs must be at least 1, got \(epochs)")
        precondition(batchSize >= 1, "fit: batch size must be at least 1, got \(batchSize)")
        precondition(training.count > 0, "fit: the training set is empty")
        return try onEveryRank {
            try fitEpochs(training, validation: validation, epochs: epochs, batchSize: batchSize, augmentation: augmentation)
        }
    }

    /// Runs either fit's epochs: alone, or with several ranks from rank 0's state (also after
    /// a resume: whatever each rank loaded, rank 0's is the run's), ending every rank if one
    /// throws (the others would wait for it in the next collective).
    private func onEveryRank(_ epochs: () throws -> [EpochMetrics]) throws -> [EpochMetrics] {
        guard communicator.size > 1 else { return try epochs() }
        broadcastModel(from: 0)
        do {
            return try epochs()
        } catch {
            communicator.abort("rank \(communicator.rank) of \(communicator.size): \(error)")
        }
    }

    func fitEpochs(_ training: ImageDataset, validation: ImageDataset?, epochs: Int, batchSize: Int,
                   augmentation: Augmentation?) throws -> [EpochMetrics] {
        try runEpochs(epochs, summaryLine: { Trainer.summaryLine($0, of: epochs) }) { epoch in
            var metrics = try trainEpoch(training, epoch: epoch, of: epochs, batchSize: batchSize, augmentation: augmentation)
            if let validation {
                let evaluation = evaluate(validation, batchSize: batchSize)
                metrics.validationLoss = evaluation.loss
                metrics.validationAccuracy = evaluation.accuracy
            }
            return metrics
        }
    }

    /// The epoch loop both `fit`s share: `epochMetrics(epoch)` trains (and validates) one
    /// epoch; then `history`, the printed line (rank 0 only), the schedule and the callbacks,
    /// until `epochs` are completed or a callback stops; then `trainingEnded`.
    private func runEpochs(_ epochs: Int, summaryLine: (EpochMetrics) -> String,
                           _ epochMetrics: (_ epoch: Int) throws -> EpochMetrics) throws -> [EpochMetrics] {
        var ran: [EpochMetrics] = []
        while epochsCompleted < epochs {
            let epoch = epochsCompleted + 1
            let metrics = try epochMetrics(epoch)
            epochsCompleted = epoch
            history.append(metrics)
            ran.append(metrics)
            if printsEpochs && communicator.isLeader { print(summaryLine(metrics)) }
            if try endEpoch(metrics) { break }
        }
        for callback in callbacks { try callback.trainingEnded(trainer: self) }
        return ran
    }

    /// The schedule step and the callbacks of a finished epoch; true when one asks to stop.
    private func endEpoch(_ metrics: EpochMetrics) throws -> Bool {
        if let schedule {
            let monitored = scheduleMonitor.map { name in
                guard let value = metrics.value(named: name) else {
                    preconditionFailure("Trainer.scheduleMonitor: no metric \"\(name)\" in this epoch")
                }
                return value
            } ?? metrics.validationLoss ?? metrics.trainLoss
            optimizer.learningRate = schedule.step(metric: Float(monitored))
        }
        var stop = false
        for callback in callbacks where try callback.epochEnded(metrics, trainer: self) == .stop { stop = true }
        return stop
    }

    /// Trains on any dataset the trainer's `task` accepts, as `fit` on images does (same
    /// epoch-end order, NaN checks, callbacks, resumability and data parallelism over the
    /// communicator's ranks), reporting the task's metrics in `EpochMetrics.metrics` and
    /// `validationMetrics` (computed over the epoch's predictions in training mode, as Keras
    /// does, all ranks' together, and over the validation set in inference mode).
    @discardableResult
    public func fit(_ training: Dataset, validation: Dataset? = nil, epochs: Int, batchSize: Int,
                    augmentation: Augmentation? = nil) throws -> [EpochMetrics] {
        precondition(epochs >= 1, "fit: epochs must be at least 1, got \(epochs)")
        precondition(batchSize >= 1, "fit: batch size must be at least 1, got \(batchSize)")
        precondition(training.count > 0, "fit: the training set is empty")
        precondition(task.accepts(training.targets), "fit: the \(task.rawValue) task cannot learn these targets")
        if let validation {
            precondition(validation.featureShape == training.featureShape,
                         "fit: validation features \(validation.featureShape) differ from training \(training.featureShape)")
        }
        return try onEveryRank {
            try fitEpochs(training, validation: validation, epochs: epochs, batchSize: batchSize, augmentation: augmentation)
        }
    }

    func fitEpochs(_ training: Dataset, validation: Dataset?, epochs: Int, batchSize: Int,
                   augmentation: Augmentation?) throws -> [EpochMetrics] {
        try runEpochs(epochs, summaryLine: { Trainer.summaryLine($0, of: epochs, task: task) }) { epoch in
            var metrics = try trainEpoch(training, epoch: epoch, of: epochs, batchSize: batchSize, augmentation: augmentation)
            if let validation {
                let evaluation = evaluate(validation, batchSize: batchSize)
                metrics.validationLoss = evaluation.loss
                metrics.validationMetrics = evaluation.metrics
                metrics.validationAccuracy = evaluation.metrics["accuracy"]
            }
            return metrics
        }
    }

    /// One optimization step of either `fit`: forward, the loss checked for NaN, backward,
    /// gradients averaged over ranks (`reducer`) and checked, the update. Returns the
    /// model's output and the loss.
    private func trainStep(_ input: Tensor, epoch: Int, step: Int, parameters: [(name: String, parameter: Parameter)],
                           reducer: GradientReducer?, loss: (Tensor) -> Tensor) throws -> (output: Tensor, loss: Float) {
        optimizer.zeroGradients()
        let output = model(input)
        let batchLoss = loss(output)
        let value = batchLoss.scalar
        guard value.isFinite else { throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, value: value) }
        if let reducer, overlapsGradientAllReduce, let background = communicator as? any BackgroundCommunicator {
            reducer.beginStep(over: background)
            batchLoss.backward(seed: Tensor(ones: batchLoss.shape), leafGradientFinal: reducer.gradientFinal,
                               afterPullback: reducer.progress)
            reducer.finishStep()
        } else {
            batchLoss.backward()
            reducer?.average(over: communicator)
        }
        // The loss alone misses a NaN that ReLU turned into 0 on the way forward, while
        // the batch-norm and weight gradients behind it are NaN: one such update would
        // leave NaN weights and a finite loss for the rest of the run.
        if let name = firstNonFiniteGradient(parameters) {
            throw TrainingError.nonFiniteGradient(epoch: epoch, step: step, parameter: name)
        }
        optimizer.step()
        return (output, value)
    }

    /// One pass over a general dataset (this rank's shard of it with several ranks).
    func trainEpoch(_ data: Dataset, epoch: Int, of epochs: Int, batchSize: Int,
                    augmentation: Augmentation?) throws -> EpochMetrics {
        model.setTraining(true)
        let ranks = communicator.size
        var batches = DataBatches(dataset: data, batchSize: batchSize, shuffle: true, augmentation: augmentation,
                                  generator: dataGenerator)
        if ranks > 1 { batches.shard = Shard(rank: communicator.rank, count: ranks) }
        let epochBatches = batches.nextEpoch()
        dataGenerator = batches.generator
        let namedParameters = model.namedParameters
        let reducer = ranks > 1 ? gradientReducer() : nil
        let waitedBefore = reducer?.waitSeconds ?? 0
        let progress = showsProgress && communicator.isLeader ? ProgressBar(title: "epoch \(epoch)/\(epochs)", total: epochBatches.count) : nil
        let start = Date()
        var lossSum = 0.0, seen = 0
        var predictions: [Float] = [], targets: [Float] = []
        predictions.reserveCapacity(batches.samplesPerEpoch * max(data.targets.sizePerSample, 1))
        for (step, batch) in epochBatches.enumerated() {
            let (output, value) = try trainStep(batch.features, epoch: epoch, step: step + 1, parameters: namedParameters,
                                                reducer: reducer) { loss($0, batch.targets) }
            lossSum += Double(value) * Double(batch.count)
            output.withUnsafeBufferPointer { predictions.append(contentsOf: $0) }
            batch.targets.withUnsafeBufferPointer { targets.append(contentsOf: $0) }
            seen += batch.count
            progress?.update(step + 1, seen: seen, loss: lossSum / Double(seen))
        }
        gradientAllReduceWaitSeconds += (reducer?.waitSeconds ?? 0) - waitedBefore
        if ranks > 1 {
            // One voice: every rank scores all ranks' predictions (each rank's shard has the
            // same number of samples, so the same number of floats).
            var totals = [lossSum, Double(seen)]
            communicator.allReduce(&totals, .sum, label: "epoch \(epoch) loss")
            (lossSum, seen) = (totals[0], Int(totals[1]))
            predictions = allGather(predictions, label: "epoch \(epoch) predictions")
            targets = allGather(targets, label: "epoch \(epoch) targets")
        }
        let seconds = Date().timeIntervalSince(start)
        progress?.finish()
        let values = task.metrics(predictions: predictions, outputs: predictions.count / max(seen, 1), targets: targets)
        var metrics = EpochMetrics(epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: values["accuracy"] ?? 0,
                                   learningRate: optimizer.learningRate, seconds: seconds,
                                   imagesPerSecond: Double(seen) / max(seconds, 1e-9))
        metrics.metrics = values
        return metrics
    }

    /// The model's outputs for every sample of `data`, `[count] + output shape`, in inference mode.
    public func predict(_ data: Dataset, batchSize: Int = Trainer.evaluationBatchSize) -> Tensor {
        Trainer.predict(model, on: data, batchSize: batchSize)
    }

    /// `model`'s outputs for every sample of `data` in inference mode (restoring its mode).
    public static func predict(_ model: any Layer, on data: Dataset,
                               batchSize: Int = Trainer.evaluationBatchSize) -> Tensor {
        precondition(data.count > 0, "predict: the dataset is empty")
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        var batches = DataBatches(dataset: data, batchSize: batchSize, shuffle: false, generator: RandomGenerator(seed: 0))
        let outputs = withoutGradient { batches.nextEpoch().map { model($0.features) } }
        return outputs.count == 1 ? outputs[0] : Tensor.concatenate(outputs, alongAxis: 0)
    }

    /// The loss and the task's metrics (and confusion matrix for classes) on `data`, in inference mode.
    public func evaluate(_ data: Dataset, batchSize: Int = Trainer.evaluationBatchSize) -> TaskEvaluation {
        Trainer.evaluate(model, on: data, task: task, batchSize: batchSize, loss: loss)
    }

    /// Evaluates `model` as a `task` on `data` in inference mode (restoring the mode it had).
    public static func evaluate(_ model: any Layer, on data: Dataset, task: LearningTask,
                                batchSize: Int = Trainer.evaluationBatchSize,
                                loss: ((Tensor, Tensor) -> Tensor)? = nil) -> TaskEvaluation {
        precondition(task.accepts(data.targets), "evaluate: the \(task.rawValue) task cannot score these targets")
        let predictions = predict(model, on: data, batchSize: batchSize)
        let targets = DataBatches.batch(data, Array(0..<data.count)).targets
        let lossValue = withoutGradient { Double((loss ?? { task.loss($0, $1) })(predictions, targets).scalar) }
        return task.evaluate(predictions: predictions.scalars, outputs: predictions.count / data.count,
                             targets: targets.scalars, classNames: data.classNames, loss: lossValue)
    }

    /// One pass over the training data.
    func trainEpoch(_ data: ImageDataset, epoch: Int, of epochs: Int, batchSize: Int,
                    augmentation: Augmentation?) throws -> EpochMetrics {
        model.setTraining(true)
        let ranks = communicator.size
        var batches = Minibatches(dataset: data, batchSize: batchSize, shuffle: true, augmentation: augmentation,
                                  generator: dataGenerator,
                                  shard: ranks > 1 ? Shard(rank: communicator.rank, count: ranks) : nil)
        let epochBatches = batches.nextEpoch()
        dataGenerator = batches.generator
        let namedParameters = model.namedParameters
        let reducer = ranks > 1 ? gradientReducer() : nil
        let waitedBefore = reducer?.waitSeconds ?? 0
        let progress = showsProgress && communicator.isLeader ? ProgressBar(title: "epoch \(epoch)/\(epochs)", total: epochBatches.batchCount) : nil
        let start = Date()
        var lossSum = 0.0, correct = 0, seen = 0
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: data.classNames.count), count: data.classNames.count)
        for (step, batch) in epochBatches.enumerated() {
            let (logits, value) = try trainStep(batch.images, epoch: epoch, step: step + 1, parameters: namedParameters,
                                                reducer: reducer) { lossFunction($0, batch.labels) }
            lossSum += Double(value) * Double(batch.count)
            correct += tally(logits: logits, labels: batch.labels, into: &confusion)
            seen += batch.count
            progress?.update(step + 1, seen: seen, loss: lossSum / Double(seen))
        }
        gradientAllReduceWaitSeconds += (reducer?.waitSeconds ?? 0) - waitedBefore
        if ranks > 1 {
            // One voice: every rank reports the figures of all ranks' batches together.
            var totals = [lossSum, Double(correct), Double(seen)]
            communicator.allReduce(&totals, .sum, label: "epoch \(epoch) metrics")
            (lossSum, correct, seen) = (totals[0], Int(totals[1]), Int(totals[2]))
        }
        let seconds = Date().timeIntervalSince(start)
        progress?.finish()
        return EpochMetrics(epoch: epoch, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                            validationLoss: nil, validationAccuracy: nil, learningRate: optimizer.learningRate,
                            seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
    }

    /// Every rank's `values` (of the same count on every rank), in rank order: an all-reduce
    /// of zeros holding each rank's values at its place (adding zeros is exact).
    private func allGather(_ values: [Float], label: String) -> [Float] {
        var all = [Float](repeating: 0, count: values.count * communicator.size)
        all.replaceSubrange((communicator.rank * values.count)..<((communicator.rank + 1) * values.count), with: values)
        communicator.allReduce(&all, .sum, label: label)
        return all
    }

    /// The reducer for this epoch: the last one when the parameters, buckets, communicator
    /// and memory choice are those it was made for (the same on every rank, so all ranks
    /// make a new one together), else a new one.
    private func gradientReducer() -> GradientReducer {
        let parameters = model.parameters
        let shared = sharesGradientMemory ? communicator as? any SharedMemoryCommunicator : nil
        let key = ReducerKey(parameters: parameters.map(ObjectIdentifier.init), buckets: gradientBuckets,
                             communicator: ObjectIdentifier(communicator), shared: shared != nil)
        if let reducer, reducer.key == key {
            reducer.reducer.reattach()
            return reducer.reducer
        }
        let made = GradientReducer(parameters, buckets: gradientBuckets, shared: shared)
        reducer = (key, made)
        return made
    }

    /// Copies rank `root`'s parameters and buffers (batch norm's running statistics) to
    /// every rank.
    public func broadcastModel(from root: Int) {
        for (name, parameter) in model.namedParameters {
            parameter.update { value, _ in communicator.broadcast(value, root: root, label: "broadcast of \(name)") }
        }
        for (name, buffer) in model.namedBuffers {
            buffer.value.withUnsafeMutableBufferPointer {
                communicator.broadcast($0, root: root, label: "broadcast of \(name)")
            }
        }
    }

    /// Loss, accuracy, per-class accuracy and confusion matrix on `data`, in inference mode.
    public func evaluate(_ data: ImageDataset, batchSize: Int = Trainer.evaluationBatchSize) -> Evaluation {
        Trainer.evaluate(model, on: data, batchSize: batchSize, lossFunction: lossFunction)
    }

    /// Evaluates `model` on `data` in inference mode (restoring the mode it had).
    public static func evaluate(_ model: any Layer, on data: ImageDataset, batchSize: Int = Trainer.evaluationBatchSize,
                                lossFunction: (Tensor, [Int32]) -> Tensor = { crossEntropy(logits: $0, labels: $1) })
        -> Evaluation {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        let classes = data.classNames.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var lossSum = 0.0
        let batches = Minibatches(dataset: data, batchSize: batchSize, shuffle: false, generator: RandomGenerator(seed: 0))
        var copy = batches
        withoutGradient {
            for batch in copy.nextEpoch() {
                let logits = model(batch.images)
                lossSum += Double(lossFunction(logits, batch.labels).scalar) * Double(batch.count)
                tally(logits: logits, labels: batch.labels, into: &confusion)
            }
        }
        return Evaluation(loss: lossSum / Double(max(data.count, 1)), confusion: confusion, classNames: data.classNames)
    }

    /// The line printed after each epoch of `fit` on a `Dataset`: the loss and every
    /// metric of the task, for training and validation.
    public static func summaryLine(_ m: EpochMetrics, of epochs: Int, task: LearningTask) -> String {
        var line = String(format: "epoch %d/%d  loss %.4f", m.epoch, epochs, m.trainLoss)
        for name in task.metricNames { if let v = m.metrics[name] { line += String(format: "  %@ %.4f", name, v) } }
        if let vl = m.validationLoss { line += String(format: "  val_loss %.4f", vl) }
        for name in task.metricNames {
            if let v = m.validationMetrics?[name] { line += String(format: "  val_%@ %.4f", name, v) }
        }
        line += String(format: "  lr %.3g  %.1fs  %.0f samples/s", m.learningRate, m.seconds, m.imagesPerSecond)
        return line
    }

    /// The plain line printed after each epoch.
    public static func summaryLine(_ m: EpochMetrics, of epochs: Int) -> String {
        var line = String(format: "epoch %d/%d  loss %.4f  acc %.4f", m.epoch, epochs, m.trainLoss, m.trainAccuracy)
        if let vl = m.validationLoss, let va = m.validationAccuracy {
            line += String(format: "  val_loss %.4f  val_acc %.4f", vl, va)
        }
        line += String(format: "  lr %.3g  %.1fs  %.0f img/s", m.learningRate, m.seconds, m.imagesPerSecond)
        return line
    }
}

/// A one-line progress bar redrawn in place on a terminal: batches done, images/s,
/// running loss and the time left.
final class ProgressBar {
    let title: String
    let total: Int
    let start = Date()
    var lastDraw = Date.distantPast

    init(title: String, total: Int) {
        self.title = title
        self.total = total
    }

    func update(_ done: Int, seen: Int, loss: Double) {
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(seen) / max(elapsed, 1e-9)
        let eta = elapsed / Double(done) * Double(total - done)
        let width = 30
        let filled = width * done / max(total, 1)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(width - filled - 1, 0))
        let line = String(format: "\r%@ [%@] %d/%d  %.0f img/s  loss %.4f  ETA %d:%02d", title, bar, done, total,
                          rate, loss, Int(eta) / 60, Int(eta) % 60)
        FileHandle.standardOutput.write(line.data(using: .utf8)!)
    }

    func finish() {
        FileHandle.standardOutput.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}

/// What a `GradientReducer` was made for.
private struct ReducerKey: Equatable {
    var parameters: [ObjectIdentifier]
    var buckets: GradientBuckets
    var communicator: ObjectIdentifier
    var shared: Bool
}
