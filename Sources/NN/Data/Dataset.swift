/// What a dataset's targets are: one class per sample, several labels per sample, or
/// float values of any per-sample shape.
///
/// The cases mirror the table readers' `TableTarget` (see `Dataset(features:target:)`).
public enum Targets: Sendable, Equatable {
    /// One class index per sample, in `0..<names.count`, and the class names.
    case classes(labels: [Int32], names: [String])
    /// `names.count` labels per sample (sample after sample), each 0 or 1 (multi-hot).
    case multiLabel(values: [Float], names: [String])
    /// Float values of per-sample shape `shape` (regression; `[]` or `[1]` for one output).
    case values([Float], shape: [Int])

    /// Floats per sample in the batch target tensor: 1 for a class index.
    public var sizePerSample: Int {
        switch self {
        case .classes: return 1
        case .multiLabel(_, let names): return names.count
        case .values(_, let shape): return Tensor.elementCount(shape)
        }
    }

    /// The number of samples the targets describe.
    public var count: Int {
        switch self {
        case .classes(let labels, _): return labels.count
        case .multiLabel(let values, let names): return names.isEmpty ? 0 : values.count / names.count
        case .values(let values, let shape):
            let size = Tensor.elementCount(shape)
            return size == 0 ? 0 : values.count / size
        }
    }

    /// The targets of the samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Targets {
        switch self {
        case .classes(let labels, let names):
            return .classes(labels: indices.map { labels[$0] }, names: names)
        case .multiLabel(let values, let names):
            return .multiLabel(values: gatherRows(values, size: names.count, indices), names: names)
        case .values(let values, let shape):
            return .values(gatherRows(values, size: Tensor.elementCount(shape), indices), shape: shape)
        }
    }
}

/// N samples: features of any per-sample shape (a vector, C×H×W, ...) and their targets.
///
/// Feature standardization is per feature element (each of the `featureSize` positions
/// gets its own mean and standard deviation, as scikit-learn's `StandardScaler` on a table);
/// compute the statistics on the training part only and apply them to every part.
public struct Dataset: Sendable {
    /// All features, `count * featureSize` floats, sample after sample (row-major per sample).
    public var features: [Float]
    /// The shape of one sample's features, e.g. `[4]` for a table row or `[1, 28, 28]`.
    public let featureShape: [Int]
    /// The targets.
    public let targets: Targets
    /// Names of the feature columns (empty when the features are not a table).
    public let featureNames: [String]
    /// The per-feature statistics the features have been standardized with, nil while raw.
    public private(set) var standardization: Standardization?
    /// The value augmentation pads each channel with (the image "black" level); zeros
    /// unless built from a standardized `ImageDataset`.
    public let padding: [Float]

    /// Number of samples.
    public var count: Int { targets.count }
    /// Floats per sample.
    public var featureSize: Int { Tensor.elementCount(featureShape) }
    /// The class names of a classification or multi-label dataset, nil for values.
    public var classNames: [String]? {
        switch targets {
        case .classes(_, let names), .multiLabel(_, let names): return names
        case .values: return nil
        }
    }
    /// The class index of every sample of a classification dataset, nil otherwise.
    public var labels: [Int32]? {
        if case .classes(let labels, _) = targets { return labels }
        return nil
    }

