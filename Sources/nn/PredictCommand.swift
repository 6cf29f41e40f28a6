import ArgumentParser
import Foundation
import NN

/// `nn predict`: the class and probabilities a checkpoint gives each image file.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG images with a checkpoint: one line per file with the class and its probability.",
        discussion: """
            The models of nn train read 28x28 grayscale images like Fashion-MNIST's: a light \
            object on a black background. PNG files of any colour type and bit depth are read \
            through libpng and turned to 8-bit gray (colour as luminance, transparency onto \
            black); a file of another size is an error. Pixels are scaled to [0, 1] and \
            standardized with the statistics stored in the checkpoint, as nn train and nn eval do.
            """
    )

    @Option(help: "A checkpoint written by nn train --checkpoint.")
    var checkpoint: String

    @Option(help: "Also write every class's probability here as CSV: file, class, then one column per class.")
    var output: String?

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Argument(help: "PNG images to classify.")
    var images: [String] = []

    func validate() throws {
        if checkpoint.isEmpty { throw ValidationError("--checkpoint needs a file name") }
        if images.isEmpty { throw ValidationError("give one or more PNG images to classify") }
        if let output, output.isEmpty { throw ValidationError("--output needs a file name") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let trained = try TrainedCheckpoint(path: checkpoint)
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
