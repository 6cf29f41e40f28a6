import Foundation
import NN
import XCTest

/// `nn train`, `eval` and `predict` on tabular files: scikit-learn's own CSV files (Debian's
/// python3-sklearn) clear a low but meaningful bar, predict's CSV reproduces eval's figures
/// exactly, and every kind of bad input ends in one `error:` line naming the problem.
/// Runs are short (small hidden layers, few epochs): the whole class takes a few seconds.
extension CLITests {
    static let sklearnDirectory = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"

    func requireSklearn() throws -> String {
        guard FileManager.default.fileExists(atPath: Self.sklearnDirectory + "iris.csv") else {
            throw XCTSkip("python3-sklearn's data files are not in \(Self.sklearnDirectory) (make deps installs them)")
        }
        return Self.sklearnDirectory
    }

    /// Runs `nn arguments`, asserting success; returns standard output.
    @discardableResult
    func succeed(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let run = try nn(arguments, file: file, line: line)
        XCTAssertEqual(run.status, 0, "nn \(arguments.joined(separator: " ")) failed:\n\(run.stderr)", file: file, line: line)
        return run.stdout
    }

    /// The number after `prefix` on the one line starting with it.
    func figure(_ prefix: String, in output: String, file: StaticString = #filePath, line: UInt = #line) -> Double? {
        let lines = output.split(separator: "\n").filter { $0.hasPrefix(prefix) }
        XCTAssertEqual(lines.count, 1, "expected one line starting with \"\(prefix)\" in:\n\(output)", file: file, line: line)
        guard let rest = lines.first?.dropFirst(prefix.count) else { return nil }
        return Double(rest.prefix { !$0.isWhitespace })
    }

