import PinpointAutograd
import PinpointTensor

/// Keras `ReLU`, with `maxValue` 6 for MobileNetV2's ReLU6 (Keras `ReLU(6.0)`).
public final class ReLU: Layer {
    public var name: String
    public let maxValue: Float?

    public init(maxValue: Float? = nil, name: String = "") {
        self.maxValue = maxValue
        self.name = name
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        switch maxValue {
        case nil: input.relu()
        case 6: input.relu6()
        case let m?: input.clipped(min: 0, max: m)
        }
    }
}

/// ReLU capped at 6 (Keras `ReLU(6.0)`), MobileNetV2's activation.
public func ReLU6(name: String = "") -> ReLU { ReLU(maxValue: 6, name: name) }

/// Keras `Activation("sigmoid")`.
public final class Sigmoid: Layer {
    public var name: String
    public init(name: String = "") { self.name = name }
    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { input.sigmoid() }
}

/// Keras `Softmax` over `axis` (default the last).
public final class Softmax: Layer {
    public var name: String
    public let axis: Int
    public init(axis: Int = -1, name: String = "") {
        self.axis = axis
        self.name = name
    }
    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { input.softmax(alongAxis: axis) }
}
