/// A term added to the training loss at every step, with its gradient.
///
/// This is the seam through which gate learning's sparsity term and Network Slimming's L1 term on
/// BatchNorm scales share the one training loop (``Trainer``): the loop runs forward, the
/// cross-entropy and backward, then asks every penalty to add its gradient, then steps the
/// optimiser. A penalty touches only the parameters it was made with.
public protocol TrainingPenalty: AnyObject {
    /// Short name for logs, e.g. `gate sparsity`.
    var name: String { get }
    /// The penalty's value for the current parameters (in loss units), gradients untouched.
    func value() -> Double
    /// Adds the penalty's gradient to its parameters' gradients and returns its value. Called
    /// once per step, after the backward pass and before the optimiser step.
    func accumulateGradient() -> Double
}
