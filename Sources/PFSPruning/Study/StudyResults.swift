import Foundation
import PFSModels
import PFSTraining

/// One structure trained once: a row of `results.csv`.
public struct StudyResultRow: Codable, Equatable, Sendable {
    /// Fraction of the standard network's MACs kept.
    public var budget: Double
    public var structure: String
    public var criterion: ImportanceCriterion
    /// The similarity summary's group of the structure.
    public var group: StructureGroup
    /// The source's seed, and the pretraining epoch it started from.
    public var sourceSeed: UInt64?
    public var pretrainingEpoch: Int?
    /// MACs per image and parameters of the pruned network.
    public var macs: Int
    public var params: Int
    /// Cost of finding the structure: pretraining (or Network Slimming's training) and scoring
    /// (gate learning), in seconds of wall time and training images processed.
    public var pretrainingSeconds: Double
    public var pretrainingImages: Int
    public var scoringSeconds: Double
    public var scoringImages: Int
    public var scheme: TrainingScheme
    public var trainingSeed: UInt64
    public var trainingEpochs: Int
    public var trainingSeconds: Double
    /// After the last epoch (nil without a test part); on the validation split when the plan's
    /// `evaluation` is `validation`.
    public var testAccuracy: Double?
    public var testLoss: Double?

    public var costSeconds: Double { pretrainingSeconds + scoringSeconds }
    public var costImages: Int { pretrainingImages + scoringImages }
}

/// Mean ± sample standard deviation of one structure's test accuracy over its training seeds,
/// under one scheme: a row of the Table-1 summary.
public struct StudySummaryRow: Codable, Equatable, Sendable {
    public var budget: Double
    public var scheme: TrainingScheme
    public var structure: String
    public var criterion: ImportanceCriterion
    public var macs: Int
    public var params: Int
    /// Runs with a test accuracy, their mean and sample standard deviation (nil for one run).
    public var runs: Int
    public var meanAccuracy: Double?
    public var stdAccuracy: Double?
    public var costSeconds: Double
}

/// The mean Pearson correlation between the structures of two groups (or within one group, over
/// distinct pairs), over the pairs where it is defined.
public struct GroupCorrelation: Codable, Equatable, Sendable {
    public var first: StructureGroup
    public var second: StructureGroup
    /// Mean over the ``pairs`` defined correlations; nil when there are none.
    public var mean: Double?
    /// Pairs whose correlation is defined and entered ``mean`` (a pair with a uniform or constant
    /// structure has none and is not counted).
    public var pairs: Int
}

/// The structure-similarity study of one budget (SPEC §7): Pearson correlations of the per-layer
/// kept-ratio vectors.
public struct StudySimilarity: Codable, Equatable, Sendable {
    public var budget: Double
    public var structures: [String]
    public var groups: [StructureGroup]
    /// `matrix[i][j]`: correlation of structures i and j; nil when either kept-ratio vector is
    /// constant or the structure is uniform up to rounding (``PrunedArchitecture/isUniformUpToRounding``).
    public var matrix: [[Double?]]
    public var groupMeans: [GroupCorrelation]
}

/// What finding a structure cost, compared with the random-init search (the paper's claim that
/// pruning from scratch is much cheaper than pretraining first).
public struct StudyCost: Codable, Equatable, Sendable {
    public var structure: String
    public var criterion: ImportanceCriterion
    public var pretrainingSeconds: Double
    public var pretrainingImages: Int
    public var scoringSeconds: Double
    public var scoringImages: Int
    public var totalSeconds: Double { pretrainingSeconds + scoringSeconds }
    /// Total seconds over the mean seconds of the random-init searches at the standard widths (no
    /// width expansion; nil without any).
    public var relativeToRandomInit: Double?
}

/// Everything a study found: `results.json`.
public struct StudyReport: Codable, Sendable {
    public static let format = "pfs.study-results/1"
    public var format = StudyReport.format
    public var plan: StudyPlan
    /// False while runs of the plan are still missing (the file is rewritten after every run).
    public var complete: Bool
    public var rows: [StudyResultRow]
    public var summary: [StudySummaryRow]
    public var similarity: [StudySimilarity]
    public var costs: [StudyCost]
    /// Kept / standard channels per prunable layer of every structure, per budget.
    public var keptRatios: [String: [String: [Double]]]
    public var layers: [String]
    /// Wall time of this invocation of the study.
    public var totalSeconds: Double
}

