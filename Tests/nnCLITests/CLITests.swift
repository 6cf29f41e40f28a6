import Foundation
import NN
import XCTest

/// Runs the built `nn` binary as a user would: every argument error must end in one
/// `error: ...` line on stderr and a non-zero exit (never a crash), a short training run
/// must print its test accuracy, `eval` must reproduce it, and the demos must succeed.
final class CLITests: XCTestCase {
    /// Where Fashion-MNIST is installed (Debian's dataset-fashion-mnist).
    static let dataDirectory = "/usr/share/datasets/fashion-mnist"

    /// The `nn` executable SwiftPM built beside this test bundle (.build/<config>/nn).
    static let binary: URL? = {
        var candidates: [URL] = []
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent("nn"))
        // On platforms where the bundle is a directory, the runner sits deeper inside it.
        candidates.append(Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent().appendingPathComponent("nn"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    }

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nnCLITests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Runs `nn arguments` to completion, its output captured through files (pipes could
    /// fill and block the child while the parent waits).
    /// With `launcher` (mpirun and its options), `nn` runs under it.
    func nn(_ arguments: [String], launcher: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        guard let binary = CLITests.binary else {
            XCTFail("the nn executable is not beside the test bundle (\(CommandLine.arguments[0]))", file: file, line: line)
            throw XCTSkip("no nn binary")
        }
        let id = UUID().uuidString
        let outURL = scratch.appendingPathComponent("\(id).out"), errURL = scratch.appendingPathComponent("\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
        }
        process.currentDirectoryURL = scratch
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// Asserts that `arguments` fail with exactly one stderr line that starts with "error: "
    /// and contains every one of `mentions`, with no crash report anywhere.
    func assertOneLineError(_ arguments: [String], mentions: [String], status expected: Int32? = nil,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try nn(arguments, file: file, line: line)
        let command = "nn " + arguments.joined(separator: " ")
        XCTAssertNotEqual(run.status, 0, "\(command) exited 0", file: file, line: line)
        if let expected {
            XCTAssertEqual(run.status, expected, "\(command): exit status; stderr: \(run.stderr)", file: file, line: line)
        }
        XCTAssertEqual(run.stderrLines.count, 1, "\(command): stderr should be one line, got:\n\(run.stderr)", file: file, line: line)
        let message = String(run.stderrLines.first ?? "")
        XCTAssertTrue(message.hasPrefix("error: "), "\(command): \"\(message)\" lacks the error: prefix", file: file, line: line)
        for word in mentions {
            XCTAssertTrue(message.contains(word), "\(command): \"\(message)\" does not mention \(word)", file: file, line: line)
        }
        for crash in ["Fatal error", "Stack dump", "stack trace", "Illegal instruction", "Segmentation"] {
            XCTAssertFalse(run.stderr.contains(crash) || run.stdout.contains(crash),
                           "\(command): crash report (\(crash)):\n\(run.stderr)", file: file, line: line)
        }
    }

    /// The value of the `test accuracy: 0.1234` line (exactly four decimals, on its own line).
    func testAccuracy(in output: String, file: StaticString = #filePath, line: UInt = #line) -> Double? {
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("test accuracy: ") }
        XCTAssertEqual(lines.count, 1, "expected one test accuracy line in:\n\(output)", file: file, line: line)
        guard let text = lines.first?.dropFirst("test accuracy: ".count) else { return nil }
        XCTAssertTrue(text.range(of: #"^[01]\.\d{4}$"#, options: .regularExpression) != nil,
                      "accuracy \"\(text)\" is not a number with four decimals", file: file, line: line)
        return Double(text)
    }

    func requireData() throws {
        guard FileManager.default.fileExists(atPath: CLITests.dataDirectory + "/t10k-labels-idx1-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST is not installed in \(CLITests.dataDirectory) (make deps)")
        }
    }

    // MARK: - Argument errors

    func testBadArgumentsEndInOneLineErrors() throws {
        let usage: Int32 = 1  // every failure exits 1, argument errors included (not ArgumentParser's 64)
        try assertOneLineError(["train", "--model", "transformer"], mentions: ["transformer", "--model", "mlp"], status: usage)
        try assertOneLineError(["train"], mentions: ["--model"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--epochs", "0"], mentions: ["--epochs", "0"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--epochs", "three"], mentions: ["--epochs", "three"], status: usage)
        try assertOneLineError(["train", "--model", "cnn", "--batch-size", "0"], mentions: ["--batch-size"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--lr", "0"], mentions: ["--lr"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--val-split", "1"], mentions: ["--val-split"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--val-split", "1.5"], mentions: ["--val-split"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--optimizer", "lbfgs"], mentions: ["lbfgs", "--optimizer", "adamw"],
                               status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--schedule", "cyclic"], mentions: ["cyclic", "--schedule", "cosine"],
                               status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--threads", "0"], mentions: ["--threads"], status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--limit", "0"], mentions: ["--limit"], status: usage)
        try assertOneLineError(["train", "--model", "cnn", "--augment", "--crop-padding", "9"], mentions: ["--crop-padding"],
                               status: usage)
        try assertOneLineError(["train", "--model", "mlp", "--frobnicate"], mentions: ["--frobnicate"], status: usage)
        try assertOneLineError(["eval"], mentions: ["--checkpoint"], status: usage)
        try assertOneLineError(["dance"], mentions: ["dance"], status: usage)
        try assertOneLineError(["demo", "sobel", "--scale", "0"], mentions: ["--scale"], status: usage)
    }

    func testRuntimeErrorsEndInOneLineErrors() throws {
        let missing = scratch.appendingPathComponent("no-such-dir").path
        try assertOneLineError(["train", "--model", "mlp", "--data", missing], mentions: [missing, "not found"], status: 1)
        try assertOneLineError(["eval", "--checkpoint", missing + "/x.safetensors", "--data", missing],
                               mentions: ["x.safetensors"], status: 1)
        let corrupt = scratch.appendingPathComponent("corrupt.safetensors")
        try Data("this is not a safetensors file".utf8).write(to: corrupt)
        try assertOneLineError(["eval", "--checkpoint", corrupt.path], mentions: [corrupt.path], status: 1)
        try assertOneLineError(["train", "--resume", corrupt.path], mentions: [corrupt.path], status: 1)
        // A valid safetensors file that is not an nn checkpoint: 8-byte length, "{}", no tensors.
        let empty = scratch.appendingPathComponent("empty.safetensors")
        try Data([2, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)).write(to: empty)
        try assertOneLineError(["eval", "--checkpoint", empty.path], mentions: [empty.path, "model"], status: 1)
    }

    func testBadDatasetFilesEndInOneLineErrorsNamingTheFile() throws {
        try requireData()
        // A copy of the dataset directory whose training labels are replaced by each defect.
        let directory = scratch.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name),
                                                       withDestinationURL: URL(fileURLWithPath: CLITests.dataDirectory + "/" + name))
        }
        let labels = directory.appendingPathComponent("train-labels-idx1-ubyte.gz")
        let real = try Data(contentsOf: URL(fileURLWithPath: CLITests.dataDirectory + "/train-labels-idx1-ubyte.gz"))
        let defects: [(defect: String, bytes: Data, mentions: String)] = [
            ("empty", Data(), "empty"),
            ("not gzip", Data("label,class\n0,9\n".utf8), "gzip"),
            ("truncated gzip", real.prefix(real.count / 2), "gzip"),
        ]
        for (_, bytes, word) in defects {
            try bytes.write(to: labels)
            try assertOneLineError(["train", "--model", "mlp", "--epochs", "1", "--data", directory.path],
                                   mentions: [labels.path, word], status: 1)
        }
        try FileManager.default.removeItem(at: labels)
        try assertOneLineError(["train", "--model", "mlp", "--data", directory.path],
                               mentions: ["train-labels-idx1-ubyte"], status: 1)
    }

    // MARK: - Training, evaluation, resuming

    func testShortTrainingRunThenEvalReproducesTheAccuracy() throws {
        try requireData()
        let checkpoint = scratch.appendingPathComponent("out/mlp.safetensors").path
        let log = scratch.appendingPathComponent("out/mlp.csv").path
        let plot = scratch.appendingPathComponent("out/mlp.svg").path
        let train = try nn(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--val-split", "0.1",
                            "--checkpoint", checkpoint, "--log", log, "--plot", plot])
        XCTAssertEqual(train.status, 0, "nn train failed:\n\(train.stderr)")
        XCTAssertEqual(train.stderr, "")
        let accuracy = try XCTUnwrap(testAccuracy(in: train.stdout))
        XCTAssertGreaterThan(accuracy, 0.6, "an MLP after one epoch on 1,800 images should beat 0.6")
        XCTAssertTrue(train.stdout.contains("per-class accuracy:") && train.stdout.contains("confusion matrix"))
        XCTAssertTrue(train.stdout.contains("1800 training, 200 validation, 10000 test"), train.stdout)

        let csv = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 2, "header and one epoch:\n\(csv)")
        XCTAssertEqual(csv.first, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds,images_per_second")
        XCTAssertEqual(csv.last?.split(separator: ",", omittingEmptySubsequences: false).count, 8)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 4, "train and validation, loss and accuracy")

        let eval = try nn(["eval", "--checkpoint", checkpoint])
        XCTAssertEqual(eval.status, 0, "nn eval failed:\n\(eval.stderr)")
        XCTAssertEqual(testAccuracy(in: eval.stdout), accuracy, "eval must rebuild the same model and standardization")

        // A checkpoint saved by the library (no model_name) is recognized by its description,
        // also as written before the activations were types of their own.
        let saved = try SafeTensorsFile.read(from: URL(fileURLWithPath: checkpoint))
        XCTAssertEqual(saved.metadata["model"], "Sequential(Flatten, Dense, ReLU, Dense, ReLU, Dense) [235146 parameters]")
        var legacy = saved.metadata
        legacy["model_name"] = nil
        legacy["model"] = "Sequential(Flatten, Dense, Activation, Dense, Activation, Dense) [235146 parameters]"
        let legacyCheckpoint = scratch.appendingPathComponent("out/legacy.safetensors")
        try SafeTensorsFile(metadata: legacy, tensors: saved.tensors).write(to: legacyCheckpoint)
        let legacyEval = try nn(["eval", "--checkpoint", legacyCheckpoint.path])
        XCTAssertEqual(legacyEval.status, 0, "nn eval of a legacy description failed:\n\(legacyEval.stderr)")
        XCTAssertEqual(testAccuracy(in: legacyEval.stdout), accuracy)

        // Resuming continues the saved run (the recipe comes from the checkpoint) to 2 epochs.
        let resumed = try nn(["train", "--resume", checkpoint, "--epochs", "2", "--checkpoint", checkpoint, "--log", log])
        XCTAssertEqual(resumed.status, 0, "nn train --resume failed:\n\(resumed.stderr)")
        XCTAssertTrue(resumed.stdout.contains("resuming \(checkpoint) after epoch 1 of 2"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("epoch 2/2"), resumed.stdout)
        XCTAssertNotNil(testAccuracy(in: resumed.stdout))
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, 3)

        try assertOneLineError(["train", "--model", "cnn", "--resume", checkpoint], mentions: ["mlp", "cnn"], status: 1)
    }

    func testResumingWithMoreEpochsFollowsTheLongerSchedule() throws {
        try requireData()
        let checkpoint = scratch.appendingPathComponent("cosine.safetensors").path
        let first = try nn(["train", "--model", "mlp", "--epochs", "1", "--limit", "500", "--schedule", "cosine",
                            "--checkpoint", checkpoint])
        XCTAssertEqual(first.status, 0, first.stderr)
        // A 1-epoch cosine schedule ends at rate 0; over 2 epochs the second one runs at half the base.
        let resumed = try nn(["train", "--resume", checkpoint, "--epochs", "2"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let epoch2 = resumed.stdout.split(separator: "\n").first { $0.hasPrefix("epoch 2/2") }
        XCTAssertTrue(epoch2?.contains("lr 0.0005 ") ?? false, "epoch 2 should run at lr 0.0005:\n\(resumed.stdout)")
    }

    /// A run killed at a random moment keeps its last finished epoch, and resuming it ends
    /// with exactly the weights of an uninterrupted run (same seed, same thread count).
    func testKilledRunResumesToTheWeightsOfAnUninterruptedRun() throws {
        try requireData()
        guard let binary = CLITests.binary else { throw XCTSkip("no nn binary") }
        // The CNN: dropout and augmentation draw random numbers that the checkpoint must restore.
        let recipe = ["--model", "cnn", "--epochs", "3", "--limit", "1000", "--augment", "--schedule", "cosine",
                      "--threads", "2", "--seed", "7"]
        let whole = scratch.appendingPathComponent("whole.safetensors").path
        let uninterrupted = try nn(["train"] + recipe + ["--checkpoint", whole])
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.stderr)

        // The same run, SIGKILLed soon after its first checkpoint appears (mid-epoch or mid-save).
        let killed = scratch.appendingPathComponent("killed.safetensors")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["train"] + recipe + ["--checkpoint", killed.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: killed.path) && process.isRunning && Date() < deadline {
            usleep(2_000)
        }
        usleep(UInt32.random(in: 0...200_000))  // an epoch takes about 0.3 s
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: killed.path), "no checkpoint after the first epoch")

        let resumed = try nn(["train", "--resume", killed.path, "--threads", "2", "--checkpoint", killed.path])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming \(killed.path) after epoch"), resumed.stdout)
        XCTAssertFalse(resumed.stdout.contains("nothing to train"), "the kill came after the run had finished")
        XCTAssertEqual(testAccuracy(in: resumed.stdout), testAccuracy(in: uninterrupted.stdout))
        let a = try SafeTensorsFile.read(from: URL(fileURLWithPath: whole))
        let b = try SafeTensorsFile.read(from: killed)
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys))
        for (name, tensor) in a.tensors {
            XCTAssertEqual(tensor.shape, b.tensors[name]?.shape, name)
            XCTAssertTrue(tensor == b.tensors[name], "\(name) differs from the uninterrupted run's")
        }
    }

    /// Open MPI's mpirun starting 2 ranks on this 2-core machine as root (the `launcher` of
    /// `nn`); skips when Open MPI is not installed.
    func mpirunTwoRanks() throws -> [String] {
        let mpirun = "/usr/bin/mpirun.openmpi"
        guard FileManager.default.isExecutableFile(atPath: mpirun) else { throw XCTSkip("no Open MPI (make deps)") }
        return [mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                "--mca", "mpi_yield_when_idle", "1", "-np", "2"]
    }

    /// `mpirun -np 2 nn train` with the gradients all-reduced in shared memory (the default)
    /// and through MPI (`--no-shared-memory-all-reduce`): the same sums of the same bytes with
    /// 2 ranks, so the same checkpoint bit for bit and the same test accuracy.
    func testTwoRanksTrainTheSameWithAndWithoutSharedMemory() throws {
        try requireData()
        let launcher = try mpirunTwoRanks()
        let recipe = ["train", "--model", "mlp", "--epochs", "1", "--limit", "1024", "--threads", "1"]
        let shared = scratch.appendingPathComponent("shared.safetensors"), mpi = scratch.appendingPathComponent("mpi.safetensors")
        let first = try nn(recipe + ["--checkpoint", shared.path], launcher: launcher)
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try nn(recipe + ["--checkpoint", mpi.path, "--no-shared-memory-all-reduce"], launcher: launcher)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(first.stdout.contains("gradients all-reduced in shared memory\n"), first.stdout)
        XCTAssertTrue(second.stdout.contains("gradients all-reduced through MPI\n"), second.stdout)
        let accuracy = try XCTUnwrap(testAccuracy(in: first.stdout))
        XCTAssertEqual(testAccuracy(in: second.stdout), accuracy)
        let a = try SafeTensorsFile.read(from: shared), b = try SafeTensorsFile.read(from: mpi)
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys))
        for (name, tensor) in a.tensors {
            XCTAssertTrue(tensor == b.tensors[name], "\(name) differs between shared memory and MPI")
        }
    }

    // MARK: - Demos

    func testXORDemoPredictsAllFourRows() throws {
        let run = try nn(["demo", "xor"])
        XCTAssertEqual(run.status, 0, run.stderr)
        for row in ["0  0 |   0", "0  1 |   1", "1  0 |   1", "1  1 |   0"] {
            let line = run.stdout.split(separator: "\n").first { $0.contains(row) }
            XCTAssertNotNil(line, "no row \(row) in:\n\(run.stdout)")
            let prediction = line?.split(separator: " ").last
            XCTAssertEqual(prediction.map(String.init), String(row.last!), "row \(row): \(line ?? "")")
        }
    }

    func testLogicDemoPrintsTruthTablesAndTheXORBound() throws {
        let run = try nn(["demo", "logic"])
        XCTAssertEqual(run.status, 0, run.stderr)
        for text in ["AND: step(x1 + x2 - 1.5)", "OR: step(x1 + x2 - 0.5)", "NOT: step(-x1 + 0.5)",
                     "not linearly separable", "at best 3 of 4"] {
            XCTAssertTrue(run.stdout.contains(text), "missing \"\(text)\" in:\n\(run.stdout)")
        }
        XCTAssertFalse(run.stdout.contains("(wrong)"), run.stdout)
    }

    func testSobelDemoWritesAValidPNGAndPGM() throws {
        let png = scratch.appendingPathComponent("sobel.png")
        let run = try nn(["demo", "sobel", "--output", png.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let bytes = [UInt8](try Data(contentsOf: png))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        XCTAssertGreaterThan(bytes.count, 33 + 12)
        func u32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(u32(8), 13, "IHDR length")
        XCTAssertEqual(String(decoding: bytes[12..<16], as: UTF8.self), "IHDR")
        // Four 28x28 panels at scale 4 with 2-pixel gaps, with or without the dataset.
        XCTAssertEqual(u32(16), 4 * 112 + 3 * 2, "width")
        XCTAssertEqual(u32(20), 112, "height")
        XCTAssertEqual(Array(bytes[24..<29]), [8, 0, 0, 0, 0], "8-bit grayscale, not interlaced")
        XCTAssertEqual(String(decoding: bytes[(bytes.count - 8)..<(bytes.count - 4)], as: UTF8.self), "IEND")

        let pgm = scratch.appendingPathComponent("sobel.pgm")
        XCTAssertEqual(try nn(["demo", "sobel", "--output", pgm.path, "--scale", "1"]).status, 0)
        let header = "P5\n118 28\n255\n"
        let pgmBytes = try Data(contentsOf: pgm)
        XCTAssertEqual(String(decoding: pgmBytes.prefix(header.utf8.count), as: UTF8.self), header)
        XCTAssertEqual(pgmBytes.count, header.utf8.count + 118 * 28)
    }
}
