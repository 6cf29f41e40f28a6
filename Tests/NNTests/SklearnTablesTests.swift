import Foundation
import NN
import XCTest

/// The project's protocol T on scikit-learn's own CSV files (Debian's python3-sklearn):
/// 5-fold cross-validation with scikit-learn's folds (`StratifiedKFold` / `KFold`,
/// `shuffle=True, random_state=0`, as the figures were made), features standardized per training fold, a linear
/// model (one Dense layer) and an MLP 64-64, Adam 1e-3, batch 32, 100 epochs.
///
/// The linear model is fitted as the reference figures were (they are scikit-learn's
/// `LogisticRegression()` and `LinearRegression()` scores): to convergence, full batch,
/// Adam lr 0.05 for 1,000 epochs, with scikit-learn's default L2 penalty for logistic
/// regression (C = 1: the objective sum(loss) + |w|²/2, i.e. mean loss + |w|²/(2n), bias
/// not penalized) and none for least squares. Layers start as PyTorch's `nn.Linear`
/// (uniform in ±1/sqrt(fan-in), weights and biases).
///
/// `make test` runs iris only (a few seconds). The whole table, with the PyTorch figures
/// the issue gives (each must be reached within 0.01), runs with `NN_SKLEARN_TABLE=1`:
/// `NN_SKLEARN_TABLE=1 swift test -c release --disable-swift-testing --filter SklearnTablesTests`.
final class SklearnTablesTests: XCTestCase {
    static let directory = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"

    /// The protocol's two models for `inputs` features and `outputs` outputs, drawn from `seed`.
    static func model(_ kind: String, inputs: Int, outputs: Int, seed: UInt64) -> any Layer {
        var generator = RandomGenerator(seed: seed)
        func dense(_ i: Int, _ o: Int) -> Dense { Dense.pyTorchDefault(inputSize: i, outputSize: o, using: &generator) }
        if kind == "linear" { return dense(inputs, outputs) }
        return Sequential {
            dense(inputs, 64)
            ReLU()
            dense(64, 64)
            ReLU()
            dense(64, outputs)
        }
    }

    /// Cross-validates `kind` on `data` and returns the mean of `metric`.
    static func score(_ data: Dataset, task: LearningTask, kind: String, metric: String, epochs: Int = 100,
                      standardizeTargets: Bool = false) throws -> (mean: Double, std: Double) {
        let outputs: Int
        switch (task, data.targets) {
        case (.classification, .classes(_, let names)): outputs = names.count
        default: outputs = 1
        }
        let linear = kind == "linear"
        let seed = UInt64(ProcessInfo.processInfo.environment["NN_CV_SEED"] ?? "0") ?? 0
        let plan = CrossValidation(folds: 5, stratified: true, seed: seed, standardizesTargets: standardizeTargets)
        let result = try plan
            .run(data, task: task, epochs: linear ? 1000 : epochs, batchSize: linear ? data.count : 32,
                 // Seeded as `nn train --folds` seeds its network (TabularModel.build), so that
                 // the MLP column is the README's.
                 makeModel: { model(kind, inputs: data.featureSize, outputs: outputs, seed: plan.trainerSeed(fold: $0) ^ 0x7AB1_E000) },
                 makeOptimizer: { Adam(parameters: $0, learningRate: linear ? 0.05 : 1e-3) },
                 makeLoss: { model, n in
                     guard linear && task != .regression, let dense = model as? Dense else { return { task.loss($0, $1) } }
                     return { task.loss($0, $1) + l2Penalty([dense.weight], weight: 0.5 / Float(n)) }
                 })
        return (result.mean(metric), result.standardDeviation(metric))
    }

    func testIrisReachesPyTorchWithinOnePoint() throws {
        let iris = try SklearnCSV.classification(Self.directory + "iris.csv")
        XCTAssertEqual(iris.count, 150)
        XCTAssertEqual(iris.classNames, ["setosa", "versicolor", "virginica"])
        let linear = try Self.score(iris, task: .classification, kind: "linear", metric: "accuracy")
        let mlp = try Self.score(iris, task: .classification, kind: "mlp", metric: "accuracy")
        XCTAssertGreaterThanOrEqual(linear.mean, 0.960 - 0.01, "iris linear")
        XCTAssertGreaterThanOrEqual(mlp.mean, 0.947 - 0.01, "iris MLP")
    }

