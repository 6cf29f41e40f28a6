import NN
import XCTest

/// How the trainer averages gradients over ranks, seen from rank 0 of a pretend 2-rank job.
final class GradientReducerTests: XCTestCase {
    /// Each gradient lives in its bucket and is averaged there (what SGD then applies is the
    /// average, with no copy back), and a parameter backward did not reach this step is
    /// averaged as zeros, not as last step's gradient still in its bucket. In both modes.
    func testBucketedGradientsAreAveragedInPlaceAndUnreachedOnesAsZeros() throws {
        for overlapped in [false, true] {
            let model = SecondStepSkipsB()
            let trainer = Trainer(model: model, optimizer: SGD(parameters: model.parameters, learningRate: 1), seed: 1,
                                  lossFunction: { logits, _ in logits.sum() })
            let peer = PeerCommunicator(peerGradient: 1)
            (trainer.communicator, trainer.overlapsGradientAllReduce) = (peer, overlapped)
            trainer.gradientBuckets = GradientBuckets(firstBytes: 4, bytes: 4)  // one bucket per parameter
            (trainer.showsProgress, trainer.printsEpochs) = (false, false)
            // 4 images over 2 ranks in batches of 1: rank 0 takes 2 steps.
            let data = ImageDataset(images: [0, 0, 0, 0], labels: [0, 0, 0, 0], channels: 1, height: 1, width: 1,
                                    classNames: ["x", "y"])
            _ = try trainer.fit(data, epochs: 1, batchSize: 1)
            // Step 1: a's gradient 1, b's 2; step 2: a's 3, b's none. The peer's are all 1.
            XCTAssertEqual(model.a.value.scalars, [-3, -3], "-(1 + 1) / 2 - (3 + 1) / 2, overlapped \(overlapped)")
            XCTAssertEqual(model.b.value.scalars, [-2, -2], "-(2 + 1) / 2 - (0 + 1) / 2, overlapped \(overlapped)")
            XCTAssertEqual(peer.averagedFloats, [2, 2, 2, 2], "two buckets a step, overlapped \(overlapped)")
        }
    }
}

/// Logits a + 2b for its first batch of one image, 3a for every later one: b's gradient
/// is 2 at the first step and never reached after.
private final class SecondStepSkipsB: Layer {
    var isTraining = true
    let a = Parameter(Tensor(zeros: [2])), b = Parameter(Tensor(zeros: [2]))
    private var calls = 0
    var ownParameters: [(name: String, parameter: Parameter)] { [("a", a), ("b", b)] }
    func callAsFunction(_ input: Tensor) -> Tensor {
        calls += 1
        let logits = calls == 1 ? a.value + b.value * 2 : a.value * 3
        return logits.reshaped(to: [1, 2])
    }
}

/// Rank 0 of a pretend 2-rank job whose other rank's gradients are all `peerGradient`:
/// an average turns each element x into (x + peerGradient) / 2, at once or when waited for.
private final class PeerCommunicator: BackgroundCommunicator {
    let rank = 0, size = 2
    let prefersOverlappedAllReduce = false
    let peerGradient: Float
    /// The floats of each float average, in the order they ran.
    var averagedFloats: [Int] = []
    private var pending: [UnsafeMutableBufferPointer<Float>] = []

    init(peerGradient: Float) { self.peerGradient = peerGradient }

    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        precondition(operation == .average, "only gradients are all-reduced as floats here")
        averagedFloats.append(buffer.count)
        for i in buffer.indices { buffer[i] = (buffer[i] + peerGradient) / 2 }
    }
    func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation, label: String) {
        precondition(operation == .average, "only gradients are all-reduced as floats here")
        pending.append(buffer)
    }
    func progressBackgroundCollectives() {}
    func waitForBackgroundCollectives() {
        for buffer in pending { allReduce(buffer, .average, label: "pending") }
        pending.removeAll()
    }
    // The epoch's metrics (sums over ranks) and the start's broadcast are left as they are.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation, label: String) {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int, label: String) {}
    func barrier(label: String) {}
    func abort(_ message: String) -> Never { fatalError(message) }
}
