import Foundation
import NN
import XCTest

/// Bad input from the user's disk — dataset directories and checkpoints — gets a thrown
/// error naming the file and the problem: never a trap, never a half-loaded model.
///
/// The single-defect cases of the IDX and safetensors parsers are in IDXTests,
/// DatasetTests and SafeTensorsTests; this file adds the cases those do not reach: the
/// defects seen through the loaders a user calls (`MNIST.load`, `Checkpoint.loadModel`,
/// `Checkpoint.resume`), every truncation of real files, and the fuzzers' regressions.
final class BadInputTests: XCTestCase {

    // MARK: - Dataset directories

    private let labels: [UInt8] = [3, 1, 4, 1, 5]

    /// A valid gzip MNIST-style pair of five 3x2 images in `dir`; returns (images, labels) paths.
    @discardableResult
    private func writeValidSplit(_ dir: String) throws -> (images: String, labels: String) {
        let pixels = (0..<30).map { UInt8($0 * 7 % 256) }
        let images = try writeFile(gzipped(idxBytes(type: 0x08, shape: [5, 3, 2], payload: pixels)),
                                   "train-images-idx3-ubyte.gz", in: dir)
        let labelPath = try writeFile(gzipped(idxBytes(type: 0x08, shape: [5], payload: labels)),
                                      "train-labels-idx1-ubyte.gz", in: dir)
        return (images, labelPath)
    }

