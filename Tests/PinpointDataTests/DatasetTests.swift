import Foundation
@testable import PinpointData
import XCTest

final class DatasetTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-dataset-\(UUID())").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func synth(count: Int, seed: UInt64 = 5) throws -> String {
        var pets = SyntheticPets(count: count, seed: seed)
        pets.sideRange = 40...90  // small images keep the debug-build test quick
        _ = try pets.write(to: directory + "/pets")
        return directory + "/pets"
    }

    /// Names, sizes and modification times of every file under a folder.
    func listing(_ root: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: root).sorted().map { path in
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
            return "\(path) \(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? 0)"
        }
    }

    func testSyntheticDatasetHasTheOxfordLayoutAndItsQuirks() throws {
        let root = try synth(count: 24)
        let folder = try OxfordPetFolder(root: root)
        // 24 images: one of each quirk (one per 60 images, at least one of each from 12 on).
        XCTAssertEqual(folder.imagesWithoutAnnotation.count, 1)
        XCTAssertEqual(folder.annotationsWithoutImage.count, 1)
        XCTAssertEqual(folder.pairs.count, 22)
        var modes: [String: Int] = [:]
        for pair in folder.pairs {
            let info = try ImageCodec.info(path: pair.imagePath)
            modes["\(info.format.rawValue) \(info.mode)", default: 0] += 1
            let annotation = try Annotation(contentsOf: pair.annotationPath)
            XCTAssertEqual([annotation.width, annotation.height], [info.width, info.height], pair.name)
            let box = annotation.objects[0].box
            XCTAssertGreaterThanOrEqual((box.xmax - box.xmin) / Double(info.width), 0.14, pair.name)
            XCTAssertLessThanOrEqual((box.xmax - box.xmin) / Double(info.width), 0.62, pair.name)
            XCTAssertEqual(annotation.objects[0].name, petClass(forFileName: pair.name) == 1 ? "cat" : "dog")
        }
        XCTAssertEqual(modes, ["JPEG RGB": 18, "PNG RGB": 1, "PNG P": 1, "JPEG L": 1, "PNG RGBA": 1])
    }

    func testPrepareKeepsRGBSkipsTheRestWithReasonsAndFollowsTheTutorialsFormulas() throws {
        let root = try synth(count: 24)
        let before = try listing(root)
        let folder = try OxfordPetFolder(root: root)
        var preparation = OxfordPetPreparation(folder: folder)
        preparation.size = 32
        preparation.validationCount = 4
        let report = try preparation.run(outputDirectory: directory + "/out")
        XCTAssertEqual(try listing(root), before, "prepare must not modify the dataset folder")
        XCTAssertEqual(report.trainCount, 15, "19 kept (the RGB PNG named .jpg among them), 4 to validation")
        XCTAssertEqual(report.validationCount, 4)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: report.skipCounts.map { ($0.category, $0.count) }),
                       ["mode L": 1, "mode P": 1, "mode RGBA": 1, "no annotation": 1, "no image": 1])

        var names = Set<String>()
        for path in [report.trainPath, report.validationPath] {
            let reader = try TFRecordReader(path: path)
            while let record = try reader.next() {
                let example = try Example(serialized: record)
                XCTAssertEqual(try example.bytes("image").count, 32 * 32 * 3)
                // Find the source by its box and class, then recompute the tutorial's formulas.
                let (x, y, w, h, cls) = (try example.float("x"), try example.float("y"), try example.float("w"), try example.float("h"),
                                         try example.int64("cls_num"))
                let match = try folder.pairs.first { pair in
                    let a = try Annotation(contentsOf: pair.annotationPath)
                    let b = a.objects[0].box
                    return Float((b.xmin + b.xmax) / 2 / Double(a.width)) == x && Float((b.ymin + b.ymax) / 2 / Double(a.height)) == y
                        && Float((b.xmax - b.xmin) / Double(a.width)) == w && Float((b.ymax - b.ymin) / Double(a.height)) == h
                }
                let pair = try XCTUnwrap(match, "no annotation gives x \(x) y \(y) w \(w) h \(h)")
                XCTAssertEqual(Int(cls), petClass(forFileName: pair.name))
                names.insert(pair.name)
            }
        }
        XCTAssertEqual(names.count, 19, "every kept pair written once")
    }

    func testTheSplitIsSeededAndTheDefaultIsTheTutorialsProportion() throws {
        let root = try synth(count: 24)
        let folder = try OxfordPetFolder(root: root)
        func validationHashes(seed: UInt64) throws -> [String] {
            var p = OxfordPetPreparation(folder: folder)
            p.size = 16
            p.seed = seed
            let report = try p.run(outputDirectory: directory + "/split-\(seed)")
            XCTAssertEqual(report.validationCount, 4, "round(19 x 685 / 3685) = round(3.53) = 4")
            let reader = try TFRecordReader(path: report.validationPath)
            var out: [String] = []
            while let r = try reader.next() { out.append(SHA256.hex(r)) }
            return out
        }
        XCTAssertEqual(try validationHashes(seed: 1), try validationHashes(seed: 1))
        XCTAssertNotEqual(try validationHashes(seed: 1), try validationHashes(seed: 2))
    }

    /// Damaged files in the folder are skipped with a reason naming the file, in whichever pass
    /// finds them (headers and annotations first, pixels second), and the folder is left as it was.
    func testDamagedImagesAndAnnotationsAreSkippedWithTheirReasons() throws {
        let root = try synth(count: 12)
        let folder = try OxfordPetFolder(root: root)
        let good = try XCTUnwrap(folder.pairs.first { (try? ImageCodec.info(path: $0.imagePath)).map { $0.mode == "RGB" && $0.format == .jpeg } ?? false })
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good.imagePath)))
        let xml = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good.annotationPath)))
        let damaged: [(name: String, image: [UInt8], xml: [UInt8], category: String, says: String)] = [
            ("zz_empty_image_1", [], xml, "unreadable image", "empty file"),
            ("zz_garbage_image_1", Array("GIF89a not a pet".utf8), xml, "unreadable image", "not a JPEG or PNG file"),
            ("zz_truncated_image_1", Array(jpeg.prefix(jpeg.count / 2)), xml, "unreadable image", "corrupt JPEG"),
            ("zz_empty_xml_1", jpeg, [], "invalid annotation", "malformed XML at line 1, column 1: no root element"),
            ("zz_garbage_xml_1", jpeg, Array("<annotation><size><width>".utf8), "invalid annotation", "element <width> is not closed"),
        ]
        for file in damaged {
            try Data(file.image).write(to: URL(fileURLWithPath: "\(root)/images/\(file.name).jpg"))
            try Data(file.xml).write(to: URL(fileURLWithPath: "\(root)/annotations/xmls/\(file.name).xml"))
        }
        let before = try listing(root)
        var preparation = OxfordPetPreparation(folder: try OxfordPetFolder(root: root))
        preparation.size = 16
        let report = try preparation.run(outputDirectory: directory + "/out")
        XCTAssertEqual(try listing(root), before, "prepare must not modify the dataset folder")
        for file in damaged {
            let skip = try XCTUnwrap(report.skipped.first { $0.name == file.name }, "\(file.name) was not skipped")
            XCTAssertEqual(skip.category, file.category, file.name)
            let path = "\(root)/\(file.category == "invalid annotation" ? "annotations/xmls/\(file.name).xml" : "images/\(file.name).jpg")"
            XCTAssertTrue(skip.detail.hasPrefix(path + ": ") && skip.detail.contains(file.says), "\(file.name): \(skip.detail)")
        }
        XCTAssertEqual(report.trainCount + report.validationCount + report.skipped.count, folder.pairs.count + damaged.count
                       + folder.imagesWithoutAnnotation.count + folder.annotationsWithoutImage.count)
    }

    func testAFolderWithoutTheLayoutIsNamed() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        XCTAssertThrowsError(try OxfordPetFolder(root: directory)) { error in
            XCTAssertTrue("\(error)".hasPrefix(directory + "/images: missing or unreadable"), "\(error)")
        }
    }
}

final class SHA256AndDumpTests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testDumpLineFormat() {
        let example = Example(features: ["b": .bytes([Array("abc".utf8)]), "f": .floats([0.5, .nan, .infinity, -.infinity]),
                                         "i": .int64s([Int64.min]), "u": .unset, "q\"": .floats([])])
        XCTAssertEqual(example.jsonLine(), """
            {"b": {"kind": "bytes", "values": [{"length": 3, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}, \
            "f": {"kind": "float", "values": [0.5, "nan", "inf", "-inf"]}, "i": {"kind": "int64", "values": [-9223372036854775808]}, \
            "q\\"": {"kind": "float", "values": []}, "u": {"kind": null, "values": []}}
            """)
    }
}
