import Foundation
import NN
import TestSupport
import XCTest

/// The general `Dataset`: construction, splits, folds, standardization and batches.
final class GeneralDatasetTests: XCTestCase {
    /// 10 samples of 2 features (sample i is [i, 10 i]), classes 0 x4, 1 x6.
    func table() -> Dataset {
        let features = (0..<10).flatMap { [Float($0), Float(10 * $0)] }
        let labels: [Int32] = [0, 1, 0, 1, 1, 0, 1, 1, 0, 1]
        return Dataset(table: features, rowCount: 10, names: ["a", "b"], targets: .classes(labels: labels, names: ["x", "y"]))
    }

    func testSubsetAndTargets() {
        let data = table()
        XCTAssertEqual(data.count, 10)
        XCTAssertEqual(data.featureShape, [2])
        let part = data.subset([3, 0])
        XCTAssertEqual(part.features, [3, 30, 0, 0])
        XCTAssertEqual(part.labels, [1, 0])
        let values = Dataset(features: Tensor((0..<12).map(Float.init), shape: [3, 2, 2]),
                             targets: .values([1, 2, 3, 4, 5, 6], shape: [2]))
        XCTAssertEqual(values.subset([2]).targets, .values([5, 6], shape: [2]))
        XCTAssertEqual(values.featureShape, [2, 2])
    }

    func testStratifiedSplitKeepsProportions() {
        var generator = RandomGenerator(seed: 3)
        let (train, validation) = table().split(validationFraction: 0.5, stratified: true, using: &generator)
        XCTAssertEqual(validation.labels!.filter { $0 == 0 }.count, 2)
        XCTAssertEqual(validation.labels!.filter { $0 == 1 }.count, 3)
        XCTAssertEqual(train.count + validation.count, 10)
        let all = Set(train.features.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                      + validation.features.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        XCTAssertEqual(all.count, 10, "every sample in exactly one part")
    }

    func testKFoldCoversEverySampleOnceAndStratifies() {
        for stratified in [false, true] {
            var generator = RandomGenerator(seed: 5)
            let folds = table().kFoldIndices(2, stratified: stratified, using: &generator)
            XCTAssertEqual(folds.count, 2)
            XCTAssertEqual(folds.flatMap(\.test).sorted(), Array(0..<10))
            for fold in folds {
                XCTAssertEqual(Set(fold.train).intersection(fold.test), [])
                XCTAssertEqual(fold.train.count + fold.test.count, 10)
                if stratified {
                    let zeros = fold.test.filter { table().labels![$0] == 0 }.count
                    XCTAssertEqual(zeros, 2, "stratified: each fold gets half of class 0's four samples")
                }
            }
        }
    }

    func testStandardizationIsPerFeatureAndReapplies() {
        var data = table()
        let stats = data.statistics()
        // Feature a is 0...9: mean 4.5, population variance 8.25.
        assertClose([4.5, 45], stats.mean, .float32, "means")
        assertClose([Float(8.25).squareRoot(), Float(825).squareRoot()], stats.std, .float32, "stds")
        data.standardize(with: stats)
        XCTAssertEqual(data.standardization, stats)
        let again = data.statistics()
        assertClose([0, 0], again.mean, Tolerance(atol: 1e-6, rtol: 0), "standardized means")
        assertClose([1, 1], again.std, .float32, "standardized stds")
        // The same statistics applied to raw features as a tensor (predict's path).
        let raw = Tensor(table().features, shape: [10, 2])
        assertClose(data.features, stats.apply(to: raw).scalars, .float32, "apply(to:)")
        // A constant feature gets std 1.
        let constant = Dataset(table: [5, 1, 5, 2], rowCount: 2, names: ["c", "d"], targets: .values([0, 1], shape: [1]))
        XCTAssertEqual(constant.statistics().std[0], 1)
    }

    func testBatchesHandOutTensors() {
        var batches = DataBatches(dataset: table(), batchSize: 4, shuffle: false, generator: RandomGenerator(seed: 1))
        let epoch = batches.nextEpoch()
        XCTAssertEqual(epoch.map(\.count), [4, 4, 2])
        XCTAssertEqual(epoch[2].features.shape, [2, 2])
        XCTAssertEqual(epoch[2].features.scalars, [8, 80, 9, 90])
        XCTAssertEqual(epoch[0].targets.shape, [4])
        XCTAssertEqual(epoch[0].targets.scalars, [0, 1, 0, 1])
        let multi = Dataset(features: Tensor([1, 2, 3], shape: [3, 1]),
                            targets: .multiLabel(values: [1, 0, 0, 1, 1, 1], names: ["p", "q"]))
        var multiBatches = DataBatches(dataset: multi, batchSize: 3, shuffle: true, generator: RandomGenerator(seed: 2))
        let batch = multiBatches.nextEpoch()[0]
        XCTAssertEqual(batch.targets.shape, [3, 2])
        for (row, index) in batch.indices.enumerated() {
            XCTAssertEqual(batch.features.scalars[row], Float(index + 1))
            XCTAssertEqual(Array(batch.targets.scalars[(row * 2)..<(row * 2 + 2)]),
                           Array([Float](arrayLiteral: 1, 0, 0, 1, 1, 1)[(index * 2)..<(index * 2 + 2)]))
        }
    }

    func testEpochBatchesDoNotDependOnReadingOrder() {
        var generator = RandomGenerator(seed: 5)
        let images = Dataset(features: Tensor((0..<(7 * 9)).map { _ in generator.nextUnitFloat() }, shape: [7, 1, 3, 3]),
                             targets: .classes(labels: [0, 1, 0, 1, 0, 1, 0], names: ["a", "b"]))
        var batches = DataBatches(dataset: images, batchSize: 3, augmentation: Augmentation(cropPadding: 1),
                                  generator: RandomGenerator(seed: 3))
        let epoch = batches.nextEpoch()
        XCTAssertEqual(epoch.count, 3)
        let inOrder = Array(epoch)
        let backwards = Array((0..<epoch.count).reversed().map { epoch[$0] }.reversed())  // built last to first
        for (index, (a, b)) in zip(inOrder, backwards).enumerated() {
            XCTAssertEqual(a.indices, b.indices, "batch \(index)")
            XCTAssertEqual(a.features, b.features, "batch \(index): the same crops and flips however it is reached")
            XCTAssertEqual(a.targets, b.targets, "batch \(index)")
        }
        XCTAssertEqual(inOrder.flatMap(\.indices).sorted(), Array(0..<7), "every sample once")
    }

    func testImageDatasetBecomesADatasetWithTheSameBatches() {
        var generator = RandomGenerator(seed: 9)
        let images = ImageDataset(images: (0..<(6 * 16)).map { _ in generator.nextUnitFloat() }, labels: [0, 1, 2, 0, 1, 2],
                                  channels: 1, height: 4, width: 4, classNames: ["a", "b", "c"])
        let general = Dataset(images)
        XCTAssertEqual(general.featureShape, [1, 4, 4])
        var old = Minibatches(dataset: images, batchSize: 4, augmentation: Augmentation(), generator: RandomGenerator(seed: 4))
        var new = DataBatches(dataset: general, batchSize: 4, augmentation: Augmentation(), generator: RandomGenerator(seed: 4))
        for (a, b) in zip(old.nextEpoch(), new.nextEpoch()) {
            XCTAssertEqual(a.images, b.features, "same order and the same crops and flips")
            XCTAssertEqual(a.labels.map(Float.init), b.targets.scalars)
        }
    }
}
