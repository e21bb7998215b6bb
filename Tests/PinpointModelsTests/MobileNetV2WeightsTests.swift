import Foundation
import PinpointAutograd
import PinpointLayers
import PinpointModels
import PinpointTensor
import XCTest

/// Freezing the backbone, and strict loading of weights in Pinpoint's safetensors (Keras's own
/// files: KerasWeightsTests).
final class MobileNetV2WeightsTests: XCTestCase {
    func testAFrozenBackboneGetsNoGradientAndKeepsItsStatistics() throws {
        let model = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 32, seed: 3)
        model.backboneFrozen = true
        let statistics = model.backbone.weights.filter { $0.name.hasSuffix("moving_mean") }.map(\.parameter.value)
        var rng = SeededGenerator(seed: 1)
        let tape = GradientTape()
        var context = LayerContext(training: true, tape: tape)
        let y = model(Traced(Tensor.uniform([4, 32, 32, 3], low: -1, high: 1, using: &rng)), context: &context).sum()
        let all = model.weights.filter { !$0.name.hasSuffix("moving_mean") && !$0.name.hasSuffix("moving_variance") }
        let grads = tape.gradient(of: y, wrt: all.map(\.parameter))
        for (p, g) in zip(all, grads) {
            let magnitude = g.abs().sum().scalar
            if model.backbone.weights.contains(where: { $0.parameter === p.parameter }) {
                XCTAssertEqual(magnitude, 0, "\(p.name) is frozen")
            }
        }
        XCTAssertGreaterThan(grads.last!.abs().sum().scalar, 0, "the heads still learn")
        XCTAssertEqual(model.backbone.weights.filter { $0.name.hasSuffix("moving_mean") }.map(\.parameter.value), statistics,
                       "inference-mode BatchNormalization in a frozen backbone")
        model.backboneFrozen = false
        XCTAssertTrue(model.backbone.weights.first { $0.name == "Conv1.kernel" }!.parameter.isTrainable)
        XCTAssertFalse(model.backbone.weights.first { $0.name == "bn_Conv1.moving_mean" }!.parameter.isTrainable)
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
