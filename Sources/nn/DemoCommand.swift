import ArgumentParser
import Foundation
import NN

/// `nn demo`: small programs that show what single neurons, small networks and fixed
/// convolutions do.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Small demonstrations: xor, logic, sobel.",
        subcommands: [XORDemo.self, LogicDemo.self, SobelDemo.self]
    )
}

/// The four inputs of a two-input truth table, as a (4, 2) tensor's rows.
private let truthTableInputs: [[Float]] = [[0, 0], [0, 1], [1, 0], [1, 1]]

/// A 2-2-1 sigmoid network learns XOR by gradient descent.
struct XORDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xor", abstract: "A 2-2-1 sigmoid network learns XOR, which no single neuron can compute.")

    @Option(help: "Seed of the initial weights.")
    var seed: UInt64 = 1

    @Option(help: "Full-batch training steps.")
    var steps: Int = 2000

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    func run() throws {
        let inputs = Tensor(truthTableInputs.flatMap { $0 }, shape: [4, 2])
        let targets = Tensor([0, 1, 1, 0], shape: [4, 1])
        // A 2-2-1 network has bad local minima (one hidden unit saturated): if a seed lands
        // in one, the next seed is tried, and the output says so.
        for attempt in 0..<10 {
            let seed = self.seed &+ UInt64(attempt)
            DefaultRandom.manualSeed(seed)
            let network = Sequential {
                Dense(inputSize: 2, outputSize: 2, weightInitializer: .xavierUniform)
                Sigmoid()
                Dense(inputSize: 2, outputSize: 1, weightInitializer: .xavierUniform)
                Sigmoid()
            }
            let optimizer = Adam(parameters: network.parameters, learningRate: 0.05)
            var loss: Float = 0
            for step in 1...steps {
                optimizer.zeroGradients()
                let l = binaryCrossEntropy(probabilities: network(inputs), targets: targets)
                l.backward()
                optimizer.step()
                loss = l.scalar
                if step == 1 || step % (steps / 4 == 0 ? 1 : steps / 4) == 0 {
                    print(String(format: "seed %llu  step %5d  loss %.4f", seed, step, loss))
                }
            }
            let outputs = withoutGradient { network(inputs) }.scalars
            let solved = zip(outputs, [Float(0), 1, 1, 0]).allSatisfy { ($0 >= 0.5 ? 1 : 0) == $1 }
            if !solved {
                print("seed \(seed) ended in a local minimum (loss \(loss)); trying the next seed")
                continue
            }
            print("a 2-2-1 sigmoid network trained on XOR (Adam, lr 0.05, \(steps) full-batch steps):")
            print("  x1 x2 | target | output | prediction")
            for (row, output) in outputs.enumerated() {
                let x = truthTableInputs[row]
                print(String(format: "   %d  %d |   %d    | %.4f |     %d", Int(x[0]), Int(x[1]),
                             Int(x[0]) ^ Int(x[1]), output, output >= 0.5 ? 1 : 0))
            }
            print("all four predictions are right: the hidden layer maps the inputs to a space where XOR is linearly separable")
            return
        }
        throw CLIError("XOR was not learned from seeds \(seed) to \(seed &+ 9) in \(steps) steps; try --steps \(steps * 2)")
    }
}

