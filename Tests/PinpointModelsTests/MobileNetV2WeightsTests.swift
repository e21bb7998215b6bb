import Foundation
import PinpointLayers
import PinpointModels
import PinpointTensor
import XCTest

/// The converter's output (Scripts/convert_keras_mobilenet_weights.py --self-test on a tf-keras
/// save_weights file) has exactly the backbone's tensor names and shapes, and loading is strict.
final class MobileNetV2WeightsTests: XCTestCase {
    struct Converted: Decodable { let verdict: String; let tensors: [String: [Int]] }

    func testConvertedNamesAndShapesAreTheBackbones() throws {
        let url = Bundle.module.url(forResource: "converted_mobilenetv2_0.35", withExtension: "json", subdirectory: "Fixtures")!
        let converted = try JSONDecoder().decode(Converted.self, from: Data(contentsOf: url))
        XCTAssertTrue(converted.verdict.hasPrefix("PASS"), converted.verdict)
        let backbone = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96).backbone
        let ours = Dictionary(uniqueKeysWithValues: backbone.weights.map { ($0.name, $0.parameter.shape) })
        XCTAssertEqual(ours, converted.tensors)
    }

    func testLoadingConvertedWeightsIsStrictAboutAlphaAndNames() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-mnv2-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96, seed: 1).backbone
        var file = Checkpoint(metadata: ["architecture": "mobilenetv2-backbone", "alpha": "0.35"])
        file.add(source.weights)
        try file.write(to: directory + "/w.safetensors")

        let target = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96, seed: 2).backbone
        try target.loadWeights(from: directory + "/w.safetensors")
        XCTAssertEqual(target.weights.map(\.parameter.value), source.weights.map(\.parameter.value))

        let other = try TwoHeadLocalizer.make(alpha: 0.5, inputSize: 96).backbone
        XCTAssertThrowsError(try other.loadWeights(from: directory + "/w.safetensors")) {
            XCTAssertTrue("\($0)".contains("alpha 0.35; this backbone has alpha 0.5"), "\($0)")
        }
        var partial = Checkpoint(metadata: ["alpha": "0.35"])
        partial.add(Array(source.weights.dropLast()))
        try partial.write(to: directory + "/p.safetensors")
        XCTAssertThrowsError(try target.loadWeights(from: directory + "/p.safetensors")) {
            XCTAssertTrue("\($0)".contains("missing: Conv_1_bn.moving_variance"), "\($0)")
        }
    }
}
