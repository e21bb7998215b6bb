import PinpointAutograd
import PinpointTensor

/// Keras `Conv2D`: NHWC input, HWIO kernel (glorot_uniform), zero bias, TensorFlow's SAME split.
public final class Conv2D: Layer {
    public var name: String
    public let filters: Int
    public let kernelSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let activation: Activation
    public let useBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?

    public init(_ filters: Int, kernelSize: (Int, Int) = (3, 3), strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                dilation: (Int, Int) = (1, 1), activation: Activation = .linear, useBias: Bool = true, name: String = "") {
        self.filters = filters
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.name = name
    }

    public var weights: [(name: String, parameter: Parameter)] {
        [("kernel", kernel), ("bias", bias)].compactMap { n, p in p.map { (n, $0) } }
    }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        _ = try outputShape(for: inputShape)
        kernel = Parameter(Tensor.glorotUniform([kernelSize.0, kernelSize.1, inputShape[2], filters], using: &random))
        if useBias { bias = Parameter(Tensor.zeros([filters])) }
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] {
        do {
            let g = try Conv2DGeometry(inputShape: [1] + inputShape, kernelShape: [kernelSize.0, kernelSize.1, inputShape.last ?? 0, filters],
                                       strides: strides, padding: padding, dilation: dilation)
            return Array(g.outputShape.dropFirst())
        } catch { throw self.error(error.description) }
    }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        guard let kernel else { preconditionFailure("Conv2D '\(name)' called before build") }
        let bias = bias.map { context.read($0) }
        guard let fused = activation.fused else {
            return activation(conv2D(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation, bias: bias))
        }
        return conv2D(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation, bias: bias, activation: fused)
    }
}

/// Keras `DepthwiseConv2D`: one kernel per input channel (times `depthMultiplier`), kernel
/// [KH, KW, C, multiplier] (glorot_uniform), through a direct NHWC kernel.
public final class DepthwiseConv2D: Layer {
    public var name: String
    public let kernelSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    public let depthMultiplier: Int
    public let dilation: (Int, Int)
    public let activation: Activation
    public let useBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?

    public init(kernelSize: (Int, Int) = (3, 3), strides: (Int, Int) = (1, 1), padding: Padding = .valid, depthMultiplier: Int = 1,
                dilation: (Int, Int) = (1, 1), activation: Activation = .linear, useBias: Bool = true, name: String = "") {
        self.kernelSize = kernelSize
        self.strides = strides
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.name = name
    }

    public var weights: [(name: String, parameter: Parameter)] {
        [("kernel", kernel), ("bias", bias)].compactMap { n, p in p.map { (n, $0) } }
    }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        let out = try outputShape(for: inputShape)
        kernel = Parameter(Tensor.glorotUniform([kernelSize.0, kernelSize.1, inputShape[2], depthMultiplier], using: &random))
        if useBias { bias = Parameter(Tensor.zeros([out[2]])) }
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] {
        do {
            let g = try WindowGeometry(inputShape: [1] + inputShape, window: kernelSize, strides: strides, dilation: dilation,
                                       padding: padding, operation: "DepthwiseConv2D")
            return [g.height.output, g.width.output, g.channels * depthMultiplier]
        } catch { throw self.error(error.description) }
    }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        guard let kernel else { preconditionFailure("DepthwiseConv2D '\(name)' called before build") }
        let y = depthwiseConv2D(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation)
        if bias == nil && activation == .linear { return y }
        let bias = bias.map { context.read($0) }
        guard let fused = activation.fused else { return activation(biasActivation(y, bias: bias, activation: .linear)) }
        return biasActivation(y, bias: bias, activation: fused)
    }
}
