import CPNG
import Foundation

/// PNG files read through Debian's libpng (its simplified `png_image` API), converted to
/// 8-bit grayscale: every colour type, bit depth and interlacing libpng accepts.
///
/// The conversion is libpng's: 16-bit samples are scaled to 8 bits (taken as sRGB-encoded
/// like 8-bit ones unless the file says otherwise), palettes expanded, colour
/// turned to gray as sRGB luminance (computed in linear light), and transparency composited
/// onto black, the background of Fashion-MNIST's images.
enum PNGImage {
    /// The largest image read (256 MiB of gray pixels); larger headers are refused as damaged.
    static let maximumPixels = 1 << 28

    /// The pixels (row after row, 0 = black, 255 = white), width and height of the PNG at `path`.
    /// Throws a `CLIError` naming the file when it cannot be read, is not a PNG, or is damaged.
    static func readGray(path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "not found"
            throw CLIError("\(path): \(reason)")
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes.prefix(8)) == signature else {
            throw CLIError("\(path): not a PNG file (\(describeNonPNG(bytes))); nn predict reads PNG images")
        }

        // libpng reads from `bytes` until finish_read, so both calls stay inside one closure.
        let decoded = bytes.withUnsafeBufferPointer { file -> Result<(pixels: [UInt8], width: Int, height: Int), CLIError> in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&image, file.baseAddress, file.count) != 0 else {
                defer { png_image_free(&image) }
                return .failure(CLIError("\(path): damaged PNG file (libpng: \(libpngMessage(&image)))"))
            }
            // The header's size is the file's claim: refuse absurd ones before allocating.
            guard Int(image.width) * Int(image.height) <= maximumPixels else {
                defer { png_image_free(&image) }
                return .failure(CLIError("\(path): the image is \(image.width)x\(image.height) pixels, more than nn predict reads"))
            }
            image.format = png_uint_32(PNG_FORMAT_GRAY)
            // Without a gAMA or sRGB chunk libpng takes 16-bit samples as linear light; the tools
            // that write such files (PIL, OpenCV, NumPy exports) mean the same encoding as 8-bit.
            image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
            // Zeros: with no background colour given, libpng composites transparency onto the buffer.
            var pixels = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height))
            let finished = pixels.withUnsafeMutableBytes {
                png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(image.width), nil)
            }
            guard finished != 0 else {
                defer { png_image_free(&image) }
                return .failure(CLIError("\(path): damaged PNG file (libpng: \(libpngMessage(&image)))"))
            }
            return .success((pixels, Int(image.width), Int(image.height)))
        }
        return try decoded.get()
    }

    /// The text libpng left in `image.message` (a fixed 64-byte C string).
    private static func libpngMessage(_ image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "unknown error" : text
    }

    /// A guess at what a file without the PNG signature is, for the error message.
    private static func describeNonPNG(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "the file is empty" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "it is a JPEG image" }
        if bytes.starts(with: Array("GIF8".utf8)) { return "it is a GIF image" }
        if bytes.starts(with: Array("BM".utf8)) { return "it looks like a BMP image" }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "6")).contains(bytes[1]) {
            return "it looks like a PGM/PPM image"
        }
        return "no PNG signature"
    }
}
