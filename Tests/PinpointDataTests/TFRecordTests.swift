import CPinpointIO
import Foundation
import PinpointData
import XCTest

final class CRC32CTests: XCTestCase {
    func testRFC3720Vectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map(UInt8.init)), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map(UInt8.init)), 0x113F_DB5C)
    }

    func testHardwareAndPortablePathsAgreeAtEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 15, 16, 63, 1000, 4000] {
                    let p = raw.baseAddress! + start
                    XCTAssertEqual(pinpoint_crc32c(0, p, length), pinpoint_crc32c_portable(0, p, length), "start \(start) length \(length)")
                }
            }
        }
    }

    func testContinuationEqualsOneShot() {
        let data = Array("The quick brown fox jumps over the lazy dog".utf8)
        let first = CRC32C.checksum(Array(data[..<10]))
        XCTAssertEqual(CRC32C.checksum(Array(data[10...]), continuing: first), CRC32C.checksum(data))
    }

    func testMaskIsTensorFlows() {
        // crc32c::Mask from TensorFlow: rotate right 15 and add kMaskDelta.
        let crc: UInt32 = 0x1234_5678
        XCTAssertEqual(CRC32C.masked(crc), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
    }
}

/// Reads TensorFlow-written records and checks that TensorFlow reads Pinpoint's (the verdict
/// file), from Fixtures/make_tfrecord_fixtures.py.
final class TFRecordInteropTests: XCTestCase {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    struct Cases: Decodable {
        struct Value: Decodable {
            let kind: String?
            let values: [JSONScalar]
        }
        let shards: [[Int]]
        let cases: [[String: Value]]
    }

    enum JSONScalar: Decodable {
        case number(Double), text(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
        }
    }

    static func loadCases() throws -> Cases {
        try JSONDecoder().decode(Cases.self, from: Data(contentsOf: fixtures.appendingPathComponent("tfrecord_cases.json")))
    }

    /// The cases as Examples, the way both sides write them.
    static func expectedExamples() throws -> [Example] {
        try loadCases().cases.map { features in
            Example(features: features.mapValues { value -> Feature in
                switch value.kind {
                case "bytes":
                    return .bytes(value.values.map { scalar in
                        guard case .text(let hex) = scalar else { return [] }
                        return stride(from: 0, to: hex.count, by: 2).map {
                            let i = hex.index(hex.startIndex, offsetBy: $0)
                            return UInt8(hex[i...hex.index(after: i)], radix: 16)!
                        }
                    })
                case "float":
                    return .floats(value.values.map { scalar in
                        switch scalar {
                        case .number(let d): return Float(d)
                        case .text("nan"): return .nan
                        case .text("inf"): return .infinity
                        case .text("-inf"): return -.infinity
                        case .text("-0"): return -0.0
                        case .text(let t): fatalError("unexpected float \(t)")
                        }
                    })
                case "int64":
                    return .int64s(value.values.map { scalar in
                        guard case .text(let t) = scalar else { fatalError("int64 values are strings") }
                        return Int64(t)!
                    })
                default:
                    return .unset
                }
            })
        }
    }

    func testReadsTensorFlowWrittenShardsAsOneStream() throws {
        let expected = try Self.expectedExamples()
        let paths = (0..<2).map { Self.fixtures.appendingPathComponent("tf_written-\($0).tfrecord").path }
        let reader = try TFRecordReader(paths: paths)
        var examples: [Example] = []
        while let record = try reader.next() { examples.append(try Example(serialized: record)) }
        XCTAssertEqual(examples.count, 7)
        XCTAssertEqual(examples, expected)
        XCTAssertEqual(try examples[0].int64("cls_num"), 1)
        XCTAssertEqual(try examples[0].bytes("image").count, 48)
        XCTAssertEqual(try examples[4].int64List("ints"), [Int64.min, Int64.max, -1, 0, 9_007_199_254_740_993])
        XCTAssertTrue(try examples[5].floatList("floats")[0].isNaN)
        XCTAssertEqual(examples[6]["unset"], .unset)
    }

    func testPinpointWritesExactlyTheFileTensorFlowVerified() throws {
        let url = Self.fixtures.appendingPathComponent("pinpoint_written.tfrecord")
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-\(UUID()).tfrecord")
        defer { try? FileManager.default.removeItem(at: temporary) }
        let writer = try TFRecordWriter(path: temporary.path)
        for example in try Self.expectedExamples() { try writer.write(example.serialized()) }
        try writer.close()
        let written = try Data(contentsOf: temporary)
        if ProcessInfo.processInfo.environment["PINPOINT_WRITE_FIXTURES"] == "1" {
            // Regenerating: write into the source tree, then rerun the Python script for a verdict.
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pinpoint_written.tfrecord")
            try written.write(to: source)
            return
        }
        XCTAssertEqual(written, try Data(contentsOf: url), "Pinpoint no longer writes the bytes TensorFlow verified")
        let verdict = try String(contentsOf: Self.fixtures.appendingPathComponent("pinpoint_written.verdict.txt"), encoding: .utf8)
        XCTAssertTrue(verdict.hasPrefix("PASS"), verdict)
    }
}

