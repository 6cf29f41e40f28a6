import Foundation

/// A learning-rate schedule, stepped once per epoch like PyTorch's `lr_scheduler`:
/// `step(metric:)` after epoch e sets the optimizer's rate for epoch e + 1.
public protocol LearningRateSchedule: AnyObject {
    /// The rate the schedule started from.
    var baseLearningRate: Float { get }
    /// Epochs stepped so far.
    var epoch: Int { get }
    /// Advances one epoch (`metric` is the monitored value, used by reduce-on-plateau)
    /// and returns the learning rate for the next epoch.
    func step(metric: Float?) -> Float
    /// Numbers that restore the schedule exactly (for checkpoints).
    var state: [String: Double] { get }
    /// Restores `state`.
    func load(state: [String: Double]) throws
}

/// A schedule whose rate is a closed-form function of the epoch.
public class ClosedFormSchedule: LearningRateSchedule {
    public let baseLearningRate: Float
    public private(set) var epoch = 0
    init(baseLearningRate: Float) { self.baseLearningRate = baseLearningRate }
    /// The rate at `epoch` (0 = the first epoch).
    public func learningRate(atEpoch epoch: Int) -> Float { fatalError("subclass must override") }
    public func step(metric: Float? = nil) -> Float {
        epoch += 1
        return learningRate(atEpoch: epoch)
    }
    public var state: [String: Double] { ["epoch": Double(epoch)] }
    public func load(state: [String: Double]) throws {
        epoch = try wholeNumber("epoch", in: state)
    }
}

/// A problem restoring a schedule's state.
public struct ScheduleStateError: Error, CustomStringConvertible {
    public let description: String
}

/// `state[key]` as a count: a whole number in 0...Int32.max. The values come from a file,
/// and `Int(Double)` traps on NaN, infinities and anything beyond Int's range.
func wholeNumber(_ key: String, in state: [String: Double]) throws -> Int {
    guard let value = state[key], value >= 0, value <= Double(Int32.max), value.rounded() == value else {
        throw ScheduleStateError(description: "schedule state \"\(key)\" is \(state[key].map { "\($0)" } ?? "missing"), "
                                 + "expected a whole number >= 0")
    }
    return Int(value)
}

/// Step decay: base * gamma^floor(epoch / stepSize) (PyTorch's StepLR).
public final class StepDecay: ClosedFormSchedule {
    public let stepSize: Int, gamma: Float
    public init(baseLearningRate: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "StepDecay: step size must be positive, got \(stepSize)")
        precondition(gamma > 0, "StepDecay: gamma must be positive, got \(gamma)")
        (self.stepSize, self.gamma) = (stepSize, gamma)
        super.init(baseLearningRate: baseLearningRate)
    }
    public override func learningRate(atEpoch epoch: Int) -> Float {
        baseLearningRate * powf(gamma, Float(epoch / stepSize))
    }
}

/// Exponential decay: base * gamma^epoch (PyTorch's ExponentialLR).
public final class ExponentialDecay: ClosedFormSchedule {
    public let gamma: Float
    public init(baseLearningRate: Float, gamma: Float) {
        precondition(gamma > 0, "ExponentialDecay: gamma must be positive, got \(gamma)")
        self.gamma = gamma
        super.init(baseLearningRate: baseLearningRate)
    }
    public override func learningRate(atEpoch epoch: Int) -> Float { baseLearningRate * powf(gamma, Float(epoch)) }
}

/// Cosine annealing (Loshchilov & Hutter, 2017) from base to `minimum` over `period`
/// epochs: min + (base - min) * (1 + cos(pi * epoch / period)) / 2, held at min afterwards.
public final class CosineAnnealing: ClosedFormSchedule {
    public let period: Int, minimum: Float
    public init(baseLearningRate: Float, period: Int, minimum: Float = 0) {
        precondition(period > 0, "CosineAnnealing: period must be positive, got \(period)")
        precondition(minimum >= 0 && minimum <= baseLearningRate,
                     "CosineAnnealing: minimum \(minimum) must be in [0, base \(baseLearningRate)]")
        (self.period, self.minimum) = (period, minimum)
        super.init(baseLearningRate: baseLearningRate)
    }
    public override func learningRate(atEpoch epoch: Int) -> Float {
        let t = Float(min(epoch, period))
        return minimum + (baseLearningRate - minimum) * (1 + cos(Float.pi * t / Float(period))) / 2
    }
}

