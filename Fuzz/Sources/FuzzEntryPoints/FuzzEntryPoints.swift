import Foundation
import PinpointData
import PinpointModels

/// What each fuzz target does with one input. The fuzz executables (Fuzz/Sources/Fuzz*) run
/// these under libFuzzer; the main package's FuzzCorpusTests replays the committed corpora
/// through them, so CI holds every fix without running the fuzzer. This one file is compiled in
/// both places: Tests/PinpointTrainingTests/FuzzEntryPoints.swift is a link to it.
public enum FuzzEntryPoints {
    /// Pascal VOC annotations: the XML parser and the annotation's checks.
    public static func annotation(_ bytes: [UInt8]) {
        _ = try? Annotation(xml: bytes, file: "fuzz.xml")
    }

    /// tf.train.Example's protobuf wire format, and the typed reads the pipeline makes of it.
    public static func example(_ bytes: [UInt8]) {
        guard let example = try? Example(serialized: bytes) else { return }
        _ = try? example.bytes("image")
        _ = try? example.float("x")
        _ = try? example.int64("cls_num")
        _ = example.jsonLine()
    }

    /// TFRecord framing (lengths, CRC32C, truncated tails), read from a file as users' records
    /// are, with or without a tolerated truncated tail.
    public static func tfRecord(_ bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: scratchFile, contents: Data(bytes))
        for tail in [false, true] {
            guard let reader = try? TFRecordReader(path: scratchFile, allowsTruncatedTail: tail) else { continue }
            while let record = try? reader.next() { _ = try? Example(serialized: record) }
        }
    }

    /// safetensors checkpoints (the header's JSON, offsets, shapes and dtypes), then the model
    /// configuration their metadata declares, as `LoadedModel` reads it before building a model.
    public static func checkpoint(_ bytes: [UInt8]) {
        guard let checkpoint = try? Checkpoint(bytes: bytes, file: "fuzz.safetensors") else { return }
        _ = try? ModelConfiguration(metadata: checkpoint.metadata, file: "fuzz.safetensors")
    }

    /// JPEG and PNG through libjpeg and libpng's C shims: header only, then the whole decode and
    /// a resize, then a draft decode (reduced in the IDCT) and a resize, with a declared-size
    /// bound of 4 megapixels (the production bound, Pillow's 89, lets a 200-byte file decode to a
    /// legal 57-megapixel image, which takes seconds under the sanitizers).
    public static func image(_ bytes: [UInt8]) {
        _ = try? ImageCodec.info(of: bytes, file: "fuzz.jpg")
        if let (_, image) = try? ImageCodec.decode(bytes, file: "fuzz.jpg", maximumPixels: 1 << 22) {
            _ = image.resized(width: 16, height: 16)
        }
        if let (_, image) = try? ImageCodec.decode(bytes, file: "fuzz.jpg", maximumPixels: 1 << 22, draft: (4, 3)) {
            _ = image.resized(width: 4, height: 3)
        }
    }

    /// Every target by its executable's name, which is also its corpus directory's.
    public static let all: [(target: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("FuzzAnnotation", annotation), ("FuzzExample", example), ("FuzzTFRecord", tfRecord),
        ("FuzzCheckpoint", checkpoint), ("FuzzImage", image),
    ]

    /// One file per process: libFuzzer runs inputs one after another, and XCTest runs tests so.
    static let scratchFile: String = {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        return directory + "pinpoint-fuzz-\(getpid()).tfrecord"
    }()
}