    /// "(k of n)" after `prefix`'s figure.
    func counts(_ prefix: String, in output: String) -> (right: Int, total: Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
              let match = line.firstMatch(of: #/\((\d+) of (\d+)\)/#) else { return nil }
        return (Int(match.1)!, Int(match.2)!)
    }

    /// `mpirun -np 2 nn train --data`: a table trains data-parallel (the gradients in shared
    /// memory), rank 0 alone writes the checkpoint, which `nn eval` scores to the training
    /// run's printed accuracy; batch norm synchronizes over the ranks; `--folds` trains each
    /// fold over both ranks and prints one report.
    func testTabularTrainsUnderMPI() throws {
        let d = try requireSklearn()
        let launcher = try mpirunTwoRanks()
        let checkpoint = scratch.appendingPathComponent("iris-mpi.st").path
        let data = ["--data", d + "iris.csv", "--skip-lines", "1", "--target", "-1"]
        let run = try nn(["train"] + data + ["--hidden", "8", "--epochs", "30", "--batch-size", "8", "--threads", "1",
                                             "--checkpoint", checkpoint], launcher: launcher)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("x 2 ranks (batch 8 per rank)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("gradients all-reduced in shared memory\n"), run.stdout)
        // One voice: one result block, from rank 0.
        XCTAssertEqual(run.stdout.components(separatedBy: "training accuracy:").count - 1, 1, run.stdout)
        let accuracy = try XCTUnwrap(figure("training accuracy: ", in: run.stdout))
        XCTAssertGreaterThan(accuracy, 0.7, "30 epochs of iris")
        let eval = try succeed(["eval", "--checkpoint", checkpoint] + data)
        XCTAssertEqual(figure("test accuracy: ", in: eval), accuracy, eval)

        // Batch norm over both ranks' rows.
        let synchronized = try nn(["train"] + data + ["--hidden", "8", "--batch-norm", "--sync-batch-norm", "--epochs", "2",
                                                      "--threads", "1"], launcher: launcher)
        XCTAssertEqual(synchronized.status, 0, synchronized.stderr)
        XCTAssertTrue(synchronized.stdout.contains("x 2 ranks (batch 32 per rank, synchronized batch norm)"), synchronized.stdout)
        try assertOneLineError(["train"] + data + ["--sync-batch-norm"], mentions: ["--sync-batch-norm", "--batch-norm"])

        // Cross-validation: each fold trained over both ranks, one report.
        let folds = try nn(["train"] + data + ["--folds", "3", "--hidden", "8", "--epochs", "20", "--batch-size", "8",
                                               "--threads", "1"], launcher: launcher)
        XCTAssertEqual(folds.status, 0, folds.stderr)
        XCTAssertTrue(folds.stdout.contains("3-fold cross-validation (stratified)") && folds.stdout.contains("x 2 ranks"), folds.stdout)
        XCTAssertEqual(folds.stdout.components(separatedBy: "cross-validation accuracy: ").count - 1, 1, folds.stdout)
        XCTAssertGreaterThan(try XCTUnwrap(figure("cross-validation accuracy: ", in: folds.stdout)), 0.6, folds.stdout)
    }

    /// The rows of a CSV file without quotes, split at commas.
    func csvRows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func testTabularCrossValidationOnEverySklearnDataset() throws {
        let d = try requireSklearn()
        let sklearnFile = ["--skip-lines", "1", "--target", "-1"]  // metadata line, class index last
        // (file, options, task words in the summary line, metric, bar); chance is 0.33, 0.40, 0.63, 0.10, R² 0.
        let cases: [(String, [String], String, String, Double)] = [
            ("iris.csv", sklearnFile + ["--epochs", "100"], "classification (inferred: column '4' holds 3 distinct integers", "accuracy", 0.85),
            ("wine_data.csv", sklearnFile, "classification (inferred", "accuracy", 0.90),
            ("breast_cancer.csv", sklearnFile + ["--task", "binary"], "binary (--task)", "accuracy", 0.93),
            ("digits.csv.gz", ["--target", "-1", "--epochs", "10"], "MLP 64-16-10", "accuracy", 0.85),
            ("diabetes_data_raw.csv.gz", ["--delimiter", "space", "--targets", d + "diabetes_target.csv.gz", "--hidden", "none",
                                          "--epochs", "50"], "linear model 10-1 (one Dense layer), regression (inferred", "r2", 0.35),
        ]
        // A schedule applies to every fold and the summary line names it.
        let scheduled = try succeed(["train", "--data", d + "iris.csv", "--skip-lines", "1", "--target", "-1", "--folds", "3",
                                     "--hidden", "16", "--epochs", "40", "--lr", "0.01", "--schedule", "cosine"])
        XCTAssertTrue(scheduled.contains("40 epochs, schedule cosine, seed"), scheduled)
        XCTAssertGreaterThanOrEqual(figure("cross-validation accuracy: ", in: scheduled) ?? -1, 0.85, scheduled)
        for (file, options, words, metric, bar) in cases {
            let output = try succeed(["train", "--data", d + file, "--folds", "3", "--seed", "1", "--hidden", "16", "--epochs", "40"] + options)
            XCTAssertTrue(output.hasPrefix("nn train: 3-fold cross-validation"), "\(file):\n\(output)")
            XCTAssertTrue(output.contains(words), "\(file): the summary line lacks \"\(words)\":\n\(output)")
            XCTAssertEqual(output.split(separator: "\n").filter { $0.hasPrefix("fold ") }.count, 3, "\(file):\n\(output)")
            let value = figure("cross-validation \(metric): ", in: output) ?? -1
            XCTAssertGreaterThanOrEqual(value, bar, "\(file): \(metric) \(value) under \(bar)")
        }
    }

    func testTabularPredictReproducesEvalForEveryTask() throws {
        let d = try requireSklearn()
        let scratch = self.scratch.path + "/"

        // Classification, with a validation split, log and plot; eval defaults to the training file.
        try succeed(["train", "--data", d + "iris.csv", "--skip-lines", "1", "--target", "-1", "--hidden", "8", "--epochs", "30",
                     "--val-split", "0.2", "--checkpoint", scratch + "iris.st", "--log", scratch + "log.csv", "--plot", scratch + "p.svg"])
        XCTAssertEqual(try csvRows(scratch + "log.csv").count, 31)
        XCTAssertTrue(try String(contentsOfFile: scratch + "p.svg", encoding: .utf8).hasPrefix("<svg"))
        let eval = try succeed(["eval", "--checkpoint", scratch + "iris.st"])
        let (right, total) = try XCTUnwrap(counts("test accuracy: ", in: eval), eval)
        XCTAssertEqual(total, 150)
        try succeed(["predict", "--checkpoint", scratch + "iris.st", "--data", d + "iris.csv", "--output", scratch + "iris-p.csv"])
        let rows = try csvRows(scratch + "iris-p.csv")
        XCTAssertEqual(rows.first, ["class", "0", "1", "2"])
        let truth = try csvRows(d + "iris.csv").dropFirst().map { $0.last! }
        XCTAssertEqual(rows.count - 1, truth.count)
        XCTAssertEqual(zip(rows.dropFirst(), truth).filter { $0.0[0] == $0.1 }.count, right, "predict's classes vs eval's accuracy")
        for row in rows.dropFirst() {
            let p = row.dropFirst().map { Double($0)! }
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 2e-6, "probabilities \(row)")
        }
        // New data: no metadata line, no target column; predict to standard output gives the same rows.
        let features = try String(contentsOfFile: d + "iris.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").prefix(4).joined(separator: ",") }.joined(separator: "\n") + "\n"
        try features.write(toFile: scratch + "new.csv", atomically: true, encoding: .utf8)
        let printed = try succeed(["predict", "--checkpoint", scratch + "iris.st", "--data", scratch + "new.csv"])
        XCTAssertEqual(printed, try String(contentsOfFile: scratch + "iris-p.csv", encoding: .utf8))

        // Binary: one logit, the class and the positive class's probability.
        try succeed(["train", "--data", d + "breast_cancer.csv", "--skip-lines", "1", "--target", "-1", "--task", "binary",
                     "--hidden", "8", "--epochs", "5", "--checkpoint", scratch + "bc.st"])
        let bcEval = try succeed(["eval", "--checkpoint", scratch + "bc.st"])
        let bc = try XCTUnwrap(counts("test accuracy: ", in: bcEval), bcEval)
        XCTAssertNotNil(figure("test auc: ", in: bcEval))
        try succeed(["predict", "--checkpoint", scratch + "bc.st", "--data", d + "breast_cancer.csv", "--output", scratch + "bc.csv"])
        let bcRows = try csvRows(scratch + "bc.csv")
        XCTAssertEqual(bcRows.first, ["class", "1"])
        let bcTruth = try csvRows(d + "breast_cancer.csv").dropFirst().map { $0.last! }
        XCTAssertEqual(zip(bcRows.dropFirst(), bcTruth).filter { $0.0[0] == $0.1 }.count, bc.right)
        for row in bcRows.dropFirst() where Double(row[1])! != 0.5 { XCTAssertEqual(row[0] == "1", Double(row[1])! > 0.5, "\(row)") }

        // Regression (data and targets in two files): predicted values give eval's R², with
        // standardized targets (mapped back) and with targets in their own units.
        let targets = try Table.readCSV(d + "diabetes_target.csv.gz", options: CSVOptions(delimiter: UInt8(ascii: " "), hasHeader: false))
        guard case .values(let y, _) = try targets.values() else { return XCTFail("values expected") }
        for (variant, options) in [("standardized", ["--hidden", "8", "--epochs", "20"]), ("raw", ["--raw-targets", "--hidden", "none", "--lr", "0.5", "--epochs", "30"])] {
            try succeed(["train", "--data", d + "diabetes_data_raw.csv.gz", "--delimiter", "space", "--targets",
                         d + "diabetes_target.csv.gz", "--checkpoint", scratch + "dia.st"] + options)
            let diaEval = try succeed(["eval", "--checkpoint", scratch + "dia.st"])
            let r2 = try XCTUnwrap(figure("test r2: ", in: diaEval))
            let mse = try XCTUnwrap(figure("test mse: ", in: diaEval))
            try succeed(["predict", "--checkpoint", scratch + "dia.st", "--data", d + "diabetes_data_raw.csv.gz", "--output", scratch + "dia.csv"])
            let diaRows = try csvRows(scratch + "dia.csv")
            XCTAssertEqual(diaRows.first, ["0"], "the target file's column name")
            let predicted = diaRows.dropFirst().map { Double($0[0])! }
            XCTAssertEqual(predicted.count, y.count)
            let meanY = y.reduce(0.0) { $0 + Double($1) } / Double(y.count)
            let sse = zip(predicted, y).reduce(0.0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) }
            let sst = y.reduce(0.0) { $0 + (Double($1) - meanY) * (Double($1) - meanY) }
            // Eval prints six decimals; the values are the same Floats, summed in another order.
            XCTAssertEqual(1 - sse / sst, r2, accuracy: 2e-6, "\(variant): R² from predict's values vs eval's")
            XCTAssertEqual(sse / Double(y.count), mse, accuracy: 1e-6 * mse + 5e-7, "\(variant): MSE from predict's values vs eval's")
            XCTAssertGreaterThan(r2, 0.2, variant)
        }
        // A regression's log has the task's metrics (sorted), not an accuracy, and its plot draws R².
        try succeed(["train", "--data", d + "diabetes_data_raw.csv.gz", "--delimiter", "space", "--targets",
                     d + "diabetes_target.csv.gz", "--hidden", "8", "--epochs", "3", "--val-split", "0.2",
                     "--log", scratch + "dia-log.csv", "--plot", scratch + "dia.svg"])
        let diaLog = try csvRows(scratch + "dia-log.csv")
        XCTAssertEqual(diaLog.first, ["epoch", "train_loss", "train_mae", "train_mse", "train_r2", "train_rmse", "val_loss",
                                      "val_mae", "val_mse", "val_r2", "val_rmse", "learning_rate", "seconds", "images_per_second"])
        XCTAssertEqual(diaLog.count, 4)
        for row in diaLog.dropFirst() { XCTAssertFalse(row.contains(""), "every figure present: \(row)") }
        XCTAssertTrue(try String(contentsOfFile: scratch + "dia.svg", encoding: .utf8).contains(">r2<"), "the plot's right panel is R²")

