import PinpointAutograd
import PinpointTensor

/// Keras `Sequential`: layers applied in order, built for a known input shape.
///
/// Layers left unnamed get Keras's names in order (`conv2d`, `conv2d_1`, `max_pooling2d`, ...),
/// and every parameter is listed as `layer.weight` (`conv2d_1.kernel`,
/// `batch_normalization.moving_mean`): the names checkpoints use.
///
/// ```swift
/// let model = try Sequential(inputShape: [32, 32, 3], [
///     Conv2D(16, padding: .same, activation: .relu), MaxPooling2D(), Flatten(), Dense(4, activation: .sigmoid),
/// ], seed: 1)
/// var context = LayerContext()
/// let y = model(Traced(images), context: &context)
/// print(model.summary())
/// ```
public final class Sequential: Layer {
    public var name: String
    public let layers: [Layer]
    /// Input shape without the batch axis.
    public let inputShape: [Int]

    public init(inputShape: [Int], _ layers: [Layer], seed: UInt64 = 0, name: String = "sequential") throws(LayerError) {
        self.inputShape = inputShape
        self.layers = layers
        self.name = name
        assignKerasNames(layers)
        try buildInOrder(layers, inputShape: inputShape, random: SeededGenerator(seed: seed))
    }

    /// Every parameter, `layer.weight`, in layer order.
    public var weights: [(name: String, parameter: Parameter)] { namedParameters(of: layers) }
    public var parameters: [(name: String, parameter: Parameter)] { weights }
    public var trainableParameters: [(name: String, parameter: Parameter)] { weights.filter { $0.parameter.isTrainable } }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { try outputShapeInOrder(layers, for: inputShape) }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { applyInOrder(layers, input, &context) }

    /// Runs the model on a batch in inference mode, checking the input shape first.
    public func predict(_ batch: Tensor) throws(LayerError) -> Tensor {
        guard Array(batch.shape.dropFirst()) == inputShape else {
            throw LayerError(layer: name, reason: "expects input of shape [batch] + \(inputShape), got \(batch.shape)")
        }
        var context = LayerContext()
        return self(Traced(batch), context: &context).value
    }

    /// A Keras-style summary: layer names and types, output shapes, parameter counts and totals.
    public func summary() -> String { kerasSummary(name: name, layers: layers, inputShape: inputShape, weights: weights) }
}

/// Keras's summary table for layers applied in order from `inputShape`, with totals over `weights`
/// (trainable and not).
public func kerasSummary(name: String, layers: [Layer], inputShape: [Int], weights: [(name: String, parameter: Parameter)],
                         extraRows: [(layer: String, output: [Int], parameters: Int)] = []) -> String {
    var rows: [(String, String, Int)] = []
    var shape = inputShape
    func render(_ s: [Int]) -> String { "(None, " + s.map(String.init).joined(separator: ", ") + ")" }
    for layer in layers {
        shape = (try? layer.outputShape(for: shape)) ?? []
        rows.append(("\(layer.name) (\(layer.typeName))", render(shape), layer.weights.reduce(0) { $0 + $1.parameter.value.count }))
    }
    rows += extraRows.map { ($0.layer, render($0.output), $0.parameters) }
    let total = weights.reduce(0) { $0 + $1.parameter.value.count }
    let trainable = weights.filter { $0.parameter.isTrainable }.reduce(0) { $0 + $1.parameter.value.count }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    let rule = String(repeating: "_", count: 78), double = String(repeating: "=", count: 78)
    var lines = ["Model: \"\(name)\"", rule, pad(" Layer (type)", 34) + pad("Output Shape", 28) + "Param #", double]
    for (i, (layer, output, count)) in rows.enumerated() {
        lines.append(pad(" " + layer, 34) + pad(output, 28) + formatted(count))
        lines.append(i == rows.count - 1 ? double : "")
    }
    lines += ["Total params: \(formatted(total))", "Trainable params: \(formatted(trainable))",
              "Non-trainable params: \(formatted(total - trainable))", rule]
    return lines.joined(separator: "\n")
}

/// Builds layers applied one after another from `inputShape`, each drawing its initial weights
/// from its own random stream keyed by its name (so adding a layer does not change the others');
/// returns the last output shape. Containers (Sequential, MobileNetV2's blocks) build with it.
@discardableResult
public func buildInOrder(_ layers: [Layer], inputShape: [Int], random: SeededGenerator) throws(LayerError) -> [Int] {
    var shape = inputShape
    for layer in layers {
        var layerRandom = random.fork(layer.name.hashValueStable)
        try layer.build(inputShape: shape, random: &layerRandom)
        shape = try layer.outputShape(for: shape)
    }
    return shape
}

/// The output shape of layers applied one after another.
public func outputShapeInOrder(_ layers: [Layer], for inputShape: [Int]) throws(LayerError) -> [Int] {
    var shape = inputShape
    for layer in layers { shape = try layer.outputShape(for: shape) }
    return shape
}

/// Layers applied one after another, fused where that saves passes over memory (see
/// Fusion.swift); each layer, or fused group, a scope of the context's profiler, if any.
public func applyInOrder(_ layers: [Layer], _ input: Traced, _ context: inout LayerContext) -> Traced {
    var x = input
    var index = 0
    while index < layers.count {
        let (y, covered) = applyFused(layers, at: index, x, &context)
        x = y
        index += covered
    }
    return x
}

/// Parameters of layers as `layer.weight`.
public func namedParameters(of layers: [Layer]) -> [(name: String, parameter: Parameter)] {
    layers.flatMap { layer in layer.weights.map { ("\(layer.name).\($0.name)", $0.parameter) } }
}

/// Gives unnamed layers Keras's names: the type's snake-case name, then `_1`, `_2`, ... for
/// repeats; names already taken (by layers named explicitly) are skipped.
public func assignKerasNames(_ layers: [Layer]) {
    var taken = Set(layers.map(\.name).filter { !$0.isEmpty })
    var counters: [String: Int] = [:]
    for layer in layers where layer.name.isEmpty {
        let base = layer.defaultName
        var candidate = base
        while taken.contains(candidate) {
            counters[base, default: 0] += 1
            candidate = "\(base)_\(counters[base]!)"
        }
        taken.insert(candidate)
        layer.name = candidate
    }
}

/// 1234567 -> "1,234,567".
func formatted(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}

extension String {
    /// A hash that is the same on every run (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// Keras `Concatenate`: joins inputs along `axis` (default the last), for graphs with branches.
public struct Concatenate {
    public let axis: Int
    public init(axis: Int = -1) { self.axis = axis }
    public func callAsFunction(_ inputs: [Traced]) -> Traced {
        Traced.concatenate(inputs, alongAxis: axis < 0 ? axis + inputs[0].rank : axis)
    }
}

/// Keras `Add`: the elementwise sum of its inputs (MobileNetV2's residual connections).
public struct Add {
    public init() {}
    public func callAsFunction(_ inputs: [Traced]) -> Traced {
        inputs.dropFirst().reduce(inputs[0], +)
    }
}
