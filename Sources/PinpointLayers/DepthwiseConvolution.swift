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

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        // The activation goes into the convolution's own pass when it has an epilogue form.
        guard let fused = activation.fused else { return activation(self(input, context: &context, fusing: .linear)) }
        return self(input, context: &context, fusing: fused)
    }
}

extension DepthwiseConv2D: ActivationFusing, BatchNormalizationFolding {
    public var acceptsFusedActivation: Bool { activation == .linear }

    public func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced {
        guard let kernel else { preconditionFailure("DepthwiseConv2D '\(name)' called before build") }
        return depthwiseConv2D(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation,
                               bias: bias.map { context.read($0) }, activation: activation)
    }

    public func canFold(_ normalization: BatchNormalization, context: LayerContext) -> Bool {
        activation == .linear && !context.training && context.tape == nil && normalization.gamma != nil
    }

    /// As Conv2D's, with output channel c * multiplier + j at kernel[.., .., c, j].
    public func callAsFunction(_ input: Traced, context: inout LayerContext, folding normalization: BatchNormalization,
                               activation: FusedActivation) -> Traced {
        let folded = folded(with: normalization)
        return Traced(depthwiseConv2D(input.value, kernel: folded.kernel, strides: strides, padding: padding,
                                      dilation: dilation, bias: folded.bias, activation: activation))
    }

    /// The kernel and bias of this convolution followed by `normalization` with its moving
    /// statistics.
    public func folded(with normalization: BatchNormalization) -> FoldedConvolution {
        guard let kernel else { preconditionFailure("DepthwiseConv2D '\(name)' called before build") }
        let (scale, shift) = normalization.foldedScaleAndShift()
        let kernelScale = scale.reshaped([kernel.shape[2], depthMultiplier])
        return FoldedConvolution(kernel: kernel.value * kernelScale, bias: bias.map { $0.value * scale + shift } ?? shift)
    }
}

extension DepthwiseConv2D: SamePaddingEquivalent {
    public func absorbingZeroPadding(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int]) -> Layer? {
        guard paddingBecomesSame(amounts, inputShape: inputShape, padding: padding, dilation: dilation, kernelSize: kernelSize,
                                 strides: strides) else { return nil }
        let same = DepthwiseConv2D(kernelSize: kernelSize, strides: strides, padding: .same, depthMultiplier: depthMultiplier,
                                   activation: activation, useBias: useBias, name: name)
        same.kernel = kernel
        same.bias = bias
        return same
    }
}
