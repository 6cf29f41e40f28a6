/// Batch normalization (Ioffe & Szegedy, 2015) per channel of (N, C, H, W) or per feature
/// of (N, F): batch statistics and running-statistic updates in training, the running
/// statistics in inference. Scale starts at ones, shift at zeros.
public final class BatchNorm: Layer {
    /// The scale gamma, shape (C).
    public let weight: Parameter
    /// The shift beta, shape (C).
    public let bias: Parameter
    /// Running mean, updated in training with `momentum`.
    public let runningMean: Buffer
    /// Running (unbiased) variance, updated in training with `momentum`.
    public let runningVariance: Buffer
    /// The weight of the batch statistic in each running update (PyTorch: `momentum`,
    /// default 0.1); in [0, 1].
    public let momentum: Float
    /// Added to the variance before the square root (PyTorch: `eps`, default 1e-5); positive.
    public let epsilon: Float
    /// Training normalizes with the batch's statistics and updates the running ones;
    /// inference normalizes with the running statistics and changes nothing.
    public var isTraining = true
    /// When set, training-mode statistics span every rank of this communicator
    /// (`synchronizedBatchNorm`); nil: this process's batch only (as DDP's default).
    public var communicator: (any Communicator)?

    /// Batch norm over `channels` features; running = (1 - momentum) * running + momentum * batch.
    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(channels > 0, "BatchNorm: channels must be positive, got \(channels)")
        precondition(momentum >= 0 && momentum <= 1 && epsilon > 0,
                     "BatchNorm: momentum \(momentum) must be in [0, 1] and epsilon \(epsilon) positive")
        weight = Parameter(Tensor(ones: [channels]))
        bias = Parameter(Tensor(zeros: [channels]))
        runningMean = Buffer(Tensor(zeros: [channels]))
        runningVariance = Buffer(Tensor(ones: [channels]))
        (self.momentum, self.epsilon) = (momentum, epsilon)
    }

    /// The scale and shift, as "weight" and "bias" (PyTorch's names).
    public var ownParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
    /// The running statistics, as "running_mean" and "running_var" (PyTorch's names; this
    /// layer keeps no `num_batches_tracked`).
    public var ownBuffers: [(name: String, buffer: Buffer)] {
        [("running_mean", runningMean), ("running_var", runningVariance)]
    }

    /// Normalizes `input`, (N, C, H, W) or (N, C) with C = `channels`: the same shape out.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        // Inference only reads the statistics: no inout access, which would be a write
        // (and a data race) when several tasks share the model.
        guard isTraining else {
            return batchNormInference(input, gamma: weight.value, beta: bias.value, runningMean: runningMean.value,
                                      runningVariance: runningVariance.value, epsilon: epsilon)
        }
        if let communicator {
            return synchronizedBatchNorm(input, gamma: weight.value, beta: bias.value, runningMean: &runningMean.value,
                                         runningVariance: &runningVariance.value, momentum: momentum, epsilon: epsilon,
                                         communicator: communicator)
        }
        return batchNorm(input, gamma: weight.value, beta: bias.value,
                  runningMean: &runningMean.value, runningVariance: &runningVariance.value,
                  training: isTraining, momentum: momentum, epsilon: epsilon)
    }

    /// relu(self(input)) as one fused op (`batchNormReLU`). Not used by `Sequential` yet: the
    /// fused backward measured slower than the two kernels (docs/performance.md, session 2).
    /// In inference, and with a `communicator`, it is `relu(self(input))`: the fused kernel
    /// knows neither the read-only inference path nor the synchronized statistics.
    public func withReLU(_ input: Tensor) -> Tensor {
        guard isTraining, communicator == nil else { return relu(self(input)) }
        return batchNormReLU(input, gamma: weight.value, beta: bias.value,
                             runningMean: &runningMean.value, runningVariance: &runningVariance.value,
                             training: true, momentum: momentum, epsilon: epsilon)
    }
}

extension Layer {
    /// Makes every batch norm in this layer and its sub-layers synchronize its training
    /// statistics over `communicator` (PyTorch's `SyncBatchNorm.convert_sync_batchnorm`).
    public func synchronizeBatchNorm(over communicator: any Communicator) {
        if let batchNorm = self as? BatchNorm { batchNorm.communicator = communicator }
        for child in children { child.layer.synchronizeBatchNorm(over: communicator) }
    }
}

/// Batch norm for (N, F) features (PyTorch's BatchNorm1d).
public typealias BatchNorm1D = BatchNorm
/// Batch norm for (N, C, H, W) images (PyTorch's BatchNorm2d).
public typealias BatchNorm2D = BatchNorm