/// Pearson correlation of two equally long vectors; nil when either is constant.
public func pearsonCorrelation(_ x: [Double], _ y: [Double]) -> Double? {
    precondition(x.count == y.count, "vectors of different lengths")
    guard x.count >= 2 else { return nil }
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for i in x.indices {
        let dx = x[i] - mx, dy = y[i] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    }
    guard sxx > 0, syy > 0 else { return nil }
    return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
}

/// Gathers the finished runs of a study and writes its result files.
struct StudyResultsCollector {
    let plan: StudyPlan
    let directory: String
    let standard: ChannelConfiguration
    let pruned: [Double: [String: PrunedArchitecture]]
    let scores: [String: ChannelScores]
    let pretraining: TrainingResult?
    let slimming: TrainingResult?
    private(set) var rows: [StudyResultRow] = []

    init(plan: StudyPlan, directory: String, standard: ChannelConfiguration, pruned: [Double: [String: PrunedArchitecture]],
         scores: [String: ChannelScores], pretraining: TrainingResult?, slimming: TrainingResult?) {
        self.plan = plan
        self.directory = directory
        self.standard = standard
        self.pruned = pruned
        self.scores = scores
        self.pretraining = pretraining
        self.slimming = slimming
    }

    /// Seconds and training images of the first `epochs` epochs of a run.
    static func cost(of run: TrainingResult?, epochs: Int) -> (seconds: Double, images: Int) {
        guard let run else { return (0, 0) }
        let used = run.history.prefix(epochs)
        return (used.reduce(0) { $0 + $1.seconds }, used.count * (run.trainingImages ?? 0))
    }

    func cost(_ s: StudyStructure) -> StudyCost {
        var pre: (seconds: Double, images: Int) = (0, 0)
        switch s.kind {
        case let .checkpointGates(epoch), let .l1Norm(epoch): pre = Self.cost(of: pretraining, epochs: epoch)
        case .networkSlimming: pre = Self.cost(of: slimming, epochs: .max)
        default: break
        }
        let scored = scores[s.id]
        return StudyCost(structure: s.id, criterion: s.criterion, pretrainingSeconds: pre.seconds, pretrainingImages: pre.images,
                         scoringSeconds: scored?.seconds ?? 0, scoringImages: scored?.images ?? 0, relativeToRandomInit: nil)
    }

    mutating func add(structure s: StudyStructure, budget: Double, scheme: TrainingScheme, seed: UInt64,
                      result: TrainingResult) {
        let c = cost(s)
        rows.append(StudyResultRow(
            budget: budget, structure: s.id, criterion: s.criterion, group: s.group, sourceSeed: s.seed,
            pretrainingEpoch: s.pretrainingEpoch, macs: result.macs, params: result.params,
            pretrainingSeconds: c.pretrainingSeconds, pretrainingImages: c.pretrainingImages,
            scoringSeconds: c.scoringSeconds, scoringImages: c.scoringImages, scheme: scheme, trainingSeed: seed,
            trainingEpochs: result.recipe.epochs, trainingSeconds: result.trainingSeconds,
            testAccuracy: result.test?.accuracy, testLoss: result.test?.loss))
    }

    /// Writes results.csv, results.json, similarity.csv and summary.txt; returns the report.
    @discardableResult
    func write(totalSeconds: Double, complete: Bool) throws(PruningError) -> StudyReport {
        let report = makeReport(totalSeconds: totalSeconds, complete: complete)
        func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        try attempt {
            try AtomicFile.write(prettyJSON(report), to: file("results.json"))
            try AtomicFile.write(Data(StudyText.resultsCSV(report.rows).utf8), to: file("results.csv"))
            try AtomicFile.write(Data(StudyText.similarityCSV(report.similarity).utf8), to: file("similarity.csv"))
            try AtomicFile.write(Data(StudyText.summary(report).utf8), to: file("summary.txt"))
        }
        return report
    }

