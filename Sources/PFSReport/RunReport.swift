import Foundation
import PFSModels
import PFSPruning
import PFSTraining

/// What kind of run directory a report is made from.
public enum RunKind: String, Sendable {
    case study, pipeline, search, training
}

/// Builds the report page of any run directory `pfs` writes: a training run, a search, a
/// pipeline or a study. Whatever exists is drawn; what a finished run would have but this one
/// lacks is named on the page instead of failing.
public enum RunReport {
    /// The kind of run in `directory`, or nil when it holds no pfs run files.
    public static func kind(of directory: String) -> RunKind? {
        func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name)) }
        if has("results.json") || has(Study.planFileName) && has("training") { return .study }
        if has("summary.json") || seedDirectories(directory).contains(where: { has($0 + "/gates.json") }) { return .pipeline }
        if has(Checkpoint.metricsFileName) || has(TrainingJob.resultFileName) || has(Checkpoint.fileName) { return .training }
        if has("gates.json") { return .search }
        return nil
    }

    /// The page for `directory`.
    public static func page(for directory: String, generated: Date = Date()) -> ReportPage {
        var reader = ReportReader(root: directory)
        let name = (directory as NSString).lastPathComponent
        let sections: [ReportSection]
        let title: String
        switch kind(of: directory) {
        case .study?:
            title = "Study \(name)"
            sections = studySections(&reader)
        case .pipeline?:
            title = "Pipeline \(name)"
            sections = pipelineSections(&reader)
        case .training?:
            title = "Training run \(name)"
            sections = [trainingSection(&reader, path: "", title: "Training", standardComparison: true)]
        case .search?:
            title = "Gate search \(name)"
            sections = searchSections(&reader, path: "", title: "Gate learning")
        case nil:
            title = "No pfs run in \(name)"
            sections = [ReportSection(title: "Nothing to show", items: [.missing(
                "\(directory) holds none of the files pfs writes: results.json or plan.json (study), summary.json or "
                    + "seed<N>/gates.json (pipeline), metrics.jsonl, result.json or checkpoint.safetensors (training run), "
                    + "gates.json (search).")])]
        }
        return ReportPage(title: title, subtitle: "Report of \(directory), made by pfs from the run's own files.",
                          sections: sections, sources: reader.sources, generated: generated)
    }

    static func seedDirectories(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("seed") && UInt64($0.dropFirst(4)) != nil }
            .sorted { UInt64($0.dropFirst(4))! < UInt64($1.dropFirst(4))! }
    }

    // MARK: Training runs

    static func trainingSection(_ r: inout ReportReader, path: String, title: String, standardComparison: Bool) -> ReportSection {
        var items: [ReportItem] = []
        let configuration = r.configuration(path + Checkpoint.architectureFileName)
        let history = r.metrics(path + Checkpoint.metricsFileName)
        let result: TrainingResult? = r.json(path + TrainingJob.resultFileName)
        if let configuration {
            let standard = try? ChannelConfiguration.standard(configuration.architecture, input: configuration.input,
                                                              classes: configuration.classes)
            var rows = [[ReportTable.Cell("architecture"), ReportTable.Cell(configuration.architecture.rawValue)],
                        [ReportTable.Cell("MACs per image"), ReportTable.Cell(Complexity.grouped(ComplexityCounter.totalMACs(configuration)), numeric: true)],
                        [ReportTable.Cell("parameters"), ReportTable.Cell(Complexity.grouped(ComplexityCounter.totalParams(configuration)), numeric: true)]]
            if let result {
                rows.append([ReportTable.Cell("data"), ReportTable.Cell(result.data)])
                rows.append([ReportTable.Cell("recipe"), ReportTable.Cell("\(result.recipe.epochs) epochs, batch \(result.recipe.batchSize), "
                    + "SGD lr \(result.recipe.learningRate) \(result.recipe.schedule.rawValue), weight decay \(result.recipe.weightDecay), seed \(result.recipe.seed)")])
                if let test = result.test {
                    rows.append([ReportTable.Cell("test accuracy (after the last epoch)"),
                                 ReportTable.Cell(String(format: "%.2f %%", test.accuracy * 100) + " of \(test.images) images", bold: true)])
                }
                rows.append([ReportTable.Cell("training time"), ReportTable.Cell(duration(result.trainingSeconds), numeric: true)])
            }
            items.append(.table(ReportTable(caption: "The run (\(path)\(Checkpoint.architectureFileName), \(path)\(TrainingJob.resultFileName))",
                                            header: ["", ""], rows: rows)))
            if standardComparison, let standard, standard != configuration {
                items.append(.chart(WidthsChart(layers: configuration.prunableNames, standard: standard.prunableWidths,
                                                series: [.init(name: "this network", widths: configuration.prunableWidths)])
                    .chart(id: r.id("widths"), caption: "Kept channels per prunable layer against the standard "
                           + "\(configuration.architecture.rawValue) (\(path)\(Checkpoint.architectureFileName)).")))
                items.append(.chart(macsChart(standard: standard, pruned: configuration, budget: nil, name: "this network",
                                              id: r.id("macs"), source: path + Checkpoint.architectureFileName)))
            }
        } else {
            items.append(.missing("\(path)\(Checkpoint.architectureFileName) is missing or unreadable: the network of this run is unknown."))
        }
        if let history, !history.isEmpty {
            items += curveCharts(runs: [(name: "", history: history)], r: &r, source: path + Checkpoint.metricsFileName)
            if result == nil {
                items.append(.missing("\(path)\(TrainingJob.resultFileName) is missing: the run has not finished "
                                      + "(\(history.count) epochs logged); continue it with pfs train --resume."))
            }
        } else {
            items.append(.missing("\(path)\(Checkpoint.metricsFileName) is missing or empty: no epoch has finished yet."))
        }
        return ReportSection(title: title, items: items)
    }

    /// Loss, accuracy and learning-rate curves of one or several runs.
    static func curveCharts(runs: [(name: String, history: [EpochRecord])], r: inout ReportReader, source: String) -> [ReportItem] {
        var loss: [EpochCurvesChart.Curve] = [], accuracy: [EpochCurvesChart.Curve] = [], rate: [EpochCurvesChart.Curve] = []
        var lossStyles: [Int] = [], accuracyStyles: [Int] = []
        for (k, run) in runs.enumerated() {
            let epochs = run.history.map(\.epoch)
            let prefix = run.name.isEmpty ? "" : run.name + " "
            loss.append(.init(name: prefix + "train", epochs: epochs, values: run.history.map(\.trainLoss)))
            accuracy.append(.init(name: prefix + "train", epochs: epochs, values: run.history.map(\.trainAccuracy)))
            lossStyles.append(k)
            accuracyStyles.append(k)
            if run.history.contains(where: { $0.validationLoss != nil }) {
                loss.append(.init(name: prefix + "validation", epochs: epochs, values: run.history.map { $0.validationLoss ?? .nan },
                                  dashed: true))
                accuracy.append(.init(name: prefix + "validation", epochs: epochs,
                                      values: run.history.map { $0.validationAccuracy ?? .nan }, dashed: true))
                lossStyles.append(k)
                accuracyStyles.append(k)
            }
            rate.append(.init(name: run.name.isEmpty ? "learning rate" : run.name, epochs: epochs, values: run.history.map(\.learningRate)))
        }
        let from = "From \(source)."
        return [
            .chart(EpochCurvesChart(curves: loss, valueName: "cross-entropy", styles: lossStyles)
                .chart(id: r.id("loss"), title: "Training loss", caption: "Mean loss per epoch (training: augmented images, training mode). " + from)),
            .chart(EpochCurvesChart(curves: accuracy, valueName: "accuracy (%)", percent: true, styles: accuracyStyles)
                .chart(id: r.id("accuracy"), title: "Accuracy", caption: "Accuracy per epoch; the test set is read only after the last epoch. " + from)),
            .chart(EpochCurvesChart(curves: rate, valueName: "learning rate")
                .chart(id: r.id("lr"), title: "Learning rate", caption: "The learning rate of each epoch's last step. " + from)),
        ]
    }

    static func macsChart(standard: ChannelConfiguration, pruned: ChannelConfiguration, budget: Int?, name: String, id: String,
                          source: String) -> Chart {
        let s = ComplexityCounter.count(standard), p = ComplexityCounter.count(pruned)
        return MACsChart(layers: s.layers.map(\.name), standard: s.layers.map(\.macs), pruned: p.layers.map(\.macs), budget: budget,
                         prunedName: name)
            .chart(id: id, caption: "MACs per image of every convolution and the classifier (1 MAC = one multiply + one add), "
                   + "standard network behind, \(name) in front; above, the totals against the budget. From \(source).")
    }

    // MARK: Searches

    static func searchSections(_ r: inout ReportReader, path: String, title: String) -> [ReportSection] {
        var items: [ReportItem] = []
        guard let search: GateSearchResult = r.json(path + "gates.json") else {
            return [ReportSection(title: title, items: [.missing("\(path)gates.json is missing or unreadable: no gate learning to show.")])]
        }
        let pruned: PrunedArchitecture? = r.json(path + "pruned.json")
        items += gateItems(search, pruned: pruned, r: &r, path: path)
        if let pruned {
            items += prunedItems(pruned, r: &r, path: path, name: "pruned")
        } else {
            items.append(.missing("\(path)pruned.json is missing: the gates have not been cut to a budget (pfs prune \(path)gates.json)."))
        }
        return [ReportSection(title: title, items: items)]
    }

    static func gateItems(_ search: GateSearchResult, pruned: PrunedArchitecture?, r: inout ReportReader, path: String,
                          name: String? = nil) -> [ReportItem] {
        let suffix = name.map { ", \($0)" } ?? ""
        guard !search.history.isEmpty else { return [.missing("\(path)gates.json holds no finished epoch yet.")] }
        let h = search.history
        // A search validated every K steps is drawn against its steps.
        let bySteps = h.allSatisfy { $0.step != nil }
        let point = bySteps ? "validated point" : "epoch"
        let rule: String
        switch search.selection?.rule {
        case .bestValidationAmongSparseEpochs?:
            rule = "the best validation accuracy among \(point)s with at most \(NiceTicks.label(Double(search.settings.targetRatio) * 100)) % non-zero gates"
        case .lastEpochNoneSparse?:
            rule = "no \(point) reached \(NiceTicks.label(Double(search.settings.targetRatio) * 100)) % non-zero gates, so the last \(point)"
        case nil: rule = "none yet"
        }
        var items: [ReportItem] = [.chart(GateLearningChart(
            epochs: bySteps ? h.map { $0.step! } : h.map(\.epoch), meanGate: h.map(\.meanGate),
            nonZeroFraction: h.map(\.nonZeroFraction), validationAccuracy: h.map(\.validationAccuracy),
            targetRatio: Double(search.settings.targetRatio),
            selectedEpoch: bySteps ? search.selection?.step : search.selection?.epoch, rule: rule,
            unit: bySteps ? "step" : "epoch")
            .chart(id: r.id("gate-learning"), title: "Gate learning" + suffix, caption: "Gates learned on frozen weights from \(search.source.description) "
                   + "(λ \(search.settings.lambda), Adam lr \(search.settings.learningRate)), validated "
                   + (search.settings.validateEverySteps.map { "every \($0) steps and at the end of every epoch. " } ?? "after every epoch. ")
                   + "From \(path)gates.json."))]
        if let gates = search.gates {
            let values = gates.flatMap { $0 }.map(Double.init)
            let zeros = values.filter { $0 == 0 }.count
            items.append(.chart(HistogramChart(values: values, domain: 0...1, threshold: pruned?.threshold.map(Double.init),
                                               valueName: "gate value")
                .chart(id: r.id("gate-histogram"), title: "Gates at the selected \(point)" + suffix,
                       caption: "All \(values.count) gates of \(search.selection?.position ?? "epoch 0") (\(zeros) exactly 0)"
                        + (pruned?.threshold != nil ? "; the line is the threshold the budget search chose (pruned.json)." : ".")
                        + " From \(path)gates.json.")))
        }
        if !search.complete {
            items.append(.missing("\(path)gates.json: the search is not complete (\(h.count) of \(search.settings.epochs) epochs)."))
        }
        return items
    }

    static func prunedItems(_ pruned: PrunedArchitecture, r: inout ReportReader, path: String, name: String) -> [ReportItem] {
        var items: [ReportItem] = []
        if let limit = pruned.costLimit {
            // A latency (or other) budget: the MAC charts below show the result, not the limit.
            items.append(.note("Cut to a \(limit.name) of at most \(String(format: "%.3f", limit.limit)) \(limit.unit), not to MACs: "
                               + "predicted \(String(format: "%.3f", limit.predicted)) \(limit.unit)"
                               + (limit.measured.map { ", measured \(String(format: "%.3f", $0)) \(limit.unit)" } ?? "")
                               + " (\(limit.detail)). In the budget-search chart a network fits when its \(limit.name) does; "
                               + "the MAC line there is the full network's."))
        }
        if let probes = pruned.probes {
            items.append(.chart(BudgetTraceChart(probes: probes.map { .init(keptChannels: $0.keptChannels, macs: $0.macs, fits: $0.fits) },
                                                 budget: pruned.budget.targetMACs, totalChannels: pruned.searchedChannels)
                .chart(id: r.id("budget-search"), caption: "Each network the exact budget search counted, in order (1 = every layer "
                       + "at its minimum), and the budget of \(Complexity.grouped(pruned.budget.targetMACs)) MACs; the chosen one is "
                       + "the largest that fits. From \(path)pruned.json.")))
        }
        if let standard = try? ChannelConfiguration.standard(pruned.architecture, input: pruned.configuration.input,
                                                             classes: pruned.configuration.classes) {
            items.append(.chart(macsChart(standard: standard, pruned: pruned.configuration, budget: pruned.budget.targetMACs,
                                          name: name, id: r.id("macs"), source: path + "pruned.json")))
        }
        return items
    }

    // MARK: Pipelines

    static func pipelineSections(_ r: inout ReportReader) -> [ReportSection] {
        var sections: [ReportSection] = []
        let summary: PipelineReport? = r.json("summary.json")
        let seeds = seedDirectories(r.root)
        var structures: [(name: String, pruned: PrunedArchitecture)] = []
        var overview: [ReportItem] = []
        if summary == nil {
            overview.append(.missing("summary.json is missing: the pipeline has not finished; what its stages wrote so far is shown."))
        }
        for seed in seeds {
            if let pruned: PrunedArchitecture = r.json(seed + "/pruned.json") { structures.append((seed, pruned)) }
        }
        let uniformConfiguration = r.configuration("uniform/" + Checkpoint.architectureFileName)
        if let first = structures.first?.pruned {
            var series = structures.map { WidthsChart.Series(name: $0.name, widths: $0.pruned.layers.map(\.pruned)) }
            if let u = uniformConfiguration { series.append(.init(name: "uniform", widths: u.prunableWidths)) }
            overview.append(.chart(WidthsChart(layers: first.layers.map(\.name), standard: first.layers.map(\.standard), series: series)
                .chart(id: r.id("widths"), caption: "Kept channels per prunable layer of every structure, the standard width behind. "
                       + "From seed<N>/pruned.json" + (uniformConfiguration != nil ? " and uniform/architecture.json." : "."))))
        }
        if let summary {
            overview.insert(.table(pipelineTable(summary)), at: 0)
        }
        sections.append(ReportSection(title: "Structures and results", items: overview))
        for seed in seeds {
            var items: [ReportItem] = []
            let pruned: PrunedArchitecture? = r.json(seed + "/pruned.json")
            if let search: GateSearchResult = r.json(seed + "/gates.json") {
                items += gateItems(search, pruned: pruned, r: &r, path: seed + "/", name: seed)
            }
            if let pruned { items += prunedItems(pruned, r: &r, path: seed + "/", name: seed) }
            sections.append(ReportSection(title: "Search and pruning, \(seed)", items: items))
            if FileManager.default.fileExists(atPath: r.path(seed + "/train")) {
                sections.append(trainingSection(&r, path: seed + "/train/", title: "Training from scratch, \(seed)",
                                                standardComparison: false))
            }
        }
        if FileManager.default.fileExists(atPath: r.path("uniform")) {
            sections.append(trainingSection(&r, path: "uniform/", title: "Uniform baseline", standardComparison: true))
        }
        return sections
    }

    static func pipelineTable(_ summary: PipelineReport) -> ReportTable {
        let standardMACs = summary.candidates.first?.pruned.macs.standard ?? 0
        var rows: [(String, TrainingResult, String)] = summary.candidates.map {
            ("pruned, seed \($0.seed)", $0.training, duration($0.searchSeconds))
        }
        if let u = summary.uniform { rows.append(("uniform × " + String(format: "%.3f", summary.uniformFactor ?? 0), u, "-")) }
        let best = rows.compactMap { $0.1.test?.accuracy }.max()
        return ReportTable(
            caption: "Every network at the same budget, trained from scratch; test accuracy after the last epoch, best in bold "
                + "(summary.json, data: \(summary.data)).",
            header: ["network", "MACs", "% of standard", "params", "test accuracy", "search", "training"],
            rows: rows.map { name, result, search in
                [ReportTable.Cell(name), ReportTable.Cell(Complexity.grouped(result.macs), numeric: true),
                 ReportTable.Cell(String(format: "%.1f %%", 100 * Double(result.macs) / Double(max(standardMACs, 1))), numeric: true),
                 ReportTable.Cell(Complexity.grouped(result.params), numeric: true),
                 ReportTable.Cell(result.test.map { String(format: "%.2f %%", $0.accuracy * 100) } ?? "-",
                                  bold: result.test?.accuracy != nil && result.test?.accuracy == best, numeric: true),
                 ReportTable.Cell(search, numeric: true), ReportTable.Cell(duration(result.trainingSeconds), numeric: true)]
            })
    }

    // MARK: Studies

    static func studySections(_ r: inout ReportReader) -> [ReportSection] {
        guard let report: StudyReport = r.json("results.json") else {
            var items: [ReportItem] = [.missing("results.json is missing: no training run of the study has finished yet.")]
            if let plan: StudyPlan = r.json(Study.planFileName) {
                items.append(.note("The plan: \(plan.architecture.rawValue), structures " + plan.structures.map(\.id).joined(separator: ", ")
                                   + ", budgets " + plan.budgets.map { Study.budgetLabel($0) }.joined(separator: ", ") + "."))
            }
            return [ReportSection(title: "Study", items: items)]
        }
        var sections: [ReportSection] = []
        var overview: [ReportItem] = []
        if !report.complete {
            overview.append(.missing("The study is not complete: \(report.rows.count) training runs have finished; rerun the same "
                                     + "pfs study command to continue it. The tables show the runs done."))
        }
        let plan = report.plan
        overview.append(.note("\(plan.architecture.rawValue) on \(plan.data ?? "the bundled CIFAR-10 sample"); "
            + "\(plan.structures.count) structures, budgets " + plan.budgets.map { Study.budgetLabel($0) }.joined(separator: ", ")
            + "; \(plan.schemes.map(\.label).joined(separator: " and ")); training seeds "
            + plan.trainingSeeds.map(String.init).joined(separator: ", ") + "; \(plan.training.epochs) training epochs under Scratch-E (Scratch-B: × standard MACs / pruned MACs)"
            + (plan.evaluation == .validation ? "; trained on the training split, validation split reported." : ".")))
        for budget in plan.budgets {
            for scheme in plan.schemes {
                let rows = report.summary.filter { $0.budget == budget && $0.scheme == scheme }
                let best = rows.compactMap(\.meanAccuracy).max()
                overview.append(.table(ReportTable(
                    caption: "Table 1 at \(Study.budgetLabel(budget)) of the standard MACs, \(scheme.label): "
                        + "\(plan.evaluation.label) accuracy after the last epoch, mean ± std over training seeds, best in "
                        + "bold (results.json).",
                    header: ["structure", "criterion", "MACs", "params", "\(plan.evaluation.label) accuracy (%)", "runs",
                             "cost of finding it"],
                    rows: rows.map { row in
                        [ReportTable.Cell(row.structure), ReportTable.Cell(row.criterion.rawValue),
                         ReportTable.Cell(Complexity.grouped(row.macs), numeric: true),
                         ReportTable.Cell(Complexity.grouped(row.params), numeric: true),
                         ReportTable.Cell(row.meanAccuracy.map { String(format: "%.2f", $0 * 100) + (row.stdAccuracy.map { String(format: " ± %.2f", $0 * 100) } ?? "") } ?? "-",
                                          bold: row.meanAccuracy != nil && row.meanAccuracy == best, numeric: true),
                         ReportTable.Cell("\(row.runs)", numeric: true), ReportTable.Cell(duration(row.costSeconds), numeric: true)]
                    })))
            }
        }
        sections.append(ReportSection(title: "Results", items: overview))

        var structureItems: [ReportItem] = []
        for budget in plan.budgets {
            let label = Study.budgetLabel(budget)
            if let similarity = report.similarity.first(where: { $0.budget == budget }) {
                structureItems.append(.chart(HeatMapChart(labels: similarity.structures, groups: similarity.groups.map(\.rawValue), matrix: similarity.matrix)
                    .chart(id: r.id("similarity"), title: "Structure similarity at \(label)",
                           caption: "Pearson correlation of the per-layer kept ratios of every pair of structures (SPEC §7); thick "
                           + "lines separate the groups (\(StructureGroup.allCases.map(\.rawValue).joined(separator: ", "))); n/a: a structure uniform up to rounding (e.g. uniform scaling). From results.json.")))
                structureItems.append(.table(ReportTable(
                    caption: "Mean correlation within and between groups at \(label) (results.json).",
                    header: ["groups", "mean r", "pairs"],
                    rows: similarity.groupMeans.map { g in
                        [ReportTable.Cell(g.first == g.second ? "within \(g.first)" : "\(g.first) × \(g.second)"),
                         ReportTable.Cell(g.mean.map { String(format: "%.3f", $0) } ?? "n/a", numeric: true),
                         ReportTable.Cell("\(g.pairs)", numeric: true)]
                    })))
            }
            var groups: [StructureGroup: [WidthsChart.Series]] = [:]
            var order: [StructureGroup] = []
            var standard: [Int] = [], layers: [String] = []
            for s in plan.structures {
                guard let pruned: PrunedArchitecture = r.json("structures/\(label)/\(s.id)/pruned.json") else { continue }
                if !order.contains(s.group) { order.append(s.group) }
                groups[s.group, default: []].append(.init(name: s.id, widths: pruned.layers.map(\.pruned)))
                standard = pruned.layers.map(\.standard)
                layers = pruned.layers.map(\.name)
            }
            for group in order {
                structureItems.append(.chart(WidthsChart(layers: layers, standard: standard, series: groups[group]!)
                    .chart(id: r.id("widths"), caption: "Kept channels per prunable layer at \(label), \(group) "
                           + "(structures/\(label)/<structure>/pruned.json).")))
            }
        }
        sections.append(ReportSection(title: "Structures", items: structureItems))

        let costs = report.costs
        sections.append(ReportSection(title: "What finding each structure cost", items: [.table(ReportTable(
            caption: "Wall time and training images spent before training from scratch: pretraining up to the epoch used (or Network "
                + "Slimming's training) and scoring (gate learning); the last column relative to the mean random-init search (results.json).",
            header: ["structure", "pretraining", "images", "scoring", "images", "total", "× random-init search"],
            rows: costs.map { c in
                [ReportTable.Cell(c.structure), ReportTable.Cell(duration(c.pretrainingSeconds), numeric: true),
                 ReportTable.Cell(Complexity.grouped(c.pretrainingImages), numeric: true),
                 ReportTable.Cell(duration(c.scoringSeconds), numeric: true), ReportTable.Cell(Complexity.grouped(c.scoringImages), numeric: true),
                 ReportTable.Cell(duration(c.totalSeconds), numeric: true),
                 ReportTable.Cell(c.relativeToRandomInit.map { String(format: "%.2f", $0) } ?? "-", numeric: true)]
            }))]))

        var searchItems: [ReportItem] = []
        for s in plan.structures where s.criterion.learnsGates {
            if let search: GateSearchResult = r.json("scores/\(s.id)/gates.json") {
                searchItems += gateItems(search, pruned: nil, r: &r, path: "scores/\(s.id)/", name: s.id).prefix(1)
            }
        }
        if !searchItems.isEmpty { sections.append(ReportSection(title: "Gate learning", items: searchItems)) }

        var curves: [ReportItem] = []
        for budget in plan.budgets {
            for scheme in plan.schemes {
                guard let seed = plan.trainingSeeds.first else { continue }
                var runs: [(name: String, history: [EpochRecord])] = []
                for s in plan.structures {
                    let path = "training/\(Study.budgetLabel(budget))/\(s.id)/\(scheme.rawValue)-seed\(seed)/\(Checkpoint.metricsFileName)"
                    if let history = r.metrics(path), !history.isEmpty { runs.append((s.id, history)) }
                }
                guard !runs.isEmpty else { continue }
                curves += curveCharts(runs: runs, r: &r, source: "training/\(Study.budgetLabel(budget))/<structure>/"
                                      + "\(scheme.rawValue)-seed\(seed)/metrics.jsonl").prefix(2)
            }
        }
        if !curves.isEmpty { sections.append(ReportSection(title: "Training from scratch (first training seed)", items: curves)) }
        return sections
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Reads a run directory's files for a report, remembering which it read (the page lists them)
/// and handing out unique chart ids.
struct ReportReader {
    let root: String
    private(set) var sources: [ReportSource] = []
    private var ids: [String: Int] = [:]

    init(root: String) { self.root = root }

    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    mutating func id(_ base: String) -> String {
        let n = ids[base, default: 0]
        ids[base] = n + 1
        return n == 0 ? base : "\(base)-\(n + 1)"
    }

    mutating func data(_ relative: String) -> Data? {
        let full = path(relative)
        guard let data = FileManager.default.contents(atPath: full) else { return nil }
        let attributes = try? FileManager.default.attributesOfItem(atPath: full)
        sources.append(ReportSource(path: full, modified: attributes?[.modificationDate] as? Date, bytes: data.count))
        return data
    }

    mutating func json<T: Decodable>(_ relative: String) -> T? {
        guard let data = data(relative) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    mutating func configuration(_ relative: String) -> ChannelConfiguration? {
        guard let data = data(relative) else { return nil }
        return try? ChannelConfiguration.decode(data, file: relative)
    }

    mutating func metrics(_ relative: String) -> [EpochRecord]? {
        guard let data = data(relative) else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8))
        }
    }
}
