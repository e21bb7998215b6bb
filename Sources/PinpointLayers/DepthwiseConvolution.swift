import PinpointAutograd
import PinpointTensor

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
}

extension DepthwiseConv2D: ConvolutionLayer {
    public func convolve(_ input: Traced, kernel: Traced, bias: Traced?, activation: FusedActivation) -> Traced {
        depthwiseConv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias, activation: activation)
    }

    public func convolve(_ input: Tensor, kernel: Tensor, bias: Tensor?, activation: FusedActivation) -> Tensor {
        depthwiseConv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias, activation: activation)
    }

    /// Output channel c * multiplier + j is kernel[.., .., c, j].
    public func scalingOutputChannels(of kernel: Tensor, by scale: Tensor) -> Tensor {
        kernel * scale.reshaped([kernel.shape[2], depthMultiplier])
    }

    public func withSamePadding() -> DepthwiseConv2D {
        let same = DepthwiseConv2D(kernelSize: kernelSize, strides: strides, padding: .same, depthMultiplier: depthMultiplier,
                                   activation: activation, useBias: useBias, name: name)
        same.kernel = kernel
        same.bias = bias
        return same
    }
}
