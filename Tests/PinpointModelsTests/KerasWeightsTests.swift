import Foundation
import PinpointAutograd
import PinpointLayers
import PinpointModels
import PinpointTensor
import XCTest

/// Keras HDF5 files read through libhdf5 (Fixtures/keras_h5/make_keras_h5_fixtures.py: one
/// MobileNetV2 backbone, alpha 0.35 at 96x96, saved in each layout Keras writes): the backbone
/// loaded from each gives Keras's output on a fixed input.
final class KerasWeightsTests: XCTestCase {
    struct Output: Decodable { let shape: [Int]; let output: [Float] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/keras_h5").path
    static let applicationsFile = directory + "/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"

    /// The script's input: x[i] = ((i * 7919) % 2000) / 1000 - 1.
    static let input: Tensor = {
        let values: [Float] = (0..<(96 * 96 * 3)).map { (i: Int) -> Float in
            let k: Int = (i * 7919) % 2000
            return Float(Double(k) / 1000 - 1)
        }
        return Tensor(shape: [1, 96, 96, 3], scalars: values)
    }()

    func testEveryLayoutLoadsTheBackboneKerasRan() throws {
        let expected = try JSONDecoder().decode(Output.self, from: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/backbone_output.json")))
        let scale = Double(expected.output.map(abs).max()!)
        for (name, layout, size) in [("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5", KerasWeights.Layout.saveWeights, 96),
                                     ("classifier_tf_keras.h5", .modelFile, 96), ("classifier_keras3.h5", .modelFile, 96),
                                     ("classifier.weights.h5", .keras3Weights, nil)] as [(String, KerasWeights.Layout, Int?)] {
            let weights = try KerasWeights(contentsOf: Self.directory + "/" + name)
            XCTAssertEqual(weights.layout, layout, name)
            XCTAssertEqual(weights.statedImageSize, size, name)
            XCTAssertEqual(try weights.mobileNetV2Alpha(), 0.35, name)
            let backbone = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96, seed: 9).backbone
            try backbone.loadWeights(from: Self.directory + "/" + name)
            var inference = LayerContext()
            let output = backbone(Traced(Self.input), context: &inference).value
            XCTAssertEqual(output.shape, expected.shape, name)
            let worst = zip(output.scalars, expected.output).map { abs(Double($0) - Double($1)) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(name): worst difference \(worst) at scale \(scale)")
        }
    }

    func testAnotherAlphaIsRefusedNamingTheFirstTensorThatDisagrees() throws {
        let backbone = try TwoHeadLocalizer.make(alpha: 0.5, inputSize: 96).backbone
        let before = backbone.weights.map(\.parameter.value)
        XCTAssertThrowsError(try backbone.loadWeights(from: Self.applicationsFile)) { error in
            XCTAssertEqual("\(error)", "\(Self.applicationsFile): block_1_project.kernel is [1, 1, 48, 8] in the file, [1, 1, 48, 16] in a MobileNetV2 of alpha 0.5; "
                           + "the file's shapes are those of alpha 0.35")
        }
        XCTAssertEqual(backbone.weights.map(\.parameter.value), before, "nothing was loaded")
    }

    func testFilesThatAreNotKerasMobileNetV2WeightsAreExplained() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-h5-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.applicationsFile))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: directory + "/truncated.h5"))
        try Data("not hdf5 at all".utf8).write(to: URL(fileURLWithPath: directory + "/text.h5"))
        let backbone = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96).backbone
        let dense = Self.directory + "/dense_only.h5"
        XCTAssertThrowsError(try KerasWeights(contentsOf: directory + "/text.h5")) {
            XCTAssertEqual("\($0)", "\(directory)/text.h5: not an HDF5 file")
        }
        XCTAssertThrowsError(try KerasWeights(contentsOf: directory + "/missing.h5")) {
            XCTAssertEqual("\($0)", "\(directory)/missing.h5: cannot be read (no such file, or no permission)")
        }
        XCTAssertThrowsError(try backbone.loadWeights(from: directory + "/truncated.h5")) {
            XCTAssertTrue("\($0)".hasPrefix("\(directory)/truncated.h5: "), "\($0)")
            XCTAssertTrue("\($0)".contains("truncated or damaged"), "\($0)")
        }
        XCTAssertThrowsError(try KerasWeights(contentsOf: dense).mobileNetV2Alpha()) {
            XCTAssertEqual("\($0)", "\(dense): holds no MobileNetV2 backbone: it lacks the tensor block_16_project.kernel")
        }
        XCTAssertThrowsError(try backbone.loadWeights(from: dense)) {
            XCTAssertEqual("\($0)", "\(dense): lacks the tensor Conv1.kernel (Keras 2 save_weights layout)")
        }
    }
}
