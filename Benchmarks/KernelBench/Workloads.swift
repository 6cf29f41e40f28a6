// W1, W2, W3 end to end, each in a fresh process (`KernelBench workload W2 --threads 1`) so
// that its peak resident memory (VmHWM) is its own.
import Foundation
import NN

/// The figures one workload process reports to the parent, as one JSON line on stdout.
struct WorkloadResult: Codable {
    var workload: String
    var threads: Int
    var trainImagesPerSecond: Double
    /// Images over the summed time of the timed steps: the statistic of `nn train`'s epoch
    /// line (slow steps count in full), beside the median's 64 / median step time.
    var trainImagesPerSecondMean: Double
    var inferenceImagesPerSecond: Double
    var batchesPerEpoch: Int
    var timedBatches: Int
    var trainedBatches: Int
    var testImages: Int
    var testAccuracy: Double
    var firstLoss: Double
    var lastLoss: Double
    var peakResidentMegabytes: Double
    /// Resident set once the training images are loaded and standardized, and the peak so
    /// far (the loader's own peak): what training adds is the rest.
    var residentAfterLoadMegabytes: Double
    /// VmHWM when the training steps end, before the test set is loaded.
    var peakTrainingMegabytes: Double
    var peakAfterLoadMegabytes: Double
    var openMPRuntimes: [String]
}

let workloadResultPrefix = "KERNELBENCH-WORKLOAD "

/// What the training phase of a workload process hands to its inference phase.
struct TrainingFigures {
    var times: [Double], losses: [Double], timed: Int, batchCount: Int
    var residentAfterLoad: Double, peakAfterLoad: Double
}

/// The workloads of WORKLOADS.md by name: model, optimizer, augmentation and the FLOPs key.
func makeWorkload(_ name: String) -> (model: Sequential, optimizer: any Optimizer, augmentation: Augmentation?, flopsKey: String)? {
    DefaultRandom.manualSeed(0x5EED)
    switch name {
    case "W1":
        let model = Models.mlp()
        return (model, Adam(parameters: model.parameters, learningRate: 1e-3), nil, "mlp")
    case "W2":
        let model = Models.cnn()
        return (model, Adam(parameters: model.parameters, learningRate: 1e-3), nil, "cnn")
    case "W3":
        let model = Models.resnet()
        let sgd = SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true)
        return (model, sgd, Augmentation(horizontalFlip: true, cropPadding: 2), "resnet")
    default:
        return nil
    }
}

/// Runs in the child process: trains `batches` timed batches (nil: the rest of one epoch)
/// after a few warm-up batches, then infers on the test set, and prints the result line.
func runWorkload(_ name: String, threads: Int, batches: Int?, inferenceImages: Int?) throws {
    Threads.set(threads)
    guard let workload = makeWorkload(name) else {
        throw UsageError(message: "unknown workload '\(name)'; expected W1, W2 or W3")
    }
    let (model, optimizer, augmentation) = (workload.model, workload.optimizer, workload.augmentation)
    // The training set lives only inside this closure, so that it is freed before the test
    // set is loaded and the process peak is the larger of the two phases, not their sum.
    let (statistics, training) = try { () throws -> (Standardization, TrainingFigures) in
        // Standardized in place, so no second copy of the 188 MB training images stays alive.
        var train = try FashionMNIST.load(.train)
        let statistics = train.statistics()
        train.standardize(with: statistics)
        let residentAfterLoad = (procStatusKilobytes("VmRSS") ?? .nan) / 1024
        let peakAfterLoad = (procStatusKilobytes("VmHWM") ?? .nan) / 1024

        model.setTraining(true)
        var minibatches = Minibatches(dataset: train, batchSize: 64, shuffle: true, augmentation: augmentation,
                                      generator: RandomGenerator(seed: 1))
        var epoch = minibatches.nextEpoch()
        let warmUp = 5
        let timed = min(batches ?? (epoch.batchCount - warmUp), epoch.batchCount - warmUp)
        var times: [Double] = [], losses: [Double] = []
        // The loop of Trainer.trainEpoch; each step is timed from fetching its batch (shuffled
        // gather and augmentation included) to the end of the optimizer step.
        for step in 0..<(warmUp + timed) {
            var lossValue: Float = 0
            let seconds = secondsOf {
                guard let batch = epoch.next() else { return }
                let images = batch.images
                optimizer.zeroGradients()
                let logits = model(images)
                let loss = crossEntropy(logits: logits, labels: batch.labels)
                lossValue = loss.scalar
                loss.backward()
                optimizer.step()
            }
            guard lossValue.isFinite else { throw UsageError(message: "\(name): the loss became \(lossValue) at step \(step + 1)") }
            losses.append(Double(lossValue))
            if step >= warmUp { times.append(seconds) }
        }
        return (statistics, TrainingFigures(times: times, losses: losses, timed: timed, batchCount: epoch.batchCount,
                                            residentAfterLoad: residentAfterLoad, peakAfterLoad: peakAfterLoad))
    }()
    let (times, losses, timed) = (training.times, training.losses, training.timed)
    let peakTraining = (procStatusKilobytes("VmHWM") ?? .nan) / 1024

    // Inference on the test set, batch 64 as in training, in inference mode.
    var test = try FashionMNIST.load(.test)
    test.standardize(with: statistics)
    if let inferenceImages, inferenceImages < test.count { test = test.prefix(inferenceImages) }
    model.setTraining(false)
    var evaluation = Minibatches(dataset: test, batchSize: 64, shuffle: false, generator: RandomGenerator(seed: 0))
    var inferenceTimes: [Double] = []
    var correct = 0
    withoutGradient {
        for batch in evaluation.nextEpoch() {
            var predictions: [Int] = []
            let seconds = secondsOf {
                let logits = model(batch.images)
                let classes = logits.shape[1]
                predictions = logits.withUnsafeBufferPointer { p in
                    (0..<batch.count).map { i in (0..<classes).max { p[i * classes + $0] < p[i * classes + $1] }! }
                }
            }
            correct += zip(predictions, batch.labels).filter { $0 == Int($1) }.count
            if batch.count == 64 { inferenceTimes.append(seconds) }
        }
    }
    let result = WorkloadResult(
        workload: name, threads: Threads.count,
        trainImagesPerSecond: 64 / median(times),
        trainImagesPerSecondMean: 64 * Double(times.count) / times.reduce(0, +), inferenceImagesPerSecond: 64 / median(inferenceTimes),
        batchesPerEpoch: training.batchCount, timedBatches: timed, trainedBatches: training.times.count + 5,
        testImages: test.count, testAccuracy: Double(correct) / Double(test.count),
        firstLoss: losses.first ?? .nan, lastLoss: median(Array(losses.suffix(20))),
        peakResidentMegabytes: (procStatusKilobytes("VmHWM") ?? .nan) / 1024,
        residentAfterLoadMegabytes: training.residentAfterLoad, peakTrainingMegabytes: peakTraining, peakAfterLoadMegabytes: training.peakAfterLoad, openMPRuntimes: mappedOpenMPRuntimes())
    let line = String(data: try JSONEncoder().encode(result), encoding: .utf8)!
    print(workloadResultPrefix + line)
}