        // Multi-label, with a text feature one-hot encoded: two 0/1 target columns are inferred as labels.
        var generator = RandomGenerator(seed: 7)
        var table = "x1,x2,colour,warm,big\n"
        let colours = ["blue", "green", "red"]
        for _ in 0..<300 {
            let x1 = generator.nextUnitFloat() * 2 - 1, x2 = generator.nextUnitFloat() * 2 - 1
            let colour = colours[Int(generator.nextUnitFloat() * 3) % 3]
            table += "\(x1),\(x2),\(colour),\(colour == "red" ? 1 : 0),\(x1 + x2 > 0 ? 1 : 0)\n"
        }
        try table.write(toFile: scratch + "labels.csv", atomically: true, encoding: .utf8)
        let mlTrain = try succeed(["train", "--data", scratch + "labels.csv", "--target", "warm,big", "--hidden", "16", "--epochs", "40",
                                   "--checkpoint", scratch + "ml.st"])
        XCTAssertTrue(mlTrain.contains("multilabel (inferred: 2 target columns of 0/1)"), mlTrain)
        let mlEval = try succeed(["eval", "--checkpoint", scratch + "ml.st"])
        let exact = try XCTUnwrap(figure("test exact_match: ", in: mlEval))
        XCTAssertGreaterThan(exact, 0.8)
        try succeed(["predict", "--checkpoint", scratch + "ml.st", "--data", scratch + "labels.csv", "--output", scratch + "ml.csv"])
        let mlRows = try csvRows(scratch + "ml.csv")
        XCTAssertEqual(mlRows.first, ["labels", "warm", "big"])
        let mlTruth = try csvRows(scratch + "labels.csv").dropFirst().map { row in
            [row[3] == "1" ? "warm" : nil, row[4] == "1" ? "big" : nil].compactMap { $0 }.joined(separator: ";")
        }
        let matches = zip(mlRows.dropFirst(), mlTruth).filter { $0.0[0] == $0.1 }.count
        XCTAssertEqual(String(format: "%.6f", Double(matches) / 300), String(format: "%.6f", exact))
        // New rows that hold only some colours still line up with the one-hot columns; an unseen one is an error.
        try "x1,x2,colour\n0.5,0.5,blue\n-0.5,-0.5,green\n".write(toFile: scratch + "two.csv", atomically: true, encoding: .utf8)
        let two = try csvRows(try { try succeed(["predict", "--checkpoint", scratch + "ml.st", "--data", scratch + "two.csv",
                                                  "--output", scratch + "two-p.csv"]); return scratch + "two-p.csv" }())
        XCTAssertEqual(two.map { $0[0] }, ["labels", "big", ""])
        // A file holding one of the two target columns: it is set aside, not taken for a feature.
        try "x1,x2,colour,big\n0.5,0.5,blue,1\n-0.5,-0.5,green,0\n".write(toFile: scratch + "one.csv", atomically: true, encoding: .utf8)
        try succeed(["predict", "--checkpoint", scratch + "ml.st", "--data", scratch + "one.csv", "--output", scratch + "one-p.csv"])
        XCTAssertEqual(try csvRows(scratch + "one-p.csv"), two, "the same rows as without the target column")
        try "x1,x2,colour\n0.5,0.5,purple\n".write(toFile: scratch + "purple.csv", atomically: true, encoding: .utf8)
        try assertOneLineError(["predict", "--checkpoint", scratch + "ml.st", "--data", scratch + "purple.csv"],
                               mentions: [scratch + "purple.csv", "colour", "purple"], status: 1)

