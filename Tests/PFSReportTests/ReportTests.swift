import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PFSData
import PFSModels
import PFSPruning
import PFSReport
import PFSTestSupport
import PFSTraining
import Testing

/// Reads XHTML with Foundation's XML parser: fails on anything that is not well-formed XML.
final class ParsedPage: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
    }

    private(set) var elements: [Element] = []
    private var open: [Int] = []
    private(set) var error: Error?

    init(_ html: String) {
        super.init()
        // The HTML5 doctype is valid XML; the parser needs no DTD.
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = self
        if !parser.parse() { error = parser.parserError ?? NSError(domain: "xml", code: 1) }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: name, attributes: attributes))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let last = open.last { elements[last].text += string }
    }

    func all(_ name: String, class cls: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (cls == nil || ($0.attributes["class"] ?? "").split(separator: " ").contains(Substring(cls!))) }
    }

    var ids: [String] { elements.compactMap { $0.attributes["id"] } }
}

@Suite(.serialized) struct ReportTests {
    @Test func aPipelineReportIsWellFormedAndHasEveryChart() throws {
        let directory = RunFixtures.temporaryDirectory("report")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try RunFixtures.pipeline(in: directory)
        #expect(RunReport.kind(of: directory) == .pipeline)
        let html = RunReport.page(for: directory).html()
        let page = ParsedPage(html)
        #expect(page.error == nil, "\(String(describing: page.error))")
        #expect(page.elements.first?.name == "html")
        for id in ["widths", "gate-learning", "gate-histogram", "budget-search", "macs", "gate-learning-2", "loss", "accuracy", "lr"] {
            #expect(page.ids.contains(id), "missing chart \(id)")
        }
        #expect(Set(page.ids).count == page.ids.count, "chart ids are unique")
        #expect(page.all("svg").count >= 12)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<link") && !html.contains("<img") && !html.contains("@import"))   // nothing fetched
        #expect(page.all("td").contains { $0.text.hasPrefix("uniform") })
        #expect(page.all("strong").count >= 1)                                  // the best accuracy in bold
        #expect(page.all("code").contains { $0.text.hasSuffix("summary.json") })  // the files are listed

        // A structure cut to a latency budget says so, with the prediction and the measurement.
        var pruned = try PrunedArchitecture.load(directory + "/seed1/pruned.json")
        pruned.costLimit = .init(name: "predicted latency", unit: "ms", limit: 4.3, predicted: 4.25, detail: "batch 1",
                                 measured: 4.4)
        try pruned.save(to: directory + "/seed1/pruned.json")
        let latency = RunReport.page(for: directory).html()
        #expect(latency.contains("Cut to a predicted latency of at most 4.300 ms") && latency.contains("measured 4.400 ms"))
    }

    @Test func aStudyReportHasTheTablesTheHeatMapAndTheCosts() throws {
        let directory = RunFixtures.temporaryDirectory("report-study")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var plan = RunFixtures.studyPlan()
        plan.trainingSeeds = [1]
        _ = try Study(plan: plan, directory: directory).run(searchData: try RunFixtures.searchData(),
                                                            trainData: RunFixtures.trainData)
        #expect(RunReport.kind(of: directory) == .study)
        let page = ParsedPage(RunReport.page(for: directory).html())
        #expect(page.error == nil)
        #expect(page.ids.contains("similarity") && page.ids.contains("widths") && page.ids.contains("gate-learning"))
        // One cell per pair; uniform scaling's row and column are n/a (uniform up to rounding), no other.
        let n = plan.structures.count
        #expect(page.all("rect", class: "cell").count == n * n)
        #expect(page.all("rect", class: "missing").count == 2 * n - 1)
        #expect(page.all("caption").contains { $0.text.hasPrefix("Table 1") })
        #expect(page.all("caption").contains { $0.text.hasPrefix("Wall time and training images") })
    }

