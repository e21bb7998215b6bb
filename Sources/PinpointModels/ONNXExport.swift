import Foundation
import PinpointData
import PinpointLayers
import PinpointTensor

/// A model that cannot be written as ONNX, and why.
public struct ONNXExportError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Writes a localizer as an ONNX model (opset 13, IR version 7) with a fixed interface, so any
/// ONNX runtime can use it without Pinpoint:
///
/// - input `image`: `[N, H, W, 3]` uint8, raw RGB at the model's size; the input scaling
///   (pixel / 255 for the CNN, [-1, 1] for MobileNetV2) is inside the graph;
/// - output `box`: `[N, 4]`, (x_center, y_center, width, height) as fractions of the image;
/// - for the two-head model also `class_probabilities`: `[N, 2]`, (dog, cat).
///
/// Inside, the graph runs in NCHW, as ONNX's Conv and pooling are defined. Each
/// BatchNormalization is folded into the convolution or Dense layer before it (inference-mode
/// statistics), a ZeroPadding2D into the padding of the convolution after it, and SAME padding
/// becomes explicit pads with the extra row and column at the bottom and right, as Keras places
/// them.
///
/// ```swift
/// let loaded = try LoadedModel(contentsOf: "cnn.safetensors")
/// try ONNXExport(loaded).serialized().write(to: URL(fileURLWithPath: "cnn.onnx"))
/// ```
public struct ONNXExport {
    public static let opset = 13
    public let configuration: ModelConfiguration
    private var graph = Graph()

    public init(_ loaded: LoadedModel) throws {
        configuration = loaded.configuration
        let size = configuration.imageSize
        graph.imageSize = size
        var x = graph.input()
        x = graph.node("Cast", [x], attributes: [.int("to", 1)])
        x = graph.node("Mul", [x, graph.constant([configuration.inputScale], dims: [])])
        x = graph.node("Add", [x, graph.constant([configuration.inputOffset], dims: [])])
        x = graph.node("Transpose", [x], attributes: [.ints("perm", [0, 3, 1, 2])])
        var value = Value(name: x, channels: 3, height: size, width: size)
        if let sequential = loaded.model as? Sequential {
            value = try graph.layers(sequential.layers, value)
            graph.output(value.name, as: "box", width: 4)
        } else if let twoHead = loaded.model as? TwoHeadLocalizer {
            value = try graph.layers(twoHead.backbone.layers, value)
            value = try graph.layers([twoHead.pooling], value)
            let classes = try graph.layers(twoHead.classHead, value)
            let box = try graph.layers(twoHead.boxHead, value)
            graph.output(classes.name, as: "class_probabilities", width: 2)
            graph.output(box.name, as: "box", width: 4)
        } else {
            throw ONNXExportError(description: "ONNX export knows the tutorial's CNN and the two-head MobileNetV2, not \(type(of: loaded.model))")
        }
    }

    /// The ModelProto's bytes.
    public func serialized() -> Data {
        var model = WireWriter()
        model.varintField(1, 7)                                   // ir_version
        model.string(2, "pinpoint")                               // producer_name
        model.lengthDelimited(7) { graph.write(to: &$0, name: configuration.architecture) }
        model.lengthDelimited(8) { opset in                       // opset_import: the default domain
            opset.string(1, "")
            opset.varintField(2, Int64(Self.opset))
        }
        var metadata = configuration.metadata
        metadata["interface"] = configuration.hasClassHead
            ? "image uint8 [N, H, W, 3] -> box float [N, 4] (x_center, y_center, w, h in [0, 1]), class_probabilities float [N, 2] (dog, cat)"
            : "image uint8 [N, H, W, 3] -> box float [N, 4] (x_center, y_center, w, h in [0, 1])"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            model.lengthDelimited(14) { entry in
                entry.string(1, key)
                entry.string(2, value)
            }
        }
        return Data(model.bytes)
    }
}

/// A value flowing through the graph: its name and NCHW extent (height and width 0 once flat).
private struct Value {
    var name: String
    var channels: Int
    var height: Int
    var width: Int
}

private enum Attribute {
    case int(String, Int)
    case ints(String, [Int])
    case float(String, Float)

