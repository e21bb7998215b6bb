import PinpointAutograd
import PinpointLayers
import PinpointTensor

/// Keras's `_make_divisible`: the nearest multiple of `divisor`, at least `divisor`, never more
/// than 10% below `value`.
func makeDivisible(_ value: Double, _ divisor: Int = 8) -> Int {
    var result = max(divisor, Int(value + Double(divisor) / 2) / divisor * divisor)
    if Double(result) < 0.9 * value { result += divisor }
    return result
}

/// One MobileNetV2 inverted residual block: 1x1 expansion (not in block 0), 3x3 depthwise
/// (ZeroPadding2D then VALID when strided, as Keras), 1x1 projection, each with
/// BatchNormalization, ReLU6 after the first two, and an Add when shapes allow.
final class InvertedResidual: Layer {
    var name: String
    let layers: [Layer]
    let residual: Bool
    /// The same layers by role, for the fused inference kernel.
    private let expand: (convolution: Conv2D, normalization: BatchNormalization)?
    private let padding: ZeroPadding2D?
    private let depthwise: (convolution: DepthwiseConv2D, normalization: BatchNormalization)
    private let project: (convolution: Conv2D, normalization: BatchNormalization)

    init(inputChannels: Int, filters: Int, alpha: Double, stride: Int, expansion: Int, blockID: Int, inputSize: (Int, Int)) {
        let out = makeDivisible(Double(Int(Double(filters) * alpha)))
        let prefix = blockID == 0 ? "expanded_conv_" : "block_\(blockID)_"
        name = prefix.dropLast().description
        var layers: [Layer] = []
        func bn(_ suffix: String) -> BatchNormalization { BatchNormalization(momentum: 0.999, epsilon: 1e-3, name: prefix + suffix) }
        if blockID > 0 {
            let expand = (Conv2D(expansion * inputChannels, kernelSize: (1, 1), padding: .same, useBias: false, name: prefix + "expand"),
                          bn("expand_BN"))
            layers += [expand.0, expand.1, ReLU(maxValue: 6, name: prefix + "expand_relu")]
            self.expand = expand
        } else {
            expand = nil
        }
        if stride == 2 {
            // Keras's correct_pad for a 3x3 kernel: one cell after, and one before on odd sizes.
            let padding = ZeroPadding2D(padding: (1 - (1 - inputSize.0 % 2), 1, 1 - (1 - inputSize.1 % 2), 1), name: prefix + "pad")
            layers.append(padding)
            self.padding = padding
        } else {
            padding = nil
        }
        depthwise = (DepthwiseConv2D(strides: (stride, stride), padding: stride == 1 ? .same : .valid, useBias: false, name: prefix + "depthwise"),
                     bn("depthwise_BN"))
        project = (Conv2D(out, kernelSize: (1, 1), padding: .same, useBias: false, name: prefix + "project"), bn("project_BN"))
        layers += [depthwise.convolution, depthwise.normalization, ReLU(maxValue: 6, name: prefix + "depthwise_relu"),
                   project.convolution, project.normalization]
        self.layers = layers
        residual = inputChannels == out && stride == 1
    }

    var weights: [(name: String, parameter: Parameter)] { namedParameters(of: layers) }

    func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        try buildInOrder(layers, inputShape: inputShape, random: random)
    }

    func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { try outputShapeInOrder(layers, for: inputShape) }

    func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        if let y = fusedInference(input.value, context: context) { return Traced(y) }
        let x = applyInOrder(layers, input, &context)
        return residual ? input + x : x
    }

    /// In inference (moving statistics, nothing recorded), the whole block as one kernel with the
    /// normalizations folded into the convolutions: the expanded activation never reaches main
    /// memory. Nil when fusion is off or the kernel does not cover this block's shapes.
    private func fusedInference(_ x: Tensor, context: LayerContext) -> Tensor? {
        guard context.fusesLayers, !context.training, context.tape == nil, depthwise.normalization.gamma != nil else { return nil }
        let samePadding = padding.map {
            depthwise.convolution.absorbingZeroPadding($0.padding, inputShape: Array(x.shape.dropFirst())) != nil
        } ?? (depthwise.convolution.padding == .same)
        guard samePadding else { return nil }
        return fusedInvertedResidual(x, expand: expand.map { $0.convolution.folded(with: $0.normalization) },
                                     depthwise: depthwise.convolution.folded(with: depthwise.normalization),
                                     strides: depthwise.convolution.strides,
                                     project: project.convolution.folded(with: project.normalization), residual: residual)
    }
}

