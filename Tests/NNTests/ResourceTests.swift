import Foundation
import NN
import TestSupport
import XCTest

/// Memory and threads: training does not accumulate memory from epoch to epoch, and the
/// thread count changes results no more than floating-point reordering can.
final class ResourceTests: XCTestCase {

    /// `count` random 1x28x28 images with labels `index % 10` (the model's input; the
    /// content does not matter for memory or threads).
    private func syntheticImages(_ count: Int, seed: UInt64) -> ImageDataset {
        var generator = SeededGenerator(seed: seed)
        return ImageDataset(images: randomFloats(count * 784, in: 0...1, using: &generator),
                            labels: (0..<count).map { Int32($0 % 10) }, channels: 1, height: 28, width: 28,
                            classNames: FashionMNIST.classNames)
    }

    /// Trains W2 (the CNN: conv, batch norm, pooling, dropout, dense) for 5 epochs of 8
    /// steps and reads the resident set size at every epoch end: after epoch 5 it must be
    /// within 5% + 4 MiB of after epoch 1. Epoch 1 has already allocated everything that
    /// stays (parameters, Adam's moments, the kernels' thread pools). One step's graph
    /// holds ~65 MiB at batch 64: with the tape kept after backward (checked by breaking
    /// `backward()`'s release on purpose) RSS grows by 520 MiB an epoch.
    ///
    /// RSS is read after `malloc_trim(0)`, so it counts live memory rather than the free
    /// chunks glibc caches (without the trim it moves by 10+ MiB between epochs, either
    /// way). The 4 MiB slack covers what may still be allocated once after epoch 1 (the
    /// history, Foundation's caches) and arena fragmentation the trim cannot return;
    /// measured here, epochs 1 to 5 differ by 0.2 MiB.
    func testResidentMemoryStaysFlatAcrossEpochs() throws {
        let data = syntheticImages(512, seed: 11)
        DefaultRandom.manualSeed(7)
        let model = Models.cnn()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 1e-3), seed: 7)
        trainer.printsEpochs = false
        trainer.showsProgress = false
        let meter = ResidentMemoryMeter()
        trainer.callbacks = [meter]
        try trainer.fit(data, epochs: 5, batchSize: 64)

        XCTAssertEqual(meter.samples.count, 5)
        let first = Double(meter.samples[0]), last = Double(meter.samples[4])
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        let allowed = first * 1.05 + 4 * 1_048_576
        XCTAssertLessThanOrEqual(last, allowed, "VmRSS grew from \(mib(Int(first))) after epoch 1 to "
                                 + "\(mib(Int(last))) after epoch 5 (allowed \(mib(Int(allowed)))); "
                                 + "all epochs: \(meter.samples.map(mib))")
        print("ResourceTests: VmRSS at epoch ends \(meter.samples.map(mib).joined(separator: ", "))")
    }

    /// A short W2 run gives the same per-step losses with 1 and 2 threads, within what
    /// summing in another order allows: the kernels give each thread its own outputs
    /// (no shared accumulators), so the only differences can come from OpenBLAS
    /// splitting a GEMM differently, a few ulps per step, grown by 8 Adam steps. 1e-4
    /// relative is ~800 float32 ulps: far above reordering, far below a real race or a
    /// thread-dependent bug (which changes the loss in the first or second digit).
    /// Measured here: 1.2e-6 at worst.
    func testLossesDoNotDependOnTheThreadCount() throws {
        defer { Threads.set(nil) }
        let data = syntheticImages(512, seed: 12)
        func losses(threads: Int) throws -> [Float] {
            Threads.set(threads)
            XCTAssertEqual(Threads.count, threads)
            DefaultRandom.manualSeed(3)
            let model = Models.cnn()
            var recorded: [Float] = []
            let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 1e-3),
                                  seed: 3) { logits, labels in
                let loss = crossEntropy(logits: logits, labels: labels)
                recorded.append(loss.scalar)
                return loss
            }
            trainer.printsEpochs = false
            trainer.showsProgress = false
            try trainer.fit(data, epochs: 1, batchSize: 64)
            return recorded
        }
        let one = try losses(threads: 1)
        let two = try losses(threads: 2)
        XCTAssertEqual(one.count, 8)
        assertClose(one, two, Tolerance(atol: 0, rtol: 1e-4), "per-step losses, 1 thread vs 2")
        let worst = zip(one, two).map { abs($0 - $1) / abs($0) }.max() ?? 0
        print("ResourceTests: 1 vs 2 threads, largest relative loss difference over \(one.count) steps: \(worst)")
    }
}

/// Reads VmRSS from /proc/self/status at every epoch end.
private final class ResidentMemoryMeter: TrainingCallback {
    var samples: [Int] = []

    func epochEnded(_ metrics: EpochMetrics, trainer: Trainer) throws -> TrainingDecision {
        // Hand the allocator's cached free pages back first, so RSS measures what is live
        // rather than what glibc happens to keep (which moves by 10+ MiB between epochs).
        releaseFreeMemory()
        samples.append(try residentBytes())
        return .proceed
    }
}

/// The resident set size of this process, from the `VmRSS:  <n> kB` line of /proc/self/status.
func residentBytes() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { throw CocoaError(.fileReadCorruptFile) }
    return kB * 1024
}

/// glibc's `malloc_trim(0)`: returns free pages of every malloc arena to the kernel.
/// `<malloc.h>` is not part of Swift's Glibc module, so it is looked up at run time (a
/// no-op where it does not exist, e.g. under a sanitizer's own allocator).
private func releaseFreeMemory() {
    typealias MallocTrim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(nil, "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
}
