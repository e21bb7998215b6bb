import PinpointAutograd
import PinpointTensor

// Layers applied in order (`applyInOrder`: Sequential, MobileNetV2's blocks) are fused where the
// result is the same computation in fewer passes over memory. Each layer says what it fuses with
// (`FusingLayer`); `applyFused` only asks it:
// - a layer followed by an activation layer (BatchNormalization then ReLU6, a Conv2D without
//   activation then ReLU) applies the activation in its own pass, forward and backward
//   (`ActivationFusing`);
// - zero padding followed by a VALID convolution that then covers exactly what SAME padding
//   would (MobileNetV2's strided blocks, Keras's correct_pad) becomes that convolution with SAME
//   padding: no padded copy of the activation (`ZeroPadding2D`, `SamePaddingEquivalent`);
// - in inference (moving statistics, nothing recorded), a convolution followed by
//   BatchNormalization (and an activation) folds the normalization into its kernel and bias:
//   one pass instead of three (`ConvolutionLayer`);
// - in training, a 1x1 convolution followed by BatchNormalization gathers the batch moments of a
//   large output as it writes it (`conv2DWithBatchMoments`): one pass fewer over it (`Conv2D`);
// - a convolution followed by max pooling is `conv2DMaxPool`: in inference the pooling happens
//   inside the convolution's kernel (the full-size output is never written); in training the
//   backward pass takes the activation's derivative and the bias gradient on the pooled gradient
//   (`Conv2D`).
// Names, weights and checkpoints are those of the separate layers; only the passes merge. The
// profiler shows a fused group as one scope, `conv+bn+relu`. `LayerContext.fusesLayers = false`
// turns fusion off (the tests compare both).

/// How a layer runs together with layers after it.
public enum LayerFusion {
    /// `body` computes this layer and the `covering - 1` layers after it, in fewer passes.
    case run(covering: Int, (Traced, inout LayerContext) -> Traced)
    /// This layer and the `covering - 1` layers after it compute what `layer` alone does; `layer`
    /// may fuse further with what follows.
    case replace(covering: Int, with: any Layer)
}

/// A layer that can run together with the layers that follow it.
public protocol FusingLayer: Layer {
    /// How this layer fuses with `following` (the layers after it, in order) for this input and
    /// context, or nil where it runs on its own.
    func fusion(with following: ArraySlice<any Layer>, input: Traced, context: LayerContext) -> LayerFusion?
}

/// A layer that is only an elementwise activation another layer can apply for it.
public protocol FusableActivation: Layer {
    /// The activation as a kernel epilogue, or nil when it has none.
    var fusedActivation: FusedActivation? { get }
}

/// A layer that can apply the activation of the layer after it in its own pass.
public protocol ActivationFusing: FusingLayer {
    /// False when the layer has a non-linear activation of its own.
    var acceptsFusedActivation: Bool { get }
    /// The layer's output with `activation` applied.
    func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced
}

extension ActivationFusing {
    /// This layer and the activation layer right after it, when that one has an epilogue form.
    public func activationFusion(with following: ArraySlice<any Layer>) -> LayerFusion? {
        guard acceptsFusedActivation, let activation = epilogue(following, at: 0) else { return nil }
        return .run(covering: 2) { self($0, context: &$1, fusing: activation) }
    }

    public func fusion(with following: ArraySlice<any Layer>, input: Traced, context: LayerContext) -> LayerFusion? {
        activationFusion(with: following)
    }
}

/// A convolution that can take the zero padding before it as SAME padding.
public protocol SamePaddingEquivalent: Layer {
    /// This layer with SAME padding and the same weights, when zero padding the input (batch axis
    /// excluded) by `amounts` and then applying this layer gives the same result; otherwise nil.
    func absorbingZeroPadding(_ amounts: (top: Int, bottom: Int, left: Int, right: Int), inputShape: [Int]) -> Layer?
}

/// The epilogue form of the activation layer `offset` places into `following`, if it is one.
func epilogue(_ following: ArraySlice<any Layer>, at offset: Int) -> FusedActivation? {
    (following.dropFirst(offset).first as? FusableActivation)?.fusedActivation
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

extension ZeroPadding2D: FusingLayer {
    public func fusion(with following: ArraySlice<any Layer>, input: Traced, context: LayerContext) -> LayerFusion? {
        guard let next = following.first as? SamePaddingEquivalent,
              let same = next.absorbingZeroPadding(padding, inputShape: Array(input.shape.dropFirst())) else { return nil }
        return .replace(covering: 2, with: same)
    }
}

/// Applies `layers` from `index` on, fused with the layers after it where the layer offers it;
/// returns the output and how many layers it covered.
func applyFused(_ layers: [Layer], at index: Int, _ x: Traced, _ context: inout LayerContext) -> (Traced, Int) {
    let layer = layers[index]
    func scoped(_ count: Int, _ body: (inout LayerContext) -> Traced) -> (Traced, Int) {
        guard let profiler = context.profiler else { return (body(&context), count) }
        let group = layers[index..<(index + count)]
        profiler.enter(group.map(\.name).joined(separator: "+"), type: group.map(\.typeName).joined(separator: "+"))
        defer { profiler.exit() }
        return (body(&context), count)
    }
    if context.fusesLayers, let fusing = layer as? FusingLayer,
       let fusion = fusing.fusion(with: layers[(index + 1)...], input: x, context: context) {
        switch fusion {
        case .run(let count, let body):
            return scoped(count) { body(x, &$0) }
        case .replace(let count, let replacement):
            let (y, covered) = applyFused([replacement] + layers[(index + count)...], at: 0, x, &context)
            return (y, covered + count - 1)
        }
    }
    return scoped(1) { layer(x, context: &$0) }
}
