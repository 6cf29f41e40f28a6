import Foundation
import NN
import TestSupport
import XCTest

/// Each schedule stepped over a run of epochs against its closed form.
final class ScheduleTests: XCTestCase {
    func run(_ schedule: any LearningRateSchedule, epochs: Int, metrics: [Float]? = nil) -> [Float] {
        (0..<epochs).map { schedule.step(metric: metrics?[$0]) }
    }

    func testStepDecay() {
        let lrs = run(StepDecay(baseLearningRate: 0.1, stepSize: 3, gamma: 0.5), epochs: 10)
        assertClose((1...10).map { 0.1 * powf(0.5, Float($0 / 3)) }, lrs, .float32, "StepDecay")
    }

    func testExponentialDecay() {
        let lrs = run(ExponentialDecay(baseLearningRate: 0.2, gamma: 0.9), epochs: 12)
        assertClose((1...12).map { 0.2 * powf(0.9, Float($0)) }, lrs, .float32, "ExponentialDecay")
    }

    func testCosineAnnealing() {
        let lrs = run(CosineAnnealing(baseLearningRate: 0.1, period: 10, minimum: 0.001), epochs: 12)
        let expected = (1...12).map { e -> Float in
            0.001 + (0.1 - 0.001) * (1 + cos(Float.pi * Float(min(e, 10)) / 10)) / 2
        }
        assertClose(expected, lrs, .float32, "CosineAnnealing")
        XCTAssertEqual(lrs[9], 0.001, accuracy: 1e-7)
    }

    func testLinearWarmupThenCosine() {
        let schedule = LinearWarmup(baseLearningRate: 0.1, warmupEpochs: 4, startFactor: 0.2,
                                    then: CosineAnnealing(baseLearningRate: 0.1, period: 6))
        XCTAssertEqual(schedule.learningRate(atEpoch: 0), 0.02, accuracy: 1e-7)
        let lrs = run(schedule, epochs: 10)
        let expected = (1...10).map { e -> Float in
            e < 4 ? 0.1 * (0.2 + 0.8 * Float(e) / 4) : 0.1 * (1 + cos(Float.pi * Float(e - 4) / 6)) / 2
        }
        assertClose(expected, lrs, .float32, "LinearWarmup+Cosine")
    }

    func testReduceOnPlateauMinMode() {
        // Improves for 3 epochs, then flat: with patience 2 the rate drops on the third bad
        // epoch; cooldown 1 then skips one epoch of counting.
        let schedule = ReduceOnPlateau(baseLearningRate: 1, mode: .min, factor: 0.5, patience: 2, threshold: 0.01,
                                       cooldown: 1, minimum: 0.2)
        let metrics: [Float] = [1.0, 0.9, 0.8, 0.8, 0.799, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
        let lrs = run(schedule, epochs: metrics.count, metrics: metrics)
        // epochs 4,5,6 bad -> reduce at 6 (0.5); cooldown epoch 7; bad 8,9,10 -> 0.25 at 10;
        // cooldown 11; bad 12,13,14 -> 0.125 clamped to the minimum 0.2 at 14.
        XCTAssertEqual(lrs, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2])
    }

    func testReduceOnPlateauMaxModeAndStateRoundTrip() throws {
        let a = ReduceOnPlateau(baseLearningRate: 0.1, mode: .max, factor: 0.1, patience: 0)
        XCTAssertEqual(a.step(metric: 0.5), 0.1)
        XCTAssertEqual(a.step(metric: 0.6), 0.1)
        XCTAssertEqual(a.step(metric: 0.6), 0.01, accuracy: 1e-9)
        let b = ReduceOnPlateau(baseLearningRate: 0.1, mode: .max, factor: 0.1, patience: 0)
        try b.load(state: a.state)
        XCTAssertEqual(b.step(metric: 0.55), a.step(metric: 0.55))
        XCTAssertThrowsError(try b.load(state: [:]))
    }
}
