import CKernels

/// Random training-time transformations applied to each image as its batch is built.
public struct Augmentation: Sendable, Equatable {
    /// Mirror each image left-right with probability 0.5.
    public var horizontalFlip: Bool
    /// Pad each side by this many pixels of black, then crop a random window of the original
    /// size (0 disables the crop).
    public var cropPadding: Int

    /// Flip and/or pad-and-crop; the defaults are the usual 28x28 recipe (flip, pad 2).
    public init(horizontalFlip: Bool = true, cropPadding: Int = 2) {
        precondition(cropPadding >= 0, "Augmentation: cropPadding is \(cropPadding), expected >= 0")
        self.horizontalFlip = horizontalFlip
        self.cropPadding = cropPadding
    }
}

/// One minibatch: images as a tensor `[b, C, H, W]` (NCHW), and their labels.
public struct Batch {
    /// The pixels, shape `[b, C, H, W]`, assembled straight into tensor storage.
    public var images: Tensor
    /// `[b, C, H, W]`.
    public var shape: [Int] { images.shape }
    /// One label per image.
    public var labels: [Int32]
    /// Where each image sits in the dataset (for debugging and for tests of coverage).
    public var indices: [Int]
    /// Number of images in the batch (the last one may be smaller than the batch size).
    public var count: Int { labels.count }
}

/// Cuts a dataset into minibatches, reshuffled each epoch from a seeded generator.
///
/// Reproducibility: `generator` is the only random state. `nextEpoch()` draws the epoch's
/// order and an augmentation seed from it, so saving `generator` before `nextEpoch()` (with
/// the batch index reached, see `Epoch.nextBatchIndex`) is enough to resume exactly.
public struct Minibatches: Sendable {
    /// The images and labels being batched.
    public let dataset: ImageDataset
    /// Images per batch (the last batch of an epoch may hold fewer unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the images in a fresh random order (false: file order).
    public var shuffle: Bool
    /// Whether to skip the final partial batch of each epoch.
    public var dropLast: Bool
    /// Transformations for training batches; nil for evaluation.
    public var augmentation: Augmentation?
    /// The generator every epoch's order and augmentation are drawn from: save and restore
    /// its `state` to make a resumed run identical.
    public var generator: RandomGenerator
    /// This rank's part of every epoch in data-parallel training (nil: the whole dataset).
    /// Every rank must use the same generator state so they draw the same permutation.
    public var shard: Shard?

    /// Batches of `batchSize` from `dataset`.
    public init(dataset: ImageDataset, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false,
                augmentation: Augmentation? = nil, generator: RandomGenerator, shard: Shard? = nil) {
        precondition(batchSize > 0, "Minibatches: batchSize is \(batchSize), expected > 0")
        if let a = augmentation {
            precondition(a.cropPadding <= min(dataset.height, dataset.width),
                         "Minibatches: cropPadding \(a.cropPadding) exceeds image size \(dataset.height)x\(dataset.width)")
        }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.generator = generator
        self.shard = shard
    }

    /// Samples one epoch visits on this rank (the whole dataset without a shard).
    public var samplesPerEpoch: Int { shard?.samples(of: dataset.count) ?? dataset.count }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int {
        dropLast ? samplesPerEpoch / batchSize : (samplesPerEpoch + batchSize - 1) / batchSize
    }

    /// Starts an epoch: draws its order (if shuffling) and its augmentation seed.
    public mutating func nextEpoch() -> Epoch {
        var order = Array(0..<dataset.count)
        if shuffle { shuffleIndices(&order, using: &generator) }
        // Drawn even without augmentation so the generator advances the same way whatever the
        // options, and per-batch streams derive from it so a resumed epoch can skip batches.
        var augmentationSeed = generator.next()
        if let shard {
            order = shard.select(order)
            // Each rank augments its own images with its own streams; mix64(0) is 0, so
            // rank 0 draws what an unsharded run draws.
            augmentationSeed ^= mix64(UInt64(shard.rank) << 32)
        }
        return Epoch(dataset: dataset, order: order, batchSize: batchSize, batchCount: batchesPerEpoch,
                     augmentation: augmentation, augmentationSeed: augmentationSeed)
    }
}

/// The batches of one epoch, in order; a value, so it can be iterated with `for batch in epoch`.
public struct Epoch: Sequence, IteratorProtocol, Sendable {
    /// The images and labels being batched.
    public let dataset: ImageDataset
    /// The dataset indices in the order this epoch visits them.
    public let order: [Int]
    /// Images per full batch.
    public let batchSize: Int
    /// Batches this epoch yields in total.
    public let batchCount: Int
    /// The transformations applied, if any.
    public let augmentation: Augmentation?
    /// Seed of the per-batch augmentation streams.
    let augmentationSeed: UInt64
    /// The batch `next()` returns next; set it to resume an interrupted epoch.
    public var nextBatchIndex = 0

    init(dataset: ImageDataset, order: [Int], batchSize: Int, batchCount: Int, augmentation: Augmentation?,
         augmentationSeed: UInt64) {
        self.dataset = dataset
        self.order = order
        self.batchSize = batchSize
        self.batchCount = batchCount
        self.augmentation = augmentation
        self.augmentationSeed = augmentationSeed
    }