    /// Bar geometry of a tiny data set, computed by hand.
    @Test func widthsChartGeometryMatchesHandComputedBars() throws {
        var chart = WidthsChart(layers: ["a", "b"], standard: [16, 32], series: [.init(name: "x", widths: [8, 32])])
        chart.height = 300
        let c = chart.chart(caption: "test")
        let page = ParsedPage(c.svg.text)
        #expect(page.error == nil)
        // y axis 0…40 (ticks 0, 10, …, 40): the plot runs from y = 46 (one legend row, baseline 14, 12 below it,
        // then 20) to 300 − 28.6 (room for labels of 1 character).
        let top = 14.0 + 12 + 20, bottom = 300 - (24 + 4.6)
        func height(_ value: Double) -> String { Markup.number(value / 40 * (bottom - top)) }
        let bars = page.all("rect", class: "bar")
        #expect(bars.map { $0.attributes["height"] } == [height(8), height(32)])
        #expect(bars.map { $0.attributes["y"] } == [Markup.number(bottom - 8 / 40 * (bottom - top)),
                                                     Markup.number(bottom - 32 / 40 * (bottom - top))])
        let ghosts = page.all("rect", class: "ghost").filter { $0.attributes["width"] != "12" }   // not the legend swatch
        #expect(ghosts.map { $0.attributes["height"] } == [height(16), height(32)])
        #expect(page.all("text", class: "tick").map(\.text).prefix(5) == ["0", "10", "20", "30", "40"])
        // Two groups fill the 480-pixel chart between the margins: each (480 − 64 − 20) / 2 wide.
        let group = (480.0 - 64 - 20) / 2
        #expect(ghosts.map { $0.attributes["x"] } == [Markup.number(64 + 1), Markup.number(64 + group + 1)])
    }

    @Test func scalesAndTicks() {
        #expect(NiceTicks.values(0, 87, count: 5) == [0, 20, 40, 60, 80])
        #expect(NiceTicks.extended(0, 87, count: 5) == 0...100)
        #expect(NiceTicks.values(0, 1, count: 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(NiceTicks.extended(0, 32, count: 5) == 0...40)
        #expect(NiceTicks.label(20_406_592) == "20.41M" && NiceTicks.label(45_000) == "45k" && NiceTicks.label(0.25) == "0.25")
        let y = LinearScale(domain: 0...40, range: (300, 100))
        #expect(y(0) == 300 && y(40) == 100 && y(10) == 250)
        #expect(HeatMapChart.color(1) == "#b40426" && HeatMapChart.color(-1) == "#3b4cc0" && HeatMapChart.color(0) == "#dddddd")
        let histogram = HistogramChart(values: [0, 0, 0.05, 0.5, 1, 1], domain: 0...1, threshold: 0.4, valueName: "gate")
        #expect(histogram.counts.count == 20 && histogram.counts[0] == 2 && histogram.counts[1] == 1
                && histogram.counts[10] == 1 && histogram.counts[19] == 2)
    }

    /// Strings from files stay text: a layer, a class or a data description with markup in it.
    @Test func textFromFilesIsEscaped() throws {
        let hostile = "<script>alert('x')</script> & \"co\""
        let chart = WidthsChart(layers: [hostile, "a&b"], standard: [4, 4], series: [.init(name: hostile, widths: [1, 2])])
            .chart(caption: hostile)
        let page = ReportPage(title: hostile, subtitle: hostile,
                              sections: [ReportSection(title: hostile, items: [.chart(chart), .note(hostile), .missing(hostile),
                                                                                .table(ReportTable(caption: hostile, header: [hostile],
                                                                                                   rows: [[.init(hostile, bold: true)]]))])],
                              sources: [])
        let html = page.html()
        #expect(!html.contains("<script"))
        let parsed = ParsedPage(html)
        #expect(parsed.error == nil)
        #expect(parsed.all("title").first?.text == hostile)
        #expect(parsed.all("text", class: "tick").contains { $0.text == hostile })
        #expect(parsed.all("text", class: "tick").contains { $0.text == "a&b" })
        #expect(parsed.all("strong").first?.text == hostile)
        #expect(parsed.all("figcaption").first?.text == hostile)
        #expect(Markup.escape("a\u{01}b") == "ab")    // a control character XML forbids is dropped

        // …and from a run directory's own files.
        let directory = RunFixtures.temporaryDirectory("report-escape")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var data = RunFixtures.trainData
        data.description = hostile
        var recipe = TrainingRecipe()
        recipe.epochs = 1
        recipe.batchSize = 20
        let configuration = try ChannelConfiguration.standard(.resnet20, input: data.inputShape, classes: 4, widthMultiplier: 0.25)
        _ = try TrainingJob(configuration: configuration, recipe: recipe, data: data, runDirectory: directory, resume: false).run()
        let run = RunReport.page(for: directory).html()
        #expect(!run.contains("<script"))
        let parsedRun = ParsedPage(run)
        #expect(parsedRun.error == nil)
        #expect(parsedRun.all("td").contains { $0.text == hostile })
    }

    @Test func emptyAndPartialDirectoriesSayWhatIsMissing() throws {
        let empty = RunFixtures.temporaryDirectory("report-empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let full = RunFixtures.temporaryDirectory("report-full")
        defer {
            try? FileManager.default.removeItem(atPath: empty)
            try? FileManager.default.removeItem(atPath: full)
        }
        #expect(RunReport.kind(of: empty) == nil)
        let nothing = ParsedPage(RunReport.page(for: empty).html())
        #expect(nothing.error == nil)
        #expect(nothing.all("p", class: "missing").first?.text.contains("holds none of the files pfs writes") == true)

        // A pipeline interrupted after its first search: only seed1/gates.json and the search's run.
        try RunFixtures.pipeline(in: full)
        for name in ["summary.json", "seed1/pruned.json", "seed1/train", "seed2", "uniform"] {
            try FileManager.default.removeItem(atPath: full + "/" + name)
        }
        #expect(RunReport.kind(of: full) == .pipeline)
        let partial = ParsedPage(RunReport.page(for: full).html())
        #expect(partial.error == nil)
        let missing = partial.all("p", class: "missing").map(\.text)
        #expect(missing.contains { $0.hasPrefix("summary.json is missing") })
        #expect(partial.ids.contains("gate-learning") && !partial.ids.contains("budget-search"))

        // A training run with only its architecture: the page says no epoch has finished.
        let run = full + "/seed1/search"
        try FileManager.default.removeItem(atPath: run + "/" + Checkpoint.metricsFileName)
        try FileManager.default.removeItem(atPath: run + "/" + Checkpoint.fileName)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: run + "/" + TrainingJob.resultFileName))   // unreadable
        let training = ParsedPage(RunReport.page(for: run).html())
        #expect(training.error == nil)
        #expect(training.all("p", class: "missing").contains { $0.text.contains("no epoch has finished yet") })
    }

    // MARK: A real browser

    /// Renders the report of a tiny pipeline in headless Chromium: the page is not blank, every
    /// chart draws pixels inside its own box, and the browser logs no console message. CI installs
    /// Chromium and sets PFS_EXPECT_CHROMIUM=1, which turns a missing browser into a failure.
    @Test func aRealBrowserDrawsEveryChart() throws {
        guard let browser = Browser.find() else {
            if ProcessInfo.processInfo.environment["PFS_EXPECT_CHROMIUM"] == "1" {
                Issue.record("PFS_EXPECT_CHROMIUM=1 but no Chromium was found (PFS_CHROMIUM, chromium, chromium-browser, google-chrome)")
            } else {
                print("skipped: no Chromium here (apt-get install chromium, or set PFS_CHROMIUM); CI runs this test")
            }
            return
        }
        let directory = RunFixtures.temporaryDirectory("report-browser")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try RunFixtures.pipeline(in: directory)
        let report = RunReport.page(for: directory)
        let pageFile = directory + "/report.html"
        try Data(report.html().utf8).write(to: URL(fileURLWithPath: pageFile))

        // The page itself: not blank, no console output.
        let shot = try browser.screenshot(of: pageFile, width: 1280, height: 2400, into: directory + "/page.png")
        #expect(shot.consoleLines.isEmpty, "console: \(shot.consoleLines)")
        let drawn = shot.image.countPixels(in: (0, 0, 1280, 2400)) { !$0.isWhite }
        #expect(drawn > 20_000, "only \(drawn) drawn pixels on the page")

        // Every chart alone at a known place (same SVG, same style sheet): pixels inside its box.
        let sheet = ContactSheet(charts: report.charts)
        try Data(sheet.html.utf8).write(to: URL(fileURLWithPath: directory + "/sheet.html"))
        let sheetShot = try browser.screenshot(of: directory + "/sheet.html", width: Int(sheet.width), height: Int(sheet.height),
                                               into: directory + "/sheet.png")
        #expect(sheetShot.consoleLines.isEmpty, "console: \(sheetShot.consoleLines)")
        #expect(report.charts.count >= 12)
        for (chart, box) in zip(report.charts, sheet.boxes) {
            let count = sheetShot.image.countPixels(in: box) { !$0.isWhite }
            let area = box.2 * box.3
            #expect(count >= max(400, area / 100), "\(chart.id): \(count) drawn pixels of \(area)")
            // Coloured marks (bars, lines, cells), not only grey axes and text.
            let colour = sheetShot.image.countPixels(in: box) { $0.isColourful }
            #expect(colour >= 40, "\(chart.id): \(colour) coloured pixels")
        }
    }
}

