import Foundation
import ArgumentParser
import NN

/// The networks of NN's `Models`, with the recipe each is trained with by default.
enum ModelName: String, CaseIterable, ExpressibleByArgument {
    case mlp, cnn, resnet

    /// A freshly initialized network; `seed` fixes the initial weights and dropout.
    func build(seed: UInt64) -> Sequential {
        DefaultRandom.manualSeed(seed)
        switch self {
        case .mlp: return Models.mlp()
        case .cnn: return Models.cnn(dropoutSeed: seed ^ 0xD209)
        case .resnet: return Models.resnet()
        }
    }

    /// The images it takes (every model of `Models` reads Fashion-MNIST's 1x28x28 grayscale).
    var inputShape: (channels: Int, height: Int, width: Int) { (1, 28, 28) }

    /// Its name among the project's workloads (`KernelBench workload W1`).
    var workload: String {
        switch self {
        case .mlp: return "W1"
        case .cnn: return "W2"
        case .resnet: return "W3"
        }
    }

    /// mlp, cnn: Adam lr 1e-3, batch 64. resnet: SGD + Nesterov 0.9, weight decay 5e-4, cosine, batch 128.
    var defaults: Recipe {
        switch self {
        case .mlp: return Recipe(epochs: 10, batchSize: 64, optimizer: .adam, learningRate: 1e-3, weightDecay: 0, schedule: .none)
        case .cnn: return Recipe(epochs: 5, batchSize: 64, optimizer: .adam, learningRate: 1e-3, weightDecay: 0, schedule: .none)
        case .resnet:
            return Recipe(epochs: 15, batchSize: 128, optimizer: .nesterov, learningRate: 0.1, weightDecay: 5e-4, schedule: .cosine)
        }
    }

    /// Which of the three models a checkpoint holds: its `model_name` metadata, else the
    /// layer description every checkpoint carries.
    static func of(checkpoint metadata: [String: String]) -> ModelName? {
        if let name = metadata["model_name"] { return ModelName(rawValue: name) }
        guard let description = metadata["model"] else { return nil }
        return allCases.first {
            let current = Checkpoint.describe($0.build(seed: 0))
            return description == current || description == legacyDescription(current)
        }
    }

    /// `description` as checkpoints written before the activations were types of their own
    /// put it: every element-wise activation named "Activation".
    static func legacyDescription(_ description: String) -> String {
        description.replacing(#/\b(ReLU|LeakyReLU|ELU|Sigmoid|Tanh|Arctan|SoftPlus|BinaryStep|Identity)\b/#,
                              with: "Activation")
    }
}

/// The training hyper-parameters of a run.
struct Recipe {
    var epochs: Int
    var batchSize: Int
    var optimizer: OptimizerName
    var learningRate: Float
    var weightDecay: Float
    var schedule: ScheduleName
}

/// The optimizers `--optimizer` accepts.
enum OptimizerName: String, CaseIterable, ExpressibleByArgument {
    case sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw

    /// The learning rate used when `--lr` is not given and the model's recipe uses another optimizer.
    var defaultLearningRate: Float {
        switch self {
        case .sgd, .momentum, .adagrad: return 0.01
        case .nesterov: return 0.05
        case .rmsprop, .adam, .adamw: return 1e-3
        }
    }

    /// The weight decay used when `--weight-decay` is not given (PyTorch's defaults).
    var defaultWeightDecay: Float { self == .adamw ? 1e-2 : 0 }

    func make(_ parameters: [Parameter], learningRate: Float, weightDecay: Float) -> any Optimizer {
        switch self {
        case .sgd: return SGD(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .momentum: return SGD(parameters: parameters, learningRate: learningRate, momentum: 0.9, weightDecay: weightDecay)
        case .nesterov:
            return SGD(parameters: parameters, learningRate: learningRate, momentum: 0.9, weightDecay: weightDecay, nesterov: true)
        case .adagrad: return AdaGrad(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .rmsprop: return RMSProp(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .adam: return Adam(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .adamw: return AdamW(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        }
    }

    /// A short description for the run's header line.
    var summary: String {
        switch self {
        case .sgd: return "SGD"
        case .momentum: return "SGD, momentum 0.9"
        case .nesterov: return "SGD, Nesterov momentum 0.9"
        case .adagrad: return "AdaGrad"
        case .rmsprop: return "RMSProp"
        case .adam: return "Adam"
        case .adamw: return "AdamW"
        }
    }
}

/// The learning-rate schedules `--schedule` accepts, stepped once per epoch.
enum ScheduleName: String, CaseIterable, ExpressibleByArgument {
    case none, step, exponential, cosine, plateau
    case warmupCosine = "warmup-cosine"

    /// The schedule for a run of `epochs` epochs starting at `learningRate`.
    func make(learningRate: Float, epochs: Int) -> (any LearningRateSchedule)? {
        switch self {
        case .none:
            return nil
        case .step:
            // Two drops by 10x, at a third and two thirds of the run.
            return StepDecay(baseLearningRate: learningRate, stepSize: max(1, (epochs + 2) / 3), gamma: 0.1)
        case .exponential:
            // Down to about 5% of the starting rate by the last epoch.
            return ExponentialDecay(baseLearningRate: learningRate, gamma: Float(pow(0.05, 1 / Double(max(epochs - 1, 1)))))
        case .cosine:
            return CosineAnnealing(baseLearningRate: learningRate, period: epochs)
        case .plateau:
            return ReduceOnPlateau(baseLearningRate: learningRate, factor: 0.2, patience: 1)
        case .warmupCosine:
            let warmup = max(1, min(2, epochs / 5))
            return LinearWarmup(baseLearningRate: learningRate, warmupEpochs: warmup, startFactor: 0.1,
                                then: CosineAnnealing(baseLearningRate: learningRate, period: max(1, epochs - warmup)))
        }
    }
}
