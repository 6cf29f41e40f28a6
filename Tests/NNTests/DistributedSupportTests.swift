import NN
import XCTest

/// The parts of data-parallel training that need no MPI: the sampler's shards, the bucket
/// plan, the launcher check and the single-process communicator.
final class DistributedSupportTests: XCTestCase {
    /// Every sample is visited, each rank gets the same count, and the ranks' batch k put
    /// together is batch k of one process with the summed batch size.
    func testShardsPartitionAndPadLikeDistributedSampler() {
        let order = Array((0..<10).reversed())
        let shards = (0..<3).map { Shard(rank: $0, count: 3).select(order) }
        XCTAssertEqual(shards[0], [9, 6, 3, 0])
        XCTAssertEqual(shards[1], [8, 5, 2, 9])  // the last is padding from the head
        XCTAssertEqual(shards[2], [7, 4, 1, 8])
        XCTAssertEqual(Set(shards.joined()), Set(order))
        XCTAssertEqual(Shard(rank: 0, count: 1).select(order), order)
    }

    func testShardedMinibatchesInterleaveToTheOneProcessBatches() {
        let count = 37
        let data = ImageDataset(images: (0..<count).map(Float.init), labels: [Int32](repeating: 0, count: count),
                                channels: 1, height: 1, width: 1, classNames: ["x"])
        var whole = Minibatches(dataset: data, batchSize: 8, generator: RandomGenerator(seed: 3))
        let wholeEpoch = whole.nextEpoch()
        let rankEpochs = (0..<2).map { rank -> Epoch in
            var part = Minibatches(dataset: data, batchSize: 4, generator: RandomGenerator(seed: 3),
                                   shard: Shard(rank: rank, count: 2))
            return part.nextEpoch()
        }
        XCTAssertEqual(rankEpochs[0].batchCount, 5)  // 19 samples each (one padded), batches of 4
        XCTAssertEqual(rankEpochs[1].batchCount, 5)
        for k in 0..<4 {
            let a = rankEpochs[0].batch(k).indices, b = rankEpochs[1].batch(k).indices
            let interleaved = zip(a, b).flatMap { [$0, $1] }
            XCTAssertEqual(interleaved, wholeEpoch.batch(k).indices, "batch \(k)")
        }
    }

    func testBucketPlanStartsSmallFromTheLastParameter() {
        // 4-byte floats: a bucket closes once it holds 100 elements (the first) or 500 (the rest).
        let plan = GradientBuckets(firstBytes: 400, bytes: 2000).plan(elementCounts: [500, 60, 600, 50, 60])
        XCTAssertEqual(plan, [[4, 3], [2], [1, 0]])
        XCTAssertEqual(GradientBuckets().plan(elementCounts: [10, 10]), [[1, 0]])
    }

    /// W2's plan: the dense layers (1.6 MB, finished first by backward) make the first
    /// bucket, the convolutions and batch norms (76 KB, finished last) the second.
    func testW2BucketPlanPutsTheDenseLayersFirst() {
        let counts = Models.cnn().parameters.map { $0.shape.reduce(1, *) }
        // conv1 w, b; bn1 γ, β; conv2 w, b; bn2 γ, β; dense1 w, b; dense2 w, b.
        XCTAssertEqual(counts, [288, 32, 32, 32, 18432, 64, 64, 64, 401_408, 128, 1280, 10])
        XCTAssertEqual(GradientBuckets().plan(elementCounts: counts), [[11, 10, 9, 8], [7, 6, 5, 4, 3, 2, 1, 0]])
    }

