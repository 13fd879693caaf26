import ArgumentParser
import PFSTensor

@main
struct PFSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pfs",
        abstract: "Pruning from Scratch: find, build and train pruned CNNs from random initialisation.",
        version: "0.1.0",
        subcommands: [PipelineCommand.self, StudyCommand.self, SearchCommand.self, ScoreCommand.self, PruneCommand.self,
                      ScaleCommand.self, ReportCommand.self,
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
    }
}
