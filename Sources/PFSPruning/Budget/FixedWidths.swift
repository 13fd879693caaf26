import PFSModels

/// Which fixed (non-gated) widths a network pruned from a width-expanded search keeps (SPEC §3,
/// "Width expansion"). The two are different methods; every pruned architecture records which
/// one made it. With no expansion (width multiplier 1) they give the same network.
///
/// For ResNet-20 searched at base width e = 32 (multiplier 2), cut to 50 % of the standard MACs:
/// - ``standard``: stem 16, stages 16/32/64; gated interiors may keep up to 32/64/128 channels.
/// - ``expanded``: stem 32, stages 32/64/128 kept; only the gated interiors are cut.
public enum FixedWidths: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    /// The standard network's fixed widths (stem, stage and residual widths); only gated widths
    /// may exceed their standard size. pfs's default.
    case standard
    /// The searched (expanded) network's fixed widths, as the authors' code does: the result is a
    /// wide residual stream with thin gated interiors, its MACs still counted against the budget
    /// relative to the standard network.
    case expanded

    public var description: String { rawValue }

    /// The network whose fixed widths the result keeps: `standard` or `searched`.
    public func target(standard: ChannelConfiguration, searched: ChannelConfiguration) -> ChannelConfiguration {
        self == .standard ? standard : searched
    }
}
