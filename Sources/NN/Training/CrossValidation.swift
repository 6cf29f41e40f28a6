import Foundation

/// k-fold cross-validation: the same recipe (a fresh model and optimizer per fold from
/// the factories) trained on k-1 folds and scored on the held-out one, features
/// standardized with each training fold's own statistics, as scikit-learn's
/// `cross_validate` with a `StandardScaler` in the pipeline.
public struct CrossValidation {
    /// Number of folds.
    public var folds: Int
    /// Whether each fold holds every class in proportion (classification only).
    public var stratified: Bool
    /// Seed of the fold assignment and of each fold's trainer (its data order):
    /// see `scikitLearnRandomState` and `trainerSeed(fold:)`.
    public var seed: UInt64
    /// Whether features are standardized with the training fold's statistics.
    public var standardizesFeatures: Bool
    /// Whether regression targets are standardized with the training fold's statistics for
    /// training (predictions are mapped back before scoring, so metrics are in target units).
    public var standardizesTargets: Bool

    /// Makes each fold's learning-rate schedule (nil: the optimizer's rate throughout). Called
    /// once per fold, so that a schedule with state (`ReduceOnPlateau`) starts afresh.
    public var makeSchedule: (() -> any LearningRateSchedule)?
    /// The ranks each fold trains over (`Trainer.communicator`): with several, every fold is
    /// trained data-parallel, and every rank scores it and gets the same result.
    public var communicator: any Communicator = SingleProcessCommunicator()

    /// A k-fold plan; stratified and standardized by default, as the project's protocol T.
    public init(folds: Int = 5, stratified: Bool = true, seed: UInt64 = 0, standardizesFeatures: Bool = true,
                standardizesTargets: Bool = false) {
        precondition(folds >= 2, "CrossValidation: folds is \(folds), expected at least 2")
        (self.folds, self.stratified, self.seed) = (folds, stratified, seed)
        (self.standardizesFeatures, self.standardizesTargets) = (standardizesFeatures, standardizesTargets)
    }

    /// The folds are scikit-learn's `KFold` / `StratifiedKFold(shuffle=True,
    /// random_state=scikitLearnRandomState)` (see `Dataset.scikitLearnFolds`): the seed itself,
    /// which scikit-learn takes up to 2^32 - 1; a larger seed has its two halves xored.
    public var scikitLearnRandomState: UInt32 {
        UInt32(truncatingIfNeeded: seed <= UInt64(UInt32.max) ? seed : seed ^ (seed >> 32))
    }

    /// The seed of fold `fold`'s trainer: `seed + (fold + 1) * 0x9E3779B97F4A7C15` (wrapping).
    /// A seed of its own for every (seed, fold) pair of a sweep over seeds: `seed + fold + 1`
    /// gave fold f of seed s the data order of fold f - 1 of seed s + 1.
    public func trainerSeed(fold: Int) -> UInt64 {
        seed &+ UInt64(fold + 1) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Trains and scores every fold; `makeModel` and `makeOptimizer` are called once per
    /// fold (seed the model with the fold index for a reproducible run). Stratifies only
    /// class targets. `makeLoss` (default: the task's loss) may add a penalty scaled by the
    /// training fold's size, as scikit-learn's regularized linear models do.
    public func run(_ data: Dataset, task: LearningTask, epochs: Int, batchSize: Int,
                    makeModel: (_ fold: Int) -> any Layer,
                    makeOptimizer: (_ parameters: [Parameter]) -> any Optimizer,
                    makeLoss: ((_ model: any Layer, _ trainingCount: Int) -> (Tensor, Tensor) -> Tensor)? = nil)
        throws -> CrossValidationResult {
        var stratify = stratified
        if case .classes = data.targets {} else { stratify = false }
        let plan = data.scikitLearnFolds(folds, stratified: stratify, randomState: scikitLearnRandomState)
        var results: [TaskEvaluation] = []
        for (index, fold) in plan.enumerated() {
            var train = data.subset(fold.train), test = data.subset(fold.test)
            if standardizesFeatures {
                let statistics = train.statistics()
                train.standardize(with: statistics)
                test.standardize(with: statistics)
            }
            var targetStatistics: Standardization?
            if standardizesTargets, case .values(let values, let shape) = train.targets {
                let size = Tensor.elementCount(shape)
                let asFeatures = Dataset(features: values, featureShape: [size], targets: .values(values, shape: shape))
                targetStatistics = asFeatures.statistics()
                let scaled = asFeatures.standardized(with: targetStatistics!).features
                train = Dataset(features: train.features, featureShape: train.featureShape, targets: .values(scaled, shape: shape),
                                featureNames: train.featureNames, standardization: train.standardization)
            }
            let model = makeModel(index)
            let trainer = Trainer(model: model, optimizer: makeOptimizer(model.parameters), task: task,
                                  seed: trainerSeed(fold: index), loss: makeLoss?(model, train.count))
            trainer.schedule = makeSchedule?()
            trainer.communicator = communicator
            trainer.printsEpochs = false
            trainer.showsProgress = false
            try trainer.fit(train, epochs: epochs, batchSize: batchSize)
            if let t = targetStatistics {
                // Scored in target units: predictions mapped back through the training statistics,
                // and the loss is the trainer's loss on those (as `trainer.evaluate` scores unscaled targets).
                let predictions = trainer.predict(test)
                let size = t.mean.count
                let restored = predictions.scalars.enumerated().map { $0.element * t.std[$0.offset % size] + t.mean[$0.offset % size] }
                guard case .values(let values, _) = test.targets else { preconditionFailure("regression targets expected") }
                let loss = withoutGradient {
                    Double(trainer.loss(Tensor(restored, shape: predictions.shape), Tensor(values, shape: predictions.shape)).scalar)
                }
                results.append(task.evaluate(predictions: restored, outputs: size, targets: values, loss: loss))
            } else {
                results.append(trainer.evaluate(test))
            }
        }
        return CrossValidationResult(folds: results)
    }
}

/// The scores of every fold, and their mean and standard deviation.
public struct CrossValidationResult: Sendable {
    /// One evaluation per fold, in fold order.
    public let folds: [TaskEvaluation]

    /// The metric `name` ("accuracy", "r2", "loss") of each fold.
    public func values(_ name: String) -> [Double] {
        folds.map { name == "loss" ? $0.loss : ($0.metrics[name] ?? .nan) }
    }

    /// The mean of metric `name` over the folds.
    public func mean(_ name: String) -> Double {
        let v = values(name)
        return v.reduce(0, +) / Double(max(v.count, 1))
    }

    /// The population standard deviation of metric `name` over the folds (numpy's `std`,
    /// which scikit-learn's examples report).
    public func standardDeviation(_ name: String) -> Double {
        let v = values(name), m = mean(name)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(v.count, 1))).squareRoot()
    }

    /// One line per fold and a mean ± std line, for every metric of the task.
    public var report: String {
        guard let task = folds.first?.task else { return "no folds" }
        let names = ["loss"] + task.metricNames
        var lines = folds.enumerated().map { i, e in
            "fold \(i + 1): " + names.map { n in String(format: "%@ %.4f", n, n == "loss" ? e.loss : e.metrics[n] ?? .nan) }
                .joined(separator: "  ")
        }
        lines.append("mean:   " + names.map { String(format: "%@ %.4f ± %.4f", $0, mean($0), standardDeviation($0)) }
            .joined(separator: "  "))
        return lines.joined(separator: "\n")
    }
}