/// Single neurons with the binary-step activation compute AND, OR and NOT; none computes XOR.
struct LogicDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logic",
        abstract: "Single binary-step neurons compute AND, OR, NOT; a search shows none computes XOR.")

    func run() throws {
        // step(w . x + b): a neuron fires when its input is on the positive side of a line.
        func neuron(weights: [Float], bias: Float) -> Sequential {
            let dense = Dense(inputSize: weights.count, outputSize: 1)
            dense.weight.value = Tensor(weights, shape: [1, weights.count])
            dense.bias!.value = Tensor([bias], shape: [1])
            return Sequential { dense; BinaryStep() }
        }
        func outputs(_ layer: Sequential, _ rows: [[Float]]) -> [Int] {
            let x = Tensor(rows.flatMap { $0 }, shape: [rows.count, rows[0].count])
            return withoutGradient { layer(x) }.scalars.map { Int($0) }
        }
        let gates: [(name: String, weights: [Float], bias: Float, truth: (Int, Int) -> Int)] = [
            ("AND", [1, 1], -1.5, { $0 & $1 }),
            ("OR", [1, 1], -0.5, { $0 | $1 }),
        ]
        for gate in gates {
            let y = outputs(neuron(weights: gate.weights, bias: gate.bias), truthTableInputs)
            print("\(gate.name): step(x1 + x2 \(gate.bias < 0 ? "-" : "+") \(abs(gate.bias)))")
            print("  x1 x2 | y")
            for (row, x) in truthTableInputs.enumerated() {
                let expected = gate.truth(Int(x[0]), Int(x[1]))
                print("   \(Int(x[0]))  \(Int(x[1])) | \(y[row])\(y[row] == expected ? "" : "  (wrong)")")
            }
        }
        let notOutputs = outputs(neuron(weights: [-1], bias: 0.5), [[0], [1]])
        print("NOT: step(-x1 + 0.5)")
        print("  x1 | y")
        for (x, y) in zip([0, 1], notOutputs) { print("   \(x) | \(y)\(y == 1 - x ? "" : "  (wrong)")") }

        // XOR: brute force over a grid of weights and biases, counting rows right.
        let grid = stride(from: Float(-3), through: 3, by: 0.25).map { $0 }
        var best = 0, bestWeights: (Float, Float, Float) = (0, 0, 0), tried = 0
        for w1 in grid {
            for w2 in grid {
                for b in grid {
                    tried += 1
                    let right = truthTableInputs.filter { x in
                        let fires = w1 * x[0] + w2 * x[1] + b >= 0 ? 1 : 0
                        return fires == Int(x[0]) ^ Int(x[1])
                    }.count
                    if right > best { (best, bestWeights) = (right, (w1, w2, b)) }
                }
            }
        }
        print("XOR: no single neuron computes it.")
        print("  XOR is 1 at (0,1) and (1,0) and 0 at (0,0) and (1,1): no straight line puts the first two on one side")
        print("  and the other two on the other (w1 + b >= 0 and w2 + b >= 0 add to w1 + w2 + 2b >= 0, but b < 0 and")
        print("  w1 + w2 + b < 0 add to w1 + w2 + 2b < 0), so XOR is not linearly separable.")
        print("  A search over \(tried) neurons (w1, w2, b in -3...3, step 0.25) finds at best \(best) of 4 rows right,")
        print("  e.g. \(linear(bestWeights.0, bestWeights.1, bestWeights.2)). Two layers do it: see `nn demo xor`.")
        if best >= 4 { throw CLIError("a single neuron computed XOR, which is impossible: the search is wrong") }
    }
}

/// "step(w1 x1 + w2 x2 + b)" with signs folded in: step(-3 x1 - 3 x2 + 3).
private func linear(_ w1: Float, _ w2: Float, _ b: Float) -> String {
    func number(_ v: Float) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
    func term(_ v: Float, _ name: String, first: Bool) -> String {
        let sign = v < 0 ? (first ? "-" : " - ") : (first ? "" : " + ")
        return sign + number(abs(v)) + name
    }
    return "step(" + term(w1, " x1", first: true) + term(w2, " x2", first: false) + term(b, "", first: false) + ")"
}

