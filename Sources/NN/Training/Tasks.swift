import Foundation

/// What a model learns, which fixes its default loss, how its outputs are read and which
/// metrics are reported:
/// - classification: `classes` logits per sample, softmax cross-entropy; accuracy (plus
///   top-k, per-class accuracy and the confusion matrix in `TaskEvaluation`);
/// - binary: one logit per sample, binary cross-entropy with logits; accuracy, precision,
///   recall, F1 and ROC AUC of the positive class (class 1);
/// - multi-label: one logit per label, binary cross-entropy with logits per label; exact
///   match (all labels right) and macro F1 (per-label F1 in `TaskEvaluation`);
/// - regression: any number of outputs, mean squared error; MSE, RMSE, MAE and R²
///   (R² averaged over the outputs, as scikit-learn's `r2_score`).
public enum LearningTask: String, Sendable, CaseIterable {
    /// One class out of several (softmax cross-entropy).
    case classification
    /// Two classes from one logit (BCE with logits).
    case binary
    /// Several independent yes/no labels (BCE with logits per label).
    case multiLabel = "multilabel"
    /// Float values (mean squared error).
    case regression

    /// The task the targets suggest: classes (two give `.classification` too, which trains
    /// a two-logit softmax; ask for `.binary` for one logit), multi-hot labels, values.
    public static func inferred(from targets: Targets) -> LearningTask {
        switch targets {
        case .classes: return .classification
        case .multiLabel: return .multiLabel
        case .values: return .regression
        }
    }

    /// The metric names `metrics` reports, in the order the epoch line prints them.
    public var metricNames: [String] {
        switch self {
        case .classification: return ["accuracy"]
        case .binary: return ["accuracy", "precision", "recall", "f1", "auc"]
        case .multiLabel: return ["exact_match", "f1"]
        case .regression: return ["mse", "rmse", "mae", "r2"]
        }
    }

    /// Whether a higher value of metric `name` ("loss", "val_r2", ...) is better: losses and
    /// errors are minimized, scores maximized.
    public static func isMaximized(_ name: String) -> Bool {
        let base = name.hasPrefix("val_") ? String(name.dropFirst(4)) : name
        return !["loss", "mse", "rmse", "mae"].contains(base)
    }

    /// Whether `targets` can be learned as this task.
    public func accepts(_ targets: Targets) -> Bool {
        switch (self, targets) {
        case (.classification, .classes), (.multiLabel, .multiLabel), (.regression, .values): return true
        case (.binary, .classes(_, let names)): return names.count == 2
        case (.binary, .values(let values, let shape)):
            return Tensor.elementCount(shape) == 1 && values.allSatisfy { $0 == 0 || $0 == 1 }
        default: return false
        }
    }

    /// The task's default loss of a batch: predictions from the model, targets as
    /// `DataBatch.targets` holds them.
    public func loss(_ predictions: Tensor, _ targets: Tensor) -> Tensor {
        switch self {
        case .classification:
            return crossEntropy(logits: predictions, labels: classLabels(targets))
        case .binary, .multiLabel:
            return binaryCrossEntropy(logits: predictions, targets: matching(targets, predictions))
        case .regression:
            return meanSquaredError(predictions, matching(targets, predictions))
        }
    }

    /// The metrics of `predictions` (`outputs` per sample) against `targets` (as batches
    /// hold them), over whole datasets: see the type's documentation for which.
    public func metrics(predictions: [Float], outputs: Int, targets: [Float]) -> [String: Double] {
        evaluate(predictions: predictions, outputs: outputs, targets: targets).metrics
    }