    func write(to w: inout WireWriter) {
        switch self {
        case .int(let name, let value):
            w.string(1, name); w.varintField(3, Int64(value)); w.varintField(20, 2)
        case .ints(let name, let values):
            w.string(1, name)
            for v in values { w.varintField(8, Int64(v)) }
            w.varintField(20, 7)
        case .float(let name, let value):
            w.string(1, name); w.fixed32(2, value); w.varintField(20, 1)
        }
    }
}

private struct Graph {
    var nodes: [[UInt8]] = []
    var initializers: [[UInt8]] = []
    var outputs: [(name: String, width: Int)] = []
    var count = 0

    mutating func fresh(_ base: String) -> String {
        count += 1
        return "\(base)_\(count)"
    }

    mutating func input() -> String { "image" }

    mutating func constant(_ values: [Float], dims: [Int], name: String? = nil) -> String {
        let name = name ?? fresh("constant")
        var t = WireWriter()
        for d in dims { t.varintField(1, Int64(d)) }
        t.varintField(2, 1)                                       // FLOAT
        t.string(8, name)
        var raw = [UInt8]()
        raw.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
        t.lengthDelimited(9, raw)
        initializers.append(t.bytes)
        return name
    }

    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], attributes: [Attribute] = [], output: String? = nil) -> String {
        let out = output ?? fresh(op.lowercased())
        var n = WireWriter()
        for i in inputs { n.string(1, i) }
        n.string(2, out)
        n.string(3, out)
        n.string(4, op)
        for a in attributes { n.lengthDelimited(5) { a.write(to: &$0) } }
        nodes.append(n.bytes)
        return out
    }

    mutating func output(_ value: String, as name: String, width: Int) {
        node("Identity", [value], output: name)
        outputs.append((name, width))
    }

    func write(to g: inout WireWriter, name: String) {
        for n in nodes { g.lengthDelimited(1, n) }
        g.string(2, name)
        for t in initializers { g.lengthDelimited(5, t) }
        func valueInfo(_ name: String, type elementType: Int, dims: [Int?]) -> [UInt8] {
            var v = WireWriter()
            v.string(1, name)
            v.lengthDelimited(2) { type in
                type.lengthDelimited(1) { tensor in
                    tensor.varintField(1, Int64(elementType))
                    tensor.lengthDelimited(2) { shape in
                        for d in dims {
                            shape.lengthDelimited(1) { dim in
                                if let d { dim.varintField(1, Int64(d)) } else { dim.string(2, "N") }
                            }
                        }
                    }
                }
            }
            return v.bytes
        }
        g.lengthDelimited(11, valueInfo("image", type: 2, dims: [nil, imageSize, imageSize, 3]))   // UINT8
        for (name, width) in outputs { g.lengthDelimited(12, valueInfo(name, type: 1, dims: [nil, width])) }
    }

    var imageSize = 0

    /// TensorFlow's SAME padding along one axis: (before, after), the extra cell after.
    static func samePads(_ size: Int, kernel: Int, stride: Int, dilation: Int = 1) -> (Int, Int) {
        let out = (size + stride - 1) / stride
        let total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return (total / 2, total - total / 2)
    }

    /// The layers in order, each BatchNormalization folded into the layer before it and each
    /// ZeroPadding2D into the convolution after it.
    mutating func layers(_ layers: [Layer], _ input: Value) throws -> Value {
        var x = input
        var pending: (top: Int, bottom: Int, left: Int, right: Int) = (0, 0, 0, 0)
        var i = 0
        while i < layers.count {
            let layer = layers[i]
            let next = i + 1 < layers.count ? layers[i + 1] as? BatchNormalization : nil
            switch layer {
            case let block as InvertedResidual:
                let y = try self.layers(block.layers, x)
                x = block.residual ? Value(name: node("Add", [x.name, y.name]), channels: y.channels, height: y.height, width: y.width) : y
            case let conv as Conv2D:
                x = try convolution(conv.name, x, kernel: conv.kernel!.value, bias: conv.bias?.value, group: 1, size: conv.kernelSize,
                                    strides: conv.strides, dilation: conv.dilation, padding: conv.padding, extra: pending, folding: next)
                x.name = activation(conv.activation, x.name)
                pending = (0, 0, 0, 0)
                if next != nil { i += 1 }
            case let conv as DepthwiseConv2D:
                x = try convolution(conv.name, x, kernel: conv.weights.first { $0.name == "kernel" }!.parameter.value,
                                    bias: conv.weights.first { $0.name == "bias" }?.parameter.value, group: x.channels,
                                    size: conv.kernelSize, strides: conv.strides, dilation: conv.dilation, padding: conv.padding,
                                    extra: pending, folding: next)
                x.name = activation(conv.activation, x.name)
                pending = (0, 0, 0, 0)
                if next != nil { i += 1 }
            case let pad as ZeroPadding2D:
                pending = (pending.top + pad.padding.top, pending.bottom + pad.padding.bottom,
                           pending.left + pad.padding.left, pending.right + pad.padding.right)
                x.height += pad.padding.top + pad.padding.bottom
                x.width += pad.padding.left + pad.padding.right
            case let pool as MaxPooling2D:
                let (top, bottom) = pool.padding == .same ? Self.samePads(x.height, kernel: pool.poolSize.0, stride: pool.strides.0) : (0, 0)
                let (left, right) = pool.padding == .same ? Self.samePads(x.width, kernel: pool.poolSize.1, stride: pool.strides.1) : (0, 0)
                let name = node("MaxPool", [x.name], attributes: [.ints("kernel_shape", [pool.poolSize.0, pool.poolSize.1]),
                                                                 .ints("strides", [pool.strides.0, pool.strides.1]),
                                                                 .ints("pads", [top, left, bottom, right])])
                x = Value(name: name, channels: x.channels, height: (x.height + top + bottom - pool.poolSize.0) / pool.strides.0 + 1,
                          width: (x.width + left + right - pool.poolSize.1) / pool.strides.1 + 1)
            case is GlobalAveragePooling2D:
                let pooled = node("GlobalAveragePool", [x.name])
                x = Value(name: node("Flatten", [pooled], attributes: [.int("axis", 1)]), channels: x.channels, height: 0, width: 0)
            case is Flatten:
                // Keras flattens NHWC in (height, width, channel) order.
                let nhwc = node("Transpose", [x.name], attributes: [.ints("perm", [0, 2, 3, 1])])
                x = Value(name: node("Flatten", [nhwc], attributes: [.int("axis", 1)]), channels: x.channels * max(x.height, 1) * max(x.width, 1),
                          height: 0, width: 0)
            case let layer as Dense:
                x = dense(layer, x, folding: next)
                if next != nil { i += 1 }
            case let relu as ReLU:
                if let maxValue = relu.maxValue {
                    x.name = node("Clip", [x.name, constant([0], dims: []), constant([maxValue], dims: [])])
                } else {
                    x.name = node("Relu", [x.name])
                }
            case is Dropout:
                break   // inference
            case let norm as BatchNormalization:
                let (scale, shift) = Self.affine(of: norm)
                let dims = x.height == 0 ? [1, scale.count] : [1, scale.count, 1, 1]
                x.name = node("Add", [node("Mul", [x.name, constant(scale, dims: dims)]), constant(shift, dims: dims)])
            default:
                throw ONNXExportError(description: "ONNX export has no rule for \(layer.name) (\(type(of: layer)))")
            }
            i += 1
        }
        return x
    }

    /// Inference-mode BatchNormalization as y = x * scale + shift per channel.
    static func affine(of norm: BatchNormalization) -> (scale: [Float], shift: [Float]) {
        func w(_ name: String) -> [Float] { norm.weights.first { $0.name == name }!.parameter.value.scalars }
        let gamma = w("gamma"), beta = w("beta"), mean = w("moving_mean"), variance = w("moving_variance")
        let scale = zip(gamma, variance).map { $0 / ($1 + norm.epsilon).squareRoot() }
        let shift = (0..<scale.count).map { beta[$0] - mean[$0] * scale[$0] }
        return (scale, shift)
    }

    mutating func activation(_ activation: Activation, _ x: String) -> String {
        switch activation {
        case .linear: return x
        case .relu: return node("Relu", [x])
        case .relu6: return node("Clip", [x, constant([0], dims: []), constant([6], dims: [])])
        case .sigmoid: return node("Sigmoid", [x])
        case .tanh: return node("Tanh", [x])
        case .softmax: return node("Softmax", [x], attributes: [.int("axis", -1)])
        }
    }

    /// A convolution from a Keras HWIO kernel (or HWC1 depthwise kernel with `group` = channels),
    /// with a following BatchNormalization folded into its weights and bias.
    mutating func convolution(_ name: String, _ x: Value, kernel: Tensor, bias: Tensor?, group: Int, size: (Int, Int), strides: (Int, Int),
                              dilation: (Int, Int), padding: Padding, extra: (top: Int, bottom: Int, left: Int, right: Int),
                              folding norm: BatchNormalization?) throws -> Value {
        let (kh, kw) = size
        let k = kernel.scalars, shape = kernel.shape
        let inputs = group == 1 ? shape[2] : 1, outputs = group == 1 ? shape[3] : shape[2] * shape[3]
        // Keras HWIO (or H, W, C, multiplier) to ONNX OIHW (depthwise: [C * multiplier, 1, H, W]).
        var w = [Float](repeating: 0, count: k.count)
        for o in 0..<outputs {
            for c in 0..<inputs {
                for r in 0..<kh {
                    for s in 0..<kw {
                        // A depthwise kernel is the case inputs = 1: output o = channel * multiplier + m.
                        w[((o * inputs + c) * kh + r) * kw + s] = k[((r * kw + s) * inputs + c) * outputs + o]
                    }
                }
            }
        }
        var b = bias?.scalars ?? [Float](repeating: 0, count: outputs)
        if let norm {
            let (scale, shift) = Self.affine(of: norm)
            for o in 0..<outputs {
                for j in 0..<(inputs * kh * kw) { w[o * inputs * kh * kw + j] *= scale[o] }
                b[o] = b[o] * scale[o] + shift[o]
            }
        }
        let height = x.height - extra.top - extra.bottom, width = x.width - extra.left - extra.right
        let (top, bottom) = padding == .same ? Self.samePads(height, kernel: kh, stride: strides.0, dilation: dilation.0) : (0, 0)
        let (left, right) = padding == .same ? Self.samePads(width, kernel: kw, stride: strides.1, dilation: dilation.1) : (0, 0)
        let pads = [top + extra.top, left + extra.left, bottom + extra.bottom, right + extra.right]
        let out = node("Conv", [x.name, constant(w, dims: [outputs, inputs, kh, kw], name: name + ".weight"), constant(b, dims: [outputs], name: name + ".bias")],
                       attributes: [.ints("kernel_shape", [kh, kw]), .ints("strides", [strides.0, strides.1]),
                                    .ints("dilations", [dilation.0, dilation.1]), .ints("pads", pads), .int("group", group)])
        let effective = (h: (kh - 1) * dilation.0 + 1, w: (kw - 1) * dilation.1 + 1)
        return Value(name: out, channels: outputs, height: (x.height + top + bottom - effective.h) / strides.0 + 1,
                     width: (x.width + left + right - effective.w) / strides.1 + 1)
    }

    /// Dense as Gemm (the Keras kernel is [in, out], Gemm's B as is), a following
    /// BatchNormalization folded in, then its activation.
    mutating func dense(_ dense: Dense, _ x: Value, folding norm: BatchNormalization?) -> Value {
        let kernel = dense.weights.first { $0.name == "kernel" }!.parameter.value
        var w = kernel.scalars
        let (inputs, outputs) = (kernel.shape[0], kernel.shape[1])
        var b = dense.weights.first { $0.name == "bias" }?.parameter.value.scalars ?? [Float](repeating: 0, count: outputs)
        if let norm {
            let (scale, shift) = Self.affine(of: norm)
            for i in 0..<inputs { for o in 0..<outputs { w[i * outputs + o] *= scale[o] } }
            for o in 0..<outputs { b[o] = b[o] * scale[o] + shift[o] }
        }
        let y = node("Gemm", [x.name, constant(w, dims: [inputs, outputs], name: dense.name + ".kernel"), constant(b, dims: [outputs], name: dense.name + ".bias")])
        return Value(name: activation(dense.activation, y), channels: outputs, height: 0, width: 0)
    }
}