/// The Sobel filters as a fixed convolution over a Fashion-MNIST test image.
struct SobelDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sobel",
        abstract: "Run the Sobel edge filters as a fixed Conv2D over a test image and save the result.",
        discussion: "The image shows, left to right: the input, |Gx| (vertical edges), |Gy| (horizontal edges) "
            + "and the gradient magnitude sqrt(Gx^2 + Gy^2). PNG unless the name ends in .pgm.")

    @Option(help: "Where to write the picture (.png or .pgm).")
    var output: String = "sobel.png"

    @Option(help: "Directory with the Fashion-MNIST IDX files; a synthetic image is used if they are missing.")
    var data: String = FashionMNIST.defaultDirectory

    @Option(help: "Which test image (0 is the first).")
    var index: Int = 0

    @Option(help: "Pixels per image pixel in the output.")
    var scale: Int = 4

    func validate() throws {
        if output.isEmpty { throw ValidationError("--output needs a file name") }
        if index < 0 { throw ValidationError("--index must be at least 0, got \(index)") }
        if !(1...32).contains(scale) { throw ValidationError("--scale must be in 1...32, got \(scale)") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: output)
        try prepareOutput(url, option: "--output")
        let (pixels, height, width, source) = try inputImage()
        print("input: \(source) (\(height)x\(width))")

        // One convolution with two fixed output channels: Gx responds to left-right change,
        // Gy (its transpose) to top-bottom change.
        let gx: [Float] = [-1, 0, 1, -2, 0, 2, -1, 0, 1]
        let gy: [Float] = [-1, -2, -1, 0, 0, 0, 1, 2, 1]
        let sobel = Conv2D(inChannels: 1, outChannels: 2, kernelSize: 3, padding: 1, useBias: false)
        sobel.weight.value = Tensor(gx + gy, shape: [2, 1, 3, 3])
        print("Gx = [-1 0 1; -2 0 2; -1 0 1], Gy = [-1 -2 -1; 0 0 0; 1 2 1], as a Conv2D 1->2, 3x3, padding 1")
        let edges = withoutGradient { sobel(Tensor(pixels, shape: [1, 1, height, width])) }.scalars
        let plane = height * width
        let x = Array(edges[0..<plane]), y = Array(edges[plane..<(2 * plane)])
        let magnitude = zip(x, y).map { ($0 * $0 + $1 * $1).squareRoot() }

        // Each panel scaled to 0...255 on its own maximum, so weak edges stay visible.
        func gray(_ values: [Float]) -> [UInt8] {
            let top = values.map(abs).max() ?? 0
            return values.map { UInt8((abs($0) / max(top, 1e-12) * 255).rounded()) }
        }
        let panels = [gray(pixels), gray(x), gray(y), gray(magnitude)]
        let gap = 2
        let panelWidth = width * scale, panelHeight = height * scale
        let outWidth = panels.count * panelWidth + (panels.count - 1) * gap
        var image = [UInt8](repeating: 255, count: outWidth * panelHeight)
        for (p, panel) in panels.enumerated() {
            let left = p * (panelWidth + gap)
            for row in 0..<panelHeight {
                for column in 0..<panelWidth {
                    image[row * outWidth + left + column] = panel[(row / scale) * width + column / scale]
                }
            }
        }
        let bytes = output.lowercased().hasSuffix(".pgm")
            ? GrayImage.pgm(image, width: outWidth, height: panelHeight)
            : try GrayImage.png(image, width: outWidth, height: panelHeight)
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw CLIError("\(output): cannot write: \(error.localizedDescription)")
        }
        print(String(format: "strongest edge: %.3f (gradient magnitude, pixels in [0,1])", magnitude.max() ?? 0))
        print("wrote \(output) (\(outWidth)x\(panelHeight)): input | |Gx| | |Gy| | magnitude")
    }

    /// The chosen test image in [0,1], or a synthetic one (a disc and a square) without the data.
    func inputImage() throws -> ([Float], Int, Int, String) {
        if let test = try? FashionMNIST.load(.test, directory: data) {
            guard index < test.count else {
                throw CLIError("--index \(index) is past the \(test.count) test images in \(data)")
            }
            let size = test.imageSize
            let name = test.classNames[Int(test.labels[index])]
            return (Array(test.images[(index * size)..<((index + 1) * size)]), test.height, test.width,
                    "Fashion-MNIST test image \(index) (\(name)) from \(data)")
        }
        let n = 28
        var pixels = [Float](repeating: 0, count: n * n)
        for row in 0..<n {
            for column in 0..<n {
                let dy = Float(row) - 9.5, dx = Float(column) - 9.5
                if dx * dx + dy * dy <= 36 { pixels[row * n + column] = 1 }
                if (16..<25).contains(row) && (14..<25).contains(column) { pixels[row * n + column] = 0.6 }
            }
        }
        return (pixels, n, n, "a synthetic disc and square (no Fashion-MNIST files in \(data))")
    }
}
