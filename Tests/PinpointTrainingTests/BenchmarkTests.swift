import Foundation
import PinpointAutograd
import PinpointData
import PinpointLayers
import PinpointModels
import PinpointTensor
import PinpointTraining
import XCTest

final class BenchmarkTests: XCTestCase {
    /// The tutorial CNN at 32x32: the forward pass's convolutions and Dense layers.
    func forwardFLOPs(imageSize: Int) throws -> (convolutions: [Double], dense: [Double]) {
        var size = imageSize, channels = 3, convolutions: [Double] = []
        for filters in [32, 64, 128, 256] {
            let g = try Conv2DGeometry(inputShape: [1, size, size, channels], kernelShape: [3, 3, channels, filters], strides: (1, 1),
                                       padding: .same, dilation: (1, 1))
            convolutions.append(g.flops)
            size = (size + 1) / 2
            channels = filters
        }
        let flat = Double(size * size * 256)
        return (convolutions, [2 * flat * 1024, 2 * 1024 * 4])
    }

    func testTrainingCountsEveryGEMMOnceAndSkipsTheImagesGradient() throws {
        let benchmark = ThroughputBenchmark(configuration: .seedCNN(imageSize: 32), mode: .train, batchSize: 2, warmupSteps: 1, steps: 2)
        let result = try benchmark.run()
        let (convolutions, dense) = try forwardFLOPs(imageSize: 32)
        // Forward, kernel gradient and input gradient for every layer, except the images' gradient.
        let expected = 3 * (convolutions.reduce(0, +) + dense.reduce(0, +)) - convolutions[0]
        XCTAssertEqual(result.flopsPerImage, expected, accuracy: 1)
        XCTAssertEqual(result.stepSeconds.count, 2)
        XCTAssertGreaterThan(result.imagesPerSecond, 0)
        XCTAssertLessThanOrEqual(result.minimum, result.imagesPerSecond)
        XCTAssertGreaterThanOrEqual(result.maximum, result.imagesPerSecond)
        XCTAssertGreaterThan(result.peakResidentMiB, 1)
        XCTAssertTrue(result.json.hasPrefix("{\"images_per_second\": "), result.json)

        let inference = try ThroughputBenchmark(configuration: .seedCNN(imageSize: 32), mode: .infer, batchSize: 2, warmupSteps: 0, steps: 1).run()
        XCTAssertEqual(inference.flopsPerImage, convolutions.reduce(0, +) + dense.reduce(0, +), accuracy: 1)
    }

    func testTheProfileChargesEveryLayerForwardAndBackward() throws {
        let profiler = Profiler()
        _ = try ThroughputBenchmark(configuration: .seedCNN(imageSize: 32), mode: .train, batchSize: 2, warmupSteps: 1, steps: 2)
            .run(profiler: profiler)
        let entries = profiler.entries
        // Each convolution and the pooling after it are one fused scope and one operation.
        for layer in ["conv2d+max_pooling2d", "conv2d_1+max_pooling2d_1", "conv2d_2+max_pooling2d_2", "conv2d_3+max_pooling2d_3",
                      "dense", "dense_1"] {
            let own = entries.filter { $0.scope == layer }
            XCTAssertGreaterThan(own.reduce(0) { $0 + $1.forwardSeconds }, 0, layer)
            XCTAssertGreaterThan(own.reduce(0) { $0 + $1.backwardSeconds }, 0, layer)
        }
        let convolution = try XCTUnwrap(entries.first { $0.scope == "conv2d_1+max_pooling2d_1" && $0.operation == "conv2DMaxPool" },
                                        "\(Set(entries.map { "\($0.scope) \($0.operation)" }))")
        XCTAssertEqual(convolution.forwardCalls, 2, "warm-up steps are not profiled")
        XCTAssertEqual(convolution.backwardCalls, 2)
        XCTAssertEqual(convolution.layerType, "Conv2D+MaxPooling2D")
        XCTAssertTrue(entries.contains { $0.scope == "(optimizer)" && $0.forwardSeconds > 0 })
        let report = profiler.report(steps: 2)
        XCTAssertTrue(report.contains("conv2d_1"), report)
        XCTAssertTrue(report.contains("conv2DMaxPool"), report)
    }

    func testInferenceProfilesLayersWithoutATape() throws {
        let profiler = Profiler()
        let model = try TutorialCNN.make(imageSize: 16, seed: 1)
        var context = LayerContext(profiler: profiler)
        _ = model(Traced(Tensor.zeros([1, 16, 16, 3])), context: &context)
        let layers = Set(profiler.entries.filter { $0.forwardSeconds > 0 && $0.operation == "(layer)" }.map(\.scope))
        // In inference each convolution and its pooling run as one fused scope.
        XCTAssertTrue(layers.isSuperset(of: ["conv2d+max_pooling2d", "dense_1", "flatten"]), "\(layers)")
        XCTAssertTrue(profiler.entries.allSatisfy { $0.backwardSeconds == 0 })
    }

    func testTrainingFromRecordsRunsFullBatchesAcrossEpochs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-bench-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var pets = SyntheticPets(count: 12, seed: 3)
        pets.sideRange = 40...60
        _ = try pets.write(to: directory + "/pets")
        var preparation = OxfordPetPreparation(folder: try OxfordPetFolder(root: directory + "/pets"))
        preparation.size = 32
        preparation.validationCount = 1
        let report = try preparation.run(outputDirectory: directory)
        XCTAssertGreaterThanOrEqual(report.trainCount, 5)
        // 2-image batches over 5+ records: 5 steps cross at least one epoch boundary.
        let records = [directory + "/loc_train.tfr"]
        let result = try ThroughputBenchmark(configuration: .seedCNN(imageSize: 32), mode: .train, batchSize: 2, warmupSteps: 1, steps: 4,
                                             records: records).run()
        XCTAssertEqual(result.stepSeconds.count, 4)
        XCTAssertGreaterThan(result.imagesPerSecond, 0)
        XCTAssertThrowsError(try ThroughputBenchmark(configuration: .seedCNN(imageSize: 64), mode: .train, batchSize: 2, steps: 1,
                                                     records: records).run()) { error in
            XCTAssertTrue("\(error)".contains("32x32"), "\(error)")
        }
    }
}
