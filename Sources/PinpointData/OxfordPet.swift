import Dispatch
import Foundation
import PinpointTensor

/// An Oxford-IIIT Pet folder: `images/*.jpg` paired with `annotations/xmls/*.xml` by base name.
///
/// ```swift
/// let folder = try OxfordPetFolder(root: "/data/oxford-iiit-pet")
/// print(folder.pairs.count, folder.imagesWithoutAnnotation, folder.annotationsWithoutImage)
/// ```
public struct OxfordPetFolder: Sendable {
    public struct Pair: Sendable {
        public let name: String
        public let imagePath: String
        public let annotationPath: String
    }

    public let root: String
    /// Pairs sorted by name.
    public let pairs: [Pair]
    public let imagesWithoutAnnotation: [String]
    public let annotationsWithoutImage: [String]

    public init(root: String) throws(DatasetError) {
        self.root = root
        let imageDirectory = root + "/images", xmlDirectory = root + "/annotations/xmls"
        func list(_ directory: String, _ suffix: String) throws(DatasetError) -> [String: String] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw DatasetError(path: directory, reason: "missing or unreadable (expected the Oxford-IIIT Pet layout: images/ and annotations/xmls/)")
            }
            var result: [String: String] = [:]
            for name in names where name.hasSuffix(suffix) { result[String(name.dropLast(suffix.count))] = directory + "/" + name }
            return result
        }
        let images = try list(imageDirectory, ".jpg"), xmls = try list(xmlDirectory, ".xml")
        pairs = images.keys.filter { xmls[$0] != nil }.sorted().map { Pair(name: $0, imagePath: images[$0]!, annotationPath: xmls[$0]!) }
        imagesWithoutAnnotation = images.keys.filter { xmls[$0] == nil }.sorted()
        annotationsWithoutImage = xmls.keys.filter { images[$0] == nil }.sorted()
    }
}

/// A dataset folder problem, naming the path.
public struct DatasetError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// The tutorial's preparation step: every usable image/annotation pair becomes a
/// `tf.train.Example` in `loc_train.tfr` or `loc_val.tfr`.
///
/// A pair is skipped, with its reason, when the annotation is invalid, the image cannot be
/// decoded, or its mode is not RGB (the tutorial's filter: palette, grayscale and RGBA images go;
/// an RGB PNG named .jpg stays). Kept images are resized to `size` x `size` as Pillow does and
/// stored as raw RGB bytes with the tutorial's features: `image`, `cls_num` (1 cat, 0 dog, from
/// the file name's first letter), and `x`, `y`, `w`, `h` (the box centre and size divided by the
/// size the XML declares). The split is seeded; by default the tutorial's proportion, 685 of
/// 3685, goes to validation. Nothing under the dataset folder is modified.
///
/// ```swift
/// let report = try OxfordPetPreparation(folder: folder).run(outputDirectory: "out")
/// print(report.trainCount, report.validationCount, report.skipped.count)
/// ```
public struct OxfordPetPreparation: Sendable {
    public let folder: OxfordPetFolder
    public var size = 224
    /// Number of validation records; when nil, `validationFraction` of the kept pairs.
    public var validationCount: Int?
    public var validationFraction = 685.0 / 3685.0
    public var seed: UInt64 = 0

    public init(folder: OxfordPetFolder) {
        self.folder = folder
    }

    public struct Skip: Sendable {
        public let name: String
        /// A short category: "mode P", "invalid annotation", "unreadable image", "no annotation", "no image".
        public let category: String
        public let detail: String
    }

    public struct Report: Sendable {
        public var trainCount = 0
        public var validationCount = 0
        public var skipped: [Skip] = []
        public var trainPath = ""
        public var validationPath = ""

        /// Skip counts by category, largest first.
        public var skipCounts: [(category: String, count: Int)] {
            Dictionary(grouping: skipped, by: \.category).map { ($0.key, $0.value.count) }.sorted { ($0.count, $1.category) > ($1.count, $0.category) }
        }
    }

    /// Progress: phase name, items done, items in the phase.
    public typealias Progress = @Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void

