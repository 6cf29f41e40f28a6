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
