import NN

/// One input, decoded under a plain name and under a `.gz` name (which adds the gzip
/// check). Any input must either decode into a consistent array or throw a `DataError`
/// naming the file; a trap, a sanitizer report or another error type is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for path in ["fuzz-idx3-ubyte", "fuzz-idx3-ubyte.gz"] {
        do {
            let array = try IDXArray.decode(fileBytes: bytes, path: path)
            let elements = array.shape.reduce(1, *)
            precondition(array.payload.count == elements * array.elementType.size,
                         "\(path): decoded payload of \(array.payload.count) bytes for shape \(array.shape)")
            precondition(array.floatValues().count == elements, "\(path): floatValues count")
            // Re-encoding what was decoded gives back the uncompressed input.
            let again = try IDXArray.decode(fileBytes: array.serialized(), path: "again")
            precondition(again.shape == array.shape && again.payload == array.payload, "\(path): round trip")
        } catch let error as DataError {
            precondition(error.description.hasPrefix(path + ":"), "message does not name the file: \(error)")
        } catch {
            preconditionFailure("\(path): unexpected error type \(type(of: error)): \(error)")
        }
    }
    return 0
}
