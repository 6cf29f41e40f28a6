import ArgumentParser
@preconcurrency import Glibc  // `stdout`, a C global, for setvbuf and fflush
import Foundation
import NN
import NNDistributed

/// `nn`: train, evaluate and demonstrate the networks of NN's `Models`.
struct NNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nn",
        abstract: "Train and evaluate small networks on Fashion-MNIST, and run small demos.",
        subcommands: [TrainCommand.self, EvalCommand.self, DemoCommand.self]
    )
}

/// A problem the user can fix (a file, a mismatched checkpoint), reported as one line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The entry point: ArgumentParser's own `main()` prints a usage block after an argument
/// error, and uncaught library errors would end in a stack trace; here every failure (a bad
/// argument, a bad file, a NaN loss) is one `error: ...` line on standard error and exit
/// status 1, so scripts need to test for one code only.
@main
enum Main {
    static func main() {
        // Line-buffered even into a pipe or file, so a log shows each epoch as it ends.
        setvbuf(stdout, nil, _IOLBF, 0)
        // All cores and the tuned waiting between the two thread pools (see `Threads`) for
        // every subcommand; `--threads` then sets the count it names.
        Threads.set(nil)
        do {
            // Under mpirun every rank runs this same command; MPI starts before anything
            // can fail, so any failure can end the whole job.
            if MPICommunicator.isLaunchedByMPI {
                let communicator = try MPICommunicator()
                job = communicator
                // One voice: the other ranks' standard output goes nowhere (errors still show).
                if !communicator.isLeader { _ = freopen("/dev/null", "w", stdout) }
            }
            var command = try NNCommand.parseAsRoot()
            try command.run()
            if let job {
                job.barrier(label: "the barrier at the end of the run")
                job.finalize()
            }
        } catch let error as DistributedError {
            fail(error.description)
        } catch let error as DataError {
            fail(error.description)
        } catch let error as CheckpointError {
            fail(error.description)
        } catch let error as TrainingError {
            fail(error.description)
        } catch let error as CLIError {
            fail(error.description)
        } catch {
            let code = NNCommand.exitCode(for: error)
            // --help, `nn help train`, a bare `nn`: ArgumentParser prints the help on stdout, exit 0.
            if code == .success { NNCommand.exit(withError: error) }
            fail(NNCommand.message(for: error))
        }
    }

    /// The MPI job this process is a rank of (nil when not started by mpirun).
    nonisolated(unsafe) static var job: MPICommunicator?

    /// Prints `error: <message>` as one line on standard error and exits with status 1; in
    /// an MPI job of several ranks, ends every rank with this rank's message.
    static func fail(_ message: String) -> Never {
        fflush(stdout)
        if let job, job.size > 1 { job.abort("rank \(job.rank) of \(job.size): \(oneLine(message))") }
        FileHandle.standardError.write(Data("error: \(oneLine(message))\n".utf8))
        exit(1)
    }

    /// ArgumentParser's messages on one line: "one of the following:" lists become
    /// comma-separated, other line breaks become "; ".
    static func oneLine(_ message: String) -> String {
        var parts: [String] = []
        for line in message.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text.hasPrefix("- "), let last = parts.last {
                parts[parts.count - 1] = last + (last.hasSuffix(":") ? " " : ", ") + text.dropFirst(2)
            } else {
                parts.append(text)
            }
        }
        var result = parts.joined(separator: "; ")
        for prefix in ["Error: ", "error: "] where result.hasPrefix(prefix) { result.removeFirst(prefix.count) }
        return result
    }
}
