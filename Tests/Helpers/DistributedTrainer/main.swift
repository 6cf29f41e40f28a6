// DistributedTrainer: the program DistributedTests starts under mpirun (and alone, for the
// one-process reference).
//
//     DistributedTrainer <out-dir> [--samples N] [--batch B] [--epochs E] [--timeout S]
//                        [--fail-rank R] [--kill-rank R] [--skip-rank R] [--fault-epoch E]
//                        [--cnn 1] [--sync-bn 1] [--checkpoint 1] [--overlap 0|1|2|3]
//                        [--shared-memory 0|1] [--tabular 1]
//
// Trains W1 (784-256-128-10, Adam lr 1e-3) from seed 7 on N synthetic 28x28 images (with
// --cnn 1 a W2-shaped miniature: conv 1->4, batch norm, ReLU, max pool, dense; --sync-bn 1
// synchronizes its batch norm over the ranks; with --tabular 1 a regression of the mean of
// each image's first ten pixels, as a general `Dataset`, by a 784-16-1 MLP), then
// writes every parameter and buffer of its model, as raw little-endian floats, to
// <out-dir>/rank<r>.bin. Started by mpirun it trains with MPICommunicator, alone with the
// single-process default. The fault options act on one rank at the end of epoch
// --fault-epoch (1): --fail-rank throws an error there, --kill-rank sends itself SIGKILL,
// --skip-rank leaves the job's all-reduces to the others (sleeps past their timeout), as a
// rank stuck elsewhere would. --checkpoint 1 resumes from <out-dir>/checkpoint.safetensors
// when it exists and has rank 0 save it after every epoch; the last line printed names
// the epochs trained ("epochs 1->3") and whether the gradient buckets were in shared
// memory ("shared true"). --overlap picks the gradient all-reduce's mode (unset: the
// trainer's default): 0 after backward, 1 during backward as MPICommunicator advances it by
// default, 2 by progress calls, 3 on the communication thread; --shared-memory 0 keeps the
// gradient buckets out of shared memory (all-reduced through MPI); and
// DISTRIBUTED_TRAINER_BUCKET_BYTES in the environment sets every bucket's size.
import Foundation
import NN
import NNDistributed

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("DistributedTrainer: \(message)\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let outDirectory = arguments.first else { fail("usage: DistributedTrainer <out-dir> [options]") }
arguments.removeFirst()
var options: [String: Int] = ["--samples": 256, "--batch": 32, "--epochs": 1, "--timeout": 60,
                              "--fail-rank": -1, "--kill-rank": -1, "--skip-rank": -1, "--cnn": 0, "--sync-bn": 0,
                              "--fault-epoch": 1, "--checkpoint": 0, "--overlap": -1, "--shared-memory": 1, "--tabular": 0]
while !arguments.isEmpty {
    let name = arguments.removeFirst()
    guard options[name] != nil, let text = arguments.first, let value = Int(text) else { fail("bad option \(name)") }
    arguments.removeFirst()
    options[name] = value
}

/// A fault injected on one rank, thrown as a user-visible error would be.
struct InjectedFault: Error, CustomStringConvertible {
    var description: String { "bad data file injected.idx: the header says 9 dimensions, expected 3" }
}

/// Acts out the chosen fault at the first epoch's end, on its rank only.
final class FaultInjector: TrainingCallback {
    let rank: Int, options: [String: Int]
    init(rank: Int, options: [String: Int]) { (self.rank, self.options) = (rank, options) }
    func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        guard metrics.epoch == options["--fault-epoch"] else { return .proceed }
        if options["--fail-rank"] == rank { throw InjectedFault() }
        if options["--kill-rank"] == rank { kill(getpid(), SIGKILL) }
        if options["--skip-rank"] == rank { sleep(600) }
        return .proceed
    }
}

let communicator: any Communicator
do {
    communicator = MPICommunicator.isLaunchedByMPI
        ? try MPICommunicator(timeout: Double(options["--timeout"]!)) : SingleProcessCommunicator()
} catch {
    fail("\(error)")
}

