import Foundation
import NN
import TestSupport
import XCTest

/// One model served from many tasks, two models trained at once, and the thread count on
/// every thread. These are the tests `make tsan` runs under ThreadSanitizer.
final class ConcurrencyTests: XCTestCase {
    override func tearDown() { Threads.set(nil) }

    /// W2 (the CNN) in inference mode with non-trivial running statistics, as after training.
    static func servedW2() -> InferenceModel {
        DefaultRandom.manualSeed(17)
        let model = Models.cnn()
        var generator = RandomGenerator(seed: 5)
        for (_, buffer) in model.namedBuffers {
            let shape = buffer.value.shape
            buffer.value = Tensor(randomUniform: shape, in: 0.5...1.5, using: &generator)
        }
        return InferenceModel(model, exampleShape: [1, 28, 28])
    }

    /// `count` random 1x28x28 images, as scalars.
    static func images(_ count: Int, seed: UInt64) -> [[Float]] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Tensor(randomNormal: [784], using: &generator).scalars }
    }

    // MARK: - One shared model

    /// 8 tasks x 50 calls on one shared W2 give the bits the same calls give one at a time
    /// on the test's thread, at 1 and 2 threads per kernel (the k-split and chunking
    /// depend on the count).
    func testEightTasksOnOneSharedModelMatchSerialCallsBitForBit() async throws {
        // At 1 thread too: before the count was process-wide, tasks ran at all cores while
        // the main thread ran at the count set, and the bits could differ.
        for threads in [1, 2] where threads <= Threads.available {
            Threads.set(threads)
            try await checkSharedModelAgainstSerialCalls()
        }
    }

    private func checkSharedModelAgainstSerialCalls() async throws {
        let model = Self.servedW2()
        let inputs = Self.images(50, seed: 9)
        let serial = try inputs.map { try model.predict($0).scalars }
        let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            for task in 0..<8 {
                group.addTask {
                    // Each task walks the inputs from a different start, so calls overlap unevenly.
                    let order = (0..<inputs.count).map { (($0 + task * 7) % inputs.count) }
                    var outputs = [[Float]](repeating: [], count: inputs.count)
                    for i in order { outputs[i] = try model.predict(inputs[i]).scalars }
                    return (task, outputs)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(results.count, 8)
        for (task, outputs) in results {
            for i in inputs.indices where outputs[i] != serial[i] {
                XCTFail("\(Threads.count) threads, task \(task), call \(i): \(outputs[i].prefix(4)) differs from the serial \(serial[i].prefix(4))")
                return
            }
        }
    }

    /// A request of the wrong shape throws, saying what was expected, and the next request
    /// is served; so does one whose scalars do not fill its shape.
    func testABadRequestShapeThrowsAndTheNextRequestIsServed() throws {
        let model = Self.servedW2()
        let good = Self.images(1, seed: 2)[0]
        let expected = try model.predict(good).scalars
        XCTAssertEqual(model.outputShape, [10])
        for shape in [[1, 28, 28], [1, 1, 28, 27], [0, 1, 28, 28], [1, 3, 28, 28], [784]] {
            let bad = Tensor(zeros: shape)
            XCTAssertThrowsError(try model.predict(bad)) { error in
                XCTAssertEqual(error as? InferenceError, .shapeMismatch(expectedExample: [1, 28, 28], found: shape))
                XCTAssertEqual("\(error)", "input shape \(shape) does not fit the model: expected [N] + [1, 28, 28] with N >= 1")
            }
            XCTAssertEqual(try model.predict(good).scalars, expected, "the request after \(shape) was not served")
        }
        XCTAssertThrowsError(try model.predict([Float](repeating: 0, count: 783))) { error in
            XCTAssertEqual(error as? InferenceError, .scalarCount(found: 783, shape: [-1, 1, 28, 28], expected: 784))
        }
        XCTAssertThrowsError(try Tensor(validating: [1, 2, 3], shape: [2, 2])) { error in
            XCTAssertEqual("\(error)", "3 scalars cannot fill shape [2, 2]: it needs 4")
        }
        XCTAssertEqual(try model.predict(good).scalars, expected)
    }

    /// A snapshot of a model that goes on training keeps the weights it was taken with, and
    /// gives what the model itself gave in inference mode at that moment.
    func testSnapshotOfATrainingModelDoesNotChangeWhenTrainingGoesOn() throws {
        DefaultRandom.manualSeed(3)
        let trained = smallCNN(dropoutSeed: 1)
        let data = Self.syntheticImages(count: 32, seed: 4)
        let trainer = quietTrainer(trained, Adam(parameters: trained.parameters), seed: 2)
        try trainer.fit(data, epochs: 1, batchSize: 16)
        let snapshot = try InferenceModel(copying: trained, into: smallCNN(dropoutSeed: 1), exampleShape: [1, 28, 28])
        let input = Self.images(3, seed: 8).flatMap { $0 }
        trained.setTraining(false)
        let before = withoutGradient { trained(Tensor(input, shape: [3, 1, 28, 28])) }.scalars
        XCTAssertEqual(try snapshot.predict(input).scalars, before)
        trained.setTraining(true)
        try trainer.fit(data, epochs: 2, batchSize: 16)
        XCTAssertEqual(try snapshot.predict(input).scalars, before, "training after the snapshot changed it")

        XCTAssertThrowsError(try InferenceModel(copying: trained, into: Models.mlp(), exampleShape: [1, 28, 28])) { error in
            XCTAssertTrue("\(error)".contains("in the trained model but"), "\(error)")
        }
    }

    // MARK: - Two trainings at once

    /// `count` random 28x28 images of 10 classes.
    static func syntheticImages(count: Int, seed: UInt64) -> ImageDataset {
        var generator = RandomGenerator(seed: seed)
        let images = Tensor(randomNormal: [count * 784], using: &generator).scalars
        let labels = (0..<count).map { Int32($0 % 10) }
        return ImageDataset(images: images, labels: labels, channels: 1, height: 28, width: 28,
                            classNames: (0..<10).map(String.init))
    }

    /// Trains a small CNN (conv, batch norm, dropout, Adam) from `initial` weights for two
    /// epochs on `data` and returns its final parameters and buffers.
    static func train(from initial: [String: [Float]], seed: UInt64, data: ImageDataset) throws -> [String: [Float]] {
        let model = smallCNN(dropoutSeed: seed)
        for (name, p) in model.namedParameters { p.value = Tensor(initial[name]!, shape: p.shape) }
        let trainer = quietTrainer(model, Adam(parameters: model.parameters), seed: seed)
        try trainer.fit(data, epochs: 2, batchSize: 16)
        return modelState(model)
    }

    /// Two models trained at the same time in two tasks end with the weights each gets
    /// when trained alone.
    func testTwoModelsTrainedAtOnceEndWhereEachEndsAlone() async throws {
        Threads.set(2)
        let runs: [(initial: [String: [Float]], seed: UInt64, data: ImageDataset)] = (0..<2).map { i in
            DefaultRandom.manualSeed(UInt64(40 + i))
            return (modelState(smallCNN(dropoutSeed: 0)), UInt64(i + 1), Self.syntheticImages(count: 48, seed: UInt64(i + 7)))
        }
        let alone = try runs.map { try Self.train(from: $0.initial, seed: $0.seed, data: $0.data) }
        let together = try await withThrowingTaskGroup(of: (Int, [String: [Float]]).self) { group in
            for (i, run) in runs.enumerated() {
                group.addTask { (i, try Self.train(from: run.initial, seed: run.seed, data: run.data)) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for i in 0..<2 {
            XCTAssertNotEqual(alone[i], runs[i].initial.merging(alone[i]) { old, _ in old }, "run \(i) did not train")
            XCTAssertEqual(together[i], alone[i], "run \(i) trained beside the other ended elsewhere")
        }
    }

    // MARK: - Thread settings

    /// The count set on the main thread is what a kernel started from a detached task
    /// gets, and what `Threads.count` reports there.
    func testThreadCountSetOnTheMainThreadHoldsInADetachedTask() async {
        for threads in [1, 2] where threads <= Threads.available {
            Threads.set(threads)
            let seen = await Task.detached { (Threads.count, Threads.inKernel) }.value
            XCTAssertEqual(seen.0, threads, "Threads.count in a detached task")
            XCTAssertEqual(seen.1, threads, "the team of a kernel started from a detached task")
            XCTAssertEqual(Threads.inKernel, threads, "the team of a kernel started from the test's thread")
        }
        Threads.set(nil)
        let seen = await Task.detached { Threads.inKernel }.value
        XCTAssertEqual(seen, Threads.count)
    }

    // MARK: - The batcher

    /// 64 concurrent single-image requests are grouped into batches of at most 16 and each
    /// caller gets its own row, as a batch of one gives it (within float32 rounding: a
    /// larger batch may sum in another order); a request of the wrong size throws at once
    /// and the requests around it are served.
    func testBatcherGroupsConcurrentRequestsAndRejectsBadOnes() async throws {
        let model = Self.servedW2()
        let batcher = InferenceBatcher(model: model, maxBatchSize: 16, maxDelay: .milliseconds(20))
        let inputs = Self.images(64, seed: 11)
        let expected = try inputs.map { try model.predict($0).scalars }
        let outputs = try await withThrowingTaskGroup(of: (Int, [Float]?).self) { group in
            for (i, input) in inputs.enumerated() {
                group.addTask { (i, try await batcher.predict(input)) }
                if i == 20 {
                    group.addTask {
                        do {
                            _ = try await batcher.predict([1, 2, 3])
                            return (-1, [])
                        } catch {
                            XCTAssertEqual(error as? InferenceError, .scalarCount(found: 3, shape: [1, 28, 28], expected: 784))
                            return (-1, nil)
                        }
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let bad: [Float]?? = outputs[-1]
        XCTAssertTrue(bad != nil && bad! == nil, "the bad request was served")
        for i in inputs.indices {
            assertClose(expected[i], try XCTUnwrap(outputs[i] ?? nil), .float32, "request \(i)", shape: [10])
        }
        let (requests, batches) = batcher.statistics
        XCTAssertEqual(requests, 64)
        XCTAssertGreaterThanOrEqual(batches, 4, "a batch held more than maxBatchSize requests")
        XCTAssertLessThan(batches, 64, "no two requests were batched")
        // A lone request is served after maxDelay.
        let lone = try await batcher.predict(inputs[0])
        assertClose(expected[0], lone, .float32, "a lone request", shape: [10])
        XCTAssertEqual(batcher.statistics.batches, batches + 1)
    }

    /// Without a delay, a request that finds the batcher idle runs at once, and requests
    /// from 8 callers in a loop are all answered correctly, in batches of at most 4.
    func testEagerBatcherServesEveryCallerCorrectly() async throws {
        let model = Self.servedW2()
        let batcher = InferenceBatcher(model: model, maxBatchSize: 4)
        let inputs = Self.images(16, seed: 12)
        let expected = try inputs.map { try model.predict($0).scalars }
        let lone = try await batcher.predict(inputs[3])
        XCTAssertEqual(lone, expected[3], "a lone request is a batch of one")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<8 {
                group.addTask {
                    for call in 0..<10 {
                        let i = (caller * 3 + call) % inputs.count
                        let output = try await batcher.predict(inputs[i])
                        assertClose(expected[i], output, .float32, "caller \(caller), call \(call)", shape: [10])
                    }
                }
            }
            try await group.waitForAll()
        }
        let (requests, batches) = batcher.statistics
        XCTAssertEqual(requests, 81)
        XCTAssertGreaterThanOrEqual(batches, 81 / 4)
    }

    // MARK: - The README's example

    /// The README's server example, verbatim between the markers, then called from 8
    /// concurrent tasks and with a bad request.
    func testReadmeServerExample() async throws {
        let modelURL = try temporaryFile(self, "model.safetensors")
        DefaultRandom.manualSeed(1)
        try Checkpoint.save(to: modelURL, model: Models.cnn(), standardization: Standardization(mean: [0.3], std: [0.35]))

        // README begin
        Threads.set(2)
        let network = Models.cnn()
        let file = try Checkpoint.loadModel(from: modelURL, into: network)
        let statistics = Checkpoint.standardization(in: file)!
        let model = InferenceModel(network, exampleShape: [1, 28, 28])   // `network` is handed over
        let batcher = InferenceBatcher(model: model, maxBatchSize: 16)

        // A request handler, called from many tasks at once.
        let classify: @Sendable ([Float]) async -> String = { pixels in
            let input = pixels.map { ($0 - statistics.mean[0]) / statistics.std[0] }
            do {
                let logits = try await batcher.predict(input)          // batched with concurrent requests
                return "class \(logits.indices.max { logits[$0] < logits[$1] }!)"
            } catch {
                return "400 Bad Request: \(error)"                      // and the next request is served
            }
        }
        // README end

        let images = Self.images(8, seed: 21).map { $0.map { abs($0) / 4 } }
        let answers = await withTaskGroup(of: (Int, String).self) { group in
            for (i, image) in images.enumerated() { group.addTask { (i, await classify(image)) } }
            return await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        for (i, image) in images.enumerated() {
            let logits = try model.predict(image.map { ($0 - 0.3) / 0.35 }).scalars
            XCTAssertEqual(answers[i], "class \(logits.indices.max { logits[$0] < logits[$1] }!)", "request \(i)")
        }
        let bad = await classify([0.5])
        XCTAssertEqual(bad, "400 Bad Request: 1 scalars cannot fill shape [1, 28, 28]: it needs 784")
        let next = await classify(images[0])
        XCTAssertTrue(next.hasPrefix("class "), next)
    }
}
