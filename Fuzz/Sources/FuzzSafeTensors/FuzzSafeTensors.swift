import Foundation
import NN

/// Where an input that parses is written so `Checkpoint.resume` can read it (shared memory
/// when there is some: the disk would slow the fuzzer down a hundredfold).
let scratchPath: String = {
    let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(directory)/swift-nn-fuzz-\(getpid()).safetensors"
}()

/// One input parsed as a checkpoint. It must either parse into a file that writes back
/// and re-parses to the same tensors and metadata, or throw a `CheckpointError` naming the
/// file. An input that parses is then resumed into a Dense(3 -> 2) + Adam trainer with a
/// schedule (the shapes of the `training` seed), which must succeed or throw a
/// `CheckpointError` naming the file. A trap, a sanitizer report or another error type is a
/// finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let path = "fuzz.safetensors"
    let file: SafeTensorsFile
    do {
        file = try SafeTensorsFile.parse(bytes, path: path)
    } catch let error as CheckpointError {
        precondition(error.description.hasPrefix(path + ":"), "message does not name the file: \(error)")
        return 0
    } catch {
        preconditionFailure("unexpected error type \(type(of: error)): \(error)")
    }
    for (name, tensor) in file.tensors {
        precondition(tensor.bytes.count == tensor.elementCount * tensor.dtype.size, "\(name): byte count")
        if tensor.dtype == .f32 { precondition(tensor.values(as: Float.self)?.count == tensor.elementCount) }
        if tensor.dtype == .u64 { precondition(tensor.values(as: UInt64.self)?.count == tensor.elementCount) }
    }
    do {
        let again = try SafeTensorsFile.parse(file.serialized(), path: "again")
        precondition(again.tensors == file.tensors, "tensors differ after a write and a read")
        precondition(again.metadata == file.metadata, "metadata differs after a write and a read")
    } catch {
        preconditionFailure("what was read does not read back after writing: \(error)")
    }
    _ = Checkpoint.standardization(in: file)

    do {
        try Data(bytes).write(to: URL(fileURLWithPath: scratchPath))
        let model = Sequential { Dense(inputSize: 3, outputSize: 2) }
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters))
        trainer.schedule = size % 2 == 0
            ? ReduceOnPlateau(baseLearningRate: 1e-3, patience: 2)
            : CosineAnnealing(baseLearningRate: 1e-3, period: 10)
        try Checkpoint.resume(from: URL(fileURLWithPath: scratchPath), trainer: trainer)
    } catch let error as CheckpointError {
        precondition(error.description.hasPrefix(scratchPath + ":"), "message does not name the file: \(error)")
    } catch {
        preconditionFailure("resume: unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}
