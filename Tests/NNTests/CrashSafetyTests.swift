import Foundation
import NN
import TestSupport
import XCTest

/// Nothing is lost: a save that fails or is killed leaves the previous checkpoint
/// loadable, and a run that diverges stops with the last good checkpoint intact.
final class CrashSafetyTests: XCTestCase {

    // MARK: - A save that fails before the rename

    func testCheckpointSaveFailingBeforeRenameKeepsThePreviousCheckpoint() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/run.safetensors")
        let (trainer, data) = tinyRun(seed: 3)
        try trainer.fit(data, epochs: 1, batchSize: 8)
        try Checkpoint.save(to: url, model: trainer.model, trainer: trainer)
        let epoch1 = try Data(contentsOf: url)

        try trainer.fit(data, epochs: 2, batchSize: 8)
        struct SimulatedCrash: Error {}
        var sawTemporary = false
        XCTAssertThrowsError(try Checkpoint.save(to: url, model: trainer.model, trainer: trainer) { temporary in
            // The new checkpoint is complete beside the old one when the "crash" happens.
            XCTAssertEqual(try SafeTensorsFile.read(from: temporary).metadata["epochs_completed"], "2")
            sawTemporary = true
            throw SimulatedCrash()
        }) { XCTAssertTrue($0 is SimulatedCrash, "\($0)") }
        XCTAssertTrue(sawTemporary)

