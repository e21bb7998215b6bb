import PinpointTensor

/// A trainable (or frozen) tensor owned by a model: a reference, so a layer, an optimizer and a
/// checkpoint all see the same values.
///
/// ```swift
/// let w = Parameter(Tensor.glorotUniform([4, 2], using: &rng))
/// let tape = GradientTape()
/// let loss = (tape.watch(w).value ...)   // see GradientTape
/// ```
public final class Parameter: @unchecked Sendable {
    public var value: Tensor
    /// False for state an optimizer must not change (for example BatchNormalization's moving mean).
    public var isTrainable: Bool

    public init(_ value: Tensor, trainable: Bool = true) {
        self.value = value
        isTrainable = trainable
    }

    public var shape: [Int] { value.shape }
}