/// MobileNetV2 as `keras.applications.MobileNetV2(include_top=False)` builds it, layer for layer
/// and name for name (`Conv1`, `bn_Conv1`, `expanded_conv_depthwise`, `block_1_expand`, ...,
/// `Conv_1`, `Conv_1_bn`, `out_relu`), so ImageNet weights map by name: its `weights` are
/// `LAYER.WEIGHT` with Keras 3's weight names (`Conv1.kernel`, `bn_Conv1.moving_mean`).
/// Input: pixels scaled to [-1, 1], as Keras's `preprocess_input` for MobileNetV2.
public final class MobileNetV2: Layer {
    public var name = "mobilenetv2"
    public let alpha: Double
    public let inputSize: Int
    let layers: [Layer]

    /// The width multipliers Keras's MobileNetV2 offers.
    public static let alphas = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]

    /// The (expansion, filters, repeats, first stride) of Keras's 17 blocks.
    static let stages = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    public init(alpha: Double = 1.0, inputSize: Int = 224) {
        precondition(Self.alphas.contains(alpha), "MobileNetV2: alpha \(alpha) is not one Keras offers")
        self.alpha = alpha
        self.inputSize = inputSize
        let first = makeDivisible(32 * alpha)
        var layers: [Layer] = [
            Conv2D(first, kernelSize: (3, 3), strides: (2, 2), padding: .same, useBias: false, name: "Conv1"),
            BatchNormalization(momentum: 0.999, epsilon: 1e-3, name: "bn_Conv1"), ReLU(maxValue: 6, name: "Conv1_relu"),
        ]
        var channels = first, size = (inputSize + 1) / 2, block = 0
        for (expansion, filters, repeats, stride) in Self.stages {
            for r in 0..<repeats {
                let s = r == 0 ? stride : 1
                let b = InvertedResidual(inputChannels: channels, filters: filters, alpha: alpha, stride: s, expansion: expansion,
                                         blockID: block, inputSize: (size, size))
                layers.append(b)
                channels = makeDivisible(Double(Int(Double(filters) * alpha)))
                if s == 2 { size = (size + 1) / 2 }
                block += 1
            }
        }
        let last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280
        layers += [Conv2D(last, kernelSize: (1, 1), useBias: false, name: "Conv_1"),
                   BatchNormalization(momentum: 0.999, epsilon: 1e-3, name: "Conv_1_bn"), ReLU(maxValue: 6, name: "out_relu")]
        self.layers = layers
    }

    public var weights: [(name: String, parameter: Parameter)] { namedParameters(of: layers.flatMap { ($0 as? InvertedResidual)?.layers ?? [$0] }) }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        try buildInOrder(layers, inputShape: inputShape, random: random)
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { try outputShapeInOrder(layers, for: inputShape) }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { applyInOrder(layers, input, &context) }

    /// Keras's layer names, in order (blocks expanded), for checks against Keras.
    public var layerNames: [String] { layers.flatMap { ($0 as? InvertedResidual)?.layers.map(\.name) ?? [$0.name] } }
}

/// The tutorial's second model: a MobileNetV2 backbone, global average pooling, and two branches
/// of Dense 256 - BatchNormalization - ReLU - Dense 64 - BatchNormalization - ReLU ending in
/// Dense 2 softmax (dog/cat) and Dense 4 sigmoid (box), concatenated into [n, 6]. Head layers
/// take Keras's automatic names (`dense`, `batch_normalization`, `re_lu`, ... `dense_5`).
public final class TwoHeadLocalizer: Layer {
    public var name = "two_head_localizer"
    public let backbone: MobileNetV2
    let pooling = GlobalAveragePooling2D(name: "global_average_pooling2d")
    let classHead: [Layer]
    let boxHead: [Layer]
    /// When true the backbone runs in inference mode (moving statistics) and gets no gradients.
    public var backboneFrozen = false {
        didSet { for (_, p) in backbone.weights where !isState(p) { p.isTrainable = !backboneFrozen } }
    }

