import PinpointAutograd
import PinpointTensor

/// Keras `Flatten`: [N, ...] -> [N, product].
public final class Flatten: Layer {
    public var name: String
    public init(name: String = "") { self.name = name }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { [inputShape.reduce(1, *)] }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { input.flattened() }
}

/// Keras `ZeroPadding2D`: zeros above, below, left and right of NHWC images.
public final class ZeroPadding2D: Layer {
    public var name: String
    public let padding: (top: Int, bottom: Int, left: Int, right: Int)

    public init(padding: (top: Int, bottom: Int, left: Int, right: Int), name: String = "") {
        self.padding = padding
        self.name = name
    }

    public convenience init(_ amount: Int = 1, name: String = "") {
        self.init(padding: (amount, amount, amount, amount), name: name)
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] {
        guard inputShape.count == 3 else { throw error("expects [height, width, channels], got \(inputShape)") }
        return [inputShape[0] + padding.top + padding.bottom, inputShape[1] + padding.left + padding.right, inputShape[2]]
    }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        input.padded([(0, 0), (padding.top, padding.bottom), (padding.left, padding.right), (0, 0)])
    }
}
