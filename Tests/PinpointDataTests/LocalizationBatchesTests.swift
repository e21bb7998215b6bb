import Foundation
import PinpointData
import PinpointTensor
import XCTest

final class LocalizationBatchesTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-batches-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Records whose x feature is their index, with 2x2 images of value index.
    func write(_ count: Int, to name: String, start: Int = 0) throws -> String {
        let path = directory + "/" + name
        let writer = try TFRecordWriter(path: path)
        for i in start..<(start + count) {
            try writer.write(Example(features: [
                "image": .bytes([[UInt8](repeating: UInt8(i), count: 12)]), "cls_num": .int64s([Int64(i % 2)]),
                "x": .floats([Float(i)]), "y": .floats([0.5]), "w": .floats([0.25]), "h": .floats([0.125]),
            ]).serialized())
        }
        try writer.close()
        return path
    }

    func order(_ pipeline: LocalizationBatches, epoch: Int) throws -> [[Int]] {
        let e = pipeline.epoch(epoch)
        var out: [[Int]] = []
        while let batch = try e.next() {
            out.append(batch.boxes.sliced(alongAxis: 1, from: 0, to: 1).scalars.map { Int($0) })
        }
        return out
    }

    func testBatchesCarryScaledImagesBoxesAndClassesWithAPartialLastBatch() throws {
        let path = try write(10, to: "a.tfr")
        let pipeline = try LocalizationBatches(paths: [path], batchSize: 4, scale: 1 / 255)
        XCTAssertEqual(pipeline.imageSize, 2)
        XCTAssertEqual(pipeline.recordCount, 10)
        XCTAssertEqual(pipeline.batchesPerEpoch, 3)
        let epoch = pipeline.epoch(0)
        let first = try XCTUnwrap(try epoch.next())
        XCTAssertEqual(first.images.shape, [4, 2, 2, 3])
        XCTAssertEqual(first.images[1, 0, 0, 0], 1 / 255)
        XCTAssertEqual(first.boxes.shape, [4, 4])
        XCTAssertEqual(first.boxes[index: 3].scalars, [3, 0.5, 0.25, 0.125])
        XCTAssertEqual(first.classes.scalars, [0, 1, 0, 1])
        XCTAssertEqual(try epoch.next()?.count, 4)
        XCTAssertEqual(try epoch.next()?.count, 2, "the last batch keeps the remainder")
        XCTAssertNil(try epoch.next())
    }

    func testShuffleIsSeededPerEpochAndCoversEveryRecordOnceAcrossShards() throws {
        let paths = [try write(23, to: "a.tfr"), try write(17, to: "b.tfr", start: 23)]
        let pipeline = try LocalizationBatches(paths: paths, batchSize: 8, shuffleBuffer: 16, seed: 9)
        let a = try order(pipeline, epoch: 0), again = try order(pipeline, epoch: 0), next = try order(pipeline, epoch: 1)
        XCTAssertEqual(a, again, "same seed and epoch, same order")
        XCTAssertNotEqual(a, next, "each epoch reshuffles")
        XCTAssertEqual(a.flatMap { $0 }.sorted(), Array(0..<40))
        XCTAssertNotEqual(a.flatMap { $0 }, Array(0..<40))
        let other = try LocalizationBatches(paths: paths, batchSize: 8, shuffleBuffer: 16, seed: 10)
        XCTAssertNotEqual(try order(other, epoch: 0), a)
        let unshuffled = try LocalizationBatches(paths: paths, batchSize: 8)
        XCTAssertEqual(try order(unshuffled, epoch: 3).flatMap { $0 }, Array(0..<40))
    }

    func testACorruptRecordSurfacesFromNextWithItsLocation() throws {
        let path = try write(12, to: "c.tfr")
        let pipeline = try LocalizationBatches(paths: [path], batchSize: 4)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 10] ^= 0xFF  // inside the last record's image
        try bytes.write(to: URL(fileURLWithPath: path))
        let epoch = pipeline.epoch(0)
        XCTAssertNotNil(try epoch.next())
        XCTAssertNotNil(try epoch.next())
        XCTAssertThrowsError(try epoch.next()) { error in
            XCTAssertTrue("\(error)".contains("c.tfr: data CRC mismatch in record 11"), "\(error)")
        }
    }

    func testARecordWithoutABoxFeatureIsNamedByFileAndIndex() throws {
        let first = try write(3, to: "e1.tfr")
        let second = directory + "/e2.tfr"
        let writer = try TFRecordWriter(path: second)
        for i in 0..<3 {
            var features: [String: Feature] = [
                "image": .bytes([[UInt8](repeating: 1, count: 12)]), "cls_num": .int64s([0]),
                "x": .floats([0.5]), "y": .floats([0.5]), "w": .floats([0.25]), "h": .floats([0.125]),
            ]
            if i == 2 { features["w"] = nil }
            try writer.write(Example(features: features).serialized())
        }
        try writer.close()
        let epoch = try LocalizationBatches(paths: [first, second], batchSize: 2).epoch(0)
        XCTAssertNotNil(try epoch.next())
        XCTAssertNotNil(try epoch.next())
        XCTAssertThrowsError(try epoch.next()) { error in
            XCTAssertTrue("\(error)".hasPrefix(second + ": record 2: "), "\(error)")
            XCTAssertTrue("\(error)".contains("feature 'w': missing"), "\(error)")
        }
    }

    func testAnEpochDroppedEarlyStopsItsProducer() throws {
        let path = try write(50, to: "d.tfr")
        let pipeline = try LocalizationBatches(paths: [path], batchSize: 2, prefetch: 1)
        weak var released: LocalizationBatches.Epoch?
        do {
            let epoch = pipeline.epoch(0)
            released = epoch
            _ = try epoch.next()
        }
        XCTAssertNil(released)
        // The producer wakes on cancellation and exits; a fresh epoch still works.
        XCTAssertEqual(try order(pipeline, epoch: 0).count, 25)
    }
}