    /// A dataset from features already laid out sample after sample.
    public init(features: [Float], featureShape: [Int], targets: Targets, featureNames: [String] = [],
                standardization: Standardization? = nil, padding: [Float]? = nil) {
        let size = Tensor.elementCount(featureShape)
        precondition(!featureShape.isEmpty && featureShape.allSatisfy { $0 > 0 },
                     "Dataset: feature shape \(featureShape) must have positive dimensions")
        precondition(features.count == targets.count * size,
                     "Dataset: \(features.count) feature values, but \(targets.count) samples of shape "
                     + "\(featureShape) need \(targets.count * size)")
        switch targets {
        case .classes(let labels, let names):
            precondition(labels.allSatisfy { $0 >= 0 && Int($0) < names.count },
                         "Dataset: class labels must be in 0..<\(names.count)")
        case .multiLabel(let values, let names):
            precondition(!names.isEmpty && values.count % names.count == 0,
                         "Dataset: \(values.count) multi-label values do not make rows of \(names.count) labels")
            precondition(values.allSatisfy { $0 == 0 || $0 == 1 }, "Dataset: multi-label values must be 0 or 1")
        case .values(let values, let shape):
            precondition(shape.allSatisfy { $0 > 0 } && values.count % max(Tensor.elementCount(shape), 1) == 0,
                         "Dataset: \(values.count) target values do not make samples of shape \(shape)")
        }
        precondition(featureNames.isEmpty || featureNames.count == size,
                     "Dataset: \(featureNames.count) feature names for \(size) features per sample")
        if let s = standardization {
            precondition(s.mean.count == size, "Dataset: standardization has \(s.mean.count) features, samples have \(size)")
        }
        self.features = features
        self.featureShape = featureShape
        self.targets = targets
        self.featureNames = featureNames
        self.standardization = standardization
        let channels = featureShape.count == 3 ? featureShape[0] : 1
        self.padding = padding ?? [Float](repeating: 0, count: channels)
    }

    /// A dataset from a features tensor `[N, ...]` (any per-sample shape).
    public init(features: Tensor, targets: Targets, featureNames: [String] = []) {
        precondition(features.rank >= 2, "Dataset: features must be [N, ...], shape is \(features.shape)")
        precondition(features.shape[0] == targets.count,
                     "Dataset: features shape \(features.shape) has \(features.shape[0]) samples, targets \(targets.count)")
        self.init(features: features.scalars, featureShape: Array(features.shape.dropFirst()), targets: targets,
                  featureNames: featureNames)
    }

    /// A table: `rowCount` rows of `names.count` features (a reader's `FeatureMatrix`) and
    /// its targets.
    public init(table values: [Float], rowCount: Int, names: [String], targets: Targets) {
        precondition(rowCount == targets.count, "Dataset: \(rowCount) rows but \(targets.count) targets")
        self.init(features: values, featureShape: [rowCount == 0 ? max(names.count, 1) : values.count / rowCount],
                  targets: targets, featureNames: names)
    }

    /// A table read by `Table.readCSV` / the NumPy readers: its feature matrix and target.
    /// Float targets become values of `columns` per sample, or multi-hot labels (named
    /// `labelNames`, default "0", "1", ...) when `multiLabel` is true.
    public init(features: FeatureMatrix, target: TableTarget, multiLabel: Bool = false, labelNames: [String]? = nil) {
        let targets: Targets
        switch target {
        case .classes(let labels, let names):
            targets = .classes(labels: labels, names: names)
        case .values(let values, let columns):
            targets = multiLabel ? .multiLabel(values: values, names: labelNames ?? (0..<columns).map(String.init))
                : .values(values, shape: [columns])
        }
        self.init(table: features.values, rowCount: features.rowCount, names: features.names, targets: targets)
    }

    /// The images and labels of `images` as a classification dataset of shape C×H×W,
    /// padded with its black level when augmented.
    public init(_ images: ImageDataset) {
        self.init(features: images.images, featureShape: [images.channels, images.height, images.width],
                  targets: .classes(labels: images.labels, names: images.classNames), padding: images.blackLevel)
    }

    /// The samples at `indices`, in that order (statistics and padding kept).
    public func subset(_ indices: [Int]) -> Dataset {
        for index in indices {
            precondition(index >= 0 && index < count, "Dataset.subset: index \(index) out of 0..<\(count)")
        }
        return Dataset(features: gatherRows(features, size: featureSize, indices), featureShape: featureShape,
                       targets: targets.subset(indices), featureNames: featureNames, standardization: standardization,
                       padding: padding)
    }

    /// A seeded split: `validationFraction` of the samples go to `validation`. With
    /// `stratified` (classification only) every class is split in that proportion (rounded
    /// per class), as scikit-learn's `train_test_split(stratify=)`. Each part keeps file order.
    public func split(validationFraction: Double, stratified: Bool = false, using generator: inout RandomGenerator)
        -> (train: Dataset, validation: Dataset) {
        precondition(validationFraction >= 0 && validationFraction <= 1,
                     "Dataset.split: validationFraction \(validationFraction) must be in [0, 1]")
        var validation: [Int] = []
        for var group in groups(stratified: stratified, caller: "Dataset.split") {
            shuffleIndices(&group, using: &generator)
            validation += group[0..<Int((validationFraction * Double(group.count)).rounded())]
        }
        let chosen = Set(validation)
        let train = (0..<count).filter { !chosen.contains($0) }
        return (subset(train), subset(validation.sorted()))
    }