/// Runs in the parent: spawns this executable for one workload and thread count.
func spawnWorkload(_ name: String, threads: Int, mode: RunMode) throws -> WorkloadResult {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    var arguments = ["workload", name, "--threads", "\(threads)"]
    // W3's whole epoch at all threads would take minutes on 2 cores: capped in the full run.
    let allThreads = mode.workloadBatches.allThreads ?? (name == "W3" ? 300 : nil)
    if let batches = threads == 1 ? mode.workloadBatches.oneThread : allThreads {
        arguments += ["--batches", "\(batches)"]
    }
    if let images = mode.inferenceImages { arguments += ["--inference-images", "\(images)"] }
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: output, as: UTF8.self)
    guard process.terminationStatus == 0,
          let line = text.split(separator: "\n").last(where: { $0.hasPrefix(workloadResultPrefix) }) else {
        throw UsageError(message: "workload \(name) at \(threads) threads failed (status \(process.terminationStatus)): \(text)")
    }
    return try JSONDecoder().decode(WorkloadResult.self, from: Data(line.dropFirst(workloadResultPrefix.count).utf8))
}

/// The records of one workload result.
/// The records of one workload run; `allRates` are the training rates of every run of it
/// at this thread count (the note of the train record lists them).
func workloadRecords(_ r: WorkloadResult, ceilings: Ceilings, allRates: [Double]) -> [Record] {
    let key = ["W1": "mlp", "W2": "cnn", "W3": "resnet"][r.workload]!
    let flopsPerImage = Models.trainingFLOPsPerImage[key]!
    let gflops = r.trainImagesPerSecond * flopsPerImage * 1e-9
    let epochSeconds = Double(r.batchesPerEpoch * 64) / r.trainImagesPerSecond
    let trained = r.trainedBatches == r.batchesPerEpoch ? "1 epoch" : "\(r.trainedBatches) batches"
    func record(_ suffix: String, _ unit: Unit, _ value: Double, pct: Double? = nil, note: String? = nil) -> Record {
        Record(group: "workload", name: "\(r.workload) \(suffix)", shape: r.workload, threads: r.threads, unit: unit,
               median: value, pctOfCeiling: pct, note: note)
    }
    var timing = "64 / median step time over \(r.timedBatches) batches after 5 warm-up"
        + String(format: " (over their summed time: %.0f)", r.trainImagesPerSecondMean)
    if allRates.count > 1 {
        timing += "; median of \(allRates.count) processes: " + allRates.map { String(format: "%.0f", $0) }.joined(separator: " ")
    }
    return [
        record("train", .imagesPerSecond, r.trainImagesPerSecond, note: timing),
        record("train GFLOP/s", .gflops, gflops, pct: 100 * gflops / ceilings.sgemm2048Gflops,
               note: String(format: "%.0f MFLOP/image (Models.trainingFLOPsPerImage)", flopsPerImage * 1e-6)),
        record("inference", .imagesPerSecond, r.inferenceImagesPerSecond, note: "batch 64, \(r.testImages) test images"),
        record("epoch", .seconds, epochSeconds, note: "\(r.batchesPerEpoch) batches of 64 at the training rate (extrapolated)"),
        record("peak RSS training", .megabytes, r.peakTrainingMegabytes,
               note: "VmHWM when the training steps end (data loaded, before the test set is)"),
        record("peak RSS", .megabytes, r.peakResidentMegabytes,
               note: String(format: "VmHWM of the workload's own process; %.0f MB resident after loading the training set (loader peak %.0f MB)",
                            r.residentAfterLoadMegabytes, r.peakAfterLoadMegabytes)),
        record("test accuracy", .fraction, r.testAccuracy, note: "after \(trained), \(r.testImages) test images"),
    ]
}