    /// Least squares has one answer per split, so on scikit-learn's folds the per-fold R² must be
    /// scikit-learn's: `cross_val_score(LinearRegression(), x, y, cv=KFold(5, shuffle=True,
    /// random_state=0))` printed these. 1e-3: Adam at lr 0.05 stops within about 1e-4 of the
    /// least-squares optimum's R² (float32 training); other folds would miss by 0.05 or more.
    func testLeastSquaresOnScikitLearnsFoldsScoresAsScikitLearn() throws {
        let diabetes = try SklearnCSV.diabetes(Self.directory)
        let plan = CrossValidation(folds: 5, seed: 0, standardizesTargets: true)
        let result = try plan.run(diabetes, task: .regression, epochs: 1000, batchSize: diabetes.count,
                                  makeModel: { Self.model("linear", inputs: 10, outputs: 1, seed: UInt64($0)) },
                                  makeOptimizer: { Adam(parameters: $0, learningRate: 0.05) })
        let scikitLearn = [0.33223, 0.4597, 0.53706, 0.52165, 0.59512]
        for (fold, (ours, theirs)) in zip(result.values("r2"), scikitLearn).enumerated() {
            XCTAssertEqual(ours, theirs, accuracy: 1e-3, "diabetes least squares, fold \(fold + 1)")
        }
    }

    func testWholeTable() throws {
        guard ProcessInfo.processInfo.environment["NN_SKLEARN_TABLE"] == "1" else {
            throw XCTSkip("set NN_SKLEARN_TABLE=1 for the whole table (about a minute)")
        }
        let d = Self.directory
        let rows: [(String, Dataset, LearningTask, String, Bool, Double, Double)] = [
            ("iris", try SklearnCSV.classification(d + "iris.csv"), .classification, "accuracy", false, 0.960, 0.947),
            ("wine", try SklearnCSV.classification(d + "wine_data.csv"), .classification, "accuracy", false, 0.983, 0.983),
            ("breast_cancer", try SklearnCSV.classification(d + "breast_cancer.csv"), .binary, "accuracy", false, 0.979, 0.974),
            ("digits", try SklearnCSV.digits(d + "digits.csv.gz"), .classification, "accuracy", false, 0.969, 0.972),
            ("diabetes", try SklearnCSV.diabetes(d), .regression, "r2", true, 0.489, 0.354),
        ]
        var table = "| dataset | linear | MLP 64-64 | PyTorch linear | PyTorch MLP |\n|---|---|---|---|---|\n"
        for (name, data, task, metric, scaleTargets, torchLinear, torchMLP) in rows {
            let linear = try Self.score(data, task: task, kind: "linear", metric: metric, standardizeTargets: scaleTargets)
            let mlp = try Self.score(data, task: task, kind: "mlp", metric: metric, standardizeTargets: scaleTargets)
            table += String(format: "| %@ (%@) | %.3f ± %.3f | %.3f ± %.3f | %.3f | %.3f |\n", name, metric,
                            linear.mean, linear.std, mlp.mean, mlp.std, torchLinear, torchMLP)
            XCTAssertGreaterThanOrEqual(linear.mean, torchLinear - 0.01, "\(name) linear")
            XCTAssertGreaterThanOrEqual(mlp.mean, torchMLP - 0.01, "\(name) MLP")
        }
        print(table)
    }
}

/// scikit-learn's files through the library's reader (`Table.readCSV`, gzip included).
enum SklearnCSV {
    /// The class index in the last column of `path` (no header after `skipLines`).
    static func table(_ path: String, skipLines: Int = 0, delimiter: Character = ",", classNames: [String]? = nil,
                      regression: Bool = false) throws -> Dataset {
        let table = try Table.readCSV(path, options: CSVOptions(delimiter: UInt8(ascii: delimiter.unicodeScalars.first!),
                                                                hasHeader: false, skipLines: skipLines))
        let (features, target) = try table.split(targets: [.index(table.columnNames.count - 1)])
        guard case .classes(let labels, let names) = try target.classes() else { preconditionFailure("classes expected") }
        return Dataset(features: features, target: .classes(labels: labels, names: classNames ?? names))
    }

    /// iris, wine, breast_cancer: a metadata line (count, features, class names), then
    /// features and the class index last.
    static func classification(_ path: String) throws -> Dataset {
        let first = try String(contentsOfFile: path, encoding: .utf8).prefix { $0 != "\n" }
        return try table(path, skipLines: 1, classNames: Array(first.split(separator: ",").dropFirst(2).map(String.init)))
    }

    /// digits: 64 pixel columns and the digit, no header.
    static func digits(_ path: String) throws -> Dataset { try table(path) }

    /// diabetes: ten space-separated raw features, the target in its own file.
    static func diabetes(_ directory: String) throws -> Dataset {
        let options = CSVOptions(delimiter: UInt8(ascii: " "), hasHeader: false)
        let features = try Table.readCSV(directory + "diabetes_data_raw.csv.gz", options: options)
        let target = try Table.readCSV(directory + "diabetes_target.csv.gz", options: options)
        let (matrix, _) = try features.split(targets: [])
        return Dataset(features: matrix, target: try target.values())
    }
}
