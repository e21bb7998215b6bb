import Foundation
import PinpointAutograd
import PinpointTensor

/// The weights of a Keras model read straight from its HDF5 file, by Pinpoint's names
/// (`block_1_depthwise.kernel`, `bn_Conv1.moving_mean`). Three layouts are understood:
///
/// - Keras 2's `save_weights` (the files Keras's applications module downloads, such as
///   `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`): a `layer_names`
///   attribute at the root, and per layer a group whose `weight_names` attribute lists datasets
///   like `block_1_depthwise/depthwise_kernel:0`;
/// - a whole model saved with `model.save("x.h5")` by Keras 2 or 3: the same inside a
///   `model_weights` group, where a nested functional model (the backbone of a fine-tuned
///   classifier, e.g. `mobilenetv2_1.00_160`) is one layer group whose `weight_names` hold its
///   layers' weights;
/// - Keras 3's `save_weights("x.weights.h5")`: groups `layers/<key>/vars` (nested models add
///   `layers/<key>/layers/...`) whose `name` attribute is the layer's name, holding datasets
///   `0`, `1`, ... in the layer's weight order (kernel, bias; gamma, beta, moving mean, moving
///   variance).
///
/// ```swift
/// let weights = try KerasWeights(contentsOf: "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
/// let alpha = try weights.mobileNetV2Alpha()          // 1.0, from the shapes
/// try model.backbone.loadWeights(from: weights)
/// ```
public struct KerasWeights {
    public enum Layout: String, Sendable {
        case saveWeights = "Keras 2 save_weights"
        case modelFile = "Keras model.save"
        case keras3Weights = "Keras 3 save_weights"
    }

    public let path: String
    public let layout: Layout
    /// The input size the file's names state (the applications file's `_1.0_224_`, a nested
    /// model's `mobilenetv2_1.00_160`), if any. Weights do not depend on it.
    public let statedImageSize: Int?
    private let file: HDF5File
    /// Dataset paths by layer name: by weight name in the Keras 2 layouts, by index in Keras 3's.
    private let datasets: [String: [String: String]]

    /// Whether the file at `path` starts with HDF5's signature (the test `loadWeights` uses to
    /// tell Keras files from safetensors).
    public static func isHDF5(_ path: String) -> Bool {
        guard let handle = fopen(path, "rb") else { return false }
        defer { fclose(handle) }
        var signature = [UInt8](repeating: 0, count: 8)
        return fread(&signature, 1, 8, handle) == 8 && signature == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    }

    public init(contentsOf path: String) throws(HDF5Error) {
        self.path = path
        file = try HDF5File(path: path)
        var datasets: [String: [String: String]] = [:]
        var statedSize = Self.statedSize(in: path.split(separator: "/").last.map(String.init) ?? path)
        if let root = try Self.legacyRoot(file) {
            layout = root.isEmpty ? .saveWeights : .modelFile
            for layer in try file.strings("layer_names", of: root.isEmpty ? "/" : root) ?? [] {
                let group = root.isEmpty ? layer : root + "/" + layer
                if statedSize == nil, layer.hasPrefix("mobilenetv2_") { statedSize = Self.statedSize(in: layer + "_") }
                for weight in try file.strings("weight_names", of: group) ?? [] {
                    let parts = weight.split(separator: "/").map(String.init)
                    guard let last = parts.last else { continue }
                    let owner = parts.count > 1 ? parts[parts.count - 2] : layer
                    let short = String(last.split(separator: ":").first ?? Substring(last))
                    datasets[owner, default: [:]][short == "depthwise_kernel" ? "kernel" : short] = group + "/" + weight
                }
            }
        } else {
            let objects = try file.objects()
            guard objects.contains(where: { $0.path == "layers" && $0.kind == .group }) else {
                throw HDF5Error(file: path, reason: "holds no Keras weights: no layer_names attribute, model_weights group or layers group")
            }
            layout = .keras3Weights
            let vars = objects.filter { $0.kind == .group && $0.path.hasSuffix("/vars") }
            for group in vars {
                guard let name = try file.strings("name", of: group.path)?.first else { continue }
                for (child, kind) in objects where kind == .dataset && child.hasPrefix(group.path + "/") {
                    let index = child.dropFirst(group.path.count + 1)
                    if Int(index) != nil { datasets[name, default: [:]][String(index)] = child }
                }
            }
        }
        guard !datasets.isEmpty else { throw HDF5Error(file: path, reason: "holds no weights (\(layout.rawValue) layout with no datasets)") }
        self.datasets = datasets
        statedImageSize = statedSize
    }