    /// Metrics plus the per-class detail of `predictions` against `targets`.
    public func evaluate(predictions: [Float], outputs: Int, targets: [Float], classNames: [String]? = nil,
                         loss: Double = .nan) -> TaskEvaluation {
        let n = outputs == 0 ? 0 : predictions.count / outputs
        switch self {
        case .classification:
            precondition(targets.count == n, "LearningTask.metrics: \(n) predictions of \(outputs) classes, \(targets.count) labels")
            let labels = targets.map { Int($0) }
            let confusion = confusionMatrix(scores: predictions, classes: outputs, labels: labels)
            var result = TaskEvaluation(task: self, loss: loss, metrics: [:], confusion: confusion,
                                        classNames: classNames ?? (0..<outputs).map(String.init))
            result.metrics["accuracy"] = accuracy(confusion)
            return result
        case .binary:
            precondition(outputs == 1 && targets.count == n,
                         "LearningTask.metrics: binary needs one logit and one target per sample, got \(outputs) outputs, "
                         + "\(targets.count) targets for \(n) samples")
            let m = BinaryMetrics(scores: predictions, labels: targets.map { $0 >= 0.5 })
            return TaskEvaluation(task: self, loss: loss,
                                  metrics: ["accuracy": m.accuracy, "precision": m.precision, "recall": m.recall,
                                            "f1": m.f1, "auc": m.rocAUC],
                                  confusion: [[m.trueNegatives, m.falsePositives], [m.falseNegatives, m.truePositives]],
                                  classNames: classNames ?? ["0", "1"])
        case .multiLabel:
            precondition(targets.count == predictions.count,
                         "LearningTask.metrics: \(predictions.count) multi-label scores, \(targets.count) targets")
            let m = MultiLabelMetrics(scores: predictions, labels: outputs, targets: targets)
            var result = TaskEvaluation(task: self, loss: loss, metrics: ["exact_match": m.exactMatch, "f1": m.macroF1],
                                        confusion: [], classNames: classNames ?? (0..<outputs).map(String.init))
            result.perLabelF1 = m.perLabelF1
            return result
        case .regression:
            precondition(targets.count == predictions.count,
                         "LearningTask.metrics: \(predictions.count) predicted values, \(targets.count) targets")
            let m = RegressionMetrics(predictions: predictions, targets: targets, outputs: outputs)
            return TaskEvaluation(task: self, loss: loss,
                                  metrics: ["mse": m.mse, "rmse": m.rmse, "mae": m.mae, "r2": m.r2],
                                  confusion: [], classNames: [])
        }
    }
}

/// `targets` in the shape of `predictions` when they hold the same number of values (a
/// `[b]` target for a `[b, 1]` output), else unchanged (the loss then names both shapes).
private func matching(_ targets: Tensor, _ predictions: Tensor) -> Tensor {
    targets.shape == predictions.shape || targets.count != predictions.count
        ? targets : targets.reshaped(to: predictions.shape)
}

/// A task's figures on a dataset: the loss, the named metrics and, for classes, the
/// confusion matrix (`confusion[truth][prediction]`) and per-label F1 for multi-label.
public struct TaskEvaluation: Sendable {
    /// The task evaluated.
    public let task: LearningTask
    /// Mean loss over the samples (NaN when not computed).
    public var loss: Double
    /// The task's metrics by name (`LearningTask.metricNames`).
    public var metrics: [String: Double]
    /// Counts `confusion[truth][prediction]` (classification and binary; empty otherwise).
    public let confusion: [[Int]]
    /// Class (or label) names.
    public let classNames: [String]
    /// F1 of each label (multi-label only).
    public var perLabelF1: [Double] = []

    /// The fraction of each class's samples predicted correctly (recall per class).
    public var perClassAccuracy: [Double] { perClassRecall(confusion) }
}

// MARK: Classification

/// `confusion[truth][prediction]` counts, predicting each row's largest score (the first on ties).
public func confusionMatrix(scores: [Float], classes: Int, labels: [Int]) -> [[Int]] {
    precondition(scores.count == labels.count * classes,
                 "confusionMatrix: \(scores.count) scores for \(labels.count) labels of \(classes) classes")
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (row, truth) in labels.enumerated() {
        precondition(truth >= 0 && truth < classes, "confusionMatrix: label \(truth) at row \(row) outside 0..<\(classes)")
        var best = 0
        for c in 1..<max(classes, 1) where scores[row * classes + c] > scores[row * classes + best] { best = c }
        confusion[truth][best] += 1
    }
    return confusion
}

/// The fraction of samples on the confusion matrix's diagonal.
public func accuracy(_ confusion: [[Int]]) -> Double {
    let total = confusion.reduce(0) { $0 + $1.reduce(0, +) }
    return total == 0 ? 0 : Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(total)
}

/// The fraction of samples whose label is among the `k` largest of its `classes` scores
/// (a tie with the k-th score counts against the label, so the figure never flatters).
public func topKAccuracy(scores: [Float], classes: Int, labels: [Int], k: Int) -> Double {
    precondition(k >= 1 && scores.count == labels.count * classes,
                 "topKAccuracy: k \(k), \(scores.count) scores for \(labels.count) labels of \(classes) classes")
    guard !labels.isEmpty else { return 0 }
    var hits = 0
    for (row, label) in labels.enumerated() {
        let own = scores[row * classes + label]
        var above = 0
        for c in 0..<classes where c != label && scores[row * classes + c] >= own { above += 1 }
        if above < k { hits += 1 }
    }
    return Double(hits) / Double(labels.count)
}

// MARK: Binary

/// Figures of a binary classifier from its scores (logits; positive means class 1) and
/// the true labels.
public struct BinaryMetrics: Sendable {
    /// Counts at the threshold.
    public let truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int
    /// Area under the ROC curve: the probability that a random positive scores above a
    /// random negative (ties count half); NaN with only one class present.
    public let rocAUC: Double