    /// The next batch, or nil at the end of the epoch.
    public mutating func next() -> Batch? {
        guard nextBatchIndex < batchCount else { return nil }
        let batch = self.batch(nextBatchIndex)
        nextBatchIndex += 1
        return batch
    }

    /// Batch `index` of this epoch (0..<batchCount); the same index always gives the same batch.
    public func batch(_ index: Int) -> Batch {
        precondition(index >= 0 && index < batchCount, "Epoch.batch: index \(index) out of 0..<\(batchCount)")
        let indices = epochBatchIndices(order, batchSize: batchSize, batch: index)
        let c = dataset.channels, h = dataset.height, w = dataset.width
        let labels = dataset.labels.withUnsafeBufferPointer { l in indices.map { l[$0] } }
        var generator = RandomGenerator(seed: epochBatchSeed(augmentationSeed, batch: index))
        let augmentation = self.augmentation
        let shape = [c, h, w], fill = dataset.blackLevel

        // Gathered (and augmented) straight into the batch tensor's pooled storage: every
        // element is written, so it needs no zero fill and no second copy.
        let images = Tensor.build(shape: [indices.count, c, h, w]) { destination, _ in
            dataset.images.withUnsafeBufferPointer { source in
                gatherSamples(destination, from: source, indices, shape: shape,
                              augmentation: augmentation, fill: fill, generator: &generator)
            }
        }
        return Batch(images: images, labels: labels, indices: indices)
    }
}

/// The dataset indices of batch `index` of an epoch that visits `order` in batches of
/// `batchSize` (the last one may be short): `Minibatches`' and `DataBatches`' epochs alike.
func epochBatchIndices(_ order: [Int], batchSize: Int, batch index: Int) -> [Int] {
    let start = index * batchSize
    return Array(order[start..<Swift.min(start + batchSize, order.count)])
}

/// The augmentation seed of batch `index` of an epoch whose seed is `seed`. The murmur3
/// finalizer decorrelates neighbouring batch indices: seeding the generator with seed + k
/// directly would give overlapping SplitMix streams.
func epochBatchSeed(_ seed: UInt64, batch index: Int) -> UInt64 {
    seed ^ mix64(UInt64(index) &+ 1)
}

/// Copies rows of `size` floats of `source` at `indices` one after another into `destination`.
func gatherRows(_ destination: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, _ indices: [Int],
                size: Int) {
    indices.withUnsafeBufferPointer { rows in
        rows.withMemoryRebound(to: Int64.self) { rows in
            ck_gather_batch(destination, source, rows.baseAddress, Int64(rows.count), Int64(size))
        }
    }
}

/// Copies the samples of `source` at `indices` (each `shape` floats) one after another into
/// `destination`. With `augmentation` (C×H×W `shape` only) each is cropped and flipped on the
/// way, `fill` padding the crop; per sample it draws the flip, then dy, then dx from
/// `generator`, an order `Minibatches` and `DataBatches` share so their batches are identical.
func gatherSamples(_ destination: UnsafeMutablePointer<Float>, from source: UnsafeBufferPointer<Float>, _ indices: [Int],
                   shape: [Int], augmentation: Augmentation?, fill: [Float], generator: inout RandomGenerator) {
    guard !indices.isEmpty else { return }
    let size = Tensor.elementCount(shape), source = source.baseAddress!
    guard let a = augmentation else {
        gatherRows(destination, from: source, indices, size: size)
        return
    }
    let (c, h, w) = (shape[0], shape[1], shape[2])
    let pad = a.cropPadding
    for (row, index) in indices.enumerated() {
        let flip = a.horizontalFlip && generator.next() >> 63 == 1
        let dy = pad > 0 ? Int(boundedRandom(UInt64(2 * pad + 1), using: &generator)) - pad : 0
        let dx = pad > 0 ? Int(boundedRandom(UInt64(2 * pad + 1), using: &generator)) - pad : 0
        augmentImage(destination + row * size, source + index * size, channels: c, height: h, width: w,
                     shiftY: dy, shiftX: dx, flip: flip, fill: fill)
    }
}

/// dst (C,H,W) = src (C,H,W) shifted by (shiftY, shiftX), then mirrored if `flip`:
/// `dst[c,y,x] = src[c, y + shiftY, x' + shiftX]` with `x' = flip ? W-1-x : x`, and
/// `fill[c]` where that falls outside the image. That is pad-then-crop with the crop's
/// corner at (pad + shiftY, pad + shiftX) in the padded image, followed by the flip.
private func augmentImage(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                          channels: Int, height: Int, width: Int,
                          shiftY: Int, shiftX: Int, flip: Bool, fill: [Float]) {
    for c in 0..<channels {
        let value = fill[c]
        let plane = c * height * width
        for y in 0..<height {
            let out = dst + plane + y * width
            let sy = y + shiftY
            guard sy >= 0 && sy < height else {
                out.update(repeating: value, count: width)
                continue
            }
            let row = src + plane + sy * width
            for x in 0..<width {
                let sx = (flip ? width - 1 - x : x) + shiftX
                out[x] = sx >= 0 && sx < width ? row[sx] : value
            }
        }
    }
}

/// The murmur3 64-bit finalizer: a bijection that scatters nearby inputs.
func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
    z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
    return z ^ (z >> 33)
}
