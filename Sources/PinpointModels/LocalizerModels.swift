import Foundation
import PinpointAutograd
import PinpointLayers
import PinpointTensor

/// What a checkpoint says about the model that wrote it: enough to rebuild it and feed it.
public struct ModelConfiguration: Equatable, Sendable {
    /// "seed-cnn" (the tutorial's CNN) or "mobilenetv2" (the two-head model).
    public var architecture: String
    public var imageSize: Int
    /// MobileNetV2's width multiplier.
    public var alpha: Double?
    /// Pixels are mapped to `pixel * inputScale + inputOffset` before the model sees them.
    public var inputScale: Float
    public var inputOffset: Float

    public init(architecture: String, imageSize: Int, inputScale: Float, inputOffset: Float, alpha: Double? = nil) {
        self.architecture = architecture
        self.imageSize = imageSize
        self.alpha = alpha
        self.inputScale = inputScale
        self.inputOffset = inputOffset
    }

    /// The tutorial's CNN: input pixel / 255.
    public static func seedCNN(imageSize: Int = 224) -> ModelConfiguration {
        ModelConfiguration(architecture: "seed-cnn", imageSize: imageSize, inputScale: 1 / 255, inputOffset: 0)
    }

    /// The two-head MobileNetV2. Keras's `preprocess_input` maps pixels to [-1, 1]
    /// (`tutorialScaling: false`, the default); the tutorial feeds pixel / 255 instead, a bug kept
    /// available for comparison.
    public static func mobileNetV2(alpha: Double = 1.0, imageSize: Int = 224, tutorialScaling: Bool = false) -> ModelConfiguration {
        ModelConfiguration(architecture: "mobilenetv2", imageSize: imageSize, inputScale: tutorialScaling ? 1 / 255 : 2 / 255,
                           inputOffset: tutorialScaling ? 0 : -1, alpha: alpha)
    }

    /// True for models whose output is [class probabilities (2), box (4)].
    public var hasClassHead: Bool { architecture == "mobilenetv2" }

    public var metadata: [String: String] {
        var m = ["architecture": architecture, "image_size": String(imageSize), "input_scale": String(inputScale),
                 "input_offset": String(inputOffset), "format": "pinpoint-checkpoint-1"]
        if let alpha { m["alpha"] = String(alpha) }
        return m
    }

    public init(metadata: [String: String], file: String) throws(CheckpointError) {
        guard let architecture = metadata["architecture"], let size = metadata["image_size"].flatMap(Int.init),
              let scale = metadata["input_scale"].flatMap(Float.init), let offset = metadata["input_offset"].flatMap(Float.init) else {
            throw CheckpointError(file: file, reason: "metadata lacks the model configuration (architecture, image_size, input_scale, input_offset)")
        }
        let alpha = metadata["alpha"].flatMap(Double.init)
        // A checkpoint is a file users bring: what it declares is checked before a model of that
        // shape is allocated, so a hostile or damaged header is an error, not a trap or a
        // many-gigabyte allocation.
        guard let sizes = Self.supportedImageSizes[architecture] else {
            throw CheckpointError(file: file, reason: "unknown architecture '\(architecture)' (known: \(Self.supportedImageSizes.keys.sorted().joined(separator: ", ")))")
        }
        guard sizes.contains(size) else {
            throw CheckpointError(file: file, reason: "image_size \(size) is outside \(sizes.lowerBound)...\(sizes.upperBound) for \(architecture)")
        }
        guard scale.isFinite, offset.isFinite, scale != 0 else {
            throw CheckpointError(file: file, reason: "input_scale \(scale) and input_offset \(offset) must be finite, the scale non-zero")
        }
        if let text = metadata["alpha"] {
            guard let alpha, alpha > 0, alpha <= 4 else {
                throw CheckpointError(file: file, reason: "alpha '\(text)' is not a width multiplier in (0, 4]")
            }
        }
        self.init(architecture: architecture, imageSize: size, inputScale: scale, inputOffset: offset, alpha: alpha)
    }

    /// The image sizes each architecture is built at: MobileNetV2 halves its input five times
    /// (Keras requires 32 or more), and 1024 bounds what one checkpoint header can make Pinpoint
    /// allocate (the CNN's Dense kernel is 4 GiB there).
    public static let supportedImageSizes: [String: ClosedRange<Int>] = ["seed-cnn": 16...1024, "mobilenetv2": 32...1024]

    /// Builds the untrained model this configuration describes.
    public func makeModel(seed: UInt64 = 0) throws -> any Layer {
        switch architecture {
        case "seed-cnn": return try TutorialCNN.make(imageSize: imageSize, seed: seed)
        case "mobilenetv2": return try TwoHeadLocalizer.make(alpha: alpha ?? 1.0, inputSize: imageSize, seed: seed)
        default: throw CheckpointError(file: "(configuration)", reason: "unknown architecture '\(architecture)' (known: seed-cnn, mobilenetv2)")
        }
    }
}

/// The tutorial's CNN localizer: four blocks of 3x3 SAME convolution (32, 64, 128, 256 filters)
/// with ReLU and 2x2 SAME max pooling, then Flatten, Dense 1024 ReLU, Dropout 0.4 and Dense 4
/// sigmoid, predicting (x_center, y_center, w, h) in [0, 1]. Its input is pixel / 255, as in the
/// tutorial.
///
/// ```swift
/// let model = try TutorialCNN.make(imageSize: 224, seed: 1)
/// print(model.summary())
/// ```
public enum TutorialCNN {
    public static func make(imageSize: Int = 224, seed: UInt64 = 0) throws -> Sequential {
        var layers: [Layer] = []
        for filters in [32, 64, 128, 256] {
            layers += [Conv2D(filters, padding: .same, activation: .relu), MaxPooling2D(padding: .same)]
        }
        layers += [Flatten(), Dense(1024, activation: .relu), Dropout(0.4), Dense(4, activation: .sigmoid)]
        return try Sequential(inputShape: [imageSize, imageSize, 3], layers, seed: seed)
    }
}

/// A trained model with its configuration, loaded from a checkpoint.
public struct LoadedModel {
    public let model: any Layer
    public let configuration: ModelConfiguration
    public let checkpoint: Checkpoint

    public init(contentsOf path: String) throws {
        checkpoint = try Checkpoint(contentsOf: path)
        configuration = try ModelConfiguration(metadata: checkpoint.metadata, file: path)
        model = try configuration.makeModel()
        try checkpoint.load(into: model.weights, file: path)
    }

    /// Outputs for a batch of RGB images already at the model's size, in inference mode: boxes
    /// [n, 4] (x, y, w, h), or for a class head [n, 6] (dog and cat probabilities, then the box).
    public func predict(_ images: [[UInt8]]) throws -> Tensor {
        let size = configuration.imageSize, pixels = size * size * 3
        let batch = Tensor(shape: [images.count, size, size, 3]) { out, _ in
            for (n, image) in images.enumerated() {
                precondition(image.count == pixels, "LoadedModel.predict: image of \(image.count) bytes, expected \(size)x\(size) RGB")
                for i in 0..<pixels { out[n * pixels + i] = Float(image[i]) * configuration.inputScale + configuration.inputOffset }
            }
        }
        return inference(model, batch)
    }
}

/// A model's output for a batch, in inference mode (no tape, moving statistics, no Dropout).
public func inference(_ model: any Layer, _ batch: Tensor) -> Tensor {
    var context = LayerContext()
    return model(Traced(batch), context: &context).value
}
