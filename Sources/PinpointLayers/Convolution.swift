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
}

extension Conv2D: ConvolutionLayer {
    public func convolve(_ input: Traced, kernel: Traced, bias: Traced?, activation: FusedActivation) -> Traced {
        conv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias, activation: activation)
    }

    public func convolve(_ input: Tensor, kernel: Tensor, bias: Tensor?, activation: FusedActivation) -> Tensor {
        conv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias, activation: activation)
    }

    /// Output channels are the HWIO kernel's last axis.
    public func scalingOutputChannels(of kernel: Tensor, by scale: Tensor) -> Tensor { kernel * scale }

    public func withSamePadding() -> Conv2D {
        let same = Conv2D(filters, kernelSize: kernelSize, strides: strides, padding: .same, activation: activation, useBias: useBias, name: name)
        same.kernel = kernel
        same.bias = bias
        return same
    }

    /// Besides every convolution's fusions: in training, the batch moments of a large 1x1 output
    /// gathered for the BatchNormalization after it; and the max pooling after it.
    public func fusion(with following: ArraySlice<any Layer>, input: Traced, context: LayerContext) -> LayerFusion? {
        if let folding = foldingFusion(with: following, context: context) { return folding }
        if context.training, gathersBatchMoments(of: input), let normalization = following.first as? BatchNormalization {
            let activation = epilogue(following, at: 1)
            return .run(covering: activation == nil ? 2 : 3) { x, context in
                let (y, moments) = self(x, context: &context, gatheringBatchMoments: ())
                return normalization(y, context: &context, fusing: activation ?? .linear, batchMoments: moments)
            }
        }
        if canPool, let pool = following.first as? MaxPooling2D {
            return .run(covering: 2) { self($0, context: &$1, pooledBy: pool) }
        }
        return activationFusion(with: following)
    }

    /// Whether `self(_:context:gatheringBatchMoments:)` gathers the moments of its output for
    /// `input`: built, no bias or activation, and a convolution `conv2DWithBatchMoments` takes
    /// (MobileNetV2's first expansions, before their BatchNormalization).
    func gathersBatchMoments(of input: Traced) -> Bool {
        guard let kernel, bias == nil, activation == .linear else { return false }
        return conv2DGathersBatchMoments(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding,
                                         dilation: dilation)
    }

    /// The convolution, with its output's batch moments gathered in its own pass, for the
    /// BatchNormalization after it (nil moments where `conv2DWithBatchMoments` declines).
    func callAsFunction(_ input: Traced, context: inout LayerContext, gatheringBatchMoments: Void)
        -> (output: Traced, moments: (mean: Tensor, variance: Tensor)?) {
        guard let kernel else { preconditionFailure("Conv2D '\(name)' called before build") }
        return conv2DWithBatchMoments(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation)
    }

    /// Whether `self(_:context:pooledBy:)` applies (in training and in inference alike): built,
    /// with an activation that has an epilogue form.
    var canPool: Bool { activation.fused != nil && kernel != nil }

    /// The convolution (with its activation), then `pool`, through `conv2DMaxPool`: on the tape
    /// when one is recording, otherwise the inference kernel that never writes the full-size output.
    func callAsFunction(_ input: Traced, context: inout LayerContext, pooledBy pool: MaxPooling2D) -> Traced {
        guard let kernel, let activation = activation.fused else { preconditionFailure("Conv2D '\(name)': canPool was false") }
        guard context.tape != nil else {
            return Traced(conv2DMaxPool(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation,
                                        bias: bias?.value, activation: activation, poolSize: pool.poolSize, poolStrides: pool.strides,
                                        poolPadding: pool.padding))
        }
        return conv2DMaxPool(input, kernel: context.read(kernel), strides: strides, padding: padding, dilation: dilation,
                             bias: bias.map { context.read($0) }, activation: activation, poolSize: pool.poolSize,
                             poolStrides: pool.strides, poolPadding: pool.padding)
    }
}

/// What Conv2D and DepthwiseConv2D share: a kernel and an optional bias, an activation, a window,
/// and the fusions that follow from them (the activation layer after it; BatchNormalization
/// folded into the kernel in inference; zero padding before it taken as SAME). Each says only how
/// it convolves, how a factor per output channel reaches its kernel, and how it is rebuilt with
/// SAME padding.
public protocol ConvolutionLayer: ActivationFusing, SamePaddingEquivalent {
    var kernelSize: (Int, Int) { get }
    var strides: (Int, Int) { get }
    var padding: Padding { get }
    var dilation: (Int, Int) { get }
    var activation: Activation { get }
    var kernel: Parameter? { get }
    var bias: Parameter? { get }
    /// The convolution on the tape, with `bias` and `activation` fused into its pass.
    func convolve(_ input: Traced, kernel: Traced, bias: Traced?, activation: FusedActivation) -> Traced
    /// The convolution on plain tensors (inference with folded weights).
    func convolve(_ input: Tensor, kernel: Tensor, bias: Tensor?, activation: FusedActivation) -> Tensor
    /// `kernel` with output channel c multiplied by `scale[c]`.
    func scalingOutputChannels(of kernel: Tensor, by scale: Tensor) -> Tensor
    /// The same layer with SAME padding, sharing this one's parameters.
    func withSamePadding() -> Self
}

extension ConvolutionLayer {
    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        // The activation goes into the convolution's own pass when it has an epilogue form.
        guard let fused = activation.fused else { return activation(self(input, context: &context, fusing: .linear)) }
        return self(input, context: &context, fusing: fused)
    }

    public var acceptsFusedActivation: Bool { activation == .linear }

    public func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced {
        guard let kernel else { preconditionFailure("\(typeName) '\(name)' called before build") }
        return convolve(input, kernel: context.read(kernel), bias: bias.map { context.read($0) }, activation: activation)
    }

    public func fusion(with following: ArraySlice<any Layer>, input: Traced, context: LayerContext) -> LayerFusion? {
        foldingFusion(with: following, context: context) ?? activationFusion(with: following)
    }

    /// In inference (moving statistics, nothing recorded), this convolution with the
    /// BatchNormalization after it, and the activation after that, folded into one pass:
    /// conv(x, k) * scale + shift = conv(x, k * scale) + shift (+ bias * scale).
    public func foldingFusion(with following: ArraySlice<any Layer>, context: LayerContext) -> LayerFusion? {
        guard activation == .linear, !context.training, context.tape == nil,
              let normalization = following.first as? BatchNormalization, normalization.gamma != nil else { return nil }
        let activation = epilogue(following, at: 1)
        return .run(covering: activation == nil ? 2 : 3) { x, _ in
            let folded = self.folded(with: normalization)
            return Traced(self.convolve(x.value, kernel: folded.kernel, bias: folded.bias, activation: activation ?? .linear))
        }
    }

    /// The kernel and bias of this convolution followed by `normalization` with its moving
    /// statistics.
    public func folded(with normalization: BatchNormalization) -> FoldedConvolution {
        guard let kernel else { preconditionFailure("\(typeName) '\(name)' called before build") }
        let (scale, shift) = normalization.foldedScaleAndShift()
        return FoldedConvolution(kernel: scalingOutputChannels(of: kernel.value, by: scale), bias: bias.map { $0.value * scale + shift } ?? shift)
    }

    public func absorbingZeroPadding(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int]) -> Layer? {
        guard paddingBecomesSame(amounts, inputShape: inputShape, padding: padding, dilation: dilation, kernelSize: kernelSize,
                                 strides: strides) else { return nil }
        return withSamePadding()
    }
}