    public init(alpha: Double = 1.0, inputSize: Int = 224) {
        backbone = MobileNetV2(alpha: alpha, inputSize: inputSize)
        func branch(_ units: Int, _ activation: Activation) -> [Layer] {
            [Dense(256), BatchNormalization(), ReLU(), Dense(64), BatchNormalization(), ReLU(), Dense(units, activation: activation)]
        }
        classHead = branch(2, .softmax)
        boxHead = branch(4, .sigmoid)
        assignKerasNames(classHead + boxHead)
    }

    private func isState(_ p: Parameter) -> Bool {
        backbone.weights.contains { $0.parameter === p && ($0.name.hasSuffix("moving_mean") || $0.name.hasSuffix("moving_variance")) }
    }

    /// Backbone weights (`Conv1.kernel`, ...) then the heads', depth by depth (class then box
    /// branch at each depth), which is the order Keras's functional model lists them in.
    public var weights: [(name: String, parameter: Parameter)] {
        backbone.weights + namedParameters(of: zip(classHead, boxHead).flatMap { [$0, $1] })
    }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        try backbone.build(inputShape: inputShape, random: &random)
        let features = try pooling.outputShape(for: backbone.outputShape(for: inputShape))
        for head in [classHead, boxHead] { try buildInOrder(head, inputShape: features, random: random) }
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { [6] }

    /// The backbone's output (before pooling) and the model's [n, 6] output.
    public func features(_ input: Traced, context: inout LayerContext) -> Traced {
        if backboneFrozen {
            var frozen = LayerContext(training: false, tape: nil, seed: 0, profiler: context.profiler)
            return Traced(backbone(input, context: &frozen).value)
        }
        return backbone(input, context: &context)
    }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        let pooled = pooling(features(input, context: &context), context: &context)
        return Concatenate()([applyInOrder(classHead, pooled, &context), applyInOrder(boxHead, pooled, &context)])
    }

    /// A Keras-style summary: the backbone's layers (blocks expanded), then each head layer.
    public func summary() -> String {
        let leaves = backbone.layers.flatMap { ($0 as? InvertedResidual)?.layers ?? [$0] }
        let size = backbone.inputSize
        let features = (try? pooling.outputShape(for: backbone.outputShape(for: [size, size, 3]))) ?? []
        var extra: [(layer: String, output: [Int], parameters: Int)] = [("global_average_pooling2d (GlobalAveragePooling2D)", features, 0)]
        for head in [classHead, boxHead] {
            var shape = features
            for layer in head {
                shape = (try? layer.outputShape(for: shape)) ?? []
                extra.append(("\(layer.name) (\(layer.typeName))", shape, layer.weights.reduce(0) { $0 + $1.parameter.value.count }))
            }
        }
        extra.append(("concatenate (Concatenate)", [6], 0))
        return kerasSummary(name: "mobilenetv2_\(backbone.alpha)_\(size)_two_head", layers: leaves, inputShape: [size, size, 3],
                            weights: weights, extraRows: extra)
    }

    /// Builds the model for `inputSize` with seeded initial weights.
    public static func make(alpha: Double = 1.0, inputSize: Int = 224, seed: UInt64 = 0) throws -> TwoHeadLocalizer {
        let model = TwoHeadLocalizer(alpha: alpha, inputSize: inputSize)
        var random = SeededGenerator(seed: seed)
        try model.build(inputShape: [inputSize, inputSize, 3], random: &random)
        return model
    }
}

extension MobileNetV2 {
    /// Loads MobileNetV2 weights from a Keras HDF5 file (any layout `KerasWeights` reads, such as
    /// the ImageNet files Keras's applications module downloads) or from a safetensors file with
    /// Pinpoint's names. Every backbone tensor must be present with its shape; nothing is loaded
    /// otherwise, and the error names the file and the tensors at fault.
    public func loadWeights(from path: String) throws {
        if KerasWeights.isHDF5(path) {
            try loadWeights(from: KerasWeights(contentsOf: path))
            return
        }
        let checkpoint = try Checkpoint(contentsOf: path)
        if let alpha = checkpoint.metadata["alpha"].flatMap(Double.init), alpha != self.alpha {
            throw CheckpointError(file: path, reason: "holds MobileNetV2 weights for alpha \(alpha); this backbone has alpha \(self.alpha)")
        }
        try checkpoint.load(into: weights, file: path)
    }
}