        // NumPy: features and targets in two .npy files.
        let iris = try Table.readCSV(d + "iris.csv", options: CSVOptions(hasHeader: false, skipLines: 1))
        let (matrix, target) = try iris.split(targets: [.index(-1)])
        guard case .classes(let labels, _) = try target.classes() else { return XCTFail("classes expected") }
        try NumPyArray(floats: matrix.values, shape: [150, 4]).write(to: scratch + "x.npy")
        try NumPyArray(int32s: labels, shape: [150]).write(to: scratch + "y.npy")
        let npyTrain = try succeed(["train", "--data", scratch + "x.npy", "--targets", scratch + "y.npy", "--hidden", "8",
                                    "--epochs", "30", "--checkpoint", scratch + "npy.st"])
        XCTAssertTrue(npyTrain.contains("classification (inferred"), npyTrain)
        let npyEval = try succeed(["eval", "--checkpoint", scratch + "npy.st"])
        try succeed(["predict", "--checkpoint", scratch + "npy.st", "--data", scratch + "x.npy", "--output", scratch + "npy.csv"])
        let npyRows = try csvRows(scratch + "npy.csv").dropFirst()
        XCTAssertEqual(zip(npyRows, labels).filter { $0.0[0] == String($0.1) }.count, counts("test accuracy: ", in: npyEval)?.right)
    }

    func testTabularResumeContinuesTheSameRun() throws {
        let d = try requireSklearn()
        let s = scratch.path + "/"
        let common = ["--data", d + "wine_data.csv", "--skip-lines", "1", "--target", "-1", "--hidden", "8,8", "--dropout", "0.1",
                      "--batch-norm", "--val-split", "0.25", "--seed", "3"]
        try succeed(["train"] + common + ["--epochs", "6", "--checkpoint", s + "whole.st"])
        try succeed(["train"] + common + ["--epochs", "3", "--checkpoint", s + "part.st"])
        let resumed = try succeed(["train", "--resume", s + "part.st", "--epochs", "6", "--checkpoint", s + "part.st"])
        XCTAssertTrue(resumed.contains("resuming \(s)part.st after epoch 3 of 6"), resumed)
        XCTAssertTrue(resumed.contains("MLP 13-8-8-3, batch norm, dropout 0.1"), resumed)
        let whole = try succeed(["eval", "--checkpoint", s + "whole.st"]), part = try succeed(["eval", "--checkpoint", s + "part.st"])
        XCTAssertEqual(whole.split(separator: "\n").dropFirst(), part.split(separator: "\n").dropFirst(), "a resumed run ends as an uninterrupted one")
    }

    func testTabularBadInputEndsInOneLineErrors() throws {
        let d = try requireSklearn()
        let s = scratch.path + "/"
        let iris = d + "iris.csv"
        try assertOneLineError(["train", "--data", iris, "--skip-lines", "1", "--target", "species"], mentions: [iris, "'species'"], status: 1)
        try assertOneLineError(["train", "--data", iris, "--skip-lines", "1"], mentions: [iris, "--target"], status: 1)
        try assertOneLineError(["train", "--data", iris, "--target", "-1", "--task", "clustering"], mentions: ["clustering", "--task"])
        try assertOneLineError(["train", "--data", iris, "--skip-lines", "1", "--target", "-1", "--task", "binary"],
                               mentions: [iris, "binary", "two classes"], status: 1)
        try assertOneLineError(["train", "--data", iris, "--skip-lines", "1", "--target", "-1", "--raw-targets"],
                               mentions: ["--raw-targets", "regression"], status: 1)
        try assertOneLineError(["train", "--data", s + "missing.csv", "--target", "y"], mentions: [s + "missing.csv"], status: 1)
        try assertOneLineError(["train", "--data", iris, "--target", "-1", "--hidden", "64,x"], mentions: ["--hidden", "64,x"])
        try assertOneLineError(["train", "--data", iris, "--target", "-1", "--model", "mlp"], mentions: ["--model", "--hidden"], status: 1)

        // A non-numeric feature: an error naming the file, line and column, unless such rows are dropped.
        try "a,b,y\n1,2,0\n3,oops,1\n5,6,1\n7,8,0\n".write(toFile: s + "bad.csv", atomically: true, encoding: .utf8)
        try assertOneLineError(["train", "--data", s + "bad.csv", "--target", "y", "--epochs", "1"],
                               mentions: [s + "bad.csv", "line 3", "'b'", "oops"], status: 1)
        let dropped = try succeed(["train", "--data", s + "bad.csv", "--target", "y", "--epochs", "1", "--drop-invalid-rows"])
        XCTAssertTrue(dropped.contains("3 rows x 2 features") && dropped.contains("1 invalid rows dropped"), dropped)

        // Checkpoints used with data of another kind.
        try succeed(["train", "--data", iris, "--skip-lines", "1", "--target", "-1", "--hidden", "4", "--epochs", "1",
                     "--checkpoint", s + "iris.st"])
        try assertOneLineError(["eval", "--checkpoint", s + "iris.st", "--data", s], mentions: [s + "iris.st", "tabular", "directory"], status: 1)
        try assertOneLineError(["predict", "--checkpoint", s + "iris.st", s + "a.png"], mentions: [s + "iris.st", "tabular", "--data"], status: 1)
        try assertOneLineError(["eval", "--checkpoint", s + "iris.st", "--data", d + "wine_data.csv", "--skip-lines", "1", "--target", "-1"],
                               mentions: [d + "wine_data.csv", "not one the model was trained on"], status: 1)
        try "1,2,3,4,7\n".write(toFile: s + "class7.csv", atomically: true, encoding: .utf8)
        try assertOneLineError(["eval", "--checkpoint", s + "iris.st", "--data", s + "class7.csv"], mentions: [s + "class7.csv", "class '7'"], status: 1)
        try "1,2,3\n".write(toFile: s + "narrow.csv", atomically: true, encoding: .utf8)
        try assertOneLineError(["predict", "--checkpoint", s + "iris.st", "--data", s + "narrow.csv"], mentions: [s + "narrow.csv", "lacks"], status: 1)
        guard FileManager.default.fileExists(atPath: CLITests.dataDirectory + "/t10k-labels-idx1-ubyte.gz") else { return }
        try succeed(["train", "--model", "mlp", "--epochs", "1", "--limit", "256", "--checkpoint", s + "fm.st"])
        try assertOneLineError(["eval", "--checkpoint", s + "fm.st", "--data", iris], mentions: [s + "fm.st", "Fashion-MNIST", iris], status: 1)
        try assertOneLineError(["predict", "--checkpoint", s + "fm.st", "--data", iris], mentions: [s + "fm.st", "Fashion-MNIST"], status: 1)
        try assertOneLineError(["train", "--resume", s + "fm.st", "--data", iris], mentions: [s + "fm.st", "Fashion-MNIST", iris], status: 1)
    }
}

