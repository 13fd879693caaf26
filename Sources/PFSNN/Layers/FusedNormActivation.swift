import Foundation
import PFSTensor

/// A ``BatchNorm2d``, optionally a ``ChannelGate``, then a ``ReLU`` (or ReLU6), run by ``Sequential``
/// as one pass over memory each way instead of three.
///
/// Forward: y = clamp(g·BN(x)) is written directly (no BatchNorm or gate output in between), and
/// only y is kept, as the clamp's mask. Backward: the clamp's gradient is applied on the fly while
/// BatchNorm takes its two per-channel sums, and the gate's gradient Σ dy·BN(x) falls out of the same
/// sums, so neither the clamp's nor the gate's input gradient is ever written out. The layers keep
/// their parameters, names and checkpoints; only the order of the arithmetic changes (covered by
/// the gradient checks of `Sequential`). `PFS_FUSE=0` turns fusion off.
final class FusedNormActivation {
    /// Whether ``Sequential`` fuses at all in this process.
    static let isEnabled = ProcessInfo.processInfo.environment["PFS_FUSE"] != "0"

    let norm: BatchNorm2d
    let gate: ChannelGate?
    let activation: ReLU
    private var cachedOutput: Tensor?

    private init(norm: BatchNorm2d, gate: ChannelGate?, activation: ReLU) {
        self.norm = norm
        self.gate = gate
        self.activation = activation
    }

    /// The run starting at `layers[index]`, if it is BatchNorm (+ gate) + clamp.
    static func match(_ layers: [Layer], at index: Int) -> FusedNormActivation? {
        guard isEnabled, let norm = layers[index] as? BatchNorm2d else { return nil }
        var next = index + 1
        let gate = next < layers.count ? layers[next] as? ChannelGate : nil
        if gate != nil { next += 1 }
        guard next < layers.count, let activation = layers[next] as? ReLU else { return nil }
        return FusedNormActivation(norm: norm, gate: gate, activation: activation)
    }

    /// The layers it stands for, in order.
    var layers: [Layer] { [norm] + (gate.map { [$0] } ?? []) + [activation] }

    /// Fusion needs every layer after the first to pass its input gradient back (always the case
    /// inside a network; a layer set otherwise runs unfused).
    var canRun: Bool { (gate?.computesInputGradient ?? true) && activation.computesInputGradient }

    func forward(_ input: Tensor, mode: Mode) throws(EngineError) -> Tensor {
        if let gate, gate.channels != norm.channels {
            throw .shape(layer: gate.name, expected: "(N, \(gate.channels), H, W)",
                         got: [input.shape.first ?? 0, norm.channels] + input.shape.dropFirst(2))
        }
        let y = try norm.forward(input, mode: mode, gate: gate?.gate.value, clampCeiling: activation.ceiling)
        // The unfused layers' caches would be stale: drop them, so a stray backward on them throws.
        gate?.dropCache()
        activation.dropCache()
        cachedOutput = mode.keepsBackwardCaches ? y : nil
        return y
    }

    /// Forgets the last forward pass of the run and of its layers (the convolution before it computed
    /// the output instead), so that a backward throws.
    func dropCaches() {
        norm.dropCache()
        gate?.dropCache()
        activation.dropCache()
        cachedOutput = nil
    }

    func backward(_ gradOutput: Tensor) throws(EngineError) -> Tensor? {
        guard let y = cachedOutput else { throw .missingForwardCache(layer: activation.name) }
        try activation.checkGradient(gradOutput, against: y.shape)
        return try norm.backward(gradOutput, gate: gate, clampOutput: y, clampCeiling: activation.ceiling)
    }
}
