import NN

/// One input, decoded as a `.npy` file and as a `.npz` archive. Each must either decode into
/// a consistent array or throw a `DataError` naming the file; a trap, a sanitizer report or
/// another error type is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let array = try NumPyArray.decode(bytes, path: "fuzz.npy")
        precondition(array.floats().count == array.shape.reduce(1, *), "fuzz.npy: floats() count for shape \(array.shape)")
        _ = try? array.int32s()
        // Writing what was read and reading it again gives the same array.
        let again = try NumPyArray.decode(array.serialized(), path: "again.npy")
        precondition(again == array, "fuzz.npy: round trip changed the array")
    } catch let error as DataError {
        precondition(error.description.hasPrefix("fuzz.npy"), "message does not name the file: \(error)")
    } catch {
        preconditionFailure("fuzz.npy: unexpected error type \(type(of: error)): \(error)")
    }
    do {
        for (_, array) in try NumPyArray.decodeArchive(bytes, path: "fuzz.npz") {
            precondition(array.floats().count == array.shape.reduce(1, *), "fuzz.npz: floats() count")
        }
    } catch let error as DataError {
        precondition(error.description.hasPrefix("fuzz.npz"), "message does not name the file: \(error)")
    } catch {
        preconditionFailure("fuzz.npz: unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}
