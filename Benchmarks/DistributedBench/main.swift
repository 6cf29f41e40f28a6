// DistributedBench: the data-parallel rows of `make bench`, run under mpirun (or alone).
//
//     mpirun -np 2 DistributedBench allreduce <transport-name> [--quick]
//     [mpirun -np 2] DistributedBench train <threads> [--quick]
//
// allreduce: the in-place float all-reduce at W1's, W2's and W3's gradient sizes; prints
// the median time, the algorithm bandwidth (bytes / time) and the bus bandwidth (ring
// all-reduce moves 2(N-1)/N of the bytes over each link), after checking the sum.
// Over shared memory (transport "shm") it also times the same sizes in memory the ranks
// map, all-reduced without MPI (the trainer's gradient buckets on one node).
// train: W2 on synthetic 28x28 images, global batch 64 split over the ranks, the median
// images/s over timed epochs after a warm-up epoch. With more than one rank, epochs cycle
// through all-reducing the gradient buckets after backward (blocking: in shared memory,
// the default on one node, or through MPI) and during backward, through MPI, advanced by
// MPI_Test between pullbacks (progress calls) or on a communication thread; the rows give
// each one's images/s and, for the overlapped ones, the share of the blocking MPI
// all-reduce time hidden: 1 - (time the training thread waited for the overlapped
// all-reduces) / (time it spent in the blocking ones through MPI), per step.
import Foundation
import NN
import NNDistributed

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: DistributedBench allreduce <transport> | train <threads> [--quick]\n".utf8))
    exit(2)
}
let quick = arguments.contains("--quick")
let communicator: any Communicator = MPICommunicator.isLaunchedByMPI ? try MPICommunicator() : SingleProcessCommunicator()
let leader = communicator.isLeader
func say(_ line: String) { if leader { print(line) } }
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

