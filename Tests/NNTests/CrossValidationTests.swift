import Foundation
import NN
import TestSupport
import XCTest

/// `CrossValidation`: every fold trained and scored, reproducible from its seed, and a
/// trainer seed of its own for every (seed, fold) pair of a sweep over seeds.
final class CrossValidationTests: XCTestCase {
    /// 40 samples of 2 features in two classes that a linear model separates (class 1 where
    /// a + b > 0), interleaved so that every fold holds both.
    private func separable() -> Dataset {
        var generator = RandomGenerator(seed: 11)
        var features: [Float] = [], labels: [Int32] = []
        for i in 0..<40 {
            let a = generator.nextUnitFloat() * 2 - 1, b = generator.nextUnitFloat() * 2 - 1
            let label: Int32 = i % 2 == 0 ? 1 : 0
            // Pushed away from the boundary so that 30 epochs of a linear model get all right.
            let shift: Float = label == 1 ? 1.5 : -1.5
            features += [a + shift, b + shift]
            labels.append(label)
        }
        return Dataset(table: features, rowCount: 40, names: ["a", "b"],
                       targets: .classes(labels: labels, names: ["neg", "pos"]))
    }

    private func run(seed: UInt64) throws -> CrossValidationResult {
        try CrossValidation(folds: 4, stratified: true, seed: seed)
            .run(separable(), task: .classification, epochs: 30, batchSize: 8,
                 makeModel: { fold in DefaultRandom.manualSeed(UInt64(fold)); return Dense(inputSize: 2, outputSize: 2) },
                 makeOptimizer: { Adam(parameters: $0, learningRate: 0.05) })
    }

    func testEveryFoldIsScoredAndTheSameSeedRepeatsTheRun() throws {
        let first = try run(seed: 3)
        XCTAssertEqual(first.folds.count, 4)
        // 10 held-out samples a fold: every fold scored on its own quarter, all of them right.
        for (i, accuracy) in first.values("accuracy").enumerated() {
            XCTAssertEqual(accuracy, 1.0, "fold \(i + 1) of a separable table")
        }
        XCTAssertEqual(first.mean("accuracy"), 1.0)
        XCTAssertEqual(first.standardDeviation("accuracy"), 0.0)
        let again = try run(seed: 3)
        XCTAssertEqual(first.values("loss"), again.values("loss"), "same seed, same folds, same training")
        XCTAssertNotEqual(first.values("loss"), try run(seed: 4).values("loss"), "another seed deals other folds")
    }

    /// Each fold gets a schedule of its own from `makeSchedule`, and it is in force: a rate cut
    /// 1,000-fold after every epoch leaves the folds close to where one epoch took them, and
    /// unlike an unscheduled run.
    func testEveryFoldTrainsUnderAFreshSchedule() throws {
        var made = 0
        var plan = CrossValidation(folds: 4, stratified: true, seed: 3)
        plan.makeSchedule = {
            made += 1
            return StepDecay(baseLearningRate: 0.05, stepSize: 1, gamma: 1e-3)
        }
        let run: (Int) throws -> [Double] = { epochs in
            try plan.run(self.separable(), task: .classification, epochs: epochs, batchSize: 8,
                         makeModel: { fold in DefaultRandom.manualSeed(UInt64(fold)); return Dense(inputSize: 2, outputSize: 2) },
                         makeOptimizer: { Adam(parameters: $0, learningRate: 0.05) }).values("loss")
        }
        let cut = try run(30)
        XCTAssertEqual(made, 4, "one schedule a fold")
        let oneEpoch = try run(1)
        for (fold, (a, b)) in zip(cut, oneEpoch).enumerated() {
            // Epochs 2-30 at 5e-5 and below move Adam's weights by about 1e-3 in all.
            XCTAssertEqual(a, b, accuracy: 0.02 * b, "fold \(fold + 1): 30 cut epochs end near 1 epoch")
        }
        let unscheduled = try self.run(seed: 3).values("loss")
        for (fold, (a, b)) in zip(cut, unscheduled).enumerated() {
            XCTAssertGreaterThan(a, 2 * b, "fold \(fold + 1): without the schedule the loss goes on falling")
        }
    }

    /// A regression trained on standardized targets is scored in target units, its loss too:
    /// each fold's loss is the MSE of the mapped-back predictions (it was NaN), equal to the
    /// fold's `mse`, and far above the standardized scale's: the noise alone (std 11.5) leaves
    /// an MSE near 130 in target units, where the standardized targets' is below 1.
    func testStandardizedTargetsGiveTheLossInTargetUnits() throws {
        var generator = RandomGenerator(seed: 5)
        var features: [Float] = [], targets: [Float] = []
        for _ in 0..<40 {
            let a = generator.nextUnitFloat() * 2 - 1, b = generator.nextUnitFloat() * 2 - 1
            features += [a, b]
            targets.append(100 + 30 * a - 20 * b + 40 * (generator.nextUnitFloat() - 0.5))
        }
        let data = Dataset(table: features, rowCount: 40, names: ["a", "b"], targets: .values(targets, shape: [1]))
        let result = try CrossValidation(folds: 4, seed: 1, standardizesTargets: true)
            .run(data, task: .regression, epochs: 5, batchSize: 8,
                 makeModel: { fold in DefaultRandom.manualSeed(UInt64(fold)); return Dense(inputSize: 2, outputSize: 1) },
                 makeOptimizer: { Adam(parameters: $0, learningRate: 0.05) })
        for (fold, (loss, mse)) in zip(result.values("loss"), result.values("mse")).enumerated() {
            XCTAssertTrue(loss.isFinite, "fold \(fold + 1): loss \(loss)")
            // The loss sums in float, the metric in double: 1e-5 relative covers 10 samples.
            XCTAssertEqual(loss, mse, accuracy: 1e-5 * mse, "fold \(fold + 1): the loss is the MSE in target units")
            XCTAssertGreaterThan(loss, 10, "fold \(fold + 1): an error in target units, not in standard deviations")
        }
    }

    /// A sweep over seeds 0..<32 with up to 10 folds never gives two (seed, fold) pairs one
    /// trainer seed; `seed + fold + 1` gave fold f of seed s fold f - 1 of seed s + 1's.
    func testEveryFoldOfASeedSweepHasItsOwnTrainerSeed() {
        var seen: [UInt64: (UInt64, Int)] = [:]
        for seed in UInt64(0)..<32 {
            let plan = CrossValidation(folds: 10, seed: seed)
            for fold in 0..<10 {
                let s = plan.trainerSeed(fold: fold)
                if let other = seen[s] {
                    XCTFail("seed \(seed) fold \(fold) shares trainer seed \(s) with seed \(other.0) fold \(other.1)")
                }
                seen[s] = (seed, fold)
            }
        }
        XCTAssertNotEqual(CrossValidation(seed: 0).trainerSeed(fold: 1), CrossValidation(seed: 1).trainerSeed(fold: 0))
    }
}
