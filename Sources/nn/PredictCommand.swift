import ArgumentParser
import Foundation
import NN

/// `nn predict`: the class and probabilities a checkpoint gives each image file, or a
/// tabular checkpoint's predictions for every row of a data file.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG images with a checkpoint (one line per file with the class and its probability), or predict every row of a tabular --data file.",
        discussion: """
            The models of nn train read 28x28 grayscale images like Fashion-MNIST's: a light \
            object on a black background. PNG files of any colour type and bit depth are read \
            through libpng and turned to 8-bit gray (colour as luminance, transparency onto \
            black); a file of another size is an error. Pixels are scaled to [0, 1] and \
            standardized with the statistics stored in the checkpoint, as nn train and nn eval do.

            Tabular checkpoints (--data FILE): one CSV row per sample, written to --output or \
            to standard output: classification: class, then every class's probability; binary: \
            class, then the probability of the second (positive) class; multilabel: the predicted \
            labels (';'-separated), then every label's probability; regression: the predicted \
            values in target units. The file is read with the options the model was trained \
            with unless given again (--skip-lines only for that same file); target columns in \
            it (all or some of them) are ignored.
            """
    )

    @Option(help: "A checkpoint written by nn train --checkpoint.")
    var checkpoint: String

    @Option(help: "Also write every class's probability here as CSV: file, class, then one column per class (tabular: the predictions, instead of standard output).")
    var output: String?

    @Option(help: "A tabular data file to predict (for a checkpoint trained on tabular data).")
    var data: String?

    @OptionGroup(title: "Tabular data")
    var tabular: TabularOptions

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Argument(help: "PNG images to classify.")
    var images: [String] = []

    func validate() throws {
        if checkpoint.isEmpty { throw ValidationError("--checkpoint needs a file name") }
        if images.isEmpty && data == nil {
            throw ValidationError("give one or more PNG images to classify, or --data FILE for a tabular checkpoint")
        }
        if !images.isEmpty && data != nil { throw ValidationError("give PNG images or --data FILE, not both") }
        if let output, output.isEmpty { throw ValidationError("--output needs a file name") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let file = try SafeTensorsFile.read(from: URL(fileURLWithPath: checkpoint))
        if TabularCheckpoint.isTabular(file.metadata) { return try runTabular(file) }
        if data != nil || tabular.isUsed {
            throw CLIError("\(checkpoint) holds a Fashion-MNIST model: it classifies PNG images, not tabular --data")
        }
        let trained = try TrainedCheckpoint(path: checkpoint, file: file)
        let (modelName, statistics) = (trained.modelName, trained.statistics)
        let outputURL = output.map { URL(fileURLWithPath: $0) }
        if let outputURL { try prepareOutput(outputURL, option: "--output") }

        // Every file is read and checked before the model runs: a bad one fails the whole call.
        let input = modelName.inputShape
        var pixels: [Float] = []
        pixels.reserveCapacity(images.count * input.height * input.width)
        for path in images {
            let image = try PNGImage.readGray(path: path)
            guard image.width == input.width && image.height == input.height else {
                throw CLIError("\(path): the image is \(image.width)x\(image.height) pixels; the \(modelName.rawValue) model "
                               + "takes \(input.width)x\(input.height) grayscale images")
            }
            pixels += image.pixels.map { Float($0) / 255 }
        }
        let network = try trained.loadModel()
        let classNames = FashionMNIST.classNames  // every model nn train builds is trained on Fashion-MNIST
        // An ImageDataset so the standardization is the very code nn train and nn eval apply.
        let dataset = ImageDataset(images: pixels, labels: [Int32](repeating: 0, count: images.count),
                                   channels: input.channels, height: input.height, width: input.width,
                                   classNames: classNames).standardized(with: statistics)
        let probabilities = Self.classProbabilities(network, dataset)

        var csv = "file,class," + classNames.map(csvField).joined(separator: ",") + "\n"
        for (index, path) in images.enumerated() {
            let row = Array(probabilities[(index * classNames.count)..<((index + 1) * classNames.count)])
            let best = row.indices.max { row[$0] < row[$1] }!
            print("\(path): \(classNames[best]) " + String(format: "%.4f", row[best]))
            csv += ([path, classNames[best]].map(csvField) + row.map { String(format: "%.6f", $0) }).joined(separator: ",") + "\n"
        }
        if let outputURL, let output {
            do {
                try Data(csv.utf8).write(to: outputURL, options: .atomic)
            } catch {
                throw CLIError("--output \(output): cannot write: \(error.localizedDescription)")
            }
            print("predictions: \(output)")
        }
    }

    /// A tabular checkpoint's predictions for every row of `--data`, as CSV.
    func runTabular(_ file: SafeTensorsFile) throws {
        let trained = try TabularCheckpoint(path: checkpoint, file: file)
        guard let dataPath = data else {
            throw CLIError("\(checkpoint) holds a tabular model: give --data FILE (PNG images are for Fashion-MNIST models)")
        }
        if !isTabularPath(dataPath) { throw CLIError("\(checkpoint) holds a tabular model; --data \(dataPath) is a directory, not a data file") }
        let outputURL = output.map { URL(fileURLWithPath: $0) }
        if let outputURL { try prepareOutput(outputURL, option: "--output") }
        let source = try TabularSource(data: dataPath, options: tabular, stored: file.metadata)
        let (dataset, _, dropped) = try trained.dataset(source, targetRequired: false)
        let model = try trained.loadModel()
        let raw = Trainer.predict(model, on: dataset).scalars
        let csv = Self.tabularCSV(raw: raw, trained: trained)
        if dropped > 0 { FileHandle.standardError.write(Data("note: \(dataPath): \(dropped) invalid rows dropped\n".utf8)) }
        guard let outputURL, let output else {
            print(csv, terminator: "")
            return
        }
        try writeAtomically(csv, to: outputURL)
        print("predictions: \(output) (\(dataset.count) rows, \(trained.task.rawValue))")
    }

    /// One CSV row per sample from the model's raw outputs (see the command's discussion);
    /// the class is read from the raw outputs by the rule the task's metrics use (first
    /// largest logit; logit > 0 for a label), so it agrees with nn eval exactly.
    static func tabularCSV(raw: [Float], trained: TabularCheckpoint) -> String {
        let task = trained.task, width = trained.network.outputs
        let names = trained.classNames ?? []
        let read = readOutputs(raw, task: task, outputs: width, targetStatistics: trained.targetStatistics)
        func probability(_ p: Float) -> String { String(format: "%.6f", p) }
        var lines: [String]
        switch task {
        case .classification:
            lines = [(["class"] + names).map(csvField).joined(separator: ",")]
        case .binary:
            lines = [["class", names[1]].map(csvField).joined(separator: ",")]
        case .multiLabel:
            lines = [(["labels"] + names).map(csvField).joined(separator: ",")]
        case .regression:
            let targetNames = TabularSource.decodeList(trained.file.metadata["tabular.target_names"] ?? "[]")
            lines = [(targetNames.count == width ? targetNames : (0..<width).map { "value\($0)" }).map(csvField).joined(separator: ",")]
        }
        for start in stride(from: 0, to: raw.count, by: width) {
            let row = raw[start..<(start + width)], values = read[start..<(start + width)]
            switch task {
            case .classification:
                var best = start
                for k in row.indices where raw[k] > raw[best] { best = k }
                lines.append(([csvField(names[best - start])] + values.map(probability)).joined(separator: ","))
            case .binary:
                lines.append(csvField(names[raw[start] > 0 ? 1 : 0]) + "," + probability(read[start]))
            case .multiLabel:
                let on = row.indices.filter { raw[$0] > 0 }.map { names[$0 - start] }.joined(separator: ";")
                lines.append(([csvField(on)] + values.map(probability)).joined(separator: ","))
            case .regression:
                lines.append(values.map { "\($0)" }.joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The softmax of `model`'s logits on every image of `data`, image after image, in
    /// inference mode and in batches (so thousands of files do not need one huge tensor).
    static func classProbabilities(_ model: Sequential, _ data: ImageDataset, batchSize: Int = 256) -> [Float] {
        model.setTraining(false)
        var result: [Float] = []
        withoutGradient {
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let end = min(start + batchSize, data.count)
                let batch = Tensor(Array(data.images[(start * data.imageSize)..<(end * data.imageSize)]),
                                   shape: [end - start, data.channels, data.height, data.width])
                result += softmax(model(batch)).scalars
            }
        }
        return result
    }
}

/// A CSV field, quoted (with doubled quotes) when it holds a comma, a quote or a line break.
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