switch arguments[1] {
case "allreduce":
    let transport = arguments[2]
    let sizes = [("W1", Models.mlp().parameterCount), ("W2", Models.cnn().parameterCount),
                 ("W3", Models.resnet().parameterCount)]
    /// Checks, then times the all-reduce of `buffer` (this rank's values: rank + 1).
    func measure(_ buffer: UnsafeMutableBufferPointer<Float>, name: String, path: String) {
        buffer.update(repeating: Float(communicator.rank + 1))
        communicator.allReduce(buffer, .sum, label: "check")
        // 1 + 2 + ... + N on every element: the result is checked before anything is timed.
        let expected = Float(communicator.size * (communicator.size + 1) / 2)
        precondition(buffer.allSatisfy { $0 == expected }, "all-reduce gave a wrong sum")
        var times: [Double] = []
        for _ in 0..<(quick ? 10 : 50) {
            communicator.barrier(label: "bench barrier")
            let start = DispatchTime.now().uptimeNanoseconds
            communicator.allReduce(buffer, .sum, label: "bench")
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        var slowest = [median(times)]
        communicator.allReduce(&slowest, .sum, label: "bench times")
        let seconds = slowest[0] / Double(communicator.size)
        let bytes = Double(buffer.count * 4), n = Double(communicator.size)
        say(String(format: "all-reduce %@ %-6@ %8d floats  %2d ranks  %8.3f ms  algo %6.2f GB/s  bus %6.2f GB/s",
                   path, name, buffer.count, communicator.size, seconds * 1e3, bytes / seconds / 1e9,
                   2 * (n - 1) / n * bytes / seconds / 1e9))
    }
    for (name, count) in sizes {
        var buffer = [Float](repeating: 0, count: count)
        buffer.withUnsafeMutableBufferPointer { measure($0, name: name, path: transport) }
        // The same sizes in memory the ranks share (what the trainer's gradient buckets use
        // on one node), summed from the ranks' copies without MPI.
        if transport == "shm", let shared = communicator as? any SharedMemoryCommunicator,
           let memory = shared.makeSharedReductionMemory(count: count) {
            withExtendedLifetime(memory.owner) { measure(memory.floats, name: name, path: "shared-memory") }
        }
    }
case "train":
    guard let threads = Int(arguments[2]) else { exit(2) }
    Threads.set(threads)
    let batch = 64 / communicator.size
    var generator = RandomGenerator(seed: 5)
    let samples = 64 * 8
    var images = [Float](repeating: 0, count: samples * 784)
    for i in images.indices { images[i] = generator.nextNormal() }
    let labels = (0..<samples).map { Int32($0 % 10) }
    let data = ImageDataset(images: images, labels: labels, channels: 1, height: 28, width: 28,
                            classNames: (0..<10).map(String.init))
    // Two trainers of the same model, one keeping its gradients in shared memory and one in
    // its own (each keeps its reducer, as a run does: switching one trainer between the two
    // made a new reducer at each switch, and the MPI epochs after it waited twice as long).
    func makeTrainer(sharesGradientMemory: Bool) throws -> Trainer {
        DefaultRandom.manualSeed(3)
        let model = Models.cnn()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: 3)
        trainer.communicator = communicator
        trainer.sharesGradientMemory = sharesGradientMemory
        (trainer.showsProgress, trainer.printsEpochs) = (false, false)
        _ = try trainer.fit(data, epochs: 1, batchSize: batch)  // warm-up: pools, pages, connections
        return trainer
    }
    let trainers = [try makeTrainer(sharesGradientMemory: true), try makeTrainer(sharesGradientMemory: false)]
    let steps = Double(samples / 64)
    // The ways of all-reducing the gradient, cycled epoch by epoch so each sees the same
    // machine: after backward (blocking), and overlapped with backward by each of
    // MPICommunicator's two kinds of background progress.
    // Blocking through MPI is the baseline of the overlapped modes (which go through MPI).
    let modes: [(name: String, progress: MPICommunicator.BackgroundProgress?, shared: Bool)] =
        [("blocking, shared memory", nil, true), ("blocking, through MPI", nil, false),
         ("overlapped, progress calls", .progressCalls, false), ("overlapped, communication thread", .communicationThread, false)]
    let perMode = quick ? 2 : 7
    let mpi = communicator as? MPICommunicator
    // What `nn train` would do in this job, before the loop below sets the modes.
    let defaults = mpi.map { "\($0.prefersOverlappedAllReduce ? "overlapped" : "blocking"), background progress: \($0.backgroundProgress)" }
    var rates = [[Double]](repeating: [], count: modes.count), waits = [[Double]](repeating: [], count: modes.count)
    for round in 0..<(communicator.size > 1 ? modes.count * perMode : perMode) {
        // Single process: nothing to all-reduce, every epoch is a plain one.
        let mode = communicator.size > 1 ? round % modes.count : 0
        if let progress = modes[mode].progress, let mpi { mpi.backgroundProgress = progress }
        let trainer = trainers[modes[mode].shared ? 0 : 1]
        trainer.overlapsGradientAllReduce = modes[mode].progress != nil
        let waited = trainer.gradientAllReduceWaitSeconds
        let metrics = try trainer.fit(data, epochs: trainer.epochsCompleted + 1, batchSize: batch)
        rates[mode].append(metrics[0].imagesPerSecond)
        waits[mode].append((trainer.gradientAllReduceWaitSeconds - waited) / steps)
    }
    if communicator.size == 1 {
        say(String(format: "W2 train 1 process x %d thread(s), batch %d: %.0f images/s (median of %d epochs of %d images)",
                   threads, batch, median(rates[0]), rates[0].count, samples))
    } else {
        // Rank 0's figures; the ranks wait for each other, so they are close.
        let blockingWait = median(waits[1])
        say("W2 train defaults of this job: \(defaults ?? "-")")
        for mode in modes.indices {
            say(String(format: "W2 train %d processes x %d thread(s), batch %d per rank, %@ all-reduce: %.0f images/s, "
                        + "all-reduce wait %.2f ms per step (medians of %d epochs of %d images)",
                       communicator.size, threads, batch, modes[mode].name, median(rates[mode]), median(waits[mode]) * 1e3,
                       rates[mode].count, samples))
        }
        for mode in modes.indices.dropFirst(2) {
            say(String(format: "W2 share of all-reduce time hidden behind backward, %@: %.0f%% (1 - %.2f ms / %.2f ms)",
                       modes[mode].name, 100 * (1 - median(waits[mode]) / blockingWait), median(waits[mode]) * 1e3,
                       blockingWait * 1e3))
        }
    }
default:
    exit(2)
}
if let mpi = communicator as? MPICommunicator { mpi.finalize() }
