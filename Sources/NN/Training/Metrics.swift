import Foundation

/// How well a classifier does on a dataset: loss, accuracy, per-class accuracy and the
/// confusion matrix.
public struct Evaluation: Sendable {
    /// Mean loss over the examples.
    public let loss: Double
    /// `confusion[truth][prediction]`: how many examples of class `truth` were predicted as
    /// `prediction`.
    public let confusion: [[Int]]
    /// Names of the classes, by index.
    public let classNames: [String]

    /// A result from the mean loss and confusion counts.
    public init(loss: Double, confusion: [[Int]], classNames: [String]) {
        precondition(confusion.count == classNames.count && confusion.allSatisfy { $0.count == classNames.count },
                     "Evaluation: confusion matrix must be \(classNames.count)x\(classNames.count)")
        self.loss = loss
        self.confusion = confusion
        self.classNames = classNames
    }

    /// The number of examples.
    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    /// The fraction of examples whose predicted class is the label.
    public var accuracy: Double { NN.accuracy(confusion) }

    /// For each class, the fraction of its examples predicted correctly (recall).
    public var perClassAccuracy: [Double] { perClassRecall(confusion) }

    /// A readable report: per-class accuracy and the confusion matrix.
    public var report: String {
        let width = max(classNames.map(\.count).max() ?? 0, 5)
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(n - s.count, 0)) + s }
        var lines = ["per-class accuracy:"]
        for (c, name) in classNames.enumerated() {
            lines.append("  \(pad(name, width))  \(String(format: "%.4f", perClassAccuracy[c]))")
        }
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        let cell = max(String(confusion.flatMap { $0 }.max() ?? 0).count, 2) + 1
        lines.append(pad("", width + 2) + (0..<classNames.count).map { pad(String($0), cell) }.joined())
        for (c, name) in classNames.enumerated() {
            lines.append("  \(pad(name, width))" + confusion[c].map { pad(String($0), cell) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}

/// For each class (row of `confusion[truth][prediction]`), the fraction of its examples
/// predicted correctly; 0 for a class with none.
func perClassRecall(_ confusion: [[Int]]) -> [Double] {
    confusion.indices.map { c in
        let total = confusion[c].reduce(0, +)
        return total == 0 ? 0 : Double(confusion[c][c]) / Double(total)
    }
}

/// Counts predictions (argmax of each logits row) against labels into `confusion`; returns
/// the number correct.
@discardableResult
func tally(logits: Tensor, labels: [Int32], into confusion: inout [[Int]]) -> Int {
    var correct = 0
    for (row, predicted) in logits.argmax(alongAxis: 1).enumerated() {
        let truth = Int(labels[row])
        confusion[truth][predicted] += 1
        if truth == predicted { correct += 1 }
    }
    return correct
}
