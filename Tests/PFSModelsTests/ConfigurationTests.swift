import Foundation
import PFSModels
import Testing

/// Channel configurations: layouts, JSON, and the refusal of configurations that cannot describe a network.
@Suite struct ConfigurationTests {
    /// Runs `body` and returns the ModelError it throws (records an issue when it throws nothing).
    func refusal(sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) -> ModelError? {
        do {
            try body()
            Issue.record("no error thrown", sourceLocation: sourceLocation)
            return nil
        } catch let error as ModelError {
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func layoutsNameEveryWidthInNetworkOrder() throws {
        let vgg = try ChannelConfiguration.standard(.vgg16)
        #expect(vgg.widths.map(\.name) == (1...13).map { "conv\($0)" })
        #expect(vgg.widths.allSatisfy { $0.prunable })
        #expect(vgg.prunableWidths == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512])

        let resnet = try ChannelConfiguration.standard(.resnet20)
        #expect(resnet.widths.map(\.name) == [
            "stage1", "stage1.block1.conv1", "stage1.block2.conv1", "stage1.block3.conv1",
            "stage2", "stage2.block1.conv1", "stage2.block2.conv1", "stage2.block3.conv1",
            "stage3", "stage3.block1.conv1", "stage3.block2.conv1", "stage3.block3.conv1",
        ])
        #expect(resnet.prunableNames == resnet.widths.map(\.name).filter { !$0.hasPrefix("stage") || $0.contains(".") })
        #expect(resnet.prunableWidths == [16, 16, 16, 32, 32, 32, 64, 64, 64])

        let resnet50 = try ChannelConfiguration.standard(.resnet50, input: .imagenet, classes: 1000)
        #expect(Array(resnet50.widths.prefix(4)) == [
            Width(name: "stem", channels: 64, prunable: false), Width(name: "stage1", channels: 256, prunable: false),
            Width(name: "stage1.block1.conv1", channels: 64, prunable: true),
            Width(name: "stage1.block1.conv2", channels: 64, prunable: true),
        ])

        let mobile = try ChannelConfiguration.standard(.mobilenetv2, input: .imagenet, classes: 1000)
        #expect(Array(mobile.widths.prefix(6).map(\.name))
                == ["stem", "block1.out", "block2.expand", "block2.out", "block3.expand", "block3.out"])
        #expect(mobile.widths.last == Width(name: "head", channels: 1280, prunable: true))
        #expect(mobile.prunableNames.first == "stem" && !mobile.prunableNames.contains("block1.expand"))
        #expect(mobile.widths.first { $0.name == "block17.expand" }?.channels == 960)

        let prunableCounts: [Architecture: Int] = [
            .vgg11: 8, .vgg13: 10, .vgg16: 13, .vgg19: 16, .resnet20: 9, .resnet32: 15, .resnet44: 21,
            .resnet56: 27, .resnet110: 54, .resnet18: 8, .resnet50: 32, .mobilenetv2: 18,
        ]
        for architecture in Architecture.allCases {
            #expect(try ChannelConfiguration.standard(architecture).prunableWidths.count == prunableCounts[architecture])
        }
    }

    @Test func jsonRoundTripsAndIsReadable() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let pruned = try standard.withPrunableWidths([3, 7, 15, 10, 14, 27, 8, 45, 54])
        for configuration in [standard, pruned, try .standard(.mobilenetv2, input: .imagenet, classes: 1000)] {
            let data = configuration.jsonData()
            #expect(try ChannelConfiguration.decode(data, file: "c.json") == configuration)
        }
        let text = try #require(String(data: standard.jsonData(), encoding: .utf8))
        #expect(text.contains("\"architecture\" : \"resnet20\""))
        #expect(text.contains("\"name\" : \"stage1.block1.conv1\""))
        #expect(text.hasPrefix("{\n"))
    }

    @Test func zeroAndNegativeWidthsAreRefusedNamingTheEntry() throws {
        var configuration = try ChannelConfiguration.standard(.resnet20)
        configuration.widths[3].channels = 0
        let zero = refusal { try configuration.validate() }
        #expect(zero?.field == "widths[3] (stage1.block3.conv1)")
        #expect(zero?.expected == "1 … 1048576 channels" && zero?.got == "0")

        configuration.widths[3].channels = -4
        #expect(refusal { try configuration.validate() }?.description
                == "widths[3] (stage1.block3.conv1): expected 1 … 1048576 channels, got -4")

        let viaPrunable = refusal { _ = try ChannelConfiguration.standard(.vgg16).withPrunableWidths(Array(repeating: 8, count: 12) + [0]) }
        #expect(viaPrunable?.field == "widths[12] (conv13)" && viaPrunable?.got == "0")
    }

    @Test func wrongNumberOfEntriesIsRefused() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        var short = standard
        short.widths.removeLast()
        let missing = refusal { try short.validate() }
        #expect(missing?.field == "widths[11] (stage3.block3.conv1)")
        #expect(missing?.expected.contains("resnet20 has 12 widths") == true)

        var long = standard
        long.widths.append(Width(name: "extra", channels: 4, prunable: true))
        let extra = refusal { try long.validate() }
        #expect(extra?.field == "widths[12] (extra)" && extra?.got == "13 entries")

        var dropped = standard
        dropped.widths.remove(at: 2)
        let shifted = refusal { try dropped.validate() }
        #expect(shifted?.field == "widths[2] (stage1.block3.conv1)")
        #expect(shifted?.expected.contains("\"stage1.block2.conv1\"") == true)

        let prunableCount = refusal { _ = try standard.withPrunableWidths([16, 16]) }
        #expect(prunableCount?.field == "prunable widths")
        #expect(prunableCount?.expected.hasPrefix("9 values") == true && prunableCount?.got == "2 values")
    }

    @Test func renamedOrReflaggedEntriesAreRefused() throws {
        var renamed = try ChannelConfiguration.standard(.vgg11)
        renamed.widths[4].name = "conv5b"
        let error = refusal { try renamed.validate() }
        #expect(error?.field == "widths[4] (conv5b)")
        #expect(error?.expected.contains("\"conv5\"") == true && error?.got == "\"conv5b\"")

        var reflagged = try ChannelConfiguration.standard(.resnet20)
        reflagged.widths[0].prunable = true
        #expect(refusal { try reflagged.validate() }?.field == "widths[0] (stage1).prunable")
    }

    @Test func tiedWidthsOfResidualAddsMustStayEqual() throws {
        var mobile = try ChannelConfiguration.standard(.mobilenetv2)
        let index = try #require(mobile.widths.firstIndex { $0.name == "block3.out" })
        mobile.widths[index].channels = 30
        let error = refusal { try mobile.validate() }
        #expect(error?.field == "widths[\(index)] (block3.out)")
        #expect(error?.expected.contains("24 channels, equal to widths[3] (block2.out)") == true)
        #expect(error?.got == "30")
        // A consistent change of a tied group is fine.
        for i in mobile.widths.indices where ["block2.out", "block3.out"].contains(mobile.widths[i].name) {
            mobile.widths[i].channels = 30
        }
        try mobile.validate()
        // ResNet stage widths are single entries shared by the stem/stage and every block output.
        var resnet = try ChannelConfiguration.standard(.resnet20)
        resnet.widths[4].channels = 40
        try resnet.validate()
        #expect(ComplexityCounter.count(resnet).layers.first { $0.name == "stage2.block3.conv2" }?.outputShape == [40, 16, 16])
    }

    @Test func badInputsAndClassesAreRefused() throws {
        #expect(refusal { _ = try ChannelConfiguration.standard(.resnet20, classes: 0) }?.field == "classes")
        let zeroHeight = refusal {
            _ = try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 3, height: 0, width: 32))
        }
        #expect(zeroHeight?.field == "input.height")
        let tooSmall = refusal {
            _ = try ChannelConfiguration.standard(.vgg16, input: InputShape(channels: 3, height: 8, width: 8))
        }
        #expect(tooSmall?.field == "input" && tooSmall?.got == "3×8×8")
        #expect(tooSmall?.expected.contains("pool4") == true)
        #expect(refusal { _ = try ChannelConfiguration.standard(.resnet20, widthMultiplier: 0) }?.field == "widthMultiplier")
        // Any input size that survives the layout is accepted, with other channel counts too.
        let gray = try ChannelConfiguration.standard(.resnet20, input: InputShape(channels: 1, height: 28, width: 28))
        #expect(ComplexityCounter.count(gray).layers[0].inputShape == [1, 28, 28])
    }

    @Test func decodingErrorsNameTheFileAndThePlace() throws {
        var json = try #require(String(data: ChannelConfiguration.standard(.resnet20).jsonData(), encoding: .utf8))
        let badArchitecture = refusal {
            _ = try ChannelConfiguration.decode(Data(json.replacingOccurrences(of: "\"resnet20\"", with: "\"resnet21\"").utf8),
                                                file: "pruned.json")
        }
        #expect(badArchitecture?.file == "pruned.json" && badArchitecture?.field == "architecture")
        #expect(badArchitecture?.got == "\"resnet21\"" && badArchitecture?.expected.contains("resnet110") == true)

        json = json.replacingOccurrences(of: "\"channels\" : 32", with: "\"channels\" : \"32\"")
        let typeMismatch = refusal { _ = try ChannelConfiguration.decode(Data(json.utf8), file: "pruned.json") }
        #expect(typeMismatch?.field == "widths[4].channels")
        #expect(typeMismatch?.description.hasPrefix("pruned.json: widths[4].channels: expected a value of type Int") == true)

        var invalid = try ChannelConfiguration.standard(.resnet20)
        invalid.widths[5].channels = 0
        let semantic = refusal { _ = try ChannelConfiguration.decode(invalid.jsonData(), file: "pruned.json") }
        #expect(semantic?.description == "pruned.json: widths[5] (stage2.block1.conv1): expected 1 … 1048576 channels, got 0")

        #expect(refusal { _ = try ChannelConfiguration.decode(Data("{".utf8), file: "x.json") }?.file == "x.json")
    }

    @Test func withPrunableWidthsKeepsFixedWidthsAndScaledRounds() throws {
        let standard = try ChannelConfiguration.standard(.resnet20)
        let pruned = try standard.withPrunableWidths([1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(pruned.prunableWidths == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(pruned.widths.filter { !$0.prunable } == standard.widths.filter { !$0.prunable })

        let scaled = pruned.scaled(by: 0.5)
        #expect(scaled.prunableWidths == [1, 1, 2, 2, 3, 3, 4, 4, 5])   // rounded to nearest (x.5 up), at least 1
        #expect(scaled.widths.filter { !$0.prunable }.map(\.channels) == [8, 16, 32])
        try scaled.validate()
    }
}
