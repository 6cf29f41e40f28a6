import CZlib
import Foundation

/// Encoders for 8-bit grayscale pictures: PNG (deflate and CRC-32 from the system zlib)
/// and binary PGM.
enum GrayImage {
    /// A PNG file: signature, IHDR (8-bit grayscale, not interlaced), one IDAT with the
    /// zlib stream of the rows (each preceded by filter type 0), IEND.
    static func png(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count == width * height,
                     "GrayImage.png: \(pixels.count) pixels for \(width)x\(height)")
        var rows = [UInt8]()
        rows.reserveCapacity((width + 1) * height)
        for row in 0..<height {
            rows.append(0)
            rows += pixels[(row * width)..<((row + 1) * width)]
        }
        var compressedSize = compressBound(uLong(rows.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, rows, uLong(rows.count), Z_BEST_COMPRESSION)
        guard status == Z_OK else { throw CLIError("PNG: zlib compress2 failed with status \(status)") }
        compressed.removeLast(compressed.count - Int(compressedSize))

        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // bit depth 8, grayscale, deflate, adaptive filtering, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    /// A binary PGM (P5) file.
    static func pgm(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(pixels.count == width * height, "GrayImage.pgm: \(pixels.count) pixels for \(width)x\(height)")
        return Array("P5\n\(width) \(height)\n255\n".utf8) + pixels
    }

    /// Length, type, data, and the CRC-32 of type and data.
    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return bigEndian(UInt32(data.count)) + typed + bigEndian(UInt32(crc))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value)]
    }
}