    func makeReport(totalSeconds: Double, complete: Bool) -> StudyReport {
        let structures = plan.structures
        var summary: [StudySummaryRow] = []
        for budget in plan.budgets {
            for scheme in plan.schemes {
                for s in structures where !plan.trainingSeeds(for: s).isEmpty {
                    let runs = rows.filter { $0.budget == budget && $0.scheme == scheme && $0.structure == s.id }
                    let accuracies = runs.compactMap(\.testAccuracy)
                    let architecture = pruned[budget]![s.id]!
                    summary.append(StudySummaryRow(
                        budget: budget, scheme: scheme, structure: s.id, criterion: s.criterion,
                        macs: architecture.macs.pruned, params: architecture.params.pruned, runs: accuracies.count,
                        meanAccuracy: StudyText.mean(accuracies), stdAccuracy: StudyText.sampleStd(accuracies),
                        costSeconds: cost(s).totalSeconds))
                }
            }
        }
        var similarity: [StudySimilarity] = []
        var keptRatios: [String: [String: [Double]]] = [:]
        for budget in plan.budgets {
            let architectures = structures.map { pruned[budget]![$0.id]! }
            let vectors = architectures.map(\.keptRatios)
            keptRatios[Study.budgetLabel(budget)] = Dictionary(uniqueKeysWithValues: zip(structures.map(\.id), vectors))
            // A uniform structure's ratios differ only by rounding to whole channels: no correlation.
            let comparable = architectures.map { !$0.isUniformUpToRounding }
            let matrix = vectors.indices.map { i in
                vectors.indices.map { j in comparable[i] && comparable[j] ? pearsonCorrelation(vectors[i], vectors[j]) : nil }
            }
            let groups = structures.map(\.group)
            var order: [StructureGroup] = []
            for g in groups where !order.contains(g) { order.append(g) }
            var means: [GroupCorrelation] = []
            for (gi, first) in order.enumerated() {
                for second in order[gi...] {
                    var values: [Double] = []
                    var candidates = 0
                    for i in structures.indices where groups[i] == first {
                        for j in structures.indices where groups[j] == second && i != j {
                            if first == second && j < i { continue }
                            candidates += 1
                            if let r = matrix[i][j] { values.append(r) }
                        }
                    }
                    if candidates > 0 {
                        means.append(GroupCorrelation(first: first, second: second, mean: StudyText.mean(values),
                                                      pairs: values.count))
                    }
                }
            }
            similarity.append(StudySimilarity(budget: budget, structures: structures.map(\.id), groups: groups,
                                              matrix: matrix, groupMeans: means))
        }
        var costs = structures.map(cost)
        // The reference is the search at the standard widths: an expanded search costs more per image.
        let searchSeconds = zip(structures, costs).filter { $0.0.criterion == .randomInitGates && $0.0.expansion == nil }
            .map(\.1.totalSeconds)
        if let base = StudyText.mean(searchSeconds), base > 0 {
            for i in costs.indices { costs[i].relativeToRandomInit = costs[i].totalSeconds / base }
        }
        return StudyReport(plan: plan, complete: complete, rows: rows, summary: summary, similarity: similarity,
                           costs: costs, keptRatios: keptRatios, layers: standard.prunableNames,
                           totalSeconds: totalSeconds)
    }
}