    /// The group holding `layer_names`: "" for the root (save_weights), "model_weights" for a
    /// model file, nil for neither.
    private static func legacyRoot(_ file: HDF5File) throws(HDF5Error) -> String? {
        if try file.strings("layer_names", of: "/") != nil { return "" }
        if file.kind(of: "model_weights") == .group, try file.strings("layer_names", of: "model_weights") != nil { return "model_weights" }
        return nil
    }

    /// The size in names like `..._0.35_96_no_top.h5` or `mobilenetv2_1.00_160_`.
    private static func statedSize(in name: String) -> Int? {
        let parts = name.split(separator: "_")
        for (i, part) in parts.enumerated() where i + 1 < parts.count && Double(part) != nil && part.contains(".") {
            if let size = Int(parts[i + 1].split(separator: ".").first ?? ""), (32...1024).contains(size) { return size }
        }
        return nil
    }

    /// Keras's order of a layer's weights, which Keras 3's numbered datasets follow.
    private static let order = ["kernel": 0, "bias": 1, "gamma": 0, "beta": 1, "moving_mean": 2, "moving_variance": 3]

    /// The dataset holding Pinpoint's tensor `name` (`layer.weight`), or nil.
    public func dataset(for name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let layer = String(name[..<dot]), weight = String(name[name.index(after: dot)...])
        guard let entries = datasets[layer] else { return nil }
        if layout == .keras3Weights { return Self.order[weight].flatMap { entries[String($0)] } }
        return entries[weight]
    }

    /// Pinpoint's tensor `name` from the file.
    public func tensor(_ name: String) throws(HDF5Error) -> Tensor {
        guard let dataset = dataset(for: name) else {
            throw HDF5Error(file: path, reason: "lacks the tensor \(name) (\(layout.rawValue) layout)")
        }
        return try file.tensor(dataset)
    }

    /// The MobileNetV2 width multiplier the file's shapes imply: block_16_project's output
    /// channels are `_make_divisible(320 * alpha, 8)`, distinct for every alpha Keras offers.
    public func mobileNetV2Alpha() throws(HDF5Error) -> Double {
        guard let dataset = dataset(for: "block_16_project.kernel"), let shape = file.shape(dataset), shape.count == 4 else {
            throw HDF5Error(file: path, reason: "holds no MobileNetV2 backbone: it lacks the tensor block_16_project.kernel")
        }
        guard let alpha = MobileNetV2.alphas.first(where: { makeDivisible(Double(Int(320 * $0))) == shape[3] }) else {
            throw HDF5Error(file: path, reason: "block_16_project.kernel has \(shape[3]) output channels, which no MobileNetV2 alpha gives")
        }
        return alpha
    }
}

extension MobileNetV2 {
    /// Loads every backbone tensor from Keras weights, checking each shape. Nothing is loaded
    /// unless all of them fit; the error names the first tensor that is missing or disagrees.
    public func loadWeights(from keras: KerasWeights) throws(HDF5Error) {
        var values: [(Parameter, Tensor)] = []
        for (name, parameter) in weights {
            let tensor = try keras.tensor(name)
            guard tensor.shape == parameter.shape else {
                let implied = (try? keras.mobileNetV2Alpha()).map { "; the file's shapes are those of alpha \($0)" } ?? ""
                throw HDF5Error(file: keras.path, reason: "\(name) is \(tensor.shape) in the file, \(parameter.shape) in a MobileNetV2 of alpha \(alpha)\(implied)")
            }
            values.append((parameter, tensor))
        }
        for (parameter, tensor) in values { parameter.value = tensor }
    }
}
