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
    /// The rate at epoch 0, usually the optimizer's initial `learningRate`.
    public let baseLearningRate: Float
    /// Calls to `step(metric:)` so far: the epoch whose rate the last call returned.
    public private(set) var epoch = 0
    init(baseLearningRate: Float) { self.baseLearningRate = baseLearningRate }
    /// The rate at `epoch` (0 = the first epoch).
    public func learningRate(atEpoch epoch: Int) -> Float { fatalError("subclass must override") }
    /// Advances one epoch and returns `learningRate(atEpoch:)` of the new epoch; `metric`
    /// is ignored (a closed form needs none).
    public func step(metric: Float? = nil) -> Float {
        epoch += 1
        return learningRate(atEpoch: epoch)
    }
    /// `["epoch": epoch]`: the closed form needs nothing else to resume.
    public var state: [String: Double] { ["epoch": Double(epoch)] }
    /// Restores the epoch saved by `state`.
    ///
    /// - Throws: `ScheduleStateError` when "epoch" is missing or not a whole number >= 0.
    public func load(state: [String: Double]) throws {
        epoch = try wholeNumber("epoch", in: state)
    }
}

/// A problem restoring a schedule's state.
public struct ScheduleStateError: Error, CustomStringConvertible {
    /// What is wrong, naming the state key (e.g. `schedule state "epoch" is missing, expected a whole number >= 0`).
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
    /// Epochs between two decays (PyTorch: `step_size`); must be positive.
    public let stepSize: Int
    /// The factor applied every `stepSize` epochs (PyTorch: `gamma`, default 0.1); must be
    /// positive.
    public let gamma: Float
    /// Starts at `baseLearningRate` and multiplies it by `gamma` every `stepSize` epochs.
    public init(baseLearningRate: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "StepDecay: step size must be positive, got \(stepSize)")
        precondition(gamma > 0, "StepDecay: gamma must be positive, got \(gamma)")
        (self.stepSize, self.gamma) = (stepSize, gamma)
        super.init(baseLearningRate: baseLearningRate)
    }
    /// base * gamma^floor(epoch / stepSize).
    public override func learningRate(atEpoch epoch: Int) -> Float {
        baseLearningRate * powf(gamma, Float(epoch / stepSize))
    }
}

/// Exponential decay: base * gamma^epoch (PyTorch's ExponentialLR).
public final class ExponentialDecay: ClosedFormSchedule {
    /// The factor applied every epoch (PyTorch: `gamma`, no default); must be positive.
    public let gamma: Float
    /// Starts at `baseLearningRate` and multiplies it by `gamma` every epoch.
    public init(baseLearningRate: Float, gamma: Float) {
        precondition(gamma > 0, "ExponentialDecay: gamma must be positive, got \(gamma)")
        self.gamma = gamma
        super.init(baseLearningRate: baseLearningRate)
    }
    /// base * gamma^epoch.
    public override func learningRate(atEpoch epoch: Int) -> Float { baseLearningRate * powf(gamma, Float(epoch)) }
}

/// Cosine annealing (Loshchilov & Hutter, 2017) from base to `minimum` over `period`
/// epochs: min + (base - min) * (1 + cos(pi * epoch / period)) / 2, held at min afterwards.
public final class CosineAnnealing: ClosedFormSchedule {
    /// Epochs from the base rate down to `minimum` (PyTorch: `T_max`); must be positive.
    public let period: Int
    /// The rate reached after `period` epochs and held afterwards (PyTorch: `eta_min`,
    /// default 0); must be in [0, baseLearningRate].
    public let minimum: Float
    /// Anneals from `baseLearningRate` to `minimum` over `period` epochs.
    public init(baseLearningRate: Float, period: Int, minimum: Float = 0) {
        precondition(period > 0, "CosineAnnealing: period must be positive, got \(period)")
        precondition(minimum >= 0 && minimum <= baseLearningRate,
                     "CosineAnnealing: minimum \(minimum) must be in [0, base \(baseLearningRate)]")
        (self.period, self.minimum) = (period, minimum)
        super.init(baseLearningRate: baseLearningRate)
    }
    /// min + (base - min) * (1 + cos(pi * min(epoch, period) / period)) / 2.
    public override func learningRate(atEpoch epoch: Int) -> Float {
        let t = Float(min(epoch, period))
        return minimum + (baseLearningRate - minimum) * (1 + cos(Float.pi * t / Float(period))) / 2
    }
}

