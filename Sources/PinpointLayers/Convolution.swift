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
        // The activation goes into the convolution's own pass when it has an epilogue form.
        guard let fused = activation.fused else { return activation(self(input, context: &context, fusing: .linear)) }
        return self(input, context: &context, fusing: fused)
    }
}

extension Conv2D: ActivationFusing, BatchNormalizationFolding {
    public var acceptsFusedActivation: Bool { activation == .linear }

    public func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced {
        guard let kernel else { preconditionFailure("Conv2D '\(name)' called before build") }
        return conv2D(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation,
                      bias: bias.map { context.read($0) }, activation: activation)
    }

    public func canFold(_ normalization: BatchNormalization, context: LayerContext) -> Bool {
        activation == .linear && !context.training && context.tape == nil && normalization.gamma != nil
    }

    /// conv(x, k) * scale + shift = conv(x, k * scale) + shift (+ bias * scale), scale and shift per
    /// output channel: the last axis of the HWIO kernel.
    public func callAsFunction(_ input: Traced, context: inout LayerContext, folding normalization: BatchNormalization,
                               activation: FusedActivation) -> Traced {
        let folded = folded(with: normalization)
        return Traced(conv2D(input.value, kernel: folded.kernel, strides: strides, padding: padding, dilation: dilation,
                             bias: folded.bias, activation: activation))
    }

    /// The kernel and bias of this convolution followed by `normalization` with its moving
    /// statistics.
    public func folded(with normalization: BatchNormalization) -> FoldedConvolution {
        guard let kernel else { preconditionFailure("Conv2D '\(name)' called before build") }
        let (scale, shift) = normalization.foldedScaleAndShift()
        return FoldedConvolution(kernel: kernel.value * scale, bias: bias.map { $0.value * scale + shift } ?? shift)
    }
}

extension Conv2D: SamePaddingEquivalent {
    public func absorbingZeroPadding(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int]) -> Layer? {
        guard paddingBecomesSame(amounts, inputShape: inputShape, padding: padding, dilation: dilation, kernelSize: kernelSize,
                                 strides: strides) else { return nil }
        let same = Conv2D(filters, kernelSize: kernelSize, strides: strides, padding: .same, activation: activation, useBias: useBias, name: name)
        same.kernel = kernel
        same.bias = bias
        return same
    }
}
