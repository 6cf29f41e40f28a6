import Foundation
import NN
import TestSupport
import XCTest

// The code of the DocC articles (Sources/NN/NN.docc), compiled and run. Each article's
// ```swift block is copied here verbatim (indentation aside), followed by assertions on
// what the article says it does; testEveryArticleSnippetIsInThisFile fails when an article
// has a block that is not in this file, so an edited article cannot drift from code that
// compiles. The one exception is the Package.swift excerpt of Getting Started (it starts
// with "// In Package.swift:"): a manifest fragment with a placeholder URL.

/// relu(x + second(relu(first(x)))) for x of shape (N, width).
final class ResidualMLP: Layer {
    let first: Dense
    let second: Dense
    var isTraining = true

    init(width: Int) {
        first = Dense(inputSize: width, outputSize: width)
        second = Dense(inputSize: width, outputSize: width)
    }

    var children: [(name: String, layer: any Layer)] { [("first", first), ("second", second)] }

    func callAsFunction(_ input: Tensor) -> Tensor {
        relu(input + second(relu(first(input))))
    }
}

final class DocumentationTests: XCTestCase {
    // MARK: - The articles' code is in this file

    static let sourceFile = URL(fileURLWithPath: #filePath)
    static let catalogue = sourceFile.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/NN/NN.docc")

    /// The lines of `text` that count: trimmed, without blank lines and imports (an article
    /// may show `import NN`; this file has it once at the top).
    static func codeLines(_ text: some StringProtocol) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("import ") }
    }

    /// The ```swift blocks of a Markdown text, each as its lines.
    static func swiftBlocks(_ markdown: String) -> [[String]] {
        var blocks: [[String]] = [], current: [String]? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if current == nil, trimmed == "```swift" {
                current = []
            } else if current != nil, trimmed == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current?.append(String(line))
            }
        }
        return blocks
    }

    func testEveryArticleSnippetIsInThisFile() throws {
        let here = Self.codeLines(try String(contentsOf: Self.sourceFile, encoding: .utf8))
        let articles = try FileManager.default.contentsOfDirectory(atPath: Self.catalogue.path)
            .filter { $0.hasSuffix(".md") }.sorted()
        XCTAssertGreaterThanOrEqual(articles.count, 12, "no catalogue at \(Self.catalogue.path)")
        var checked = 0
        for article in articles {
            let text = try String(contentsOf: Self.catalogue.appendingPathComponent(article), encoding: .utf8)
            for block in Self.swiftBlocks(text) {
                let lines = Self.codeLines(block.joined(separator: "\n"))
                if lines.first == "// In Package.swift:" { continue }
                XCTAssertFalse(lines.isEmpty, "\(article): an empty swift block")
                let found = here.indices.contains { start in
                    start + lines.count <= here.count && Array(here[start..<(start + lines.count)]) == lines
                }
                XCTAssertTrue(found, "\(article): this block is not in DocumentationTests.swift:\n"
                              + lines.joined(separator: "\n"))
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 14, "fewer swift blocks than the articles had when this test was written")
    }

    /// The check above can fail: a block that is not in this file is not found.
    func testSnippetCheckRefusesCodeNotInThisFile() throws {
        let here = Self.codeLines(try String(contentsOf: Self.sourceFile, encoding: .utf8))
        let block = Self.codeLines(Self.swiftBlocks("```swift\nlet model = Models.mlp()\nmodel.fly()\n```")[0].joined(separator: "\n"))
        XCTAssertEqual(block, ["let model = Models.mlp()", "model.fly()"])
        XCTAssertFalse(here.indices.contains { here[$0...].starts(with: block) })
    }

    // MARK: - NN (the landing page)

    func testLandingPage() {
        DefaultRandom.manualSeed(0)  // the assertions below need known initial weights
        let model = Sequential {
            Dense(inputSize: 4, outputSize: 8)
            ReLU()
            Dense(inputSize: 8, outputSize: 3)
        }
        let optimizer = Adam(parameters: model.parameters, learningRate: 1e-2)
        let inputs = Tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], shape: [2, 4])
        let loss = crossEntropy(logits: model(inputs), labels: [0, 2])
        loss.backward()      // fills every parameter's gradient
        optimizer.step()     // updates the parameters in place

        XCTAssertEqual(optimizer.stepCount, 1)
        XCTAssertGreaterThan(model.parameters[0].gradient.scalars.map(abs).max()!, 0)
        XCTAssertLessThan(crossEntropy(logits: model(inputs), labels: [0, 2]).scalar, loss.scalar)
    }

    // MARK: - Getting Started

    func testGettingStartedFirstModel() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed")
        }
        let train = try FashionMNIST.load(.train)
        let test = try FashionMNIST.load(.test)
        let statistics = train.statistics()

        DefaultRandom.manualSeed(1)
        let model = Models.mlp()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: 1)
        try trainer.fit(train.standardized(with: statistics), epochs: 1, batchSize: 64)
        let evaluation = trainer.evaluate(test.standardized(with: statistics))
        print("test accuracy", evaluation.accuracy)

        // The article says "about 0.85".
        XCTAssertGreaterThan(evaluation.accuracy, 0.82)
        XCTAssertLessThan(evaluation.accuracy, 0.88)
    }

    func testGettingStartedGradient() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]).requiringGradient()
        let w = Tensor([0.5, -1, 2], shape: [3, 1]).requiringGradient()
        let loss = (matmul(x, w) * 2).sum()
        loss.backward()
        print(w.gradient!)   // twice the column sums of x: 10, 14, 18

        XCTAssertEqual(w.gradient!.shape, [3, 1])
        XCTAssertEqual(w.gradient!.scalars, [10, 14, 18])
    }

    // MARK: - Building Models

    func classifier(hiddenLayers: Int, dropout: Bool) -> Sequential {
        Sequential {
            Flatten()
            Dense(inputSize: 784, outputSize: 128)
            ReLU()
            for _ in 0..<hiddenLayers {
                Dense(inputSize: 128, outputSize: 128)
                ReLU()
            }
            if dropout {
                Dropout(0.25)
            }
            Dense(inputSize: 128, outputSize: 10)
        }
    }

    func testBuildingModelsResultBuilder() {
        XCTAssertEqual(classifier(hiddenLayers: 2, dropout: true).layers.count, 9)
        let small = classifier(hiddenLayers: 0, dropout: false)
        XCTAssertEqual(small.layers.count, 4)
        XCTAssertEqual(small(Tensor(zeros: [2, 1, 28, 28])).shape, [2, 10])
    }

    func testBuildingModelsConvolutionalNetwork() {
        let cnn = Sequential {
            Conv2D(inChannels: 1, outChannels: 16, kernelSize: 3, padding: 1)   // [N, 16, 28, 28]
            BatchNorm2D(16)
            ReLU()
            MaxPool2D(2)                                                         // [N, 16, 14, 14]
            Flatten()                                                            // [N, 3136]
            Dense(inputSize: 16 * 14 * 14, outputSize: 10)                       // [N, 10]
        }
        let logits = cnn(Tensor(zeros: [8, 1, 28, 28]))
        print(logits.shape)                          // [8, 10]
        for (name, parameter) in cnn.namedParameters {
            print(name, parameter.shape)             // 0.weight [16, 1, 3, 3], 0.bias [16], 1.weight [16], ...
        }

        XCTAssertEqual(logits.shape, [8, 10])
        XCTAssertEqual(cnn.namedParameters.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"])
        XCTAssertEqual(cnn.namedParameters.first?.parameter.shape, [16, 1, 3, 3])
        XCTAssertEqual(cnn.namedBuffers.map(\.name), ["1.running_mean", "1.running_var"])

        cnn.setTraining(false)
        let predictions = withoutGradient { cnn(Tensor(zeros: [4, 1, 28, 28])) }.argmax(alongAxis: 1)
        cnn.setTraining(true)

        XCTAssertEqual(predictions.count, 4)
        XCTAssertTrue(predictions.allSatisfy { (0..<10).contains($0) })
    }

    func testBuildingModelsCustomLayerAndLoop() {
        DefaultRandom.manualSeed(11)
        let untrained = ResidualMLP(width: 4)  // the same initial weights as the article's model
        DefaultRandom.manualSeed(11)
        let model = ResidualMLP(width: 4)
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9)
        let inputs = Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], shape: [3, 4])
        let targets = Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], shape: [3, 4])
        for step in 1...20 {
            optimizer.zeroGradients()
            let loss = meanSquaredError(model(inputs), targets)
            loss.backward()
            optimizer.step()
            if step % 5 == 0 { print(step, loss.scalar) }
        }

        XCTAssertEqual(model.namedParameters.map(\.name), ["first.weight", "first.bias", "second.weight", "second.bias"])
        XCTAssertEqual(optimizer.stepCount, 20)
        let before = meanSquaredError(untrained(inputs), targets).scalar
        let after = meanSquaredError(model(inputs), targets).scalar
        XCTAssertLessThan(after, before, "20 steps did not reduce the loss")
    }

    // MARK: - Training on Your Own Data

    func testTrainingOnYourOwnData() throws {
        var generator = RandomGenerator(seed: 3)
        var features: [Float] = []
        var values: [Float] = []
        for _ in 0..<256 {
            let (a, b) = (generator.nextNormal(), generator.nextNormal())
            features += [a, b]
            values.append(2 * a - b + 0.1 * generator.nextNormal())
        }
        let data = Dataset(features: features, featureShape: [2], targets: .values(values, shape: [1]))

        var splitter = RandomGenerator(seed: 4)
        let (trainPart, validationPart) = data.split(validationFraction: 0.25, using: &splitter)
        let statistics = trainPart.statistics()
        let train = trainPart.standardized(with: statistics)
        let validation = validationPart.standardized(with: statistics)

        DefaultRandom.manualSeed(5)
        let model = Sequential {
            Dense(inputSize: 2, outputSize: 16)
            ReLU()
            Dense(inputSize: 16, outputSize: 1)
        }
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 1e-2),
                              task: .regression, seed: 6)
        try trainer.fit(train, validation: validation, epochs: 20, batchSize: 32)
        print("validation R²", trainer.evaluate(validation).metrics["r2"]!)

        XCTAssertEqual([train.count, validation.count], [192, 64])
        XCTAssertGreaterThan(trainer.evaluate(validation).metrics["r2"]!, 0.9, "a near-linear target should be learned")

        var batches = DataBatches(dataset: train, batchSize: 32, generator: RandomGenerator(seed: 7))
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.05)
        for batch in batches.nextEpoch() {
            optimizer.zeroGradients()
            let loss = LearningTask.regression.loss(model(batch.features), batch.targets)
            loss.backward()
            optimizer.step()
        }

        XCTAssertEqual(optimizer.stepCount, 6)
    }

    func testTrainingOnYourOwnDataCSV() throws {
        let path = try makeTemporaryDirectory(self) + "/flowers.csv"
        try "length,width,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n4.9,3.0,setosa\n"
            .write(toFile: path, atomically: true, encoding: .utf8)

        let table = try Table.readCSV(path)
        let (features, targets) = try table.split(targets: [.name("species")])
        if case .classes(let labels, let names) = try targets.classes() {
            let flowers = Dataset(table: features.values, rowCount: features.rowCount, names: features.names,
                                  targets: .classes(labels: labels, names: names))
            print(flowers.count, "samples of", flowers.featureSize, "features in", names.count, "classes")
        }

        XCTAssertEqual(features.names, ["length", "width"])
        XCTAssertEqual(features.values, [5.1, 3.5, 7.0, 3.2, 6.3, 3.3, 4.9, 3.0])
        XCTAssertEqual(try targets.classes(), .classes(labels: [0, 1, 2, 0], names: ["setosa", "versicolor", "virginica"]))
    }

    // MARK: - Checkpoints and PyTorch Interchange

    /// 1x28x28 images of random pixels in 10 classes, for the models of `Models`.
    static func randomImages(count: Int, seed: UInt64) -> ImageDataset {
        var generator = RandomGenerator(seed: seed)
        let pixels = (0..<(count * 784)).map { _ in generator.nextUnitFloat() }
        let labels = (0..<count).map { Int32($0 % 10) }
        return ImageDataset(images: pixels, labels: labels, channels: 1, height: 28, width: 28,
                            classNames: (0..<10).map(String.init))
    }

    func testCheckpointsSaveAndLoad() throws {
        let directory = URL(fileURLWithPath: try makeTemporaryDirectory(self))

        let url = directory.appendingPathComponent("mlp.safetensors")
        let model = Models.mlp()
        try Checkpoint.save(to: url, model: model)

        let restored = Models.mlp()
        try Checkpoint.loadModel(from: url, into: restored)
        let file = try SafeTensorsFile.read(from: url)
        print(file.tensors.keys.sorted())   // ["1.bias", "1.weight", "3.bias", "3.weight", "5.bias", "5.weight"]

        XCTAssertEqual(file.tensors.keys.sorted(), ["1.bias", "1.weight", "3.bias", "3.weight", "5.bias", "5.weight"])
        XCTAssertEqual(restored.parameters.map(\.value), model.parameters.map(\.value))
    }

    func testCheckpointsResume() throws {
        let directory = URL(fileURLWithPath: try makeTemporaryDirectory(self))
        let train = Self.randomImages(count: 256, seed: 8)

        func makeTrainer() -> Trainer {
            let model = Models.mlp()
            let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: 1)
            trainer.schedule = CosineAnnealing(baseLearningRate: 1e-3, period: 4)
            return trainer
        }
        let runURL = directory.appendingPathComponent("run.safetensors")

        let first = makeTrainer()
        first.callbacks = [CheckpointSaver(url: runURL)]
        try first.fit(train, epochs: 2, batchSize: 64)           // stopped after 2 of 4 epochs

        let second = makeTrainer()
        try Checkpoint.resume(from: runURL, trainer: second)
        try second.fit(train, epochs: 4, batchSize: 64)          // runs epochs 3 and 4

        // The same weights as the first trainer reaches by going on to 4 epochs without a break.
        XCTAssertEqual(second.epochsCompleted, 4)
        XCTAssertEqual(second.history.count, 4)
        first.callbacks = []
        try first.fit(train, epochs: 4, batchSize: 64)
        XCTAssertEqual(second.model.parameters.map(\.value), first.model.parameters.map(\.value))
    }

    // MARK: - Performance and Threads

    func testPerformanceThreads() {
        Threads.set(nil)
        print("training on", Threads.count, "threads")

        XCTAssertGreaterThanOrEqual(Threads.count, 1)
    }

    // MARK: - Losses

    func testLossesPenalty() throws {
        let model = Models.mlp()
        let firstLayer = model.layers[1] as! Dense
        let trainer = Trainer(
            model: model, optimizer: Adam(parameters: model.parameters),
            lossFunction: { logits, labels in
                crossEntropy(logits: logits, labels: labels) + l1Penalty([firstLayer.weight], weight: 1e-5)
            })

        let logits = Tensor(zeros: [2, 10])
        let plain = crossEntropy(logits: logits, labels: [Int32(0), 1]).scalar
        let penalty = firstLayer.weight.value.scalars.reduce(0) { $0 + abs($1) } * 1e-5
        assertClose(plain + penalty, trainer.lossFunction(logits, [0, 1]).scalar, Tolerance(atol: 1e-6, rtol: 1e-5))
    }

    // MARK: - Optimizers and Schedules

    func testOptimizersAndSchedules() {
        let model = Models.mlp()
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, nesterov: true)
        let schedule = LinearWarmup(baseLearningRate: 0.1, warmupEpochs: 2,
                                    then: CosineAnnealing(baseLearningRate: 0.1, period: 8))
        for epoch in 1...10 {
            // ... the epoch's steps at optimizer.learningRate ...
            optimizer.learningRate = schedule.step(metric: nil)
            print(epoch, optimizer.learningRate)
        }

        // Warm-up 0.01 -> 0.055 -> 0.1 over epochs 0-2, then the cosine from 0.1 down to 0 at epoch 10.
        XCTAssertEqual(schedule.epoch, 10)
        assertClose(0, optimizer.learningRate, Tolerance(atol: 1e-6, rtol: 1e-6))
        let rates = (0...10).map { schedule.learningRate(atEpoch: $0) }
        assertClose([0.01, 0.055, 0.1], Array(rates[0...2]), Tolerance(atol: 1e-6, rtol: 1e-6))
        XCTAssertEqual(Array(rates[2...]), rates[2...].sorted(by: >), "the cosine part falls monotonically")
    }

    // MARK: - Training

    func testTrainingCallbacks() throws {
        let directory = URL(fileURLWithPath: try makeTemporaryDirectory(self))
        let train = Self.randomImages(count: 128, seed: 9)
        let validation = Self.randomImages(count: 64, seed: 10)

        let model = Models.mlp()
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), seed: 2)
        let logURL = directory.appendingPathComponent("log.csv")
        trainer.callbacks = [
            EarlyStopping(monitor: .loss, patience: 2, restoreBestWeights: true),
            CSVLogger(url: logURL),
        ]
        try trainer.fit(train, validation: validation, epochs: 3, batchSize: 32)
        print(trainer.evaluate(validation).report)

        let log = try String(contentsOf: logURL, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 1 + trainer.history.count, "a header and one line per epoch")
        XCTAssertGreaterThanOrEqual(trainer.history.count, 1)
    }
}
