// CheckpointWriter: the victim process of CrashSafetyTests.
//
//     CheckpointWriter <path> <megabytes> <first-generation> [--pause-before-rename]
//
// Saves a model of about <megabytes> MB to <path> with `Checkpoint.save`, again and again,
// generation after generation: in generation g every parameter element is g and the
// metadata says "generation": "g", so a reader can tell a complete file of one generation
// from a torn or mixed one. Prints "ready" once the model is built, then "saved <g>
// <seconds>" after each save. With --pause-before-rename it prints "paused <g>" when the
// first save's temporary file is complete and waits there to be killed, so the test can
// crash it at the one moment that matters most.
import Foundation
import NN

/// One line on standard output, unbuffered: the test must see it before the kill, not at exit.
func say(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let megabytes = Int(arguments[2]), megabytes > 0, let first = Int(arguments[3]) else {
    FileHandle.standardError.write("usage: CheckpointWriter <path> <megabytes> <first-generation> [--pause-before-rename]\n"
        .data(using: .utf8)!)
    exit(2)
}
let url = URL(fileURLWithPath: arguments[1])
let pause = arguments.dropFirst(4).contains("--pause-before-rename")

// 1024 x (megabytes * 256) floats are `megabytes` MiB; CrashSafetyTests builds the same shape to load it.
let model = Sequential { Dense(inputSize: 1024, outputSize: megabytes * 256) }
say("ready")
var generation = first
while true {
    for parameter in model.parameters { parameter.value = Tensor(repeating: Float(generation), shape: parameter.shape) }
    let start = Date()
    try Checkpoint.save(to: url, model: model, metadata: ["generation": String(generation)]) { _ in
        if pause {
            say("paused \(generation)")
            while true { sleep(60) }
        }
    }
    say("saved \(generation) \(Date().timeIntervalSince(start))")
    generation += 1
}