/// Linear warm-up from base * startFactor to base over `warmupEpochs`, then `after`
/// (constant if nil), whose epochs count from the end of the warm-up.
public final class LinearWarmup: ClosedFormSchedule {
    /// Epochs of the warm-up (PyTorch LinearLR's `total_iters`); must be positive.
    public let warmupEpochs: Int
    /// The fraction of the base rate at epoch 0 (PyTorch LinearLR's `start_factor`,
    /// default 0.1); must be in (0, 1].
    public let startFactor: Float
    /// The schedule that follows the warm-up, its epoch 0 being the first epoch after it;
    /// nil keeps the base rate.
    public let after: ClosedFormSchedule?
    /// Warms up from `baseLearningRate * startFactor` to `baseLearningRate` over
    /// `warmupEpochs`, then follows `after` (which should start from the same base rate).
    public init(baseLearningRate: Float, warmupEpochs: Int, startFactor: Float = 0.1, then after: ClosedFormSchedule? = nil) {
        precondition(warmupEpochs > 0, "LinearWarmup: warm-up epochs must be positive, got \(warmupEpochs)")
        precondition(startFactor > 0 && startFactor <= 1, "LinearWarmup: start factor must be in (0, 1], got \(startFactor)")
        (self.warmupEpochs, self.startFactor, self.after) = (warmupEpochs, startFactor, after)
        super.init(baseLearningRate: baseLearningRate)
    }
    /// base * (startFactor + (1 - startFactor) * epoch / warmupEpochs) during the warm-up,
    /// then `after`'s rate at epoch - warmupEpochs (or base).
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
    public enum Mode: Sendable {
        /// Lower is better (a loss): an improvement is below best * (1 - threshold).
        case min
        /// Higher is better (an accuracy): an improvement is above best * (1 + threshold).
        case max
    }
    /// The rate before any reduction.
    public let baseLearningRate: Float
    /// Whether the metric should fall or rise (PyTorch: `mode`, default `.min`).
    public let mode: Mode
    /// The factor a reduction multiplies the rate by (PyTorch: `factor`, default 0.1); in (0, 1).
    public let factor: Float
    /// Epochs without improvement tolerated before a reduction (PyTorch: `patience`,
    /// default 10).
    public let patience: Int
    /// The relative change that counts as an improvement (PyTorch: `threshold` with
    /// `threshold_mode="rel"`, default 1e-4).
    public let threshold: Float
    /// Epochs after a reduction during which no bad epoch is counted (PyTorch: `cooldown`,
    /// default 0).
    public let cooldown: Int
    /// The rate is never reduced below this (PyTorch: `min_lr`, default 0).
    public let minimum: Float
    /// Calls to `step(metric:)` so far.
    public private(set) var epoch = 0
    /// The current rate: `baseLearningRate` times the reductions made so far.
    public private(set) var learningRate: Float
    private var best: Float
    private var badEpochs = 0
    private var cooldownLeft = 0

    /// Starts at `baseLearningRate`; every option defaults to PyTorch's ReduceLROnPlateau.
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

    /// Records one epoch's `metric` (required: a precondition fails on nil) and returns
    /// the rate for the next epoch, reduced when the metric has not improved for more than
    /// `patience` epochs.
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

    /// The epoch, the current rate, the best metric, the bad-epoch count and the cooldown
    /// left: everything `step(metric:)` reads.
    public var state: [String: Double] {
        ["epoch": Double(epoch), "learning_rate": Double(learningRate), "best": Double(best),
         "bad_epochs": Double(badEpochs), "cooldown_left": Double(cooldownLeft)]
    }

    /// Restores the numbers saved by `state`.
    ///
    /// - Throws: `ScheduleStateError`, changing nothing, when a key is missing, a count is
    ///   not a whole number >= 0, the rate is not finite and >= 0, or the best is NaN.
    public func load(state: [String: Double]) throws {
        for key
 in ["epoch", "learning_rate", "best", "bad_epochs", "cooldown_left"] where state[key] == nil {
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
