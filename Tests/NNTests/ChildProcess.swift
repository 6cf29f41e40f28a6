import Foundation

/// What a test run in a child process did: the binary, its exit status, and its standard
/// output and error together.
struct ChildRun {
    let executable: String
    let status: Int32
    let output: String
}

/// Runs this test binary again in a child process, running only `test`
/// ("NNTests.Class/testMethod"), with this process's environment changed by `changes` (nil
/// removes a variable). For checks that need a fresh process, or that end it (a trap).
func runTestInChildProcess(_ test: String, environment changes: [String: String?]) throws -> ChildRun {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = [test]
    var environment = ProcessInfo.processInfo.environment
    for (name, value) in changes { environment[name] = value }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    // Read to the end before waiting: a child that fills the pipe would otherwise block.
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return ChildRun(executable: executable, status: process.terminationStatus, output: output)
}