        XCTAssertEqual(try Data(contentsOf: url), epoch1, "the previous checkpoint was modified")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["run.safetensors"])
        let (resumed, _) = tinyRun(seed: 4)
        try Checkpoint.resume(from: url, trainer: resumed)
        XCTAssertEqual(resumed.epochsCompleted, 1)
    }

    // MARK: - SIGKILL during saves, in a real process

    /// Shape of the model `CheckpointWriter` saves (1024 x megabytes*256 floats = megabytes MiB).
    private static let megabytes = 48

    /// Kills `CheckpointWriter` — which saves a 48 MiB checkpoint to one path in a loop —
    /// with SIGKILL: once exactly between writing and renaming, then at random moments.
    /// After every kill the file at the path must be a complete checkpoint of one
    /// generation (every element equal to it), the newest one reported saved or the one
    /// being saved when the kill landed after the rename. Never torn, never mixed.
    func testSIGKILLDuringSavesNeverLeavesAPartialCheckpoint() throws {
        let writer = try helperExecutable("CheckpointWriter")
        let dir = try makeTemporaryDirectory(self)
        let path = dir + "/model.safetensors"
        let model = Sequential { Dense(inputSize: 1024, outputSize: Self.megabytes * 256) }

        // Generation 0, written in-process, is the "previous checkpoint" of the first kill.
        for p in model.parameters { p.value = Tensor(zeros: p.shape) }
        try Checkpoint.save(to: URL(fileURLWithPath: path), model: model, metadata: ["generation": "0"])
        var generation = 0

        // 1. Killed while paused in beforeRename: the new file is complete, unrenamed.
        let paused = try WriterProcess(writer, path: path, megabytes: Self.megabytes, first: 1, pauseBeforeRename: true)
        XCTAssertEqual(try paused.waitForLine(prefix: "paused", timeout: 60), "paused 1")
        paused.kill()
        XCTAssertEqual(try checkedGeneration(path, into: model), 0, "killed before the rename: the old file must remain")
        let leftovers = temporaries(in: dir)
        XCTAssertEqual(leftovers.count, 1, "the killed save's temporary file: \(leftovers)")
        for t in leftovers { try FileManager.default.removeItem(atPath: t) }

        // 2. Killed at random moments: odd kills anywhere in the save loop, even kills
        //    while the temporary file is being written (a random time after it appears).
        var random = SeededGenerator(seed: 0xC4A5)
        var window = 1.0        // seconds after "ready"; shrinks to ~3 saves once one is timed
        var midWrite = 0, kills = 0
        let deadline = Date().addingTimeInterval(25)
        while kills < 8 && Date() < deadline {
            let process = try WriterProcess(writer, path: path, megabytes: Self.megabytes, first: generation + 1)
            _ = try process.waitForLine(prefix: "ready", timeout: 60)
            let duringWrite = kills % 2 == 1
            if duringWrite {
                let appeared = Date().addingTimeInterval(2)
                while temporaries(in: dir).isEmpty && Date() < appeared { usleep(500) }
            }
            let delay = Double.random(in: 0...(duringWrite ? 0.03 : window), using: &random)
            usleep(UInt32(delay * 1e6))
            process.kill()
            kills += 1
            let saved = process.savedLines()
            let lastSaved = saved.last?.generation ?? generation
            if let slowest = saved.map(\.seconds).max() { window = min(window, 3 * max(slowest, 0.02)) }

            let found = try checkedGeneration(path, into: model)
            XCTAssertTrue(found == lastSaved || found == lastSaved + 1,
                          "kill \(kills) (\(duringWrite ? "during a write" : "anywhere"), after \(delay) s): "
                          + "file holds generation \(found), last reported saved \(lastSaved)")
            generation = max(found, lastSaved)
            let left = temporaries(in: dir)
            if !left.isEmpty { midWrite += 1 }
            for t in left { try FileManager.default.removeItem(atPath: t) }
        }
        XCTAssertGreaterThanOrEqual(kills, 3, "too few kills within the time limit")
        XCTAssertGreaterThanOrEqual(midWrite, 1, "no kill landed while a temporary file was being written")
        print("CrashSafetyTests: \(kills + 1) SIGKILLs of \(Self.megabytes) MiB saves (\(midWrite + 1) with a "
              + "temporary file not yet renamed), generations 0...\(generation), every one complete")
    }

    /// Loads `path` into `model` (all of it validated), checks every element equals the
    /// file's generation, and returns the generation.
    private func checkedGeneration(_ path: String, into model: Sequential,
                                   file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let stored = try Checkpoint.loadModel(from: URL(fileURLWithPath: path), into: model)
        let generation = try XCTUnwrap(stored.metadata["generation"].flatMap { Int($0) }, file: file, line: line)
        for (name, p) in model.namedParameters {
            let value = Float(generation)
            let mismatch = p.value.withUnsafeBufferPointer { $0.firstIndex { $0 != value } }
            XCTAssertNil(mismatch, "\(name) mixes generations: element \(mismatch ?? -1) is not \(generation)",
                         file: file, line: line)
        }
        return generation
    }

    private func temporaries(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix(".model.safetensors.tmp-") }.map { dir + "/" + $0 }
    }

    // MARK: - A diverging run

    func testNaNLossStopsTrainingAndKeepsTheLastGoodCheckpoint() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/last.safetensors")
        // 32 images in batches of 8: 4 steps an epoch; the 7th loss (epoch 2, step 3) is NaN.
        var calls = 0
        let (trainer, data) = tinyRun(seed: 5) { loss in
            calls += 1
            return calls == 7 ? loss * Float.nan : loss
        }
        let saver = SaveEveryEpoch(url: url)
        trainer.callbacks = [saver]
        XCTAssertThrowsError(try trainer.fit(data, epochs: 3, batchSize: 8)) { error in
            guard case .nonFiniteLoss(2, 3, let value)? = error as? TrainingError else {
                return XCTFail("expected nonFiniteLoss at epoch 2, step 3, got \(error)")
            }
            XCTAssertTrue(value.isNaN)
            XCTAssertTrue("\(error)".contains("epoch 2, step 3"), "\(error)")
        }
        XCTAssertEqual(trainer.epochsCompleted, 1)
        XCTAssertEqual(saver.saves, 1)
        XCTAssertEqual(try Data(contentsOf: url), saver.lastBytes, "the last good checkpoint was modified")
        let (resumed, _) = tinyRun(seed: 6)
        try Checkpoint.resume(from: url, trainer: resumed)
        XCTAssertEqual(resumed.epochsCompleted, 1)
        XCTAssertEqual(resumed.model.parameters.map(\.value.scalars), saver.lastParameters)
    }
}

