import PinpointAutograd
import PinpointTensor

// Layers applied in order (`applyInOrder`: Sequential, MobileNetV2's blocks) are fused where the
// result is the same computation in fewer passes over memory:
// - a layer followed by an activation layer (BatchNormalization then ReLU6, a Conv2D without
//   activation then ReLU) applies the activation in its own pass, forward and backward;
// - zero padding followed by a VALID convolution that then covers exactly what SAME padding
//   would (MobileNetV2's strided blocks, Keras's correct_pad) becomes that convolution with SAME
//   padding: no padded copy of the activation;
// - in inference (moving statistics, nothing recorded), a convolution followed by
//   BatchNormalization (and an activation) folds the normalization into its kernel and bias:
//   one pass instead of three;
// - in training, a 1x1 convolution followed by BatchNormalization gathers the batch moments of a
//   large output as it writes it (`conv2DWithBatchMoments`): one pass fewer over it;
// - a convolution followed by max pooling is `conv2DMaxPool`: in inference the pooling happens
//   inside the convolution's kernel (the full-size output is never written); in training the
//   backward pass takes the activation's derivative and the bias gradient on the pooled gradient.
// Names, weights and checkpoints are those of the separate layers; only the passes merge. The
// profiler shows a fused group as one scope, `conv+bn+relu`. `LayerContext.fusesLayers = false`
// turns fusion off (the tests compare both).

/// A layer that is only an elementwise activation another layer can apply for it.
public protocol FusableActivation: Layer {
    /// The activation as a kernel epilogue, or nil when it has none.
    var fusedActivation: FusedActivation? { get }
}

/// A layer that can apply the activation of the layer after it in its own pass.
public protocol ActivationFusing: Layer {
    /// False when the layer has a non-linear activation of its own.
    var acceptsFusedActivation: Bool { get }
    /// The layer's output with `activation` applied.
    func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced
}

/// A convolution that can fold the BatchNormalization after it into its kernel and bias.
public protocol BatchNormalizationFolding: Layer {
    func canFold(_ normalization: BatchNormalization, context: LayerContext) -> Bool
    /// The convolution, then `normalization` with its moving statistics, then `activation`.
    func callAsFunction(_ input: Traced, context: inout LayerContext, folding normalization: BatchNormalization,
                        activation: FusedActivation) -> Traced
}

/// A convolution that can take the zero padding before it as SAME padding.
public protocol SamePaddingEquivalent: Layer {
    /// This layer with SAME padding and the same weights, when zero padding the input (batch axis
    /// excluded) by `amounts` and then applying this layer gives the same result; otherwise nil.
    func absorbingZeroPadding(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int]) -> Layer?
}

/// Whether zero padding by `amounts`, then a VALID, undilated window, equals a SAME window on the
/// unpadded input (batch axis excluded), along both axes.
func paddingBecomesSame(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int], padding: Padding,
                        dilation: (Int, Int), kernelSize: (Int, Int), strides: (Int, Int)) -> Bool {
    padding == .valid && dilation == (1, 1) && inputShape.count == 3
        && paddingIsSame(amounts.top, amounts.bottom, input: inputShape[0], window: kernelSize.0, stride: strides.0)
        && paddingIsSame(amounts.left, amounts.right, input: inputShape[1], window: kernelSize.1, stride: strides.1)
}

/// Whether zero padding by (before, after) then a VALID window equals a SAME window on `input`.
func paddingIsSame(_ before: Int, _ after: Int, input: Int, window: Int, stride: Int) -> Bool {
    guard let same = try? WindowAxis(input: input, window: window, stride: stride, padding: .same, "fusion"),
          let valid = try? WindowAxis(input: input + before + after, window: window, stride: stride, padding: .valid, "fusion") else {
        return false
    }
    return same.padBefore == before && same.output == valid.output
}

extension ReLU: FusableActivation {
    public var fusedActivation: FusedActivation? {
        switch maxValue {
        case nil: .relu
        case 6: .relu6
        default: nil
        }
    }
}

extension Sigmoid: FusableActivation {
    public var fusedActivation: FusedActivation? { .sigmoid }
}

extension BatchNormalization {
    /// Per output channel, the scale and shift that apply this normalization with its moving
    /// statistics: y = x * scale + shift.
    func foldedScaleAndShift() -> (scale: Tensor, shift: Tensor) {
        guard let gamma, let beta, let movingMean, let movingVariance else { preconditionFailure("BatchNormalization '\(name)' called before build") }
        let scale = gamma.value / (movingVariance.value + epsilon).sqrt()
        return (scale, beta.value - movingMean.value * scale)
    }
}

/// Applies `layers` from `index` on, fused with the layers after it where possible; returns the
/// output and how many layers it covered.
func applyFused(_ layers: [Layer], at index: Int, _ x: Traced, _ context: inout LayerContext) -> (Traced, Int) {
    let layer = layers[index]
    func activation(at j: Int) -> FusedActivation? { j < layers.count ? (layers[j] as? FusableActivation)?.fusedActivation : nil }
    func scoped(_ count: Int, _ body: (inout LayerContext) -> Traced) -> (Traced, Int) {
        guard let profiler = context.profiler else { return (body(&context), count) }
        let group = layers[index..<(index + count)]
        profiler.enter(group.map(\.name).joined(separator: "+"), type: group.map(\.typeName).joined(separator: "+"))
        defer { profiler.exit() }
        return (body(&context), count)
    }
    if context.fusesLayers {
        if let padding = layer as? ZeroPadding2D, index + 1 < layers.count, let next = layers[index + 1] as? SamePaddingEquivalent,
           let same = next.absorbingZeroPadding(padding.padding, inputShape: Array(x.shape.dropFirst())) {
            var rest = Array(layers[(index + 1)...])
            rest[0] = same
            let (y, covered) = applyFused(rest, at: 0, x, &context)
            return (y, covered + 1)
        }
        if let convolution = layer as? BatchNormalizationFolding, index + 1 < layers.count,
           let normalization = layers[index + 1] as? BatchNormalization, convolution.canFold(normalization, context: context) {
            let fused = activation(at: index + 2)
            return scoped(fused == nil ? 2 : 3) {
                convolution(x, context: &$0, folding: normalization, activation: fused ?? .linear)
            }
        }
        if context.training, let convolution = layer as? Conv2D, convolution.gathersBatchMoments(of: x), index + 1 < layers.count,
           let normalization = layers[index + 1] as? BatchNormalization {
            let fused = activation(at: index + 2)
            return scoped(fused == nil ? 2 : 3) {
                let (y, moments) = convolution(x, context: &$0, gatheringBatchMoments: ())
                return normalization(y, context: &$0, fusing: fused ?? .linear, batchMoments: moments)
            }
        }
        if let convolution = layer as? Conv2D, index + 1 < layers.count, let pool = layers[index + 1] as? MaxPooling2D,
           convolution.canPool {
            return scoped(2) { convolution(x, context: &$0, pooledBy: pool) }
        }
        if let fusing = layer as? ActivationFusing, fusing.acceptsFusedActivation, let fused = activation(at: index + 1) {
            return scoped(2) { fusing(x, context: &$0, fusing: fused) }
        }
    }
    return scoped(1) { layer(x, context: &$0) }
}

extension Conv2D {
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
