import NN
import XCTest

/// Every task metric against values worked out by hand (exact fractions, so compared
/// within 1e-12 of the Double result).
final class TaskMetricsTests: XCTestCase {
    func testClassificationAccuracyTopKConfusion() {
        // 3 classes, 4 samples; argmax rows: 0, 2, 2, 1; labels 0, 1, 2, 1.
        let scores: [Float] = [3, 1, 0,   0, 1, 2,   0, 0, 5,   1, 4, 2]
        let labels = [0, 1, 2, 1]
        let confusion = confusionMatrix(scores: scores, classes: 3, labels: labels)
        XCTAssertEqual(confusion, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
        XCTAssertEqual(accuracy(confusion), 0.75, accuracy: 1e-12)
        // Top-2: sample 1's label (score 1) is second of (0, 1, 2): a hit; all hit.
        XCTAssertEqual(topKAccuracy(scores: scores, classes: 3, labels: labels, k: 2), 1, accuracy: 1e-12)
        XCTAssertEqual(topKAccuracy(scores: scores, classes: 3, labels: labels, k: 1), 0.75, accuracy: 1e-12)
        let evaluation = LearningTask.classification.evaluate(predictions: scores, outputs: 3, targets: labels.map(Float.init))
        XCTAssertEqual(evaluation.metrics["accuracy"]!, 0.75, accuracy: 1e-12)
        XCTAssertEqual(evaluation.perClassAccuracy, [1, 0.5, 1])
    }

    func testBinaryMetrics() {
        // Logits and truths: TP at 2.0, 0.5; FP at 1.0; FN at -0.5; TN at -1, -3.
        let scores: [Float] = [2.0, 0.5, 1.0, -0.5, -1, -3]
        let truth = [true, true, false, true, false, false]
        let m = BinaryMetrics(scores: scores, labels: truth)
        XCTAssertEqual([m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives], [2, 1, 2, 1])
        XCTAssertEqual(m.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(m.precision, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.recall, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.f1, 2.0 / 3, accuracy: 1e-12)
        // AUC: pairs (positive, negative) ordered right: 2.0 beats all 3, 0.5 beats 2 of 3
        // (-1, -3), -0.5 beats 2 of 3: (3 + 2 + 2) / 9.
        XCTAssertEqual(m.rocAUC, 7.0 / 9, accuracy: 1e-12)
        // A tie between a positive and a negative counts half: (1 + 0.5) / 2.
        XCTAssertEqual(BinaryMetrics(scores: [1, 1, 0], labels: [true, false, false]).rocAUC, 0.75, accuracy: 1e-12)
        XCTAssertTrue(BinaryMetrics(scores: [1, 2], labels: [true, true]).rocAUC.isNaN, "one class: AUC undefined")
        let metrics = LearningTask.binary.metrics(predictions: scores, outputs: 1, targets: truth.map { $0 ? 1 : 0 })
        XCTAssertEqual(metrics["auc"]!, 7.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(metrics["f1"]!, 2.0 / 3, accuracy: 1e-12)
    }

    func testMultiLabelMetrics() {
        // 3 samples x 2 labels. Predictions (score > 0): [1,0], [1,1], [0,0]; targets [1,0], [0,1], [0,1].
        let scores: [Float] = [1, -1,   2, 3,   -1, -2]
        let targets: [Float] = [1, 0,   0, 1,   0, 1]
        let m = MultiLabelMetrics(scores: scores, labels: 2, targets: targets)
        // Label 0: TP 1, FP 1, FN 0 -> 2/3. Label 1: TP 1, FP 0, FN 1 -> 2/3.
        XCTAssertEqual(m.perLabelF1[0], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.perLabelF1[1], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.exactMatch, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(LearningTask.multiLabel.metrics(predictions: scores, outputs: 2, targets: targets)["exact_match"]!,
                       1.0 / 3, accuracy: 1e-12)
    }

    func testRegressionMetrics() {
        // Targets 1, 2, 3, 4 (mean 2.5, SS_tot 5); errors 0.5, -0.5, 0, 1 (SS_res 1.5).
        let m = RegressionMetrics(predictions: [1.5, 1.5, 3, 5], targets: [1, 2, 3, 4])
        XCTAssertEqual(m.mse, 1.5 / 4, accuracy: 1e-12)
        XCTAssertEqual(m.rmse, (1.5 / 4).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(m.mae, 2.0 / 4, accuracy: 1e-12)
        XCTAssertEqual(m.r2, 1 - 1.5 / 5, accuracy: 1e-12)
        // Two outputs: R² averaged per output. Output 0 exact (1), output 1 predicts the mean (0).
        let two = RegressionMetrics(predictions: [1, 5, 3, 5], targets: [1, 4, 3, 6], outputs: 2)
        XCTAssertEqual(two.r2, 0.5, accuracy: 1e-12)
    }

    func testMonitorDirection() {
        XCTAssertFalse(LearningTask.isMaximized("val_loss"))
        XCTAssertFalse(LearningTask.isMaximized("mae"))
        XCTAssertTrue(LearningTask.isMaximized("val_r2"))
        XCTAssertTrue(LearningTask.isMaximized("auc"))
    }
}
