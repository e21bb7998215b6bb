import Foundation
import PinpointData
import PinpointModels
import XCTest

/// The fuzz targets' inputs replayed through the same entry points (Fuzz/Sources), so CI holds
/// every fix without running the fuzzer: the seed corpora (Fuzz/Seeds) and every input a fuzzer
/// run found (Fuzz/Regressions). Each must come back as a value or a thrown error, never a trap,
/// and within the fuzzer's 1 s.
final class FuzzCorpusTests: XCTestCase {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz").standardized

    /// What each fuzz target does with one input.
    static let entryPoints: [String: @Sendable ([UInt8]) -> Void] = [
        "FuzzAnnotation": { _ = try? Annotation(xml: $0, file: "fuzz.xml") },
        "FuzzExample": { bytes in
            guard let example = try? Example(serialized: bytes) else { return }
            _ = try? example.bytes("image")
            _ = try? example.float("x")
            _ = try? example.int64("cls_num")
            _ = example.jsonLine()
        },
        "FuzzTFRecord": { bytes in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID()).tfrecord").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            for tail in [false, true] {
                guard let reader = try? TFRecordReader(path: path, allowsTruncatedTail: tail) else { continue }
                while let record = try? reader.next() { _ = try? Example(serialized: record) }
            }
        },
        "FuzzCheckpoint": { _ = try? Checkpoint(bytes: $0, file: "fuzz.safetensors") },
        "FuzzImage": { bytes in
            _ = try? ImageCodec.info(of: bytes, file: "fuzz.jpg")
            if let (_, image) = try? ImageCodec.decode(bytes, file: "fuzz.jpg", maximumPixels: 1 << 22) { _ = image.resized(width: 16, height: 16) }
        },
    ]

    func replay(_ corpus: String) throws -> Int {
        var count = 0
        for (target, entry) in Self.entryPoints.sorted(by: { $0.key < $1.key }) {
            let directory = Self.fuzz.appendingPathComponent(corpus).appendingPathComponent(target)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.sorted() ?? [] {
                let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
                let start = Date()
                entry(bytes)
                XCTAssertLessThan(Date().timeIntervalSince(start), 1, "\(corpus)/\(target)/\(name) takes over the fuzzer's timeout")
                count += 1
            }
        }
        return count
    }

    func testTheSeedCorporaParseWithoutTrapping() throws {
        XCTAssertEqual(try replay("Seeds"), 38)
    }

    func testEveryInputAFuzzerFoundIsHandled() throws {
        XCTAssertGreaterThanOrEqual(try replay("Regressions"), 1)
    }
}
