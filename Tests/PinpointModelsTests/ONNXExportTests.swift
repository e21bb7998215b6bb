import Foundation
import PinpointAutograd
@testable import PinpointData
import PinpointLayers
import PinpointModels
import PinpointTensor
import XCTest

/// The ONNX export against onnxruntime (Fixtures/onnx/make_onnx_fixtures.py): the script exported
/// both architectures, at sizes with even and odd feature maps, with `pinpoint export`, passed
/// them through `onnx.checker` and ran them; here the same models (weights from the script's
/// formula) export to the very same bytes, and Pinpoint's predictions equal onnxruntime's within
/// 1e-4.
final class ONNXExportTests: XCTestCase {
    struct Fixture: Decodable {
        struct Spread: Decodable { let name: String; let scale: Double; let offset: Double }
        struct Model: Decodable {
            let architecture: String; let image_size: Int; let alpha: Double?; let tensors: [Spread]; let onnx_sha256: String; let opset: Int
            let outputs: [String: [Float]]
        }
        let images: Int; let models: [Model]
    }

    static let fixture = try! JSONDecoder().decode(
        Fixture.self, from: Data(contentsOf: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/onnx/onnx_outputs.json")))

    func formula(count: Int, k: Int, scale: Double, offset: Double) -> [Float] {
        (0..<count).map { i -> Float in
            let hash: UInt64 = (UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 40503) % (1 << 32)
            return Float(offset + scale * (Double(hash) / 4_294_967_296.0 - 0.5))
        }
    }

    func testExportedModelsRunInOnnxruntimeAsPinpointRunsThem() throws {
        let f = Self.fixture
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-onnx-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        XCTAssertEqual(f.models.map { "\($0.architecture) \($0.image_size)" }, ["seed-cnn 32", "mobilenetv2 32", "seed-cnn 36", "mobilenetv2 40"])
        for m in f.models {
            let size = m.image_size, name = "\(m.architecture)-\(size)"
            let images: [[UInt8]] = (0..<f.images).map { (n: Int) -> [UInt8] in
                (0..<(size * size * 3)).map { (i: Int) -> UInt8 in UInt8((i * 7919 + n * 104729) % 256) }
            }
            let configuration = m.architecture == "seed-cnn" ? ModelConfiguration.seedCNN(imageSize: size)
                : ModelConfiguration.mobileNetV2(alpha: m.alpha!, imageSize: size)
            let model = try configuration.makeModel(seed: 0)
            let weights = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.parameter) })
            XCTAssertEqual(Set(weights.keys), Set(m.tensors.map(\.name)), m.architecture)
            for (k, t) in m.tensors.enumerated() {
                let p = try XCTUnwrap(weights[t.name])
                p.value = Tensor(shape: p.shape, scalars: formula(count: p.value.count, k: k, scale: t.scale, offset: t.offset))
            }
            var checkpoint = Checkpoint(metadata: configuration.metadata)
            checkpoint.add(model.weights)
            try checkpoint.write(to: directory + "/\(name).safetensors")
            let loaded = try LoadedModel(contentsOf: directory + "/\(name).safetensors")

            let exported = try ONNXExport(loaded).serialized()
            XCTAssertEqual(SHA256.hex([UInt8](exported)), m.onnx_sha256, "\(name): the graph onnxruntime ran")
            XCTAssertEqual(m.opset, ONNXExport.opset)

            let predicted = try loaded.predict(images).scalars
            let columns = configuration.hasClassHead ? 6 : 4
            var box: [Float] = [], classes: [Float] = []
            for n in 0..<f.images {
                let row = predicted[(n * columns)..<((n + 1) * columns)]
                box += row.suffix(4)
                classes += row.prefix(columns - 4)
            }
            for (output, ours) in [("box", box), ("class_probabilities", classes)] where !ours.isEmpty {
                let theirs = try XCTUnwrap(m.outputs[output], "\(name) has \(output)")
                XCTAssertEqual(ours.count, theirs.count)
                let worst = zip(ours, theirs).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, 1e-4, "\(name) \(output): worst difference \(worst)")
            }
            XCTAssertEqual(Set(m.outputs.keys), configuration.hasClassHead ? ["box", "class_probabilities"] : ["box"])
        }
    }

    func testACheckpointWithoutItsConfigurationIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-bare-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bare = Checkpoint()
        bare.add([(name: "dense.kernel", value: Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))])
        try bare.write(to: path)
        XCTAssertThrowsError(try LoadedModel(contentsOf: path)) {
            XCTAssertTrue("\($0)".contains("metadata lacks the model configuration"), "\($0)")
        }
    }
}