/// Every chart of a page placed at a known position, with the page's style sheet.
struct ContactSheet {
    var html = ""
    var boxes: [(Int, Int, Int, Int)] = []
    var width = 0.0, height = 0.0

    init(charts: [Chart]) {
        var m = Markup()
        var y = 10.0
        var placed: [(Chart, Double)] = []
        for chart in charts {
            placed.append((chart, y))
            boxes.append((10, Int(y), Int(chart.width), Int(chart.height)))
            y += chart.height + 20
            width = max(width, chart.width + 20)
        }
        height = y
        m.open("html", [("xmlns", "http://www.w3.org/1999/xhtml")])
        m.wrap("head") { m in m.wrap("style") { m in m.add(text: ReportPage.css + " body { margin: 0; padding: 0; max-width: none; }") } }
        m.wrap("body") { m in
            for (chart, y) in placed {
                m.wrap("div", [("style", .text("position: absolute; left: 10px; top: \(Int(y))px"))]) { m in m.add(chart.svg) }
            }
        }
        m.close("html")
        html = "<!DOCTYPE html>\n" + m.text
    }
}

/// Headless Chromium, found on the PATH or through PFS_CHROMIUM.
struct Browser {
    let executable: String

    static func find() -> Browser? {
        let environment = ProcessInfo.processInfo.environment
        var candidates = ["chromium", "chromium-browser", "google-chrome"]
        if let explicit = environment["PFS_CHROMIUM"] { candidates.insert(explicit, at: 0) }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in candidates {
            if name.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: name) { return Browser(executable: name) }
            for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
                return Browser(executable: dir + "/" + name)
            }
        }
        return nil
    }

    struct Shot {
        var image: PNGImage
        /// Lines of the browser's log that report console messages.
        var consoleLines: [String]
    }

    func screenshot(of file: String, width: Int, height: Int, into png: String) throws -> Shot {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
                             "--force-color-profile=srgb", "--enable-logging=stderr", "--v=0",
                             "--window-size=\(width),\(height)", "--screenshot=\(png)", "file://" + file]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { process.terminate() }
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        let image = try PNGImage.decode(bytes, file: png)
        let console = log.split(separator: "\n").filter { $0.contains("CONSOLE") }.map(String.init)
        return Shot(image: image, consoleLines: console)
    }
}

struct Pixel {
    var r: UInt8, g: UInt8, b: UInt8

    var isWhite: Bool { r >= 250 && g >= 250 && b >= 250 }
    /// Clearly not grey: a series colour rather than axis or text.
    var isColourful: Bool { Int(max(r, g, b)) - Int(min(r, g, b)) > 60 }
}

extension PNGImage {
    func countPixels(in box: (Int, Int, Int, Int), where predicate: (Pixel) -> Bool) -> Int {
        var count = 0
        let (x0, y0, w, h) = box
        for y in max(0, y0)..<min(height, y0 + h) {
            for x in max(0, x0)..<min(width, x0 + w) {
                let i = (y * width + x) * channels
                let pixel = channels >= 3 ? Pixel(r: pixels[i], g: pixels[i + 1], b: pixels[i + 2])
                    : Pixel(r: pixels[i], g: pixels[i], b: pixels[i])
                if predicate(pixel) { count += 1 }
            }
        }
        return count
    }
}