// Synthetic images whose class is readable from their pixels, from one seed on every rank.
var generator = RandomGenerator(seed: 2024)
let samples = options["--samples"]!
var images = [Float](repeating: 0, count: samples * 784)
var labels = [Int32](repeating: 0, count: samples)
for i in 0..<samples {
    let label = Int32(generator.next() % 10)
    labels[i] = label
    for p in 0..<784 { images[i * 784 + p] = generator.nextNormal() * 0.5 + (p % 10 == Int(label) ? 1 : 0) }
}
let data = ImageDataset(images: images, labels: labels, channels: 1, height: 28, width: 28,
                        classNames: (0..<10).map(String.init))

DefaultRandom.manualSeed(7)
let tabular = options["--tabular"] == 1
let model = tabular
    ? Sequential {
        Flatten()
        Dense(inputSize: 784, outputSize: 16)
        ReLU()
        Dense(inputSize: 16, outputSize: 1)
    }
    : options["--cnn"] == 1
    ? Sequential {
        // No bias before batch norm: its true gradient is 0, and Adam would blow the rounding
        // noise standing in for that 0 up to whole learning-rate steps of either sign.
        Conv2D(inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1, useBias: false)
        BatchNorm(4)
        ReLU()
        MaxPool2D(2)
        Flatten()
        Dense(inputSize: 4 * 14 * 14, outputSize: 10)
    }
    : Models.mlp()
if options["--sync-bn"] == 1 { model.synchronizeBatchNorm(over: communicator) }
let adam = Adam(parameters: model.parameters, learningRate: 1e-3)
let trainer = tabular ? Trainer(model: model, optimizer: adam, task: .regression, seed: 7) : Trainer(model: model, optimizer: adam, seed: 7)
trainer.communicator = communicator
if options["--overlap"]! >= 0 { trainer.overlapsGradientAllReduce = options["--overlap"]! > 0 }
trainer.sharesGradientMemory = options["--shared-memory"] == 1
if let mpi = communicator as? MPICommunicator, options["--overlap"]! >= 2 {
    mpi.backgroundProgress = options["--overlap"] == 2 ? .progressCalls : .communicationThread
}
if let bytes = ProcessInfo.processInfo.environment["DISTRIBUTED_TRAINER_BUCKET_BYTES"].flatMap(Int.init) {
    trainer.gradientBuckets = GradientBuckets(firstBytes: bytes, bytes: bytes)
}
trainer.showsProgress = false
trainer.callbacks = [FaultInjector(rank: communicator.rank, options: options)]
let checkpoint = URL(fileURLWithPath: outDirectory).appendingPathComponent("checkpoint.safetensors")
if options["--checkpoint"] == 1 {
    // Every rank reads the same file; fit then broadcasts rank 0's state anyway.
    if FileManager.default.fileExists(atPath: checkpoint.path) { try Checkpoint.resume(from: checkpoint, trainer: trainer) }
    // Saved before the fault acts, as `nn train` orders its callbacks.
    if communicator.isLeader { trainer.callbacks.insert(CheckpointSaver(url: checkpoint), at: 0) }
}
let firstEpoch = trainer.epochsCompleted
if tabular {
    let targets = (0..<samples).map { i in (0..<10).reduce(Float(0)) { $0 + images[i * 784 + $1] } / 10 }
    let table = Dataset(features: images, featureShape: [784], targets: .values(targets, shape: [1]))
    try trainer.fit(table, epochs: options["--epochs"]!, batchSize: options["--batch"]!)
} else {
    try trainer.fit(data, epochs: options["--epochs"]!, batchSize: options["--batch"]!)
}

var weights: [Float] = []
for parameter in model.parameters { weights += parameter.value.scalars }
for (_, buffer) in model.namedBuffers { weights += buffer.value.scalars }
let url = URL(fileURLWithPath: outDirectory).appendingPathComponent("rank\(communicator.rank).bin")
try weights.withUnsafeBytes { try Data($0).write(to: url) }
if let mpi = communicator as? MPICommunicator {
    mpi.barrier(label: "the final barrier")
    mpi.finalize()
}
print("rank \(communicator.rank) of \(communicator.size): epochs \(firstEpoch)->\(trainer.epochsCompleted) "
      + "loss \(trainer.history.last!.trainLoss) shared \(trainer.gradientBucketsAreShared)"
      + (trainer.history.last!.metrics["r2"].map { " r2 \($0)" } ?? ""))
