import Testing
@testable import PFSTensor

/// `PFS_ISA` and the kernel switches are read in one place into a ``KernelSettings`` value.
@Suite struct KernelSettingsTests {
    @Test func environmentChoosesAtMostWhatTheCPUHas() {
        let (plain, none) = KernelSettings.fromEnvironment([:])
        #expect(plain == KernelSettings() && plain.isa == InstructionSet.detected && none.isEmpty)

        let (portable, problems) = KernelSettings.fromEnvironment(["PFS_ISA": "portable", "PFS_DIRECT_CONV": "0"])
        #expect(portable.isa == .portable && !portable.directConvolution && problems.isEmpty)
        #expect(!portable.usesDirectConvolution && !portable.usesChannelConvolution)

        let (avx2, _) = KernelSettings.fromEnvironment(["PFS_ISA": "AVX2"])
        #expect(avx2.isa == min(.avx2, InstructionSet.detected))
        #expect(!avx2.usesChannelConvolution)   // the channel-vector kernels are AVX-512 only

        let (unknown, complaints) = KernelSettings.fromEnvironment(["PFS_ISA": "sse9"])
        #expect(unknown.isa == InstructionSet.detected)
        #expect(complaints.count == 1 && complaints[0].description.contains("PFS_ISA=sse9")
                && complaints[0].description.contains("portable, avx2, avx512"))

        // Asking for more than the CPU has is capped, and said.
        let (widest, capped) = KernelSettings.fromEnvironment(["PFS_ISA": "avx512"])
        #expect(widest.isa == InstructionSet.detected)
        #expect(capped.isEmpty == (InstructionSet.detected == .avx512))

        let (switches, _) = KernelSettings.fromEnvironment(["PFS_CHANNEL_CONV": "0", "PFS_CHANNEL_WGRAD": "0"])
        #expect(!switches.channelConvolution && !switches.channelWeightGradient && switches.directConvolution)
        #expect(switches.smallPlaneConvolution)
        let (noSmall, _) = KernelSettings.fromEnvironment(["PFS_SMALL_PLANE_CONV": "0"])
        #expect(!noSmall.smallPlaneConvolution && !noSmall.usesSmallPlaneConvolution && noSmall.channelConvolution)
        #expect(noSmall.description.contains("small-plane kernel off") == (noSmall.isa >= .avx2))
        #expect(switches.winogradConvolution && switches.usesWinogradConvolution == (switches.isa >= .avx2))
        let (noWinograd, _) = KernelSettings.fromEnvironment(["PFS_WINOGRAD": "0"])
        #expect(!noWinograd.winogradConvolution && !noWinograd.usesWinogradConvolution && noWinograd.directConvolution)
        #expect(noWinograd.description.contains("Winograd off") == (noWinograd.isa >= .avx2))
        #expect(switches.skipsClosedGates && !switches.description.contains("closed gates"))
        let (noSkip, _) = KernelSettings.fromEnvironment(["PFS_SKIP_CLOSED_GATES": "0"])
        #expect(!noSkip.skipsClosedGates && noSkip.description.contains("closed gates computed") && noSkip.directConvolution)
    }

    @Test func supportedSetsAreOrderedAndEndAtTheDetectedOne() {
        let supported = InstructionSet.supported
        #expect(supported.first == .portable && supported.last == InstructionSet.detected)
        #expect(supported == supported.sorted())
        #expect(KernelSettings(isa: .avx512).isa <= InstructionSet.detected)
    }
}
