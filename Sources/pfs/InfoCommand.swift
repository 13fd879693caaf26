import ArgumentParser
import Foundation
import PFSData
import PFSTensor

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the BLAS in use, threads, CPU vector features and build mode.")

    @OptionGroup var engine: EngineOptions

    func run() throws {
        engine.apply()
        let cpu = CPUInfo.current()
        var rows: [(String, String)] = [
            ("pfs", "\(PFSCommand.configuration.version) (\(Engine.isDebugBuild ? "debug" : "release") build)"),
            ("CPU", "\(cpu.model), \(cpu.logicalCores) logical cores"),
            ("vector features", cpu.vectorFeatures.isEmpty ? "unknown" : cpu.vectorFeatures.joined(separator: " ")),
            ("L2 cache", cpu.l2CacheBytes.map { "\($0 >> 10) KB per core" }
                ?? "not reported (\(KernelSettings.assumedL2CacheBytes >> 10) KB assumed; PFS_L2_KB sets it)"),
        ]
        switch Engine.gemm {
        case .system:
            let blas = SystemBLAS.shared!
            rows.append(("SGEMM backend", "system CBLAS: \(blas.library)"))
            if let config = blas.configuration { rows.append(("BLAS build", config)) }
            if let core = blas.coreName {
                rows.append(("BLAS kernels", "\(core) (\(blas.coreTypeChoice))"))
            }
            rows.append(("BLAS threads", "\(blas.libraryThreads) per call (the engine parallelises around BLAS calls)"))
        case .builtin:
            let reason = SystemBLAS.shared == nil ? "no system CBLAS found" : "selected by --blas or PFS_BLAS"
            rows.append(("SGEMM backend", "built-in blocked SGEMM, 6×8 register tile (\(reason))"))
        }
        rows.append(("engine threads", "\(Engine.threads)"))
        rows.append(("kernels", "\(Engine.kernels) (CPU supports \(InstructionSet.detected.rawValue); PFS_ISA narrows)"))
        rows.append(("JPEG decoder", TurboJPEG.shared.map { "TurboJPEG: \($0.library)" }
            ?? "none (JPEG folders are refused; apt-get install libturbojpeg0 or set PFS_TURBOJPEG_LIBRARY)"))
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows {
            print(key + String(repeating: " ", count: width - key.count) + "  " + value)
        }
    }
}
