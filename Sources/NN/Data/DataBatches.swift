/// One minibatch of a `Dataset`: features and targets as tensors, gathered straight into
/// pooled tensor storage (no `[Float]` assembled and copied again).
public struct DataBatch {
    /// The features, shape `[b] + featureShape`.
    public var features: Tensor
    /// The targets: `[b]` class indices as floats for classification, `[b, labels]` multi-hot
    /// for multi-label, `[b] + shape` values for regression.
    public var targets: Tensor
    /// Where each sample sits in the dataset.
    public var indices: [Int]
    /// Number of samples in the batch.
    public var count: Int { indices.count }
}

/// Cuts a `Dataset` into minibatches, reshuffled each epoch from a seeded generator, with
/// optional image augmentation (C×H×W features only); the same reproducibility rules as
/// `Minibatches`: `generator` is the only random state.
public struct DataBatches: Sendable {
    /// The samples being batched.
    public let dataset: Dataset
    /// Samples per batch (the last batch of an epoch may hold fewer unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the samples in a fresh random order.
    public var shuffle: Bool
    /// Whether to skip the final partial batch of each epoch.
    public var dropLast: Bool
    /// Random crop/flip for training batches of images; nil for none.
    public var augmentation: Augmentation?
    /// The generator every epoch's order and augmentation are drawn from.
    public var generator: RandomGenerator
    /// This rank's part of every epoch in data-parallel training (nil: the whole dataset), as
    /// `Minibatches.shard`. Every rank must use the same generator state so they draw the
    /// same permutation.
    public var shard: Shard?

    /// Batches of `batchSize` from `dataset`.
    public init(dataset: Dataset, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false,
                augmentation: Augmentation? = nil, generator: RandomGenerator) {
        precondition(batchSize > 0, "DataBatches: batchSize is \(batchSize), expected > 0")
        if let a = augmentation {
            precondition(dataset.featureShape.count == 3,
                         "DataBatches: augmentation needs C×H×W features, feature shape is \(dataset.featureShape)")
            precondition(a.cropPadding <= min(dataset.featureShape[1], dataset.featureShape[2]),
                         "DataBatches: cropPadding \(a.cropPadding) exceeds image size \(dataset.featureShape)")
        }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.generator = generator
    }

    /// Samples one epoch visits on this rank (the whole dataset without a shard).
    public var samplesPerEpoch: Int { shard?.samples(of: dataset.count) ?? dataset.count }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int {
        dropLast ? samplesPerEpoch / batchSize : (samplesPerEpoch + batchSize - 1) / batchSize
    }

    /// The batches of the next epoch: draws its order (if shuffling) and augmentation seed.
    /// The epoch holds only that order; each batch is gathered when it is read.
    public mutating func nextEpoch() -> DataEpoch {
        var order = Array(0..<dataset.count)
        if shuffle { shuffleIndices(&order, using: &generator) }
        var augmentationSeed = generator.next()  // drawn always, as in `Minibatches`
        if let shard {
            order = shard.select(order)
            // Rank 0 draws what an unsharded run draws (mix64(0) is 0), as in `Minibatches`.
            augmentationSeed ^= mix64(UInt64(shard.rank) << 32)
        }
        return DataEpoch(dataset: dataset, order: order, batchSize: batchSize, count: batchesPerEpoch,
                         augmentation: augmentation, augmentationSeed: augmentationSeed)
    }

    /// The samples at `indices` as one batch (augmented if `augmentation` is given).
    public static func batch(_ data: Dataset, _ indices: [Int], augmentation: Augmentation? = nil,
                             seed: UInt64 = 0) -> DataBatch {
        let b = indices.count
        var generator = RandomGenerator(seed: seed)
        let shape = data.featureShape, padding = data.padding
        let features = Tensor.build(shape: [b] + shape) { dst, _ in
            data.features.withUnsafeBufferPointer { source in
                gatherSamples(dst, from: source, indices, shape: shape,
                              augmentation: augmentation, fill: padding, generator: &generator)
            }
        }
        let targets: Tensor
        switch data.targets {
        case .classes(let labels, _):
            targets = Tensor.build(shape: [b]) { dst, _ in
                labels.withUnsafeBufferPointer { l in for (row, index) in indices.enumerated() { dst[row] = Float(l[index]) } }
            }
        case .multiLabel(let values, let names):
            targets = gatherTensor(values, size: names.count, shape: [b, names.count], indices)
        case .values(let values, let valueShape):
            targets = gatherTensor(values, size: Tensor.elementCount(valueShape), shape: [b] + valueShape, indices)
        }
        return DataBatch(features: features, targets: targets, indices: indices)
    }
}

/// The batches of one `DataBatches` epoch, gathered one at a time as they are read (as
/// `Minibatches`' `Epoch`), so an epoch never holds a second copy of the dataset; index it,
/// iterate it or `map` it like an array. Reading a batch twice gathers it twice, identically.
public struct DataEpoch: RandomAccessCollection, Sendable {
    /// The samples being batched.
    public let dataset: Dataset
    /// The dataset indices in the order this epoch visits them.
    public let order: [Int]
    /// Samples per full batch.
    public let batchSize: Int
    /// The transformations applied, if any.
    public let augmentation: Augmentation?
    /// Seed of the per-batch augmentation streams.
    let augmentationSeed: UInt64
    /// Batches in the epoch.
    public let count: Int

    init(dataset: Dataset, order: [Int], batchSize: Int, count: Int, augmentation: Augmentation?,
         augmentationSeed: UInt64) {
        self.dataset = dataset
        self.order = order
        self.batchSize = batchSize
        self.count = count
        self.augmentation = augmentation
        self.augmentationSeed = augmentationSeed
    }

    /// The first batch's index, 0.
    public var startIndex: Int { 0 }
    /// One past the last batch's index, `count`.
    public var endIndex: Int { count }

    /// Batch `index` of this epoch (0..<count); the same index always gives the same batch.
    public subscript(index: Int) -> DataBatch {
        precondition(index >= 0 && index < count, "DataEpoch: batch index \(index) out of 0..<\(count)")
        return DataBatches.batch(dataset, epochBatchIndices(order, batchSize: batchSize, batch: index),
                                 augmentation: augmentation, seed: epochBatchSeed(augmentationSeed, batch: index))
    }
}

/// Rows of `size` floats of `values` at `indices`, gathered into a tensor of `shape`.
private func gatherTensor(_ values: [Float], size: Int, shape: [Int], _ indices: [Int]) -> Tensor {
    Tensor.build(shape: shape) { dst, _ in
        values.withUnsafeBufferPointer { src in
            guard let source = src.baseAddress else { return }
            gatherRows(dst, from: source, indices, size: size)
        }
    }
}
