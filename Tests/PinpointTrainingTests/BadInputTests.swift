import Foundation
import PinpointData
import PinpointModels
import XCTest

/// Every public entry point that reads a file users bring, fed an empty file, a truncated one,
/// garbage, and a valid file with 64 KiB of junk appended: each is a thrown error whose message
/// starts with the file's path and says what is wrong, never a trap. (Junk after a complete file
/// may be ignored, as Pillow and libpng ignore data after a PNG's end; then the contents must be
/// the valid file's. An empty TFRecord file is zero records, as TensorFlow reads it.) The valid
/// files are the fuzz seeds (Fuzz/Seeds).
final class BadInputTests: XCTestCase {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/Seeds").standardized
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-bad-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Reads one file the way users' files are read, returning a summary of what was read.
    typealias Reader = @Sendable (String) throws -> String

    static let readers: [(name: String, seed: String, read: Reader)] = [
        ("annotation", "FuzzAnnotation/oxford.xml", { path in "\(try Annotation(contentsOf: path).objects.map(\.box))" }),
        ("TFRecord", "FuzzTFRecord/tf_written-0.tfrecord", { path in
            let reader = try TFRecordReader(path: path)
            var records: [[UInt8]] = []
            while let record = try reader.next() { records.append(record) }
            return "\(records)"
        }),
        ("checkpoint", "FuzzCheckpoint/model.safetensors", { path in
            let checkpoint = try Checkpoint(contentsOf: path)
            return "\(checkpoint.metadata.sorted { $0.key < $1.key })"
        }),
        ("PNG", "FuzzImage/mode-rgb.png", { path in "\(try ImageCodec.decode(path: path).image.pixels)" }),
        ("JPEG", "FuzzImage/mode-rgb-progressive.jpg", { path in "\(try ImageCodec.decode(path: path).image.pixels)" }),
    ]

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testEmptyTruncatedGarbageAndOversizedFilesAreErrorsNamingTheFile() throws {
        var rng = SystemRandomNumberGenerator()
        for (name, seed, read) in Self.readers {
            let valid = [UInt8](try Data(contentsOf: Self.seeds.appendingPathComponent(seed)))
            let extension_ = (seed as NSString).pathExtension
            let expected = try read(try write(valid, "valid.\(extension_)"))
            let garbage = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for (kind, bytes) in [("empty", []), ("truncated", Array(valid.prefix(valid.count / 2))), ("garbage", garbage)] {
                let path = try write(bytes, "\(kind).\(extension_)")
                if name == "TFRecord" && kind == "empty" {
                    XCTAssertEqual(try read(path), "[]", "an empty TFRecord file is zero records")
                    continue
                }
                XCTAssertThrowsError(try read(path), "\(name), \(kind): read without an error") { error in
                    XCTAssertTrue("\(error)".hasPrefix(path + ": ") && "\(error)".count > path.count + 8, "\(name), \(kind): \(error)")
                }
            }
            let path = try write(valid + [UInt8](repeating: 0xAB, count: 1 << 16), "oversized.\(extension_)")
            switch Result(catching: { try read(path) }) {
            case .success(let read): XCTAssertEqual(read, expected, "\(name): junk after the file changed what was read")
            case .failure(let error): XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(name), oversized: \(error)")
            }
        }
    }

