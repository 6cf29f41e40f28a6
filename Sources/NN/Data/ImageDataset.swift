/// Per-channel mean and standard deviation used to standardize images: computed on the
/// training set only and applied to every split, and stored in a checkpoint so inference
/// uses the same numbers.
public struct Standardization: Sendable, Equatable {
    /// Mean of each channel, in the pixel scale the statistics were computed in ([0,1]).
    public var mean: [Float]
    /// Standard deviation (population) of each channel; never zero.
    public var std: [Float]

    /// Statistics given explicitly (e.g. restored from a checkpoint).
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "Standardization: \(mean.count) means but \(std.count) stds")
        precondition(std.allSatisfy { $0 > 0 && $0.isFinite }, "Standardization: std \(std) must be positive")
        self.mean = mean
        self.std = std
    }
}

/// Labelled images in NCHW order, pixels as Float, labels as class indices.
public struct ImageDataset: Sendable {
    /// All pixels, `count * channels * height * width`, image after image, each CHW.
    public var images: [Float]
    /// One class index per image.
    public var labels: [Int32]
    /// Channels per image.
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Names of the classes, indexed by label.
    public let classNames: [String]
    /// The statistics the pixels have been standardized with, nil while they are raw.
    public private(set) var standardization: Standardization?

    /// Number of images.
    public var count: Int { labels.count }
    /// Floats per image (`channels * height * width`).
    public var imageSize: Int { channels * height * width }
    /// The shape of the whole image array, `[count, channels, height, width]`.
    public var shape: [Int] { [count, channels, height, width] }

