import Foundation

/// Which half of an MNIST-style dataset to load.
public enum DatasetSplit: String, Sendable {
    /// The training files (`train-*`), 60,000 images for MNIST and Fashion-MNIST.
    case train
    /// The test files (`t10k-*`), 10,000 images.
    case test

    /// The file-name prefix the original distribution uses.
    var filePrefix: String { self == .train ? "train" : "t10k" }
}

/// Fashion-MNIST (Zalando): 28x28 grayscale clothing images in 10 classes, in MNIST's IDX format.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Loads `split` from `directory`, pixels scaled to [0,1] (not yet standardized).
    public static func load(_ split: DatasetSplit, directory: String = defaultDirectory) throws -> ImageDataset {
        try read(split, directory: directory).imageDataset()
    }

    /// Reads and validates `split` from `directory`, keeping the pixels as bytes until
    /// `imageDataset()` (a quarter of the memory): for a split that waits, as a test set
    /// does while the model trains.
    public static func read(_ split: DatasetSplit, directory: String = defaultDirectory) throws -> ImageBytes {
        try readMNISTStyle(split, directory: directory, classNames: classNames)
    }
}

/// MNIST (LeCun et al.): 28x28 grayscale handwritten digits, labels 0-9.
public enum MNIST {
    /// The conventional install location, by analogy with Fashion-MNIST's package.
    public static let defaultDirectory = "/usr/share/datasets/mnist"

    /// The class names: the digits.
    public static let classNames = (0..<10).map(String.init)

    /// Loads `split` from `directory`, pixels scaled to [0,1] (not yet standardized).
    public static func load(_ split: DatasetSplit, directory: String = defaultDirectory) throws -> ImageDataset {
        try read(split, directory: directory).imageDataset()
    }

    /// Reads and validates `split` from `directory`, keeping the pixels as bytes until
    /// `imageDataset()` (see `FashionMNIST.read`).
    public static func read(_ split: DatasetSplit, directory: String = defaultDirectory) throws -> ImageBytes {
        try readMNISTStyle(split, directory: directory, classNames: classNames)
    }
}

/// An MNIST-style split as its files hold it: validated, one byte per pixel (0-255) and a
/// class index per image. `FashionMNIST.load` is `read` followed by `imageDataset()`.
public struct ImageBytes: Sendable {
    /// All pixels, `count * height * width`, image after image.
    public let pixels: [UInt8]
    /// One class index per image, each below `classNames.count`.
    public let labels: [Int32]
    /// Image height and width in pixels.
    public let height: Int, width: Int
    /// Names of the classes, indexed by label.
    public let classNames: [String]

    /// Number of images.
    public var count: Int { labels.count }

    /// The first `n` images (all of them if `n >= count`): cut before `imageDataset()`, the
    /// rest are never expanded to floats.
    public func prefix(_ n: Int) -> ImageBytes {
        precondition(n >= 0, "ImageBytes.prefix: n is \(n), expected >= 0")
        let kept = min(n, count)
        return ImageBytes(pixels: Array(pixels[0..<(kept * height * width)]), labels: Array(labels[0..<kept]),
                          height: height, width: width, classNames: classNames)
    }

    /// The images as floats scaled to [0,1] (not yet standardized), one channel.
    public func imageDataset() -> ImageDataset {
        let images = [Float](unsafeUninitializedCapacity: pixels.count) { out, initialized in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<p.count { out[i] = Float(p[i]) / 255 }  // divide, not multiply by 1/255: correctly rounded k/255, as torchvision
            }
            initialized = pixels.count
        }
        return ImageDataset(images: images, labels: labels, channels: 1, height: height, width: width,
                            classNames: classNames)
    }
}

/// Reads `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]`: images
/// must be unsigned bytes N x H x W, labels unsigned bytes N, each label < the class count.
func readMNISTStyle(_ split: DatasetSplit, directory: String, classNames: [String]) throws -> ImageBytes {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw DataError.directoryNotFound(path: directory)
    }
    let imagesPath = try locate("\(split.filePrefix)-images-idx3-ubyte", in: directory)
    let labelsPath = try locate("\(split.filePrefix)-labels-idx1-ubyte", in: directory)

    // Labels first: the small file catches a wrong directory before inflating 26 MB.
    let labelArray = try IDXArray.read(contentsOf: labelsPath)
    let labelBytes = try labelArray.uint8Values()
    guard labelArray.shape.count == 1 else {
        throw DataError.unexpectedShape(path: labelsPath, dimensions: labelArray.shape, expected: "1 dimension (N)")
    }
    let imageArray = try IDXArray.read(contentsOf: imagesPath)
    let pixels = try imageArray.uint8Values()
    guard imageArray.shape.count == 3, imageArray.shape[1] > 0, imageArray.shape[2] > 0 else {
        throw DataError.unexpectedShape(path: imagesPath, dimensions: imageArray.shape,
                                        expected: "3 dimensions (N x H x W) with H, W > 0")
    }
    guard imageArray.shape[0] == labelArray.shape[0] else {
        throw DataError.countMismatch(imagesPath: imagesPath, imageCount: imageArray.shape[0],
                                      labelsPath: labelsPath, labelCount: labelArray.shape[0])
    }
    if let bad = labelBytes.firstIndex(where: { Int($0) >= classNames.count }) {
        throw DataError.labelOutOfRange(path: labelsPath, index: bad, label: Int(labelBytes[bad]),
                                        classCount: classNames.count)
    }
    return ImageBytes(pixels: pixels, labels: labelBytes.map { Int32($0) }, height: imageArray.shape[1],
                      width: imageArray.shape[2], classNames: classNames)
}

/// The gzip file if present, else the uncompressed one (some mirrors ship them unpacked).
private func locate(_ baseName: String, in directory: String) throws -> String {
    let candidates = [baseName + ".gz", baseName].map { (directory as NSString).appendingPathComponent($0) }
    for path in candidates where FileManager.default.fileExists(atPath: path) {
        return path
    }
    throw DataError.fileNotFound(path: candidates[0], tried: candidates)
}