    public func run(outputDirectory: String, progress: Progress? = nil) throws -> Report {
        var report = Report()
        report.skipped += folder.imagesWithoutAnnotation.map { Skip(name: $0, category: "no annotation", detail: "image has no XML") }
        report.skipped += folder.annotationsWithoutImage.map { Skip(name: $0, category: "no image", detail: "XML has no image") }

        // Pass 1 (cheap): annotations and image headers decide what is kept, so the split can be
        // drawn before any pixel is decoded and records can stream to disk.
        let pairs = folder.pairs
        var checks = [Result<Annotation, OxfordPetPreparation.Failure>?](repeating: nil, count: pairs.count)
        checks.withUnsafeMutableBufferPointer { out in
            let box = UnsafeSendableBox(out)
            DispatchQueue.concurrentPerform(iterations: pairs.count) { i in
                box.value[i] = Self.check(pairs[i])
                if i % 64 == 0 { progress?("checking", i, pairs.count) }
            }
        }
        var kept: [(OxfordPetFolder.Pair, Annotation)] = []
        for (pair, check) in zip(pairs, checks) {
            switch check! {
            case .success(let annotation): kept.append((pair, annotation))
            case .failure(let failure): report.skipped.append(Skip(name: pair.name, category: failure.category, detail: failure.detail))
            }
        }
        var rng = SeededGenerator(seed: seed)
        kept.shuffle(using: &rng)
        let validation = Swift.min(kept.count, validationCount ?? Int((Double(kept.count) * validationFraction).rounded()))

        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        report.trainPath = outputDirectory + "/loc_train.tfr"
        report.validationPath = outputDirectory + "/loc_val.tfr"
        let train = try TFRecordWriter(path: report.trainPath), val = try TFRecordWriter(path: report.validationPath)

        // Pass 2: decode and resize in parallel batches, write in order.
        let batch = 64
        var done = 0
        for start in stride(from: 0, to: kept.count, by: batch) {
            let slice = Array(kept[start..<Swift.min(start + batch, kept.count)])
            var results = [Result<[UInt8], Failure>?](repeating: nil, count: slice.count)
            results.withUnsafeMutableBufferPointer { out in
                let box = UnsafeSendableBox(out)
                DispatchQueue.concurrentPerform(iterations: slice.count) { i in
                    box.value[i] = Self.record(slice[i].0, slice[i].1, size: size)
                }
            }
            for (offset, result) in results.enumerated() {
                switch result! {
                case .success(let record):
                    if start + offset < validation {
                        try val.write(record)
                        report.validationCount += 1
                    } else {
                        try train.write(record)
                        report.trainCount += 1
                    }
                case .failure(let failure):
                    report.skipped.append(Skip(name: slice[offset].0.name, category: failure.category, detail: failure.detail))
                }
            }
            done += slice.count
            progress?("writing", done, kept.count)
        }
        try train.close()
        try val.close()
        report.skipped.sort { $0.name < $1.name }
        return report
    }

    struct Failure: Error {
        let category: String
        let detail: String
    }

    static func check(_ pair: OxfordPetFolder.Pair) -> Result<Annotation, Failure> {
        let annotation: Annotation
        do { annotation = try Annotation(contentsOf: pair.annotationPath) } catch {
            return .failure(Failure(category: "invalid annotation", detail: error.description))
        }
        do {
            let info = try ImageCodec.info(path: pair.imagePath)
            guard info.mode == "RGB" else {
                return .failure(Failure(category: "mode \(info.mode)", detail: "\(pair.imagePath): \(info.format.rawValue) in mode \(info.mode), not RGB"))
            }
        } catch {
            return .failure(Failure(category: "unreadable image", detail: error.description))
        }
        return .success(annotation)
    }

    static func record(_ pair: OxfordPetFolder.Pair, _ annotation: Annotation, size: Int) -> Result<[UInt8], Failure> {
        do {
            let image = try ImageCodec.decode(path: pair.imagePath).image.resized(width: size, height: size)
            let box = annotation.normalizedBox
            let example = Example(features: [
                "image": .bytes([image.pixels]),
                "cls_num": .int64s([Int64(petClass(forFileName: pair.name))]),
                "x": .floats([box.x]), "y": .floats([box.y]), "w": .floats([box.w]), "h": .floats([box.h]),
            ])
            return .success(example.serialized())
        } catch {
            return .failure(Failure(category: "unreadable image", detail: error.description))
        }
    }
}

/// Carries a buffer into `concurrentPerform`, whose workers write disjoint elements.
struct UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