/// The study's text outputs: CSV files and the aligned summary tables.
public enum StudyText {
    static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    static func sampleStd(_ values: [Double]) -> Double? {
        guard values.count >= 2, let m = mean(values) else { return nil }
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// A CSV field, quoted when it holds a comma, quote or line break.
    static func csv(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func number(_ value: Double?, _ format: String = "%.6f") -> String {
        value.map { String(format: format, $0) } ?? ""
    }

    public static func resultsCSV(_ rows: [StudyResultRow]) -> String {
        var lines = ["budget,structure,criterion,group,source_seed,pretraining_epoch,macs,params,pretraining_seconds,"
                     + "pretraining_images,scoring_seconds,scoring_images,cost_seconds,cost_images,scheme,training_seed,"
                     + "training_epochs,training_seconds,test_accuracy,test_loss"]
        for r in rows {
            let cells: [String] = [
                "\(r.budget)", r.structure, r.criterion.rawValue, r.group.rawValue, r.sourceSeed.map(String.init) ?? "",
                r.pretrainingEpoch.map(String.init) ?? "", "\(r.macs)", "\(r.params)", number(r.pretrainingSeconds, "%.1f"),
                "\(r.pretrainingImages)", number(r.scoringSeconds, "%.1f"), "\(r.scoringImages)", number(r.costSeconds, "%.1f"),
                "\(r.costImages)", r.scheme.rawValue, "\(r.trainingSeed)", "\(r.trainingEpochs)",
                number(r.trainingSeconds, "%.1f"), number(r.testAccuracy), number(r.testLoss)]
            lines.append(cells.map(csv).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One block per budget: `budget,structure,<structures…>` then a row per structure.
    public static func similarityCSV(_ similarity: [StudySimilarity]) -> String {
        guard let first = similarity.first else { return "" }
        var lines = [(["budget", "structure"] + first.structures).map(csv).joined(separator: ",")]
        for s in similarity {
            for (i, id) in s.structures.enumerated() {
                lines.append(([String(s.budget), id] + s.matrix[i].map { number($0, "%.4f") }).map(csv).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// An aligned table: the first column left-aligned, the others right-aligned.
    public static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { col in rows.map { col < $0.count ? $0[col].count : 0 }.max() ?? 0 }
        var lines: [String] = []
        for (i, row) in rows.enumerated() {
            let cells = row.enumerated().map { col, cell in
                col == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[col] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if i == 0 { lines.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
        }
        return lines.joined(separator: "\n")
    }

    static func accuracy(_ mean: Double?, _ std: Double?, runs: Int) -> String {
        guard let mean else { return "-" }
        return String(format: "%.2f", mean * 100) + (std.map { String(format: " ± %.2f", $0 * 100) } ?? "") + " (n=\(runs))"
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// The Table-1 summary, the similarity summary and the cost comparison, as aligned text.
    public static func summary(_ report: StudyReport) -> String {
        var out: [String] = []
        let architecture = report.plan.architecture.rawValue
        for budget in report.plan.budgets {
            for scheme in report.plan.schemes {
                let rows = report.summary.filter { $0.budget == budget && $0.scheme == scheme }
                let best = rows.compactMap(\.meanAccuracy).max()
                out.append("== \(architecture) at \(Study.budgetLabel(budget)) of the standard MACs, \(scheme.label): "
                           + "\(report.plan.evaluation.label) accuracy after the last epoch, mean ± std over training seeds (* best)")
                var cells = [["structure", "criterion", "MACs", "params", "\(report.plan.evaluation.label) acc %", "", "cost"]]
                for r in rows {
                    let mark = r.meanAccuracy != nil && r.meanAccuracy == best ? "*" : ""
                    cells.append([r.structure, r.criterion.rawValue, Complexity.grouped(r.macs), Complexity.grouped(r.params),
                                  accuracy(r.meanAccuracy, r.stdAccuracy, runs: r.runs), mark, duration(r.costSeconds)])
                }
                out.append(table(cells))
                out.append("")
            }
        }
        for s in report.similarity {
            out.append("== structure similarity at \(Study.budgetLabel(s.budget)): Pearson correlation of the per-layer "
                       + "kept ratios (n/a: a structure uniform up to rounding)")
            var cells = [[""] + s.structures.indices.map { "[\($0 + 1)]" }]
            for (i, id) in s.structures.enumerated() {
                cells.append(["[\(i + 1)] \(id)"] + s.matrix[i].map { $0.map { String(format: "%.2f", $0) } ?? "n/a" })
            }
            out.append(table(cells))
            var means = [["groups", "mean r", "pairs"]]
            for g in s.groupMeans {
                means.append([g.first == g.second ? "within \(g.first)" : "\(g.first) × \(g.second)",
                              g.mean.map { String(format: "%.3f", $0) } ?? "n/a", "\(g.pairs)"])
            }
            out.append("")
            out.append(table(means))
            out.append("")
        }
        out.append("== cost of finding each structure (wall time and training images; pretraining up to the epoch used)")
        var costs = [["structure", "pretraining", "images", "scoring", "images", "total", "× random-init search (standard widths)"]]
        for c in report.costs {
            costs.append([c.structure, duration(c.pretrainingSeconds), Complexity.grouped(c.pretrainingImages),
                          duration(c.scoringSeconds), Complexity.grouped(c.scoringImages), duration(c.totalSeconds),
                          c.relativeToRandomInit.map { String(format: "%.2f", $0) } ?? "-"])
        }
        out.append(table(costs))
        out.append("")
        out.append(report.complete ? "complete: every run of the plan finished (this invocation: \(duration(report.totalSeconds)))"
                   : "incomplete: \(report.rows.count) runs finished so far")
        return out.joined(separator: "\n") + "\n"
    }
}