    /// `k` folds of sample indices (each index in exactly one test part, each part sorted),
    /// shuffled with `generator`. With `stratified` (classification only) the samples of
    /// each class are dealt round-robin over the folds, so every fold holds each class in
    /// proportion, as scikit-learn's `StratifiedKFold(shuffle=True)` does up to the order.
    public func kFoldIndices(_ k: Int, stratified: Bool = false, using generator: inout RandomGenerator)
        -> [(train: [Int], test: [Int])] {
        precondition(k >= 2 && k <= count, "Dataset.kFoldIndices: k is \(k), expected 2...\(count)")
        var tests = [[Int]](repeating: [], count: k)
        var next = 0  // continues across classes so the folds' sizes differ by at most one
        for var group in groups(stratified: stratified, caller: "Dataset.kFoldIndices") {
            shuffleIndices(&group, using: &generator)
            for index in group {
                tests[next].append(index)
                next = (next + 1) % k
            }
        }
        return tests.map { test in
            let held = Set(test)
            return ((0..<count).filter { !held.contains($0) }, test.sorted())
        }
    }

    /// The folds of scikit-learn's `KFold(k, shuffle=True, random_state=randomState)`, or with
    /// `stratified` (classification only) of `StratifiedKFold(k, shuffle=True,
    /// random_state=randomState)` given the class labels: the same test indices in the same
    /// fold order, so that scores compare fold by fold with a scikit-learn or PyTorch run of
    /// that seed. `KFold` cuts one shuffled order into k contiguous parts (the first n mod k
    /// one sample larger); `StratifiedKFold` counts each class's share of every fold by dealing
    /// the sorted labels round-robin, then shuffles each class's fold numbers in turn (classes
    /// in order of first appearance) with one generator.
    public func scikitLearnFolds(_ k: Int, stratified: Bool = false, randomState: UInt32)
        -> [(train: [Int], test: [Int])] {
        precondition(k >= 2 && k <= count, "Dataset.scikitLearnFolds: k is \(k), expected 2...\(count)")
        var random = NumPyRandomState(seed: randomState)
        var foldOf = [Int](repeating: 0, count: count)
        if stratified {
            guard case .classes(let labels, let names) = targets else {
                preconditionFailure("Dataset.scikitLearnFolds: stratifying needs class targets")
            }
            // Classes renumbered by first appearance, as StratifiedKFold encodes them.
            var code = [Int](repeating: -1, count: names.count), counts: [Int] = []
            for label in labels where code[Int(label)] < 0 {
                code[Int(label)] = counts.count
                counts.append(0)
            }
            for label in labels { counts[code[Int(label)]] += 1 }
            // allocation[f][c]: class c's samples in fold f, from the sorted codes dealt round-robin.
            var allocation = [[Int]](repeating: [Int](repeating: 0, count: counts.count), count: k)
            var position = 0
            for (c, n) in counts.enumerated() {
                for _ in 0..<n { allocation[position % k][c] += 1; position += 1 }
            }
            // Each class's fold numbers, shuffled class after class from the one generator,
            // then handed to its samples in order in one pass over the labels.
            let classFolds = counts.indices.map { c -> [Int] in
                var folds: [Int] = []
                for f in 0..<k { folds += [Int](repeating: f, count: allocation[f][c]) }
                random.shuffle(&folds)
                return folds
            }
            var next = [Int](repeating: 0, count: counts.count)
            for (i, label) in labels.enumerated() {
                let c = code[Int(label)]
                foldOf[i] = classFolds[c][next[c]]
                next[c] += 1
            }
        } else {
            var order = Array(0..<count)
            random.shuffle(&order)
            var start = 0
            for f in 0..<k {
                let size = count / k + (f < count % k ? 1 : 0)
                for i in order[start..<start + size] { foldOf[i] = f }
                start += size
            }
        }
        return (0..<k).map { f in
            ((0..<count).filter { foldOf[$0] != f }, (0..<count).filter { foldOf[$0] == f })
        }
    }