    /// A dataset from arrays already in NCHW order.
    public init(images: [Float], labels: [Int32], channels: Int, height: Int, width: Int,
                classNames: [String], standardization: Standardization? = nil) {
        precondition(channels > 0 && height > 0 && width > 0,
                     "ImageDataset: channels \(channels), height \(height), width \(width) must be positive")
        precondition(images.count == labels.count * channels * height * width,
                     "ImageDataset: \(images.count) pixels, but \(labels.count) labels of "
                     + "\(channels)x\(height)x\(width) need \(labels.count * channels * height * width)")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classNames.count },
                     "ImageDataset: labels must be in 0..<\(classNames.count)")
        if let s = standardization {
            precondition(s.mean.count == channels, "ImageDataset: standardization has \(s.mean.count) channels, "
                         + "images have \(channels)")
        }
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
        self.standardization = standardization
    }

    /// The first `n` images (all of them if `n >= count`), e.g. to train on a subset.
    public func prefix(_ n: Int) -> ImageDataset {
        precondition(n >= 0, "ImageDataset.prefix: n is \(n), expected >= 0")
        let kept = min(n, count)
        return ImageDataset(images: Array(images[0..<(kept * imageSize)]), labels: Array(labels[0..<kept]),
                            channels: channels, height: height, width: width, classNames: classNames,
                            standardization: standardization)
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageDataset {
        let size = imageSize
        var newImages = [Float](repeating: 0, count: indices.count * size)
        var newLabels = [Int32](repeating: 0, count: indices.count)
        images.withUnsafeBufferPointer { src in
            labels.withUnsafeBufferPointer { srcLabels in
                newImages.withUnsafeMutableBufferPointer { dst in
                    for (row, index) in indices.enumerated() {
                        precondition(index >= 0 && index < srcLabels.count,
                                     "ImageDataset.subset: index \(index) out of 0..<\(srcLabels.count)")
                        _ = UnsafeMutableBufferPointer(rebasing: dst[(row * size)..<((row + 1) * size)])
                            .update(fromContentsOf: src[(index * size)..<((index + 1) * size)])
                        newLabels[row] = srcLabels[index]
                    }
                }
            }
        }
        return ImageDataset(images: newImages, labels: newLabels, channels: channels, height: height,
                            width: width, classNames: classNames, standardization: standardization)
    }

    /// A seeded random split: `validationFraction` of the images (rounded to the nearest
    /// image) go to `validation`, the rest to `train`; each part keeps the original order.
    /// The same generator state gives the same split.
    public func split(validationFraction: Double, using generator: inout RandomGenerator)
        -> (train: ImageDataset, validation: ImageDataset) {
        precondition(validationFraction >= 0 && validationFraction <= 1,
                     "ImageDataset.split: validationFraction \(validationFraction) must be in [0, 1]")
        var order = Array(0..<count)
        shuffleIndices(&order, using: &generator)
        let validationCount = Int((validationFraction * Double(count)).rounded())
        // Sorting keeps each part in file order, so the split does not also act as a shuffle
        // (the minibatch iterator shuffles, from its own generator).
        let validation = order[0..<validationCount].sorted()
        let train = order[validationCount...].sorted()
        return (subset(train), subset(validation))
    }

    /// Per-channel mean and population standard deviation of the pixels (compute them on
    /// the training set). A constant channel gets std 1 so standardizing it only centers it.
    public func statistics() -> Standardization {
        precondition(count > 0, "ImageDataset.statistics: the dataset is empty")
        let plane = height * width
        var mean = [Float](repeating: 0, count: channels)
        var std = [Float](repeating: 1, count: channels)
        images.withUnsafeBufferPointer { p in
            for c in 0..<channels {
                // Two passes in Double: 47M float32 pixels summed in Float would lose digits.
                var sum = 0.0
                for n in 0..<count {
                    let base = (n * channels + c) * plane
                    var partial: Float = 0  // one plane (784 values) is exact enough in Float
                    for i in base..<(base + plane) { partial += p[i] }
                    sum += Double(partial)
                }
                let m = sum / Double(count * plane)
                var squares = 0.0
                for n in 0..<count {
                    let base = (n * channels + c) * plane
                    var partial: Double = 0
                    for i in base..<(base + plane) { let d = Double(p[i]) - m; partial += d * d }
                    squares += partial
                }
                let s = (squares / Double(count * plane)).squareRoot()
                mean[c] = Float(m)
                if s > 0 && s.isFinite { std[c] = Float(s) }
            }
        }
        return Standardization(mean: mean, std: std)
    }

    /// Replaces every pixel `x` of channel `c` by `(x - mean[c]) / std[c]`. Standardizing
    /// twice is a programming error (the stored statistics would no longer describe the data).
    public mutating func standardize(with statistics: Standardization) {
        precondition(standardization == nil, "ImageDataset.standardize: already standardized")
        precondition(statistics.mean.count == channels,
                     "ImageDataset.standardize: statistics for \(statistics.mean.count) channels, images have \(channels)")
        let plane = height * width
        let n = count
        let channels = self.channels
        images.withUnsafeMutableBufferPointer { p in
            for c in 0..<channels {
                let m = statistics.mean[c], scale = 1 / statistics.std[c]
                for image in 0..<n {
                    let base = (image * channels + c) * plane
                    for i in base..<(base + plane) { p[i] = (p[i] - m) * scale }
                }
            }
        }
        standardization = statistics
    }

    /// A standardized copy (see `standardize(with:)`).
    public func standardized(with statistics: Standardization) -> ImageDataset {
        var copy = self
        copy.standardize(with: statistics)
        return copy
    }

    /// The value a black pixel (0 in [0,1]) has in each channel now: 0 for raw data,
    /// `-mean/std` once standardized. Padding uses it so a padded border means "black"
    /// whether or not the data has been standardized (torchvision pads before normalizing).
    public var blackLevel: [Float] {
        guard let s = standardization else { return [Float](repeating: 0, count: channels) }
        return (0..<channels).map { -s.mean[$0] / s.std[$0] }
    }
}

/// Fisher-Yates with an unbiased bounded draw (Lemire), written out rather than
/// `Array.shuffle(using:)` so the order for a seed cannot change with the Swift version.
func shuffleIndices(_ indices: inout [Int], using generator: inout RandomGenerator) {
    guard indices.count > 1 else { return }
    for i in stride(from: indices.count - 1, to: 0, by: -1) {
        let j = Int(boundedRandom(UInt64(i + 1), using: &generator))
        indices.swapAt(i, j)
    }
}

/// A uniform integer in 0..<bound (bound > 0), without modulo bias.
func boundedRandom(_ bound: UInt64, using generator: inout RandomGenerator) -> UInt64 {
    var product = generator.next().multipliedFullWidth(by: bound)
    if product.low < bound {
        let threshold = (0 &- bound) % bound
        while product.low < threshold {
            product = generator.next().multipliedFullWidth(by: bound)
        }
    }
    return product.high
}