    /// The trainer's overlapped step on W2 starts the dense layers' bucket while the
    /// convolutions' gradients are still zero (backward has not reached them), lets it
    /// advance between the pullbacks that follow, and starts the convolutions' bucket only
    /// once their gradients exist.
    func testW2OverlappedStepStartsTheDenseBucketBeforeTheConvolutionBackward() throws {
        DefaultRandom.manualSeed(3)
        let model = Models.cnn()
        let recorder = RecordingCommunicator(watching: model.parameters[4])  // conv2's weight
        let trainer = Trainer(model: model, optimizer: SGD(parameters: model.parameters, learningRate: 0.01), seed: 1)
        (trainer.communicator, trainer.overlapsGradientAllReduce) = (recorder, true)
        (trainer.showsProgress, trainer.printsEpochs) = (false, false)
        var generator = RandomGenerator(seed: 2)
        let images = (0..<(8 * 784)).map { _ in generator.nextNormal() }
        let data = ImageDataset(images: images, labels: (0..<8).map { Int32($0 % 10) }, channels: 1, height: 28, width: 28,
                                classNames: (0..<10).map(String.init))
        _ = try trainer.fit(data, epochs: 1, batchSize: 4)  // one step: 8 images over "2 ranks"
        XCTAssertEqual(recorder.starts.map(\.floats), [402_826, 19_008], "buckets started, in order")
        XCTAssertEqual(recorder.starts.map(\.watchedGradientIsZero), [true, false])
        XCTAssertGreaterThan(recorder.starts[1].progressCallsBefore, recorder.starts[0].progressCallsBefore,
                             "no progress call between the two buckets")
    }

    /// The trainer overlaps when its communicator prefers it, unless told otherwise.
    func testOverlapDefaultsToTheCommunicatorsPreference() {
        let model = Models.mlp()
        let trainer = Trainer(model: model, optimizer: SGD(parameters: model.parameters, learningRate: 0.01))
        XCTAssertFalse(trainer.overlapsGradientAllReduce, "single process")
        let communicator = RecordingCommunicator(watching: model.parameters[0])
        trainer.communicator = communicator
        XCTAssertFalse(trainer.overlapsGradientAllReduce)
        communicator.prefersOverlappedAllReduce = true
        XCTAssertTrue(trainer.overlapsGradientAllReduce)
        trainer.overlapsGradientAllReduce = false
        XCTAssertFalse(trainer.overlapsGradientAllReduce, "an explicit choice wins")
    }

    func testLauncherMismatchIsFound() {
        XCTAssertNil(LauncherCheck.mismatch(size: 1, environment: [:]))
        XCTAssertNil(LauncherCheck.mismatch(size: 4, environment: ["OMPI_COMM_WORLD_SIZE": "4"]))
        let message = LauncherCheck.mismatch(size: 1, environment: ["PMI_SIZE": "3"])
        XCTAssertNotNil(message)
        XCTAssertTrue(message?.contains("PMI_SIZE=3") ?? false, message ?? "")
    }

    /// The trainer's default communicator leaves every buffer as it is and leads.
    func testSingleProcessCommunicatorIsTheIdentity() {
        let communicator = SingleProcessCommunicator()
        var values: [Float] = [1, 2, 3]
        communicator.allReduce(&values, .average, label: "test")
        XCTAssertEqual(values, [1, 2, 3])
        XCTAssertEqual(communicator.rank, 0)
        XCTAssertEqual(communicator.size, 1)
        XCTAssertTrue(communicator.isLeader)
    }
}

/// Rank 0 of a pretend 2-rank job whose collectives leave buffers as they are (every rank
/// would hold the same values), recording each background all-reduce as it starts.
private final class RecordingCommunicator: BackgroundCommunicator {
    let rank = 0, size = 2
    var prefersOverlappedAllReduce = false
    /// Floats in the bucket, whether the watched gradient was still all zero, and how many
    /// progress calls came before.
    var starts: [(floats: Int, watchedGradientIsZero: Bool, progressCallsBefore: Int)] = []
    private var progressCalls = 0
    private let watched: Parameter

    init(watching parameter: Parameter) { watched = parameter }

    func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        starts.append((buffer.count, watched.gradient.scalars.allSatisfy { $0 == 0 }, progressCalls))
    }
    func progressBackgroundCollectives() { progressCalls += 1 }
    func waitForBackgroundCollectives() {}
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {}
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {}
    func barrier(label: String) {}
    func abort(_ message: String) -> Never { fatalError(message) }
}