final class TFRecordReaderWriterTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-tfrecord-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func write(_ records: [[UInt8]], to name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let writer = try TFRecordWriter(path: path)
        for r in records { try writer.write(r) }
        try writer.close()
        return path
    }

    func readAll(_ paths: [String], tolerant: Bool = false) throws -> [[UInt8]] {
        let reader = try TFRecordReader(paths: paths, allowsTruncatedTail: tolerant)
        var out: [[UInt8]] = []
        while let r = try reader.next() { out.append(r) }
        return out
    }

    func testRoundTripIncludingEmptyRecordsAndEmptyFiles() throws {
        let records: [[UInt8]] = [[], [1], Array(repeating: 7, count: 100_000), [0, 255]]
        let a = try write(records, to: "a.tfr"), empty = try write([], to: "empty.tfr")
        XCTAssertEqual(try readAll([a, empty, a]), records + records)
    }

    func corrupt(_ path: String, at offset: Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[offset] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    func testADataCorruptionNamesTheRecordAndOffset() throws {
        let path = try write([[1, 2, 3], [4, 5, 6, 7], [8]], to: "c.tfr")
        try corrupt(path, at: 19 + 12 + 2)  // second record (starts at 19), a data byte
        XCTAssertThrowsError(try readAll([path])) { error in
            let e = error as! TFRecordError
            XCTAssertEqual(e.kind, .dataChecksum)
            XCTAssertEqual(e.record, 1)
            XCTAssertEqual(e.offset, 19)
            XCTAssertTrue(e.description.contains("c.tfr: data CRC mismatch in record 1 at byte offset 19"), e.description)
        }
    }

    func testALengthCorruptionIsCaughtBeforeAnyAllocation() throws {
        let path = try write([[1, 2, 3], [4]], to: "l.tfr")
        try corrupt(path, at: 19 + 7)  // the top byte of the second record's length
        XCTAssertThrowsError(try readAll([path])) { error in
            XCTAssertEqual((error as! TFRecordError).kind, .lengthChecksum)
            XCTAssertEqual((error as! TFRecordError).record, 1)
        }
    }

    func testATruncatedLastRecordIsAnErrorUnlessTolerated() throws {
        let path = try write([[1, 2, 3], [4, 5, 6, 7]], to: "t.tfr")
        let url = URL(fileURLWithPath: path)
        try Data(contentsOf: url).dropLast(3).write(to: url)
        XCTAssertThrowsError(try readAll([path])) { error in
            XCTAssertEqual((error as! TFRecordError).kind, .truncated)
            XCTAssertEqual((error as! TFRecordError).record, 1)
        }
        XCTAssertEqual(try readAll([path], tolerant: true), [[1, 2, 3]])
    }

    func testAMissingFileNamesIt() {
        XCTAssertThrowsError(try TFRecordReader(path: directory.appendingPathComponent("nope.tfr").path)) { error in
            XCTAssertEqual((error as! TFRecordError).kind, .cannotOpen)
            XCTAssertTrue("\(error)".contains("nope.tfr"))
        }
    }

    func testAnAbandonedWriterLeavesTheExistingFileAndNoTemporary() throws {
        let path = try write([[1, 2, 3]], to: "keep.tfr")
        do {
            let writer = try TFRecordWriter(path: path)
            try writer.write([9, 9])
            // dropped without close(): a failed run
        }
        XCTAssertEqual(try readAll([path]), [[1, 2, 3]])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["keep.tfr"])
    }
}

final class ExampleTests: XCTestCase {
    func testRoundTripAndTypedAccess() throws {
        var e = Example()
        e["image"] = .bytes([[1, 2, 3]])
        e["cls_num"] = .int64s([1])
        e["x"] = .floats([0.5])
        let back = try Example(serialized: e.serialized())
        XCTAssertEqual(back, e)
        XCTAssertEqual(try back.float("x"), 0.5)
        XCTAssertEqual(try back.bytes("image"), [1, 2, 3])
        XCTAssertThrowsError(try back.float("y")) { XCTAssertTrue("\($0)".contains("feature 'y': missing")) }
        XCTAssertThrowsError(try back.int64("x")) { XCTAssertEqual("\($0)", "feature 'x': is float, not int64") }
        var multi = e
        multi["x"] = .floats([1, 2])
        XCTAssertThrowsError(try multi.float("x")) { XCTAssertEqual("\($0)", "feature 'x': has 2 values, expected 1") }
    }

    func testUnpackedRepeatedFieldsAndUnknownFieldsDecode() throws {
        // Example{features{feature{key:"v" value{int64_list{value:5 value:-1}}}}} with unpacked
        // int64s, an unpacked float list under "f", and an unknown field 9 at the top level.
        func ld(_ field: UInt8, _ payload: [UInt8]) -> [UInt8] { [field << 3 | 2, UInt8(payload.count)] + payload }
        let minusOne: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        let ints = ld(3, [0x08, 5, 0x08] + minusOne)
        let floats = ld(2, [0x0D, 0, 0, 0xC0, 0x3F, 0x0D, 0, 0, 0x80, 0xBF])  // 1.5, -1.0 as fixed32
        let entryV = ld(1, ld(1, Array("v".utf8)) + ld(2, ints))
        let entryF = ld(1, ld(1, Array("f".utf8)) + ld(2, floats))
        let bytes = ld(1, entryF + entryV) + [9 << 3, 42]
        let e = try Example(serialized: bytes)
        XCTAssertEqual(e["v"], .int64s([5, -1]))
        XCTAssertEqual(e["f"], .floats([1.5, -1]))
    }

    func testMalformedBytesReportAnOffset() {
        XCTAssertThrowsError(try Example(serialized: [0x0A, 0x05, 0x0A])) { error in
            XCTAssertEqual((error as! ExampleDecodingError).offset, 2)
            XCTAssertTrue("\(error)".contains("runs past the end"), "\(error)")
        }
    }
}
