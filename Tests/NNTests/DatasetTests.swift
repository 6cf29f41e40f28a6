import Foundation
import NN
import TestSupport
import XCTest

/// Fashion-MNIST train, loaded once for every test that needs it (about a second).
private let fashionTrain: Result<ImageDataset, any Error>? = {
    guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else { return nil }
    return Result { try FashionMNIST.load(.train) }
}()

final class DatasetTests: XCTestCase {
    // MARK: Loading MNIST-style directories

    /// Writes an MNIST-style pair of files (gzip) with `count` 3x2 images and `labels`.
    private func writeSplit(_ dir: String, prefix: String = "train", count: Int, labels: [UInt8],
                            imageShape: [UInt32]? = nil, imageType: UInt8 = 0x08) throws {
        let pixels = (0..<(count * 6)).map { UInt8($0 % 256) }
        let shape = imageShape ?? [UInt32(count), 3, 2]
        try writeFile(gzipped(idxBytes(type: imageType, shape: shape, payload: pixels)),
                      "\(prefix)-images-idx3-ubyte.gz", in: dir)
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [UInt32(labels.count)], payload: labels)),
                      "\(prefix)-labels-idx1-ubyte.gz", in: dir)
    }

    func testLoadsAnMNISTStyleDirectory() throws {
        let dir = try makeTemporaryDirectory(self)
        try writeSplit(dir, count: 5, labels: [3, 1, 4, 1, 5])
        let data = try MNIST.load(.train, directory: dir)
        XCTAssertEqual(data.count, 5)
        XCTAssertEqual(data.shape, [5, 1, 3, 2])
        XCTAssertEqual(data.labels, [3, 1, 4, 1, 5])
        XCTAssertEqual(data.images, (0..<30).map { Float($0) / 255 })
        XCTAssertEqual(data.classNames, MNIST.classNames)
        XCTAssertNil(data.standardization)
    }

    /// `read` keeps the file's bytes and validates as `load` does; `imageDataset()` is what
    /// `load` returns.
    func testReadKeepsTheBytesAndExpandsToWhatLoadGives() throws {
        let dir = try makeTemporaryDirectory(self)
        try writeSplit(dir, count: 5, labels: [3, 1, 4, 1, 5])
        let bytes = try MNIST.read(.train, directory: dir)
        XCTAssertEqual(bytes.count, 5)
        XCTAssertEqual(bytes.pixels, (0..<30).map { UInt8($0) })
        XCTAssertEqual([bytes.height, bytes.width], [3, 2])
        let loaded = try MNIST.load(.train, directory: dir), expanded = bytes.imageDataset()
        XCTAssertEqual(expanded.images, loaded.images)
        XCTAssertEqual(expanded.labels, loaded.labels)
        XCTAssertEqual(expanded.shape, loaded.shape)
        XCTAssertEqual(expanded.classNames, MNIST.classNames)
        let firstTwo = bytes.prefix(2).imageDataset(), loadedTwo = loaded.prefix(2)
        XCTAssertEqual(firstTwo.images, loadedTwo.images)
        XCTAssertEqual(firstTwo.labels, loadedTwo.labels)
        XCTAssertEqual(bytes.prefix(9).count, 5, "a prefix past the end is the whole split")
        try writeSplit(dir, count: 5, labels: [3, 1, 4, 1, 10])
        let labels = dir + "/train-labels-idx1-ubyte.gz"
        assertDataError(try MNIST.read(.train, directory: dir), naming: labels) {
            $0 == .labelOutOfRange(path: labels, index: 4, label: 10, classCount: 10)
        }
    }

    func testUncompressedFilesAreFoundToo() throws {
        let dir = try makeTemporaryDirectory(self)
        try writeFile(idxBytes(type: 0x08, shape: [2, 1, 1], payload: [0, 255]), "t10k-images-idx3-ubyte", in: dir)
        try writeFile(idxBytes(type: 0x08, shape: [2], payload: [9, 0]), "t10k-labels-idx1-ubyte", in: dir)
        let data = try FashionMNIST.load(.test, directory: dir)
        XCTAssertEqual(data.images, [0, 1])
        XCTAssertEqual(data.labels, [9, 0])
    }

    func testMissingDirectoryAndFilesAreNamed() throws {
        let dir = try makeTemporaryDirectory(self)
        let absent = dir + "/nowhere"
        assertDataError(try MNIST.load(.train, directory: absent), naming: absent) {
            $0 == .directoryNotFound(path: absent)
        }
        try writeFile(gzipped(idxBytes(type: 0x08, shape: [1], payload: [0])), "train-labels-idx1-ubyte.gz", in: dir)
        let images = dir + "/train-images-idx3-ubyte.gz"
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            $0 == .fileNotFound(path: images, tried: [images, dir + "/train-images-idx3-ubyte"])
        }
    }

    func testInconsistentFilesAreRejected() throws {
        let dir = try makeTemporaryDirectory(self)
        let images = dir + "/train-images-idx3-ubyte.gz", labels = dir + "/train-labels-idx1-ubyte.gz"

        try writeSplit(dir, count: 4, labels: [1, 2, 3])
        assertDataError(try MNIST.load(.train, directory: dir), naming: labels) {
            $0 == .countMismatch(imagesPath: images, imageCount: 4, labelsPath: labels, labelCount: 3)
        }
        try writeSplit(dir, count: 3, labels: [1, 10, 3])
        assertDataError(try MNIST.load(.train, directory: dir), naming: labels) {
            $0 == .labelOutOfRange(path: labels, index: 1, label: 10, classCount: 10)
        }
        try writeSplit(dir, count: 3, labels: [1, 2, 3], imageShape: [3, 6])
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            if case .unexpectedShape(_, let dims, _) = $0 { return dims == [3, 6] } else { return false }
        }
        try writeSplit(dir, count: 3, labels: [1, 2, 3], imageType: 0x09)
        assertDataError(try MNIST.load(.train, directory: dir), naming: images) {
            $0 == .wrongElementType(path: images, found: .int8, expected: .uint8)
        }
    }

    // MARK: The real Fashion-MNIST

    func testFashionMNISTLoadsWithKnownCountsAndLabels() throws {
        guard let result = fashionTrain else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed")
        }
        let train = try result.get()
        XCTAssertEqual(train.count, 60000)
        XCTAssertEqual(train.shape, [60000, 1, 28, 28])
        XCTAssertEqual(train.labels[0], 9)
        XCTAssertEqual(train.classNames[9], "Ankle boot")
        XCTAssertEqual(train.images.min(), 0)
        XCTAssertEqual(train.images.max(), 1)
        // Every class has exactly 6,000 training images.
        var perClass = [Int](repeating: 0, count: 10)
        for l in train.labels { perClass[Int(l)] += 1 }
        XCTAssertEqual(perClass, [Int](repeating: 6000, count: 10))

        let test = try FashionMNIST.load(.test)
        XCTAssertEqual(test.shape, [10000, 1, 28, 28])
        XCTAssertEqual(test.labels[0], 9)
    }

    func testFashionMNISTTrainingStatistics() throws {
        guard let result = fashionTrain else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed")
        }
        let train = try result.get()
        let stats = train.statistics()
        // The published values: mean 0.2860, std 0.3530.
        assertClose([0.2860, 0.3530], stats.mean + stats.std, Tolerance(atol: 1e-4, rtol: 0), "mean, std")
        let standardized = train.prefix(10000).standardized(with: stats)
        XCTAssertEqual(standardized.standardization, stats)
        let again = standardized.statistics()
        // A 10,000-image prefix of the standardized set is close to (0, 1), not exactly.
        assertClose([0, 1], again.mean + again.std, Tolerance(atol: 0.01, rtol: 0), "standardized mean, std")
    }

    // MARK: Dataset operations

    /// `count` single-channel 4x5 images with random pixels in [0.1, 1] (no zeros, no
    /// symmetry, so a shift or mirror is recognizable), labels `index % 10`.
    private func syntheticDataset(count: Int, seed: UInt64 = 1) -> ImageDataset {
        var generator = SeededGenerator(seed: seed)
        return ImageDataset(images: randomFloats(count * 20, in: 0.1...1, using: &generator),
                            labels: (0..<count).map { Int32($0 % 10) }, channels: 1, height: 4, width: 5,
                            classNames: MNIST.classNames)
    }

    private func image(_ data: ImageDataset, _ index: Int) -> [Float] {
        Array(data.images[(index * data.imageSize)..<((index + 1) * data.imageSize)])
    }

    func testPrefixAndSubset() {
        let data = syntheticDataset(count: 12)
        let first = data.prefix(5)
        XCTAssertEqual(first.count, 5)
        XCTAssertEqual(first.images, Array(data.images[0..<100]))
        XCTAssertEqual(first.labels, [0, 1, 2, 3, 4])
        XCTAssertEqual(data.prefix(100).count, 12)
        let picked = data.subset([7, 2])
        XCTAssertEqual(picked.labels, [7, 2])
        XCTAssertEqual(picked.images, image(data, 7) + image(data, 2))
    }

    func testStatisticsAndStandardizationOnKnownValues() {
        // Two 1x1x2 images: pixels 0, 1, 1, 0 -> mean 0.5, population std 0.5.
        let train = ImageDataset(images: [0, 1, 1, 0], labels: [0, 1], channels: 1, height: 1, width: 2,
                                 classNames: ["a", "b"])
        let stats = train.statistics()
        XCTAssertEqual(stats, Standardization(mean: [0.5], std: [0.5]))
        XCTAssertEqual(train.standardized(with: stats).images, [-1, 1, 1, -1])
        // The test split uses the training statistics, not its own.
        let test = ImageDataset(images: [0.5, 1.5], labels: [0], channels: 1, height: 1, width: 2, classNames: ["a", "b"])
        XCTAssertEqual(test.standardized(with: stats).images, [0, 2])
        XCTAssertEqual(test.standardized(with: stats).blackLevel, [-1])
        // Per channel: channel 1 is constant, so its std falls back to 1 (centering only).
        let twoChannels = ImageDataset(images: [0, 2, 5, 5], labels: [0], channels: 2, height: 1, width: 2,
                                       classNames: ["a"])
        XCTAssertEqual(twoChannels.statistics(), Standardization(mean: [1, 5], std: [1, 1]))
    }

    func testSeededSplitIsDeterministicAndDisjoint() {
        let data = syntheticDataset(count: 103)
        var g1 = RandomGenerator(seed: 42), g2 = RandomGenerator(seed: 42), g3 = RandomGenerator(seed: 43)
        let a = data.split(validationFraction: 0.2, using: &g1)
        let b = data.split(validationFraction: 0.2, using: &g2)
        let c = data.split(validationFraction: 0.2, using: &g3)
        XCTAssertEqual(a.validation.count, 21)
        XCTAssertEqual(a.train.count, 82)
        XCTAssertEqual(a.validation.images, b.validation.images)
        XCTAssertEqual(a.train.images, b.train.images)
        XCTAssertNotEqual(a.validation.images, c.validation.images)

        // Identify every image by its first pixel (random floats: distinct with certainty here).
        let firstPixel = { (d: ImageDataset) in (0..<d.count).map { d.images[$0 * d.imageSize] } }
        let all = Set(firstPixel(data))
        XCTAssertEqual(all.count, 103)
        let trainSet = Set(firstPixel(a.train)), validationSet = Set(firstPixel(a.validation))
        XCTAssertTrue(trainSet.isDisjoint(with: validationSet))
        XCTAssertEqual(trainSet.union(validationSet), all)
        // Labels travel with their images.
        for i in 0..<a.train.count {
            let original = firstPixel(data).firstIndex(of: a.train.images[i * 20])!
            XCTAssertEqual(a.train.labels[i], data.labels[original])
        }
    }

    // MARK: Minibatches

    func testEpochCoversEveryIndexOnceWithAPartialLastBatch() {
        let data = syntheticDataset(count: 103)
        var loader = Minibatches(dataset: data, batchSize: 10, generator: RandomGenerator(seed: 7))
        XCTAssertEqual(loader.batchesPerEpoch, 11)
        let batches = Array(loader.nextEpoch())
        XCTAssertEqual(batches.count, 11)
        XCTAssertEqual(batches.map(\.count), [Int](repeating: 10, count: 10) + [3])
        XCTAssertEqual(batches.last!.shape, [3, 1, 4, 5])
        let seen = batches.flatMap(\.indices)
        XCTAssertEqual(seen.sorted(), Array(0..<103))
        XCTAssertNotEqual(seen, Array(0..<103), "the epoch was not shuffled")
        // Each batch holds the images and labels of its indices, in NCHW order.
        for batch in batches {
            XCTAssertEqual(batch.labels, batch.indices.map { data.labels[$0] })
            XCTAssertEqual(batch.images.scalars, batch.indices.flatMap { image(data, $0) })
        }
    }

    func testDropLastAndUnshuffled() {
        let data = syntheticDataset(count: 103)
        var loader = Minibatches(dataset: data, batchSize: 10, shuffle: false, dropLast: true,
                                 generator: RandomGenerator(seed: 7))
        let batches = Array(loader.nextEpoch())
        XCTAssertEqual(batches.count, 10)
        XCTAssertEqual(batches.flatMap(\.indices), Array(0..<100))
    }

    func testReshuffledEachEpochAndReproducibleFromTheSeed() {
        let data = syntheticDataset(count: 50)
        var a = Minibatches(dataset: data, batchSize: 8, generator: RandomGenerator(seed: 11))
        var b = Minibatches(dataset: data, batchSize: 8, generator: RandomGenerator(seed: 11))
        let a1 = a.nextEpoch().order, a2 = a.nextEpoch().order
        XCTAssertNotEqual(a1, a2, "two epochs had the same order")
        XCTAssertEqual(a2.sorted(), Array(0..<50))
        XCTAssertEqual(b.nextEpoch().order, a1)
        XCTAssertEqual(b.nextEpoch().order, a2)
        var c = Minibatches(dataset: data, batchSize: 8, generator: RandomGenerator(seed: 12))
        XCTAssertNotEqual(c.nextEpoch().order, a1)
    }

    func testResumingFromSavedGeneratorStateReproducesTheEpoch() {
        let data = syntheticDataset(count: 40)
        var loader = Minibatches(dataset: data, batchSize: 6, augmentation: Augmentation(),
                                 generator: RandomGenerator(seed: 5))
        _ = loader.nextEpoch()
        let saved = loader.generator.state          // what a checkpoint stores
        let uninterrupted = Array(loader.nextEpoch())

        var resumed = Minibatches(dataset: data, batchSize: 6, augmentation: Augmentation(),
                                  generator: RandomGenerator(state: saved))
        var epoch = resumed.nextEpoch()
        epoch.nextBatchIndex = 4                    // batches 0-3 were done before the interruption
        let rest = Array(epoch)
        XCTAssertEqual(rest.count, uninterrupted.count - 4)
        for (x, y) in zip(rest, uninterrupted[4...]) {
            XCTAssertEqual(x.indices, y.indices)
            XCTAssertEqual(x.images, y.images)
        }
        XCTAssertEqual(resumed.generator, loader.generator)
    }

    func testAugmentationIsDeterministicAndKeepsShape() {
        let data = syntheticDataset(count: 30)
        var a = Minibatches(dataset: data, batchSize: 16, augmentation: Augmentation(), generator: RandomGenerator(seed: 3))
        var b = Minibatches(dataset: data, batchSize: 16, augmentation: Augmentation(), generator: RandomGenerator(seed: 3))
        let x = Array(a.nextEpoch()), y = Array(b.nextEpoch())
        XCTAssertEqual(x.map(\.shape), [[16, 1, 4, 5], [14, 1, 4, 5]])
        XCTAssertEqual(x.map(\.images), y.map(\.images))
        XCTAssertNotEqual(x[0].images.scalars, x[0].indices.flatMap { image(data, $0) }, "augmentation changed nothing")
    }

    func testFlipIsExactlyAMirror() {
        let data = syntheticDataset(count: 64)
        var loader = Minibatches(dataset: data, batchSize: 64, augmentation: Augmentation(horizontalFlip: true, cropPadding: 0),
                                 generator: RandomGenerator(seed: 9))
        var epoch = loader.nextEpoch()
        let batch = epoch.next()!
        var flipped = 0
        for (row, index) in batch.indices.enumerated() {
            let original = image(data, index)
            let out = Array(batch.images.scalars[(row * 20)..<((row + 1) * 20)])
            var mirror = original
            for y in 0..<4 { for x in 0..<5 { mirror[y * 5 + x] = original[y * 5 + (4 - x)] } }
            XCTAssertTrue(out == original || out == mirror, "image \(index) is neither itself nor its mirror")
            if out == mirror { flipped += 1 }
        }
        // p = 0.5 over 64 images: fewer than 16 or more than 48 has probability < 1e-4.
        XCTAssertTrue((16...48).contains(flipped), "\(flipped) of 64 flipped")
    }

    /// The original shifted so that `out[y][x] = in[y + dy][x + dx]`, `fill` outside.
    private func shifted(_ img: [Float], dy: Int, dx: Int, fill: Float) -> [Float] {
        var out = [Float](repeating: fill, count: 20)
        for y in 0..<4 where (0..<4).contains(y + dy) {
            for x in 0..<5 where (0..<5).contains(x + dx) { out[y * 5 + x] = img[(y + dy) * 5 + x + dx] }
        }
        return out
    }

    func testCropIsAShiftWithBlackPadding() {
        var data = syntheticDataset(count: 64)
        for standardize in [false, true] {
            if standardize { data.standardize(with: data.statistics()) }
            let fill = data.blackLevel[0]
            XCTAssertEqual(fill, standardize ? -data.standardization!.mean[0] / data.standardization!.std[0] : 0)
            var loader = Minibatches(dataset: data, batchSize: 64,
                                     augmentation: Augmentation(horizontalFlip: false, cropPadding: 2),
                                     generator: RandomGenerator(seed: 10))
            var epoch = loader.nextEpoch()
            let batch = epoch.next()!
            var shifts = Set<[Int]>()
            for (row, index) in batch.indices.enumerated() {
                let out = Array(batch.images.scalars[(row * 20)..<((row + 1) * 20)])
                let matches = (-2...2).flatMap { dy in (-2...2).map { dx in [dy, dx] } }
                    .filter { shifted(image(data, index), dy: $0[0], dx: $0[1], fill: fill) == out }
                XCTAssertEqual(matches.count, 1, "image \(index) is not a unique shift of the original by at most 2")
                shifts.formUnion(matches)
            }
            // 25 possible shifts, 64 draws: seeing fewer than 10 distinct ones would mean a bias.
            XCTAssertGreaterThanOrEqual(shifts.count, 10)
        }
    }
}
