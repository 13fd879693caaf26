import ArgumentParser
import Foundation
import PFSReport
import PFSTraining

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page with SVG charts of a run directory (training, search, pipeline, study).",
        discussion: """
            The page needs no script, fetches nothing and opens from disk; it follows the light or dark colour \
            scheme and prints. Every number comes from the run's own files, which the page lists with their \
            modification times. What a finished run would have but this one lacks is named on the page.
            """)

    @Argument(help: "Run directory written by pfs.") var directory: String
    @Option(help: "Output file (default: DIRECTORY/report.html).") var out: String?

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(directory): expected a run directory written by pfs, but there is no such directory")
        }
        try OutputPath.file("an HTML file", name: "report.html").check(out)
    }

    func run() throws {
        let file = try writeReport(of: directory, to: out)
        print("saved  \(file)" + (RunReport.kind(of: directory).map { " (\($0.rawValue) report)" } ?? " (no pfs run found there)"))
    }
}

/// Writes the report of `directory` (atomically) and returns its path.
@discardableResult
func writeReport(of directory: String, to out: String? = nil) throws -> String {
    let file = out ?? (directory as NSString).appendingPathComponent("report.html")
    try AtomicFile.write(Data(RunReport.page(for: directory).html().utf8), to: file)
    return file
}
