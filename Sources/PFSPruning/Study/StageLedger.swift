import Foundation
import PFSTraining

/// What a study stage was made from: the plan's fields (and the data) it depends on, as text.
/// Written as `stage.json` into the stage's directory before the stage does any work, so a
/// rerun can tell a stage it may skip or resume from one a changed plan would contradict.
struct StageRecord: Codable, Equatable {
    static let format = "pfs.study-stage/1"
    static let fileName = "stage.json"
    var format = StageRecord.format
    var stage: String
    var inputs: [String: String]
}

/// The inputs of stages, built by adding fields; each stage adds its own to those of the stages
/// it depends on, so a change upstream is seen by every stage downstream.
struct StageInputs {
    private(set) var values: [String: String] = [:]

    subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// These inputs plus `other`'s (other wins on equal keys).
    func merging(_ other: StageInputs) -> StageInputs {
        var result = self
        result.values.merge(other.values) { _, new in new }
        return result
    }

    /// Adds a recipe's fields under `prefix` (e.g. `training.epochs`).
    mutating func add(_ recipe: StudyPlan.Recipe, prefix: String) {
        self["\(prefix).epochs"] = "\(recipe.epochs)"
        self["\(prefix).batchSize"] = "\(recipe.batchSize)"
        self["\(prefix).learningRate"] = "\(recipe.learningRate)"
        self["\(prefix).momentum"] = "\(recipe.momentum)"
        self["\(prefix).weightDecay"] = "\(recipe.weightDecay)"
        self["\(prefix).schedule"] = recipe.schedule.rawValue
    }
}

/// Checks and records the ``StageRecord`` of every stage directory of a study.
enum StageLedger {
    /// Throws ``PruningError/planConflict(run:field:recorded:planned:)`` when `directory` holds a
    /// stage made from other inputs, or files of no recorded stage.
    static func check(_ directory: String, stage: String, inputs: StageInputs) throws(PruningError) {
        let file = (directory as NSString).appendingPathComponent(StageRecord.fileName)
        guard FileManager.default.fileExists(atPath: file) else {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            if let stray = contents.sorted().first(where: { !$0.hasPrefix(".") }) {
                throw .planConflict(run: directory, field: "stage.json", recorded: "none (the directory holds \(stray))",
                                    planned: "a \(stage) stage of this study")
            }
            return
        }
        let data = try attempt { try AtomicFile.read(file) }
        guard let record = try? JSONDecoder().decode(StageRecord.self, from: data), record.format == StageRecord.format else {
            throw .mismatch(file: file, field: "document", expected: "a study stage record (\(StageRecord.format))",
                            got: "something else")
        }
        guard record.stage == stage else {
            throw .planConflict(run: directory, field: "stage", recorded: record.stage, planned: stage)
        }
        for key in Set(record.inputs.keys).union(inputs.values.keys).sorted() where record.inputs[key] != inputs[key] {
            throw .planConflict(run: directory, field: key, recorded: record.inputs[key] ?? "(absent)",
                                planned: inputs[key] ?? "(absent)")
        }
    }

    /// Records the stage (atomically) if it is not recorded yet.
    static func claim(_ directory: String, stage: String, inputs: StageInputs) throws(PruningError) {
        let file = (directory as NSString).appendingPathComponent(StageRecord.fileName)
        guard !FileManager.default.fileExists(atPath: file) else { return }
        try attempt { try AtomicFile.write(prettyJSON(StageRecord(stage: stage, inputs: inputs.values)), to: file) }
    }
}