/// Saves a training checkpoint at every epoch end and remembers what it wrote.
private final class SaveEveryEpoch: TrainingCallback {
    let url: URL
    var saves = 0
    var lastBytes = Data()
    var lastParameters: [[Float]] = []
    init(url: URL) { self.url = url }

    func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        try Checkpoint.save(to: url, model: trainer.model, trainer: trainer)
        saves += 1
        lastBytes = try Data(contentsOf: url)
        lastParameters = trainer.model.parameters.map(\.value.scalars)
        return .proceed
    }
}

/// A two-class problem on 32 random 1x4x4 images, a one-layer model, quiet Adam training;
/// `poison` may alter each batch's loss.
private func tinyRun(seed: UInt64, poison: @escaping (Tensor) -> Tensor = { $0 }) -> (Trainer, ImageDataset) {
    var generator = SeededGenerator(seed: 42)
    let images = (0..<(32 * 16)).map { _ in Float.random(in: 0...1, using: &generator) }
    let data = ImageDataset(images: images, labels: (0..<32).map { Int32($0 % 2) }, channels: 1, height: 4, width: 4,
                            classNames: ["a", "b"])
    DefaultRandom.manualSeed(seed)
    let model = Sequential {
        Flatten()
        Dense(inputSize: 16, outputSize: 2)
    }
    let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: seed) { logits, labels in
        poison(crossEntropy(logits: logits, labels: labels))
    }
    trainer.printsEpochs = false
    trainer.showsProgress = false
    return (trainer, data)
}

// MARK: - Running the helper executable

/// The helper executable `name`, built beside the test bundle by `swift build`/`swift test`.
func helperExecutable(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let bundle = Bundle.main.bundleURL
    let candidates = [bundle, bundle.deletingLastPathComponent(), Bundle.main.executableURL?.deletingLastPathComponent()]
        .compactMap { $0 }.map { $0.appendingPathComponent(name) }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        XCTFail("helper \(name) not found (looked at \(candidates.map(\.path))); build it with `swift build`",
                file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }
    return found
}

/// A running `CheckpointWriter` whose standard output is read line by line.
private final class WriterProcess {
    let process = Process()
    private let output = Pipe()
    private var buffer: [UInt8] = []
    private var lines: [String] = []

    init(_ executable: URL, path: String, megabytes: Int, first: Int, pauseBeforeRename: Bool = false) throws {
        process.executableURL = executable
        process.arguments = [path, String(megabytes), String(first)] + (pauseBeforeRename ? ["--pause-before-rename"] : [])
        process.standardOutput = output
        try process.run()
    }

    /// Blocks until a line starting with `prefix` arrives (returning it), the process exits
    /// or `timeout` seconds pass (throwing).
    func waitForLine(prefix: String, timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { return line }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw HelperError("no \"\(prefix)\" line within \(timeout) s; got \(lines)") }
            if read(timeout: left) == .endOfFile {
                throw HelperError("CheckpointWriter exited (status \(exitStatus())) before \"\(prefix)\"; got \(lines)")
            }
        }
    }

    /// SIGKILL, then reap.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The "saved <generation> <seconds>" lines written before the process died.
    func savedLines() -> [(generation: Int, seconds: Double)] {
        while read(timeout: 0) == .data {}
        return lines.compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 3, f[0] == "saved", let g = Int(f[1]), let s = Double(f[2]) else { return nil }
            return (g, s)
        }
    }

    private enum ReadResult { case data, nothingYet, endOfFile }

    /// Reads what arrives within `timeout` seconds and splits it into complete lines.
    private func read(timeout: Double) -> ReadResult {
        let fd = output.fileHandleForReading.fileDescriptor
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(min(max(0, timeout), 3600) * 1000))
        if ready == 0 { return .nothingYet }
        if ready < 0 { return errno == EINTR ? .nothingYet : .endOfFile }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { return .nothingYet }
        if n <= 0 { return .endOfFile }
        buffer += chunk[0..<n]
        while let newline = buffer.firstIndex(of: 0x0A) {
            lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
            buffer.removeSubrange(...newline)
        }
        return .data
    }

    private func exitStatus() -> String {
        process.waitUntilExit()
        return "\(process.terminationStatus)"
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

private struct HelperError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
