import Foundation
import PinpointAutograd
import PinpointLayers
@testable import PinpointModels
import PinpointOptimizers
import PinpointTensor
import XCTest

final class CheckpointTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-ckpt-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        Checkpoint.failAfterBytesForTesting = nil
        try? FileManager.default.removeItem(atPath: directory)
    }

    func model(seed: UInt64 = 1) throws -> Sequential {
        try Sequential(inputShape: [6, 6, 2], [Conv2D(3, padding: .same), BatchNormalization(), Flatten(), Dense(2)], seed: seed)
    }

    func testRoundTripOfParametersStateOptimizerAndMetadata() throws {
        let a = try model(seed: 1), b = try model(seed: 2)
        XCTAssertNotEqual(a.parameters[0].parameter.value, b.parameters[0].parameter.value)
        let optimizer = RMSprop(a.trainableParameters, momentum: 0.9)
        optimizer.apply(a.trainableParameters.map { Tensor.ones($0.parameter.shape) })
        var checkpoint = Checkpoint(metadata: ["architecture": "test", "epoch": "3"])
        checkpoint.add(a.parameters)
        checkpoint.add(optimizer.state)
        let path = directory + "/a.safetensors"
        try checkpoint.write(to: path)

        let back = try Checkpoint(contentsOf: path)
        XCTAssertEqual(back.metadata, ["architecture": "test", "epoch": "3"])
        XCTAssertEqual(try back.load(into: b.parameters).count, a.parameters.count)
        for (x, y) in zip(a.parameters, b.parameters) { XCTAssertEqual(x.parameter.value, y.parameter.value, x.name) }
        let restored = RMSprop(b.trainableParameters, momentum: 0.9)
        try restored.restore(back.optimizerState)
        XCTAssertEqual(restored.iterations, 1)
        XCTAssertEqual(restored.state.map(\.value), optimizer.state.map(\.value))
        XCTAssertTrue(back.tensors.contains { $0.name == "batch_normalization.moving_variance" })
    }

    func testTheFileIsStandardSafetensors() throws {
        var checkpoint = Checkpoint(metadata: ["k": "v"])
        checkpoint.add([(name: "w", value: Tensor(shape: [2], scalars: [1, -2]))])
        let bytes = try checkpoint.encoded()
        let length = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(length % 8, 0, "header padded to 8 bytes")
        let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(header, #"{"__metadata__":{"k":"v"},"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#)
        XCTAssertEqual(Array(bytes[(8 + length)...]), [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0])  // 1.0, -2.0 little-endian
    }

    func testMissingUnexpectedAndMisshapedNamesAreReportedAndNothingIsLoaded() throws {
        let a = try model(), b = try model(seed: 9)
        var checkpoint = Checkpoint()
        checkpoint.add(Array(a.parameters.dropFirst()))                     // conv2d.kernel missing
        checkpoint.add([(name: "extra.kernel", value: Tensor.zeros([1]))])  // unexpected
        let before = b.parameters.map(\.parameter.value)
        XCTAssertThrowsError(try checkpoint.load(into: b.parameters, file: "x.safetensors")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing: conv2d.kernel"), text)
            XCTAssertTrue(text.contains("unexpected: extra.kernel"), text)
            XCTAssertTrue(text.hasSuffix("nothing was loaded"), text)
        }
        XCTAssertEqual(b.parameters.map(\.parameter.value), before, "a refused load changes nothing")
        let partial = try checkpoint.load(into: b.parameters, allowPartial: true)
        XCTAssertEqual(partial.count, a.parameters.count - 1)

        var wrongShape = Checkpoint()
        wrongShape.add([(name: "dense.bias", value: Tensor.zeros([5]))])
        XCTAssertThrowsError(try wrongShape.load(into: b.parameters, allowPartial: true)) { error in
            XCTAssertTrue("\(error)".contains("dense.bias is [5] in the file, [2] in the model"), "\(error)")
        }
    }

    func testAWriteThatFailsMidwayLeavesThePreviousCheckpointLoadable() throws {
        let a = try model()
        var checkpoint = Checkpoint(metadata: ["epoch": "1"])
        checkpoint.add(a.parameters)
        let path = directory + "/model.safetensors"
        try checkpoint.write(to: path)
        checkpoint.metadata["epoch"] = "2"
        Checkpoint.failAfterBytesForTesting = 100
        XCTAssertThrowsError(try checkpoint.write(to: path)) { XCTAssertTrue("\($0)".contains("previous file is untouched"), "\($0)") }
        Checkpoint.failAfterBytesForTesting = nil
        let survivor = try Checkpoint(contentsOf: path)
        XCTAssertEqual(survivor.metadata["epoch"], "1")
        XCTAssertNoThrow(try survivor.load(into: a.parameters))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["model.safetensors"], "no temporary left behind")
    }

    func testCorruptFilesAreRefusedWithAReason() throws {
        XCTAssertThrowsError(try Checkpoint(bytes: [1, 2, 3], file: "t")) { XCTAssertTrue("\($0)".contains("too short")) }
        var checkpoint = Checkpoint()
        checkpoint.add([(name: "w", value: Tensor.ones([4]))])
        let bytes = try checkpoint.encoded()
        XCTAssertThrowsError(try Checkpoint(bytes: Array(bytes.dropLast(4)), file: "t")) { XCTAssertTrue("\($0)".contains("do not fit"), "\($0)") }
        XCTAssertThrowsError(try Checkpoint(bytes: [255, 255, 255, 255, 0, 0, 0, 0] + bytes.dropFirst(8), file: "t")) {
            XCTAssertTrue("\($0)".contains("exceeds the file"), "\($0)")
        }
    }
}