    /// All indices as one group, or one group per class when stratifying.
    private func groups(stratified: Bool, caller: String) -> [[Int]] {
        guard stratified else { return [Array(0..<count)] }
        guard case .classes(let labels, let names) = targets else {
            preconditionFailure("\(caller): stratifying needs class targets")
        }
        var groups = [[Int]](repeating: [], count: names.count)
        for (i, label) in labels.enumerated() { groups[Int(label)].append(i) }
        return groups
    }

    /// Mean and population standard deviation of every feature position over the samples
    /// (in Double); a constant feature gets std 1 so standardizing only centers it.
    public func statistics() -> Standardization {
        precondition(count > 0, "Dataset.statistics: the dataset is empty")
        let size = featureSize, n = count
        var sum = [Double](repeating: 0, count: size), squares = [Double](repeating: 0, count: size)
        features.withUnsafeBufferPointer { p in
            sum.withUnsafeMutableBufferPointer { s in
                for row in 0..<n { for j in 0..<size { s[j] += Double(p[row * size + j]) } }
                for j in 0..<size { s[j] /= Double(n) }
                squares.withUnsafeMutableBufferPointer { q in
                    for row in 0..<n {
                        for j in 0..<size { let d = Double(p[row * size + j]) - s[j]; q[j] += d * d }
                    }
                }
            }
        }
        let std = squares.map { v -> Float in
            let s = Float((v / Double(n)).squareRoot())
            return s > 0 && s.isFinite ? s : 1
        }
        return Standardization(mean: sum.map { Float($0) }, std: std)
    }

    /// Replaces every feature `x` at position `j` by `(x - mean[j]) / std[j]`; standardizing
    /// twice is a programming error.
    public mutating func standardize(with statistics: Standardization) {
        precondition(standardization == nil, "Dataset.standardize: already standardized")
        precondition(statistics.mean.count == featureSize,
                     "Dataset.standardize: statistics for \(statistics.mean.count) features, samples have \(featureSize)")
        let size = featureSize, n = count
        let mean = statistics.mean, scale = statistics.std.map { 1 / $0 }
        features.withUnsafeMutableBufferPointer { p in
            mean.withUnsafeBufferPointer { m in
                scale.withUnsafeBufferPointer { s in
                    for row in 0..<n { for j in 0..<size { p[row * size + j] = (p[row * size + j] - m[j]) * s[j] } }
                }
            }
        }
        standardization = statistics
    }

    /// A standardized copy (see `standardize(with:)`).
    public func standardized(with statistics: Standardization) -> Dataset {
        var copy = self
        copy.standardize(with: statistics)
        return copy
    }
}

extension Standardization {
    /// Applies these statistics to raw features `[N, ...]` of per-sample size `mean.count`
    /// (what eval and predict do with a checkpoint's statistics).
    public func apply(to features: Tensor) -> Tensor {
        let size = mean.count
        precondition(features.rank >= 1 && features.count % max(size, 1) == 0 && features.count / features.shape[0] == size,
                     "Standardization.apply: features shape \(features.shape) do not have \(size) values per sample")
        let (m, s) = (mean, std.map { 1 / $0 })
        return Tensor.build(shape: features.shape) { out, count in
            features.withUnsafePointer { x in
                m.withUnsafeBufferPointer { m in
                    s.withUnsafeBufferPointer { s in
                        for i in 0..<count { out[i] = (x[i] - m[i % size]) * s[i % size] }
                    }
                }
            }
        }
    }
}

/// The rows of `size` floats at `indices` of `values`, in that order.
func gatherRows(_ values: [Float], size: Int, _ indices: [Int]) -> [Float] {
    for index in indices {
        precondition(index >= 0 && (index + 1) * size <= values.count,
                     "gatherRows: index \(index) outside \(values.count / max(size, 1)) rows")
    }
    var out = [Float](repeating: 0, count: indices.count * size)
    guard !out.isEmpty else { return out }
    values.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in gatherRows(dst.baseAddress!, from: src.baseAddress!, indices, size: size) }
    }
    return out
}