    /// A checkpoint's metadata says what model to build: every value in it is checked before the
    /// model is allocated, and a bad one is an error naming the file and the value.
    func testLoadedModelRefusesMetadataThatDescribesNoModelItCanBuild() throws {
        let configuration = ModelConfiguration.seedCNN(imageSize: 16)
        let model = try configuration.makeModel(seed: 1)
        func checkpoint(_ changes: [String: String?]) throws -> String {
            var metadata = configuration.metadata
            for (key, value) in changes { metadata[key] = value }
            var checkpoint = Checkpoint(metadata: metadata)
            checkpoint.add(model.weights)
            let path = directory.appendingPathComponent("model-\(UUID()).safetensors").path
            try checkpoint.write(to: path)
            return path
        }
        let valid = try checkpoint([:])
        XCTAssertEqual(try LoadedModel(contentsOf: valid).configuration, configuration)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: valid)))
        for (kind, damaged) in [("empty", []), ("truncated", Array(bytes.prefix(bytes.count - 7))), ("garbage", Array(bytes.reversed()))] {
            let path = try write(damaged, "\(kind).safetensors")
            XCTAssertThrowsError(try LoadedModel(contentsOf: path), kind) { error in
                XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(kind): \(error)")
            }
        }

        let bad: [(changes: [String: String?], reason: String)] = [
            (["architecture": "resnet50"], "unknown architecture 'resnet50'"),
            (["architecture": nil], "metadata lacks the model configuration"),
            (["image_size": "0"], "image_size 0 is outside 16...1024"),
            (["image_size": "-224"], "image_size -224 is outside"),
            (["image_size": "1000000"], "image_size 1000000 is outside"),
            (["image_size": "224.5"], "metadata lacks the model configuration"),
            (["input_scale": "nan"], "must be finite"),
            (["input_offset": "inf"], "must be finite"),
            (["input_scale": "0"], "the scale non-zero"),
            (["architecture": "mobilenetv2", "image_size": "32", "alpha": "-1"], "alpha '-1' is not a width multiplier"),
            (["architecture": "mobilenetv2", "image_size": "32", "alpha": "nan"], "alpha 'nan' is not a width multiplier"),
            (["architecture": "mobilenetv2", "image_size": "32", "alpha": "wide"], "alpha 'wide' is not a width multiplier"),
            (["architecture": "mobilenetv2", "alpha": "1.0", "image_size": "16"], "image_size 16 is outside 32...1024 for mobilenetv2"),
            (["image_size": "32"], "does not fit the model"),
        ]
        for (changes, reason) in bad {
            let path = try checkpoint(changes)
            XCTAssertThrowsError(try LoadedModel(contentsOf: path), "\(changes)") { error in
                XCTAssertTrue("\(error)".hasPrefix(path + ": ") && "\(error)".contains(reason), "\(changes): \(error)")
            }
        }
    }

    /// The entry points that take bytes rather than a path (the parsers under the file readers)
    /// refuse empty, truncated and garbage input with an error, never a trap. An empty buffer is a
    /// valid `tf.train.Example` with no features, as protobuf defines it.
    func testByteParsersRefuseEmptyTruncatedAndGarbageInput() throws {
        let example = [UInt8](try Data(contentsOf: Self.seeds.appendingPathComponent("FuzzExample/tf_written-0.tfrecord.0.pb")))
        let xml = [UInt8](try Data(contentsOf: Self.seeds.appendingPathComponent("FuzzAnnotation/oxford.xml")))
        let png = [UInt8](try Data(contentsOf: Self.seeds.appendingPathComponent("FuzzImage/mode-rgb.png")))
        let garbage = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        XCTAssertEqual(try Example(serialized: []).features.count, 0)
        XCTAssertThrowsError(try Example(serialized: Array(example.prefix(example.count - 3))), "truncated Example")
        XCTAssertThrowsError(try Example(serialized: [0xFF] + garbage), "garbage Example")
        for input in [[], Array(xml.prefix(xml.count / 2)), garbage] {
            XCTAssertThrowsError(try XML.parse(input), "XML of \(input.count) bytes")
        }
        for input in [[], Array(png.prefix(png.count / 2)), garbage] {
            XCTAssertThrowsError(try ImageCodec.decode(input, file: "x.png"), "image of \(input.count) bytes") { error in
                XCTAssertTrue("\(error)".hasPrefix("x.png: "), "\(error)")
            }
        }
        XCTAssertThrowsError(try Checkpoint(bytes: garbage, file: "x.safetensors")) { XCTAssertTrue("\($0)".hasPrefix("x.safetensors: ")) }
    }
}
