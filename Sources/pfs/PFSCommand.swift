import ArgumentParser
import Foundation
import PFSTensor

@main
struct PFSCommand: ParsableCommand {
    /// Line-buffered output (messages keep their order in a log file), then the command; an
    /// interrupted run ends with status 130 and the command that continues it.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let interrupted as InterruptedRun {
            FileHandle.standardError.write(Data((interrupted.description + "\n").utf8))
            Foundation.exit(130)
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "pfs",
        abstract: "Pruning from Scratch: find, build and train pruned CNNs from random initialisation.",
        version: "0.1.0",
        subcommands: [PipelineCommand.self, StudyCommand.self, SearchCommand.self, ScoreCommand.self, PruneCommand.self,
                      ScaleCommand.self, ReportCommand.self, ExportCommand.self, ImportCommand.self,
                      TrainCommand.self, EvalCommand.self, FlopsCommand.self, InfoCommand.self, BenchCommand.self])
}

extension GEMMBackend: ExpressibleByArgument {}

/// Options every compute command shares: threads and SGEMM backend.
struct EngineOptions: ParsableArguments {
    @Option(help: "Worker threads for kernels (default: all cores, or PFS_THREADS).")
    var threads: Int?

    @Option(help: ArgumentHelp(
        "SGEMM backend: system or builtin.",
        discussion: "Default: the system CBLAS when one can be loaded; PFS_BLAS=builtin forces the built-in kernel."))
    var blas: GEMMBackend?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if blas == .system && !GEMMBackend.system.isAvailable {
            throw ValidationError("--blas system: no system CBLAS could be loaded (tried PFS_BLAS_LIBRARY, then "
                + SystemBLAS.candidateLibraries.joined(separator: ", ") + "); install libopenblas0 or use --blas builtin")
        }
    }

    /// Applies the options to the process-wide engine settings.
    func apply() {
        if let threads { Engine.threads = threads }
        if let blas { Engine.gemm = blas }
        for problem in Engine.kernelEnvironment.problems {
            FileHandle.standardError.write(Data("warning: \(problem)\n".utf8))
        }
    }
}

/// A run stopped by Ctrl-C or SIGTERM after saving its progress.
struct InterruptedRun: Error, CustomStringConvertible {
    /// The command that continues it.
    var resume: String
    var description: String { "interrupted: progress saved; continue with:\n  \(resume)" }
}

/// The command line that continues an interrupted run: the same arguments, plus a flag when the
/// command needs one to resume.
enum ResumeHint {
    static func command(adding flag: String?) -> String {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let flag, !arguments.contains(flag) { arguments.append(flag) }
        return (["pfs"] + arguments.map(quote)).joined(separator: " ")
    }

    /// Shell quoting where needed.
    static func quote(_ argument: String) -> String {
        let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return safe && !argument.isEmpty ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