/// Linear warm-up from base * startFactor to base over `warmupEpochs`, then `after`
/// (constant if nil), whose epochs count from the end of the warm-up.
public final class LinearWarmup: ClosedFormSchedule {
    public let warmupEpochs: Int, startFactor: Float
    public let after: ClosedFormSchedule?
    public init(baseLearningRate: Float, warmupEpochs: Int, startFactor: Float = 0.1, then after: ClosedFormSchedule? = nil) {
        precondition(warmupEpochs > 0, "LinearWarmup: warm-up epochs must be positive, got \(warmupEpochs)")
        precondition(startFactor > 0 && startFactor <= 1, "LinearWarmup: start factor must be in (0, 1], got \(startFactor)")
        (self.warmupEpochs, self.startFactor, self.after) = (warmupEpochs, startFactor, after)
        super.init(baseLearningRate: baseLearningRate)
    }
    public override func learningRate(atEpoch epoch: Int) -> Float {
        if epoch < warmupEpochs {
            return baseLearningRate * (startFactor + (1 - startFactor) * Float(epoch) / Float(warmupEpochs))
        }
        return after?.learningRate(atEpoch: epoch - warmupEpochs) ?? baseLearningRate
    }
}

/// Reduce-on-plateau (PyTorch's ReduceLROnPlateau): when the monitored metric has not
/// improved by more than `threshold` (relative) for `patience` epochs, multiply the rate
/// by `factor` (not below `minimum`), then wait `cooldown` epochs before counting again.
public final class ReduceOnPlateau: LearningRateSchedule {
    /// Whether lower (loss) or higher (accuracy) is better.
    public enum Mode: Sendable { case min, max }
    public let baseLearningRate: Float
    public let mode: Mode, factor: Float, patience: Int, threshold: Float, cooldown: Int, minimum: Float
    public private(set) var epoch = 0
    public private(set) var learningRate: Float
    private var best: Float
    private var badEpochs = 0
    private var cooldownLeft = 0

    public init(baseLearningRate: Float, mode: Mode = .min, factor: Float = 0.1, patience: Int = 10,
                threshold: Float = 1e-4, cooldown: Int = 0, minimum: Float = 0) {
        precondition(factor > 0 && factor < 1, "ReduceOnPlateau: factor must be in (0, 1), got \(factor)")
        precondition(patience >= 0 && cooldown >= 0, "ReduceOnPlateau: patience \(patience) and cooldown \(cooldown) must be non-negative")
        precondition(threshold >= 0 && minimum >= 0, "ReduceOnPlateau: threshold \(threshold) and minimum \(minimum) must be non-negative")
        self.baseLearningRate = baseLearningRate
        (self.mode, self.factor, self.patience, self.threshold, self.cooldown, self.minimum) =
            (mode, factor, patience, threshold, cooldown, minimum)
        learningRate = baseLearningRate
        best = mode == .min ? .infinity : -.infinity
    }

    private func isImprovement(_ value: Float) -> Bool {
        mode == .min ? value < best * (1 - threshold) : value > best * (1 + threshold)
    }

    public func step(metric: Float?) -> Float {
        precondition(metric != nil, "ReduceOnPlateau.step needs the monitored metric")
        let value = metric!
        epoch += 1
        if isImprovement(value) {
            best = value
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            learningRate = max(learningRate * factor, minimum)
            cooldownLeft = cooldown
            badEpochs = 0
        }
        return learningRate
    }

    public var state: [String: Double] {
        ["epoch": Double(epoch), "learning_rate": Double(learningRate), "best": Double(best),
         "bad_epochs": Double(badEpochs), "cooldown_left": Double(cooldownLeft)]
    }

    public func load(state: [String: Double]) throws {
        for key in ["epoch", "learning_rate", "best", "bad_epochs", "cooldown_left"] where state[key] == nil {
            throw ScheduleStateError(description: "reduce-on-plateau state lacks \"\(key)\"")
        }
        let (e, bad, cool) = try (wholeNumber("epoch", in: state), wholeNumber("bad_epochs", in: state),
                                  wholeNumber("cooldown_left", in: state))
        let rate = state["learning_rate"]!, bestValue = state["best"]!
        guard rate.isFinite, rate >= 0 else {
            throw ScheduleStateError(description: "reduce-on-plateau \"learning_rate\" is \(rate), expected a finite number >= 0")
        }
        guard !bestValue.isNaN else {  // infinite is valid: the initial best before any epoch
            throw ScheduleStateError(description: "reduce-on-plateau \"best\" is NaN")
        }
        (epoch, badEpochs, cooldownLeft) = (e, bad, cool)
        learningRate = Float(rate)
        best = Float(bestValue)
    }
}
