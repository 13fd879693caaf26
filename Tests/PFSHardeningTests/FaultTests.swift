import Foundation
import PFSData
import PFSModels
import PFSPruning
import PFSTestSupport
import PFSTraining
import Testing

/// The `pfs` executable built beside the tests, run as a user would: killed mid-write, starved of
/// disk, denied writes, raced by a second run. CI sets PFS_EXPECT_CLI=1, which turns a missing
/// executable into a failure instead of a skip.
struct CLI {
    let executable: String

    static func find() -> CLI? {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["PFS_EXECUTABLE"] { candidates.append(URL(fileURLWithPath: explicit)) }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("pfs"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("pfs"))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/pfs"))
        for url in candidates where FileManager.default.isExecutableFile(atPath: url.path) { return CLI(executable: url.path) }
        return nil
    }

    /// Finds the executable, or records a failure in CI / prints why the test is skipped.
    static func require(_ test: String) -> CLI? {
        if let cli = find() { return cli }
        if ProcessInfo.processInfo.environment["PFS_EXPECT_CLI"] == "1" {
            Issue.record("PFS_EXPECT_CLI=1 but no pfs executable was found beside the tests (build it: swift build)")
        } else {
            print("skipped \(test): no pfs executable beside the tests (swift build builds it)")
        }
        return nil
    }

    struct Outcome {
        var status: Int32
        var output: String
    }