    func testDirectoryWithoutTheFilesNamesWhatWasLookedFor() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = dir + "/train-images-idx3-ubyte.gz"
        assertDataError(try FashionMNIST.load(.train, directory: dir), naming: images) {
            $0 == .fileNotFound(path: images, tried: [images, dir + "/train-images-idx3-ubyte"])
        }
        // The other split's files do not stand in for this one's.
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [1, 1, 1], payload: [0])), "t10k-images-idx3-ubyte.gz", in: dir)
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [1], payload: [0])), "t10k-labels-idx1-ubyte.gz", in: dir)
        assertDataError(try FashionMNIST.load(.train, directory: dir), naming: images) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        // Images present, labels absent: the labels file is named.
        try writeValidSplit(dir)
        try FileManager.default.removeItem(atPath: dir + "/train-labels-idx1-ubyte.gz")
        let labelPath = dir + "/train-labels-idx1-ubyte.gz"
        assertDataError(try FashionMNIST.load(.train, directory: dir), naming: labelPath) {
            $0 == .fileNotFound(path: labelPath, tried: [labelPath, dir + "/train-labels-idx1-ubyte"])
        }
    }

    func testDatasetPathThatIsAFileIsNotADirectory() throws {
        let dir = try makeTemporaryDirectory(self)
        let (images, _) = try writeValidSplit(dir)
        assertDataError(try MNIST.load(.train, directory: images), naming: images) { $0 == .directoryNotFound(path: images) }
    }

    func testEmptyFileInADatasetDirectory() throws {
        let dir = try makeTemporaryDirectory(self)
        let (_, labelPath) = try writeValidSplit(dir)
        try writeFile([], "train-labels-idx1-ubyte.gz", in: dir)
        // Empty is reported as empty, not as "not gzip" although the name ends in .gz.
        assertDataError(try MNIST.load(.train, directory: dir), naming: labelPath) { $0 == .emptyFile(path: labelPath) }
    }

    func testNotGzipWhereGzipIsExpectedThroughTheLoader() throws {
        let dir = try makeTemporaryDirectory(self)
        let (images, _) = try writeValidSplit(dir)
        // A common mistake: the file was gunzipped but kept its .gz name.
        try writeFile(idxBytes(type: 0x08, shape: [5, 3, 2], payload: [UInt8](repeating: 1, count: 30)),
                      "train-images-idx3-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            $0 == .notGzip(path: images, firstBytes: [0, 0, 8, 3])
        }
        // An HTML error page saved under the dataset's name.
        try writeFile(Array("<html>404 Not Found</html>".utf8), "train-images-idx3-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            if case .notGzip = $0 { return true } else { return false }
        }
    }

    func testTruncatedDownloadThroughTheLoader() throws {
        let dir = try makeTemporaryDirectory(self)
        let (images, _) = try writeValidSplit(dir)
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: images)))
        try writeFile(Array(whole[0..<(whole.count / 2)]), "train-images-idx3-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            if case .corruptGzip = $0 { return true } else { return false }
        }
        // Uncompressed and truncated: the payload is short of what the dimensions need.
        try FileManager.default.removeItem(atPath: images)
        let raw = dir + "/train-images-idx3-ubyte"
        try writeFile(idxBytes(type: 0x08, shape: [5, 3, 2], payload: [UInt8](repeating: 9, count: 29)),
                      "train-images-idx3-ubyte", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: raw) {
            $0 == .payloadSizeMismatch(path: raw, payloadBytes: 29, dimensions: [5, 3, 2], expectedBytes: 30)
        }
    }

    func testWrongMagicAndLyingDimensionsThroughTheLoader() throws {
        let dir = try makeTemporaryDirectory(self)
        let (images, labelPath) = try writeValidSplit(dir)
        // A PNG where the labels should be.
        try writeFile(gzipped([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "train-labels-idx1-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: labelPath) {
            $0 == .badMagic(path: labelPath, bytes: [0x89, 0x50])
        }
        try writeValidSplit(dir)
        // The header claims 6 images of 3x2 but the payload holds 5.
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [6, 3, 2], payload: [UInt8](repeating: 0, count: 30))),
                      "train-images-idx3-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            $0 == .payloadSizeMismatch(path: images, payloadBytes: 30, dimensions: [6, 3, 2], expectedBytes: 36)
        }
        // Labels as int32 instead of unsigned bytes.
        try writeValidSplit(dir)
        try writeFile(gzipped(idxBytes(type: 0x0C, shape: [5], payload: [UInt8](repeating: 0, count: 20))),
                      "train-labels-idx1-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: labelPath) {
            $0 == .wrongElementType(path: labelPath, found: .int32, expected: .uint8)
        }
        // Image and label counts that differ, the other way round from DatasetTests.
        try writeValidSplit(dir)
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [7], payload: [UInt8](repeating: 0, count: 7))),
                      "train-labels-idx1-ubyte.gz", in: dir)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            $0 == .countMismatch(imagesPath: images, imageCount: 5, labelsPath: labelPath, labelCount: 7)
        }
    }

    /// Every proper prefix of a valid file — raw or gzip — is a `DataError` naming the file.
    func testEveryTruncationOfAnIDXFileIsAnError() {
        let raw = idxBytes(type: 0x08, shape: [5, 3, 2], payload: (0..<30).map { UInt8($0) })
        let gz = gzipped(raw)
        for (whole, path) in [(raw, "cut-idx3-ubyte"), (gz, "cut-idx3-ubyte.gz")] {
            XCTAssertNoThrow(try IDXArray.decode(fileBytes: whole, path: path))
            for length in 0..<whole.count {
                assertDataError(try IDXArray.decode(fileBytes: Array(whole[0..<length]), path: path),
                                naming: path, { _ in true })
            }
        }
    }

    /// Every single-bit flip of a raw header decodes or throws a `DataError`; none traps.
    func testEveryBitFlipOfAnIDXHeaderDecodesOrThrows() {
        let raw = idxBytes(type: 0x0B, shape: [2, 3], payload: [UInt8](repeating: 0xA5, count: 12))
        for byte in 0..<16 {
            for bit in 0..<8 {
                var flipped = raw
                flipped[byte] ^= 1 << bit
                do {
                    let array = try IDXArray.decode(fileBytes: flipped, path: "flip")
                    XCTAssertEqual(array.payload.count, array.shape.reduce(1, *) * array.elementType.size)
                } catch {
                    XCTAssertTrue(error is DataError && "\(error)".hasPrefix("flip: "), "byte \(byte) bit \(bit): \(error)")
                }
            }
        }
    }

    // MARK: - Checkpoints, through Checkpoint.loadModel

    /// A small model with parameters, buffers (batch norm) and a generator (dropout).
    private func smallModel(inputs: Int = 4, seed: UInt64 = 1) -> Sequential {
        DefaultRandom.manualSeed(seed)
        return Sequential {
            Dense(inputSize: inputs, outputSize: 3)
            BatchNorm(3)
            ReLU()
            Dropout(0.5, seed: seed)
            Dense(inputSize: 3, outputSize: 2)
        }
    }

    /// Everything a checkpoint holds of `model`, as bytes, to prove a failed load changed nothing.
    private func snapshot(_ model: any Layer) throws -> [UInt8] {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/snapshot.safetensors")
        try Checkpoint.save(to: url, model: model)
        return try [UInt8](Data(contentsOf: url))
    }

    /// The bytes of a checkpoint of `smallModel()` whose weights differ from a fresh one's.
    private func savedCheckpoint() throws -> [UInt8] {
        try snapshot(smallModel(seed: 99))
    }

    /// The same file with its JSON header edited (tensor entries as dictionaries) and re-padded.
    private func editingHeader(_ file: [UInt8], _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var n = 0
        for k in 0..<8 { n |= Int(file[k]) << (8 * k) }
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(file[8..<(8 + n)])) as? [String: Any])
        edit(&header)
        var text = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        text += [UInt8](repeating: 0x20, count: (8 - text.count % 8) % 8)
        let length = (0..<8).map { UInt8(truncatingIfNeeded: text.count >> (8 * $0)) }
        return length + text + file[(8 + n)...]
    }

    /// Writes `bytes` as a checkpoint, loads it into a fresh model, and asserts a
    /// `CheckpointError` accepted by `matches`, naming the file, with the model unchanged.
    private func assertLoadFails(_ bytes: [UInt8], into model: Sequential? = nil, _ what: String,
                                 _ matches: (CheckpointError) -> Bool,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(bytes, "model.safetensors", in: dir)
        let model = model ?? smallModel()
        let before = try snapshot(model)
        do {
            try Checkpoint.loadModel(from: URL(fileURLWithPath: path), into: model)
            XCTFail("\(what): the bad checkpoint was loaded", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssertTrue(matches(error), "\(what): unexpected CheckpointError case: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), "\(what): message does not name the file: \(error)",
                          file: file, line: line)
        } catch {
            XCTFail("\(what): expected a CheckpointError, got \(type(of: error)): \(error)", file: file, line: line)
        }
        XCTAssertEqual(try snapshot(model), before, "\(what): a failed load changed the model", file: file, line: line)
    }

    func testAValidCheckpointLoads() throws {
        // The baseline the corruptions below depart from.
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(try savedCheckpoint(), "model.safetensors", in: dir)
        let model = smallModel()
        try Checkpoint.loadModel(from: URL(fileURLWithPath: path), into: model)
        XCTAssertEqual(try snapshot(model), try savedCheckpoint())
    }

    /// A save cut short at any byte (a full disk, a copy interrupted) is rejected by the loader.
    func testEveryTruncationOfACheckpointIsAnError() throws {
        let whole = try savedCheckpoint()
        // Every prefix through the parser (fast), a sample of them through the whole loader.
        for length in 0..<whole.count {
            XCTAssertThrowsError(try SafeTensorsFile.parse(Array(whole[0..<length]), path: "cut.safetensors"),
                                 "prefix of \(length) bytes") { error in
                XCTAssertTrue(error is CheckpointError && "\(error)".hasPrefix("cut.safetensors: "), "\(error)")
            }
        }
        var n = 0
        for k in 0..<8 { n |= Int(whole[k]) << (8 * k) }
        for length in [0, 7, 8, 8 + n / 2, 8 + n, whole.count - 1] {
            try assertLoadFails(Array(whole[0..<length]), "cut to \(length) of \(whole.count) bytes") { _ in true }
        }
    }

    func testCorruptCheckpointsAreNamedAndChangeNothing() throws {
        let good = try savedCheckpoint()
        var pastEnd = good
        pastEnd.replaceSubrange(0..<8, with: [0, 0, 0, 0, 1, 0, 0, 0])  // 2^32 bytes of header
        try assertLoadFails(pastEnd, "header length past the end") {
            if case .headerPastEnd(_, 1 << 32, good.count - 8) = $0 { return true } else { return false }
        }
        var badJSON = good
        badJSON[8] = UInt8(ascii: "[")  // the header's opening brace
        try assertLoadFails(badJSON, "malformed JSON header") {
            if case .invalidHeader = $0 { return true } else { return false }
        }
        let unknownDType = try editingHeader(good) { header in
            var entry = header["0.weight"] as! [String: Any]
            entry["dtype"] = "F8_E4M3"
            header["0.weight"] = entry
        }
        try assertLoadFails(unknownDType, "unknown dtype") {
            if case .unknownDType(_, "0.weight", "F8_E4M3") = $0 { return true } else { return false }
        }
        // Two tensors of the same size whose ranges are made to coincide.
        let overlapping = try editingHeader(good) { header in
            let a = header["1.running_mean"] as! [String: Any]
            var b = header["1.running_var"] as! [String: Any]
            b["data_offsets"] = a["data_offsets"]
            header["1.running_var"] = b
        }
        try assertLoadFails(overlapping, "overlapping ranges") {
            if case .overlappingRanges = $0 { return true } else { return false }
        }
        // The last tensor's range pushed past the end of the data.
        let pastData = try editingHeader(good) { header in
            let dataSize = good.count - 8 - (good[0..<8].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) })
            var entry = header["4.bias"] as! [String: Any]
            entry["data_offsets"] = [dataSize - 4, dataSize + 4]
            header["4.bias"] = entry
        }
        try assertLoadFails(pastData, "range past the end") {
            if case .rangePastEnd(_, "4.bias", _, _) = $0 { return true } else { return false }
        }
    }

    func testTensorsThatDoNotFitTheModel() throws {
        let good = try savedCheckpoint()
        // Missing: a file without the last layer's bias (its bytes dropped too, so the file is well-formed).
        let withoutBias = SafeTensorsFile(tensors: try SafeTensorsFile.parse(good, path: "x").tensors
            .filter { $0.key != "4.bias" })
        try assertLoadFails(withoutBias.serialized(), "missing tensor") {
            if case .missingTensor(_, "4.bias") = $0 { return true } else { return false }
        }
        // Extra: a tensor the model does not have.
        var extraFile = try SafeTensorsFile.parse(good, path: "x")
        extraFile.tensors["5.weight"] = StoredTensor([Float(1)], shape: [1])
        try assertLoadFails(extraFile.serialized(), "extra tensor") {
            if case .unexpectedTensor(_, "5.weight") = $0 { return true } else { return false }
        }
        // Shapes: a model with 5 inputs cannot take a checkpoint of one with 4. Every other
        // tensor fits, so the check must come before anything is copied.
        try assertLoadFails(good, into: smallModel(inputs: 5), "wrong shape") {
            if case .shapeMismatch(_, "0.weight", _, _) = $0 { return true } else { return false }
        }
        // Right shape, wrong dtype: F64 weights.
        var f64 = try SafeTensorsFile.parse(good, path: "x")
        let weights = try f64.values("4.weight", as: Float.self).map(Double.init)
        f64.tensors["4.weight"] = StoredTensor(weights, shape: try f64.tensor("4.weight").shape)
        try assertLoadFails(f64.serialized(), "wrong dtype") {
            if case .dtypeMismatch(_, "4.weight", "F32", "F64") = $0 { return true } else { return false }
        }
        // A dropout generator that is not 4 x U64 (checked before any parameter is copied).
        var badRNG = try SafeTensorsFile.parse(good, path: "x")
        badRNG.tensors["rng.3"] = StoredTensor([UInt64(1), 2], shape: [2])
        try assertLoadFails(badRNG.serialized(), "bad generator") {
            if case .shapeMismatch(_, "rng.3", [4], [2]) = $0 { return true } else { return false }
        }
    }

    func testResumingFromAModelOnlyCheckpointNamesTheMissingState() throws {
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(try savedCheckpoint(), "model.safetensors", in: dir)
        let model = smallModel()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters))
        XCTAssertThrowsError(try Checkpoint.resume(from: URL(fileURLWithPath: path), trainer: trainer)) { error in
            guard case .badMetadataValue(path, "optimizer_steps", _)? = error as? CheckpointError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue("\(error)".contains("is this a training checkpoint?"), "\(error)")
        }
    }

    func testCheckpointPathsThatAreNotFiles() throws {
        let dir = try makeTemporaryDirectory(self)
        for path in [dir, dir + "/absent.safetensors"] {
            XCTAssertThrowsError(try Checkpoint.loadModel(from: URL(fileURLWithPath: path), into: smallModel())) { error in
                guard case .cannotRead(path, _)? = error as? CheckpointError else { return XCTFail("\(path): \(error)") }
            }
        }
    }

    // MARK: - Checkpoint metadata that used to trap (found by review, confirmed by FuzzSafeTensors)

    /// A trainer of `smallModel()` with Adam and `schedule`, as a resume target.
    private func smallTrainer(_ schedule: any LearningRateSchedule, seed: UInt64 = 1) -> Trainer {
        let model = smallModel(seed: seed)
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: seed)
        trainer.schedule = schedule
        return trainer
    }

    /// Everything a training checkpoint holds of `trainer`, as bytes.
    private func snapshot(_ trainer: Trainer) throws -> [UInt8] {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/trainer.safetensors")
        try Checkpoint.save(to: url, model: trainer.model, trainer: trainer)
        return try [UInt8](Data(contentsOf: url))
    }

    /// Metadata values that parse as Double but are no count or rate: `Int(Double)` trapped
    /// on the first three kinds, and a negative step count or a NaN rate was taken as is.
    /// Each is now a `CheckpointError` naming the file and the key, and the trainer is
    /// untouched (the file is checked before anything is copied).
    func testResumeRejectsMetadataThatIsNoCountOrRate() throws {
        let saved = try snapshot(smallTrainer(ReduceOnPlateau(baseLearningRate: 0.01, patience: 2), seed: 99))
        let cases: [(key: String, value: String, reported: String)] = [
            ("optimizer_steps", "nan", "optimizer_steps"), ("optimizer_steps", "1e300", "optimizer_steps"),
            ("optimizer_steps", "-1", "optimizer_steps"), ("epochs_completed", "inf", "epochs_completed"),
            ("epochs_completed", "2.5", "epochs_completed"), ("learning_rate", "nan", "learning_rate"),
            ("learning_rate", "-0.5", "learning_rate"), ("learning_rate", "1e40", "learning_rate"),
            ("schedule.epoch", "inf", "schedule"), ("schedule.epoch", "nan", "schedule"),
            ("schedule.bad_epochs", "1e300", "schedule"), ("schedule.cooldown_left", "-3", "schedule"),
            ("schedule.learning_rate", "inf", "schedule"), ("schedule.best", "nan", "schedule"),
        ]
        let dir = try makeTemporaryDirectory(self)
        for (key, value, reported) in cases {
            var file = try SafeTensorsFile.parse(saved, path: "x")
            XCTAssertNotNil(file.metadata[key], key)
            file.metadata[key] = value
            let path = try writeFile(file.serialized(), "bad.safetensors", in: dir)
            let trainer = smallTrainer(ReduceOnPlateau(baseLearningRate: 0.01, patience: 2))
            let before = try snapshot(trainer)
            XCTAssertThrowsError(try Checkpoint.resume(from: URL(fileURLWithPath: path), trainer: trainer), "\(key)=\(value)") {
                guard case .badMetadataValue(path, reported, _)? = $0 as? CheckpointError else {
                    return XCTFail("\(key)=\(value): unexpected error \($0)")
                }
                if reported != "schedule" {  // schedules see numbers, not the text
                    XCTAssertTrue("\($0)".contains("\"\(value)\""), "\(key)=\(value): message does not quote the value: \($0)")
                }
            }
            XCTAssertEqual(try snapshot(trainer), before, "\(key)=\(value): a failed resume changed the trainer")
        }
        // A closed-form schedule's epoch too.
        var file = try SafeTensorsFile.parse(try snapshot(smallTrainer(CosineAnnealing(baseLearningRate: 0.1, period: 5))),
                                             path: "x")
        file.metadata["schedule.epoch"] = "inf"
        let path = try writeFile(file.serialized(), "cosine.safetensors", in: dir)
        XCTAssertThrowsError(try Checkpoint.resume(from: URL(fileURLWithPath: path),
                                                   trainer: smallTrainer(CosineAnnealing(baseLearningRate: 0.1, period: 5)))) {
            guard case .badMetadataValue(path, "schedule", _)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
        // The unedited file resumes.
        let good = try writeFile(saved, "good.safetensors", in: dir)
        let trainer = smallTrainer(ReduceOnPlateau(baseLearningRate: 0.01, patience: 2))
        try Checkpoint.resume(from: URL(fileURLWithPath: good), trainer: trainer)
        XCTAssertEqual(try snapshot(trainer), saved)
    }

    /// Optimizer state of the wrong shape used to be found by Optimizer.load halfway
    /// through, after the model had been overwritten.
    func testResumeWithMisshapenOptimizerStateChangesNothing() throws {
        var file = try SafeTensorsFile.parse(try snapshot(smallTrainer(ReduceOnPlateau(baseLearningRate: 0.01), seed: 99)),
                                             path: "x")
        let name = "optimizer.5.exp_avg_sq"  // Adam's for the 6th parameter, "4.bias"
        XCTAssertEqual(try file.tensor(name).shape, [2])
        file.tensors[name] = StoredTensor([Float(0), 0, 0], shape: [3])
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(file.serialized(), "bad.safetensors", in: dir)
        let trainer = smallTrainer(ReduceOnPlateau(baseLearningRate: 0.01))
        let before = try snapshot(trainer)
        XCTAssertThrowsError(try Checkpoint.resume(from: URL(fileURLWithPath: path), trainer: trainer)) {
            XCTAssertEqual($0 as? CheckpointError, .shapeMismatch(path: path, tensor: name, expected: [2], found: [3]))
        }
        XCTAssertEqual(try snapshot(trainer), before, "a failed resume changed the trainer")
    }

    /// `Standardization` requires finite statistics and traps otherwise; a checkpoint
    /// whose std said "inf" reached that precondition. Such statistics are now not used.
    func testNonFiniteStandardizationInACheckpointIsNotUsed() {
        func stats(_ mean: String, _ std: String) -> Standardization? {
            Checkpoint.standardization(in: SafeTensorsFile(metadata: ["standardization_mean": mean, "standardization_std": std]))
        }
        XCTAssertEqual(stats("0.5", "0.25"), Standardization(mean: [0.5], std: [0.25]))
        XCTAssertNil(stats("0.5", "inf"))
        XCTAssertNil(stats("0.5", "nan"))
        XCTAssertNil(stats("-inf", "0.25"))
        XCTAssertNil(stats("nan", "0.25"))
    }
}
