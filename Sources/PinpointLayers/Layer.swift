import PinpointAutograd
import PinpointTensor

/// What a layer call needs besides its input: whether it is training, the tape recording
/// gradients (nil for inference), and a seeded random source (Dropout). Passed explicitly, never
/// global, so two models can train and infer side by side.
public struct LayerContext {
    public var training: Bool
    public let tape: GradientTape?
    public var random: SeededGenerator
    /// When set, layers applied in order time themselves into it (see `Profiler`).
    public let profiler: Profiler?
    /// Whether layers applied in order may be fused (see Fusion.swift); the same results, fewer
    /// passes. Off, every layer runs on its own.
    public var fusesLayers = true
    /// Set when this call's samples are the rows `range` of a global batch of `count` samples (a
    /// data-parallel step): layers that draw per-sample randomness draw it for the whole global
    /// batch and keep these rows, so the ranks together see the masks one process would.
    public var globalRows: (range: Range<Int>, count: Int)?

    public init(training: Bool = false, tape: GradientTape? = nil, seed: UInt64 = 0, profiler: Profiler? = nil) {
        self.training = training
        self.tape = tape
        random = SeededGenerator(seed: seed)
        self.profiler = profiler
    }

    /// A parameter as this call sees it: watched on the tape when there is one and the parameter
    /// is trainable, otherwise a constant (no gradient, no backward state). `training` only
    /// decides how Dropout and BatchNormalization behave.
    public func read(_ parameter: Parameter) -> Traced {
        if parameter.isTrainable, let tape { return tape.watch(parameter) }
        return Traced(parameter.value)
    }
}

/// A layer input shape that does not fit, naming the layer.
public struct LayerError: Error, Equatable, CustomStringConvertible {
    public let layer: String
    public let reason: String
    public var description: String { "layer '\(layer)': \(reason)" }
}

/// A Keras-style layer: built lazily from its input shape, then called on batches.
///
/// Shapes here exclude the batch axis, as Keras's `input_shape` does. Weights are listed with
/// names relative to the layer (`kernel`, `bias`, `moving_mean`); a model prefixes the layer's
/// name, giving Keras's paths (`conv2d_1.kernel`). A user's own layer is one class:
///
/// ```swift
/// final class Scale: Layer {
///     var name = ""
///     let factor = Parameter(Tensor(Float(1)))
///     var weights: [(name: String, parameter: Parameter)] { [("factor", factor)] }
///     func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
///     func callAsFunction(_ x: Traced, context: inout LayerContext) -> Traced { x * context.read(factor) }
/// }
/// ```
public protocol Layer: AnyObject {
    /// Unique within its model; assigned by the model (Keras's scheme) when left empty.
    var name: String { get set }
    /// The Keras class name, for summaries and default names.
    var typeName: String { get }
    /// Own weights, trainable and not, with names relative to the layer, in a stable order.
    var weights: [(name: String, parameter: Parameter)] { get }
    /// Creates the weights for an input shape (batch axis excluded). Called once, by the model.
    func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError)
    /// The output shape for an input shape (batch axis excluded).
    func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int]
    func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced
}

extension Layer {
    public var typeName: String { String(describing: type(of: self)) }
    public var weights: [(name: String, parameter: Parameter)] { [] }
    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {}

    /// Keras's default name for this layer type: `Conv2D` -> `conv2d`, `MaxPooling2D` ->
    /// `max_pooling2d`, `ReLU` -> `re_lu`.
    public var defaultName: String {
        var out = ""
        let chars = Array(typeName)
        for (i, c) in chars.enumerated() {
            if c.isUppercase && i > 0 && (chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase && !chars[i - 1].isNumber)) {
                out += "_"
            }
            out += c.lowercased()
        }
        return out
    }

    func error(_ reason: String) -> LayerError { LayerError(layer: name.isEmpty ? defaultName : name, reason: reason) }
}

/// An activation applied by a layer, as Keras's `activation=` argument.
public enum Activation: String, Sendable {
    case linear, relu, relu6, sigmoid, tanh, softmax

    /// The same activation as a kernel epilogue, when one exists (tanh and softmax have none).
    public var fused: FusedActivation? {
        switch self {
        case .linear: .linear
        case .relu: .relu
        case .relu6: .relu6
        case .sigmoid: .sigmoid
        case .tanh, .softmax: nil
        }
    }

    public func callAsFunction(_ x: Traced) -> Traced {
        switch self {
        case .linear: x
        case .relu: x.relu()
        case .relu6: x.relu6()
        case .sigmoid: x.sigmoid()
        case .tanh: x.tanh()
        case .softmax: x.softmax()
        }
    }
}
