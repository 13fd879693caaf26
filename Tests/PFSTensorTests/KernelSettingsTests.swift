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

    /// The L2 size the Winograd chunks are sized for: detected, or `PFS_L2_KB`; a bad value is said
    /// and ignored.
    @Test func l2SizeComesFromTheMachineOrPFS_L2_KB() {
        let detected = CPUInfo.detectedL2CacheBytes ?? KernelSettings.assumedL2CacheBytes
        #expect(KernelSettings().l2CacheBytes == detected)
        let (small, none) = KernelSettings.fromEnvironment(["PFS_L2_KB": "512"])
        #expect(small.l2CacheBytes == 512 << 10 && none.isEmpty)
        #expect(small.description.contains("in chunks for 512 KB of L2") == (small.isa >= .avx2))
        for bad in ["0", "-4", "1e3", "99999999", "1M"] {
            let (settings, problems) = KernelSettings.fromEnvironment(["PFS_L2_KB": bad])
            #expect(settings.l2CacheBytes == detected)
            #expect(problems.count == 1 && problems[0].description.contains("PFS_L2_KB=\(bad)")
                    && problems[0].description.contains("16 … 65536"), "\(problems)")
        }
        #expect(CPUInfo.parseCacheSize("1024K") == 1 << 20 && CPUInfo.parseCacheSize("2M") == 2 << 20)
        #expect(CPUInfo.parseCacheSize("512") == 512 && CPUInfo.parseCacheSize("48k") == 48 << 10)
        #expect(CPUInfo.parseCacheSize("") == nil && CPUInfo.parseCacheSize("K") == nil && CPUInfo.parseCacheSize("0K") == nil)
        // Where the machine reports an L2, it is a plausible size (no CPU in use has under 64 KiB).
        #expect(CPUInfo.detectedL2CacheBytes.map { $0 >= 64 << 10 && $0 <= 1 << 30 } != false)
    }

    @Test func supportedSetsAreOrderedAndEndAtTheDetectedOne() {
        let supported = InstructionSet.supported
        #expect(supported.first == .portable && supported.last == InstructionSet.detected)
        #expect(supported == supported.sorted())
        #expect(KernelSettings(isa: .avx512).isa <= InstructionSet.detected)
    }
}