    /// Starts `pfs arguments` with stdout and stderr into `log`.
    func start(_ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PFS_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Runs `pfs arguments` to the end (at most `timeout` seconds).
    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> Outcome {
        let log = NSTemporaryDirectory() + "pfs-cli-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = try start(arguments, log: log, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        return Outcome(status: process.terminationStatus, output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}

@Suite(.serialized) struct FaultTests {
    static func folder(_ name: String) throws -> String {
        let root = RunFixtures.temporaryDirectory(name)
        try RunFixtures.writeImageFolder(at: root + "/data", count: 40, split: true)
        return root
    }

    /// A long run on the tiny image folder: ResNet-20 × 0.25, batches of 8 (a checkpoint every 4 steps).
    static func trainArguments(_ root: String, epochs: Int = 400, out: String? = nil) -> [String] {
        ["train", "--data", root + "/data", "--arch", "resnet20", "--width-multiplier", "0.25", "--batch-size", "8",
         "--epochs", "\(epochs)", "--out", out ?? root + "/run"]
    }

    /// kill -9 at random moments, many during a checkpoint write: the checkpoint is always whole
    /// (old or new), the next run removes the temporary files, and --resume continues.
    @Test func killDuringCheckpointWritesNeverLeavesATornCheckpoint() throws {
        guard let cli = CLI.require("killDuringCheckpointWrites") else { return }
        let root = try Self.folder("kill")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var rng = SystemRandomNumberGenerator()
        var sawTemporary = false
        for round in 0..<6 {
            let process = try cli.start(Self.trainArguments(root) + (round == 0 ? [] : ["--resume"]), log: root + "/log\(round)")
            // Wait until the run is under way, then kill it at a random moment.
            let start = Date()
            while process.isRunning && !FileManager.default.fileExists(atPath: root + "/run/checkpoint.safetensors")
                    && Date().timeIntervalSince(start) < 120 {
                Thread.sleep(forTimeInterval: 0.01)
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...1.5, using: &rng))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/run")) ?? []
            sawTemporary = sawTemporary || names.contains { $0.contains(".tmp-") }
            if names.contains("checkpoint.safetensors") {
                let contents = try Checkpoint.read(root + "/run/checkpoint.safetensors")   // whole, not torn
                #expect(contents.state != nil)
            }
        }
        // The next run cleans up when it takes the directory; stopped cleanly with Ctrl-C it leaves
        // a whole checkpoint and no temporary file.
        let last = try cli.start(Self.trainArguments(root) + ["--resume"], log: root + "/last.log")
        Thread.sleep(forTimeInterval: 3)
        kill(last.processIdentifier, SIGINT)
        last.waitUntilExit()
        #expect(last.terminationStatus == 130, "\((try? String(contentsOfFile: root + "/last.log", encoding: .utf8)) ?? "")")
        #expect(try Checkpoint.read(root + "/run/checkpoint.safetensors").state != nil)
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/run")
        #expect(!names.contains { $0.contains(".tmp-") }, "left: \(names)")
        print("kill -9 during training: 6 kills, temporary files seen after a kill: \(sawTemporary), checkpoint always readable")
    }

    /// A study killed mid-run and rerun ends with the results of an uninterrupted one.
    @Test func aStudyKilledAndRerunEqualsAnUninterruptedOne() throws {
        guard let cli = CLI.require("aStudyKilledAndRerun") else { return }
        let root = try Self.folder("study-kill")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var plan = RunFixtures.studyPlan()
        plan.data = root + "/data"
        plan.sources = [.randomInitGates(seeds: [1]), .checkpointGates(epochs: [.final]), .uniform]
        plan.trainingSeeds = [1]
        plan.training.epochs = 3
        try plan.jsonData().write(to: URL(fileURLWithPath: root + "/plan.json"))
        let reference = try cli.run(["study", "--plan", root + "/plan.json", "--out", root + "/reference", "--threads", "1"])
        #expect(reference.status == 0, "\(reference.output)")
        let process = try cli.start(["study", "--plan", root + "/plan.json", "--out", root + "/killed", "--threads", "1"],
                                    log: root + "/killed.log")
        let start = Date()
        while process.isRunning && !FileManager.default.fileExists(atPath: root + "/killed/scores") && Date().timeIntervalSince(start) < 300 {
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let rerun = try cli.run(["study", "--plan", root + "/plan.json", "--out", root + "/killed", "--threads", "1"])
        #expect(rerun.status == 0, "\(rerun.output)")
        #expect(rerun.output.contains("(done, skipped)"), "nothing was skipped: \(rerun.output)")
        let a = try JSONDecoder().decode(StudyReport.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/reference/results.json")))
        let b = try JSONDecoder().decode(StudyReport.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/killed/results.json")))
        #expect(a.rows.map(\.testAccuracy) == b.rows.map(\.testAccuracy))
        #expect(a.rows.map(\.macs) == b.rows.map(\.macs))
    }

    /// Two runs into one directory: the second is refused naming the first, which finishes.
    @Test func twoConcurrentRunsIntoOneDirectory() throws {
        guard let cli = CLI.require("twoConcurrentRuns") else { return }
        let root = try Self.folder("race")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try cli.start(Self.trainArguments(root, epochs: 40), log: root + "/first.log")
        let start = Date()
        while first.isRunning && !FileManager.default.fileExists(atPath: root + "/run/" + RunDirectoryLock.fileName)
                && Date().timeIntervalSince(start) < 120 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let second = try cli.run(Self.trainArguments(root, epochs: 40) + ["--resume"])
        #expect(second.status != 0)
        #expect(second.output.contains("is in use by another pfs run (pid \(first.processIdentifier)"), "\(second.output)")
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
    }

    /// No space left: a clear error naming the file, no torn checkpoint. Needs root to mount a
    /// small tmpfs; skipped with a message otherwise.
    @Test func diskFullGivesAClearErrorAndNoTornFiles() throws {
        guard let cli = CLI.require("diskFull") else { return }
        let root = try Self.folder("full")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mount = root + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard Shell.run("mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", mount) == 0 else {
            print("skipped diskFull: cannot mount a tmpfs here (needs root)")
            return
        }
        defer { _ = Shell.run("umount", mount) }
        let outcome = try cli.run(Self.trainArguments(root, epochs: 2, out: mount + "/run"))
        #expect(outcome.status != 0)
        #expect(outcome.output.contains("No space left on device"), "\(outcome.output)")
        #expect(outcome.output.contains(mount + "/run"), "\(outcome.output)")
        if FileManager.default.fileExists(atPath: mount + "/run/checkpoint.safetensors") {
            #expect(throws: Never.self) { _ = try Checkpoint.read(mount + "/run/checkpoint.safetensors") }
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mount + "/run")) ?? []
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
    }

    /// A read-only output directory: the error names the path and the reason. As root a read-only
    /// tmpfs stands in (permissions do not stop root); otherwise a directory without write permission.
    @Test func aReadOnlyOutputDirectoryGivesAClearError() throws {
        guard let cli = CLI.require("readOnly") else { return }
        let root = try Self.folder("readonly")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let target = root + "/locked"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        var mounted = false
        if getuid() == 0 {
            guard Shell.run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", target) == 0 else {
                print("skipped readOnly: running as root and cannot mount a read-only tmpfs")
                return
            }
            mounted = true
        } else {
            chmod(target, 0o555)
        }
        defer {
            if mounted { _ = Shell.run("umount", target) } else { chmod(target, 0o755) }
        }
        let outcome = try cli.run(Self.trainArguments(root, epochs: 1, out: target + "/run"))
        #expect(outcome.status != 0)
        #expect(outcome.output.contains(target + "/run"), "\(outcome.output)")
        #expect(outcome.output.contains("Read-only file system") || outcome.output.contains("Permission denied"), "\(outcome.output)")
        #expect(!outcome.output.contains("error 512") && !outcome.output.contains("Fatal error"))
    }

    /// An output path of the wrong kind is refused before any work, naming the flag, the path and
    /// what was expected (a search given a directory for its gates file once learned for a whole
    /// epoch before failing to save).
    @Test func anOutputPathOfTheWrongKindIsRefusedBeforeAnyWork() throws {
        guard let cli = CLI.require("anOutputPathOfTheWrongKind") else { return }
        let root = try Self.folder("outpaths")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/taken", file = root + "/file.txt"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let cases: [(arguments: [String], message: String)] = [
            (["search", "--data", root + "/data", "--arch", "resnet20", "--out", directory],
             "--out \(directory): is a directory; expected a gates file (JSON), e.g. \(directory)/gates.json"),
            (Self.trainArguments(root, epochs: 1, out: file), "--out \(file): is a file; expected a run directory"),
            (["prune", "gates.json", "--keep-macs", "0.5", "--out", file + "/pruned.json"],
             "--out \(file)/pruned.json: \(file) is a file, so nothing can be created under it"),
            (["export", root + "/model.json", "--format", "onnx", "--out", directory],
             "--out \(directory): is a directory; expected an ONNX file"),
            (["report", root, "--out", directory], "--out \(directory): is a directory; expected an HTML file"),
            (["study", "--plan", root + "/plan.json", "--out", file], "--out \(file): is a file; expected a study directory"),
        ]
        for (arguments, message) in cases {
            let outcome = try cli.run(arguments, timeout: 60)
            #expect(outcome.status != 0 && outcome.output.contains(message), "pfs \(arguments.joined(separator: " ")): \(outcome.output)")
            #expect(!outcome.output.contains("epoch") && !outcome.output.contains("search resnet"),
                    "work started before the refusal: \(outcome.output)")
        }
    }

    /// What a user sees: line-buffered output in a log, real messages for bad flags, help texts
    /// without options the command refuses, and the command that continues an interrupted run.
    @Test func theCommandLineSpeaksClearly() throws {
        guard let cli = CLI.require("theCommandLineSpeaksClearly") else { return }
        let root = try Self.folder("words")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let seed = try cli.run(["train", "--seed", "-1"])
        #expect(seed.status != 0 && seed.output.contains("expected a whole number"), "\(seed.output)")
        let epochs = try cli.run(Self.trainArguments(root, epochs: 0))
        #expect(epochs.output.contains("--epochs: expected 1 … 100000, got 0"), "\(epochs.output)")
        let gateRatio = try cli.run(["search", "--target-ratio", "2"])
        #expect(gateRatio.output.contains("--target-ratio: expected"), "\(gateRatio.output)")
        let help = try cli.run(["pipeline", "--help"])
        #expect(!help.output.contains("--config"))
        let scale = try cli.run(["scale", "--help"])
        #expect(!scale.output.contains("--min-channels"))
        // Latency budgets: one budget at a time, positive, and a table only with a latency budget.
        let both = try cli.run(["prune", "gates.json", "--keep-macs", "0.5", "--max-latency-ms", "3"])
        #expect(both.status != 0 && both.output.contains("--max-latency-ms, not both"), "\(both.output)")
        let negative = try cli.run(["prune", "gates.json", "--max-latency-ms", "0"])
        #expect(negative.output.contains("--max-latency-ms must be a positive number of milliseconds"), "\(negative.output)")
        let table = try cli.run(["prune", "gates.json", "--latency-table", "t.json"])
        #expect(table.output.contains("--latency-table applies with --max-latency-ms"), "\(table.output)")
        let noNetwork = try cli.run(["bench", "--op", "latency"])
        #expect(noNetwork.output.contains("--op latency needs the network"), "\(noNetwork.output)")
        let closed = try cli.run(["bench", "--model", "resnet20", "--mode", "gate", "--closed-gates", "1"])
        #expect(closed.status != 0 && closed.output.contains("--closed-gates must be a fraction, 0 ≤ f < 1, got 1.0"),
                "\(closed.output)")
        let closedTrain = try cli.run(["bench", "--model", "resnet20", "--mode", "train", "--closed-gates", "0.4"])
        #expect(closedTrain.status != 0 && closedTrain.output.contains("--closed-gates applies to --mode gate"),
                "\(closedTrain.output)")
        // A plan's relative data path is resolved against the plan's folder, absolute and without "..".
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        try Data(#"{"format": "pfs.study-plan/1", "architecture": "resnet20", "data": "../cifar", "training": {"epochs": 1}, "sources": [{"kind": "uniform"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: root + "/plans/plan.json"))
        let printed = try cli.run(["study", "--plan", root + "/plans/plan.json", "--print-plan", root + "/printed.json"])
        let resolved = try String(contentsOfFile: root + "/printed.json", encoding: .utf8)
        #expect(printed.status == 0 && resolved.contains("\"" + root + "/cifar\""), "\(printed.output) \(resolved)")
        let fixed = try cli.run(["prune", "gates.json", "--fixed-widths", "wide"])
        #expect(fixed.status != 0 && fixed.output.contains("standard") && fixed.output.contains("expanded"), "\(fixed.output)")

        // Presets: a flag overrides the preset's field and errors name the flag; the imagenet
        // recipe's learning rate follows the batch size.
        let warmup = try cli.run(Self.trainArguments(root, epochs: 3) + ["--recipe", "imagenet"])
        #expect(warmup.status != 0 && warmup.output.contains("--warmup-epochs: expected 0 … 2"), "\(warmup.output)")
        let group = try cli.run(Self.trainArguments(root, epochs: 3) + ["--no-weight-decay-on", "bias,gamma"])
        #expect(group.status != 0 && group.output.contains("batchnorm, bias, depthwise or none, got gamma"), "\(group.output)")
        let imagenet = try cli.run(Self.trainArguments(root, epochs: 2, out: root + "/imagenet")
                                   + ["--recipe", "imagenet", "--warmup-epochs", "1", "--no-nesterov"])
        #expect(imagenet.status == 0 && imagenet.output.contains("SGD lr 0.0015625 cosine, momentum 0.9, weight decay 4e-05 "
                + "(not on batchnorm, bias, depthwise), 1 warm-up epochs, label smoothing 0.1"), "\(imagenet.output)")
        let pipelineWarmup = try cli.run(["pipeline", "--recipe", "imagenet", "--epochs", "4", "--warmup-epochs", "4"])
        #expect(pipelineWarmup.status != 0 && pipelineWarmup.output.contains("--warmup-epochs: expected 0 … 3"),
                "\(pipelineWarmup.output)")
        let interval = try cli.run(["search", "--gate-preset", "imagenet", "--validate-every", "0"])
        #expect(interval.status != 0 && interval.output.contains("--validate-every: expected at least 1 step"), "\(interval.output)")

        // Output reaches a log file line by line while the run goes on.
        let log = root + "/progress.log"
        let process = try cli.start(Self.trainArguments(root, epochs: 400), log: log)
        var text = ""
        let start = Date()
        while process.isRunning && !text.contains("recipe") && Date().timeIntervalSince(start) < 60 {
            Thread.sleep(forTimeInterval: 0.1)
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        #expect(text.contains("train ") && text.contains("recipe"), "the log stayed empty while the run went on: \(text)")
        // Ctrl-C: the run saves, names the command that continues it, and exits with 130.
        while process.isRunning && !FileManager.default.fileExists(atPath: root + "/run/checkpoint.safetensors")
                && Date().timeIntervalSince(start) < 120 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("continue with:") && text.contains("--resume"), "\(text)")
    }
}

/// Runs a system command (mount, umount) and returns its exit status.
enum Shell {
    static func run(_ arguments: String...) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
