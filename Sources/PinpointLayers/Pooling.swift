import PinpointAutograd
import PinpointTensor

private func pooledShape(_ layer: some Layer, _ inputShape: [Int], _ pool: (Int, Int), _ strides: (Int, Int), _ padding: Padding) throws(LayerError) -> [Int] {
    do {
        let g = try WindowGeometry(inputShape: [1] + inputShape, window: pool, strides: strides, padding: padding, operation: layer.typeName)
        return [g.height.output, g.width.output, g.channels]
    } catch { throw LayerError(layer: layer.name, reason: error.description) }
}

/// Keras `MaxPooling2D` (strides default to the pool size).
public final class MaxPooling2D: Layer {
    public var name: String
    public let poolSize: (Int, Int), strides: (Int, Int), padding: Padding

    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid, name: String = "") {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        self.name = name
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { try pooledShape(self, inputShape, poolSize, strides, padding) }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        maxPool2D(input, poolSize: poolSize, strides: strides, padding: padding)
    }
}

/// Keras `AveragePooling2D` (SAME windows average only real cells, as TensorFlow).
public final class AveragePooling2D: Layer {
    public var name: String
    public let poolSize: (Int, Int), strides: (Int, Int), padding: Padding

    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid, name: String = "") {
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
        self.name = name
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { try pooledShape(self, inputShape, poolSize, strides, padding) }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        avgPool2D(input, poolSize: poolSize, strides: strides, padding: padding)
    }
}

/// Keras `GlobalAveragePooling2D`: [N, H, W, C] -> [N, C].
public final class GlobalAveragePooling2D: Layer {
    public var name: String
    public init(name: String = "") { self.name = name }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] {
        guard inputShape.count == 3 else { throw error("expects [height, width, channels], got \(inputShape)") }
        return [inputShape[2]]
    }
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { globalAvgPool2D(input) }
}