/// The README's tabular example in Swift ("Training on your own data"), verbatim.
final class TabularReadmeExampleTests: XCTestCase {
    func testReadmeTabularExample() throws {
        guard FileManager.default.fileExists(atPath: CLITests.sklearnDirectory + "iris.csv") else {
            throw XCTSkip("python3-sklearn's data files are not in \(CLITests.sklearnDirectory) (make deps installs them)")
        }
        // --- README begin
        // iris.csv: a metadata line, then 4 features and the class index per row.
        let table = try Table.readCSV("/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv",
                                      options: CSVOptions(hasHeader: false, skipLines: 1))
        let (features, target) = try table.split(targets: [.index(-1)])
        let data = Dataset(features: features, target: try target.classes())
        let task = LearningTask.inferred(from: data.targets)   // .classification: 3 classes

        // A stratified 80/20 split, standardized with the training part's statistics.
        var generator = RandomGenerator(seed: 0)
        let (trainPart, testPart) = data.split(validationFraction: 0.2, stratified: true, using: &generator)
        let statistics = trainPart.statistics()
        let train = trainPart.standardized(with: statistics)
        let test = testPart.standardized(with: statistics)

        // An MLP 4-64-64-3 with Adam 1e-3, batch 32, 100 epochs; the task brings the loss
        // (softmax cross-entropy) and the metrics.
        func mlp() -> Sequential {
            Sequential {
                Dense(inputSize: 4, outputSize: 64)
                ReLU()
                Dense(inputSize: 64, outputSize: 64)
                ReLU()
                Dense(inputSize: 64, outputSize: 3)
            }
        }
        DefaultRandom.manualSeed(0)
        let model = mlp()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 1e-3),
                              task: task, seed: 0)
        trainer.printsEpochs = false
        try trainer.fit(train, epochs: 100, batchSize: 32)
        let evaluation = trainer.evaluate(test)     // loss, metrics, confusion matrix
        print(String(format: "test accuracy %.4f", evaluation.metrics["accuracy"]!))
        let probabilities = softmax(trainer.predict(test))   // [30, 3]

        // 5-fold stratified cross-validation of the same recipe, standardized per training fold.
        let folds = try CrossValidation(folds: 5, stratified: true, seed: 0)
            .run(data, task: task, epochs: 100, batchSize: 32,
                 makeModel: { fold in DefaultRandom.manualSeed(UInt64(fold)); return mlp() },
                 makeOptimizer: { Adam(parameters: $0, learningRate: 1e-3) })
        print(folds.report)                          // each fold, then mean ± std
        // --- README end
        XCTAssertGreaterThan(evaluation.metrics["accuracy"]!, 0.8)
        XCTAssertEqual(probabilities.shape, [30, 3])
        XCTAssertGreaterThan(folds.mean("accuracy"), 0.85)
        XCTAssertEqual(folds.folds.count, 5)
    }
}
