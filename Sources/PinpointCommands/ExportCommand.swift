import ArgumentParser
import Foundation
import Pinpoint

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint as a model other runtimes run (ONNX).",
        discussion: """
            The ONNX file (opset 13) takes `image`, uint8 [N, H, W, 3] raw RGB at the model's size, and gives `box`, \
            float [N, 4] (x_center, y_center, width, height as fractions of the image), plus `class_probabilities`, \
            float [N, 2] (dog, cat), for MobileNetV2. The input scaling is inside the graph. Docs/Deploy.md shows how \
            to run it.
            """)

    @Option(help: "A checkpoint written by train.") var model: String
    @Option(help: "The format: onnx.") var format = "onnx"
    @Option(help: "The file to write.") var out: String

    func validate() throws {
        guard format == "onnx" else { throw ValidationError("unknown --format '\(format)' (known: onnx)") }
    }

    func run() throws {
        let loaded = try LoadedModel(contentsOf: model)
        let bytes = try ONNXExport(loaded).serialized()
        do { try bytes.write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
            throw ValidationError("\(out): cannot be written (\(error.localizedDescription))")
        }
        let c = loaded.configuration
        print("wrote \(out) (ONNX opset \(ONNXExport.opset), \(bytes.count / 1024) KiB): image uint8 [N, \(c.imageSize), \(c.imageSize), 3] -> box [N, 4]"
              + (c.hasClassHead ? ", class_probabilities [N, 2]" : ""))
    }
}