    /// Counts with `score > threshold` predicting class 1 (logit 0 is probability 0.5).
    public init(scores: [Float], labels: [Bool], threshold: Float = 0) {
        precondition(scores.count == labels.count, "BinaryMetrics: \(scores.count) scores, \(labels.count) labels")
        var (tp, fp, tn, fn) = (0, 0, 0, 0)
        for (s, y) in zip(scores, labels) {
            switch (s > threshold, y) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        (truePositives, falsePositives, trueNegatives, falseNegatives) = (tp, fp, tn, fn)
        rocAUC = BinaryMetrics.auc(scores: scores, labels: labels)
    }

    /// Correct predictions over all.
    public var accuracy: Double { ratio(truePositives + trueNegatives, truePositives + trueNegatives + falsePositives + falseNegatives) }
    /// Of the predicted positives, the true ones (0 when none is predicted, as scikit-learn).
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// Of the true positives, those found.
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN).
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }

    /// The Mann-Whitney statistic from average ranks (ties get the mean of their ranks).
    static func auc(scores: [Float], labels: [Bool]) -> Double {
        let positives = labels.filter { $0 }.count, negatives = labels.count - positives
        guard positives > 0 && negatives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0, i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1  // ranks i+1 ... j+1 averaged
            for k in i...j where labels[order[k]] { rankSum += rank }
            i = j + 1
        }
        let p = Double(positives)
        return (rankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }
}

private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

// MARK: Multi-label

/// Figures of a multi-label classifier from its scores (logits, positive means "on").
public struct MultiLabelMetrics: Sendable {
    /// F1 of each label (0 for a label never true and never predicted).
    public let perLabelF1: [Double]
    /// The fraction of samples with every label right.
    public let exactMatch: Double
    /// The mean of `perLabelF1`.
    public var macroF1: Double { perLabelF1.isEmpty ? 0 : perLabelF1.reduce(0, +) / Double(perLabelF1.count) }

    /// Figures of `scores` against 0/1 `targets`, both `labels` per sample.
    public init(scores: [Float], labels: Int, targets: [Float]) {
        precondition(labels > 0 && scores.count == targets.count && scores.count % labels == 0,
                     "MultiLabelMetrics: \(scores.count) scores, \(targets.count) targets, \(labels) labels")
        let n = scores.count / labels
        var tp = [Int](repeating: 0, count: labels), fp = tp, fn = tp
        var exact = 0
        for row in 0..<n {
            var allRight = true
            for l in 0..<labels {
                let predicted = scores[row * labels + l] > 0, truth = targets[row * labels + l] >= 0.5
                if predicted && truth { tp[l] += 1 } else if predicted { fp[l] += 1 } else if truth { fn[l] += 1 }
                if predicted != truth { allRight = false }
            }
            if allRight { exact += 1 }
        }
        perLabelF1 = (0..<labels).map { ratio(2 * tp[$0], 2 * tp[$0] + fp[$0] + fn[$0]) }
        exactMatch = ratio(exact, n)
    }
}

// MARK: Regression

/// Errors of predicted values against targets, `outputs` values per sample.
public struct RegressionMetrics: Sendable {
    /// Mean squared error over all values.
    public let mse: Double
    /// Mean absolute error over all values.
    public let mae: Double
    /// Coefficient of determination 1 - SS_res / SS_tot of each output, averaged over the
    /// outputs (scikit-learn's `r2_score` default); an output with constant targets counts 0
    /// when predicted imperfectly and 1 when predicted exactly, as scikit-learn does.
    public let r2: Double
    /// Square root of `mse`.
    public var rmse: Double { mse.squareRoot() }

    /// Figures of `predictions` against `targets` (same count, `outputs` per sample).
    public init(predictions: [Float], targets: [Float], outputs: Int = 1) {
        precondition(outputs > 0 && predictions.count == targets.count && targets.count % outputs == 0,
                     "RegressionMetrics: \(predictions.count) predictions, \(targets.count) targets, \(outputs) outputs")
        let n = targets.count / outputs
        var squares = 0.0, absolutes = 0.0, r2Sum = 0.0
        for o in 0..<outputs {
            var mean = 0.0
            for row in 0..<n { mean += Double(targets[row * outputs + o]) }
            mean /= Double(max(n, 1))
            var residual = 0.0, total = 0.0
            for row in 0..<n {
                let t = Double(targets[row * outputs + o]), d = Double(predictions[row * outputs + o]) - t
                residual += d * d
                absolutes += abs(d)
                total += (t - mean) * (t - mean)
            }
            squares += residual
            r2Sum += total > 0 ? 1 - residual / total : (residual == 0 ? 1 : 0)
        }
        let count = Double(max(targets.count, 1))
        (mse, mae, r2) = (squares / count, absolutes / count, r2Sum / Double(outputs))
    }
}
