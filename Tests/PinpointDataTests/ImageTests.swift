import Foundation
@testable import PinpointData
import PinpointTensor
import XCTest

/// Decoding, modes and resizing against Pillow (Fixtures/make_image_fixtures.py).
final class ImageTests: XCTestCase {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/images")

    struct Fixtures: Decodable {
        struct Resize: Decodable { let source: String; let expected: String }
        struct Mode: Decodable { let file: String; let format: String; let mode: String; let width: Int; let height: Int; let rgb: String }
        struct Draft: Decodable {
            let source: String, expected: String
            let decoded_width: Int, decoded_height: Int, decoded_sha256: String
        }
        let resize: [Resize]
        let modes: [Mode]
        let draft: [Draft]
    }

    static let fixtures = try! JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: directory.appendingPathComponent("images.json")))

    func path(_ name: String) -> String { Self.directory.appendingPathComponent(name).path }

    func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func testDraftDecodeMatchesPillowsDraft() throws {
        XCTAssertEqual(Self.fixtures.draft.count, 4)
        for c in Self.fixtures.draft {
            let bytes = try ImageCodec.readFile(path(c.source))
            let (info, image) = try ImageCodec.decode(bytes, file: c.source, draft: (224, 224))
            XCTAssertEqual(info, try ImageCodec.info(of: bytes, file: c.source), "\(c.source): the info keeps the file's own size")
            XCTAssertEqual([image.width, image.height], [c.decoded_width, c.decoded_height], c.source)
            XCTAssertEqual(SHA256.hex(image.pixels), c.decoded_sha256, "\(c.source): the reduced decode differs from Pillow's draft")
            let (_, expected) = try ImageCodec.decode(path: path(c.expected))
            let diffs = zip(image.resized(width: 224, height: 224).pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            XCTAssertEqual(diffs.max(), 0, "\(c.source): \(diffs.filter { $0 > 0 }.count) values differ from Pillow's, by up to \(diffs.max()!)")
        }
        // Too small to reduce: the draft is the full decode. PNGs have no reduced decode.
        for name in ["photo-500x375.jpg", "photo-334x500.jpg", "photo-160x120.jpg", "photo-500x375.expected.png"] {
            let bytes = try ImageCodec.readFile(path(name))
            XCTAssertEqual(try ImageCodec.decode(bytes, draft: (224, 224)).image, try ImageCodec.decode(bytes).image, name)
        }
    }

    func testModesFormatsAndRGBConversionMatchPillow() throws {
        XCTAssertEqual(Self.fixtures.modes.count, 12)
        for m in Self.fixtures.modes {
            let (info, image) = try ImageCodec.decode(path: path(m.file))
            XCTAssertEqual(info.format.rawValue, m.format, m.file)
            XCTAssertEqual(info.mode, m.mode, m.file)
            XCTAssertEqual([info.width, info.height], [m.width, m.height], m.file)
            // 16-bit gray: Pillow's convert("RGB") clips the 16-bit values at 255, turning a normal
            // 16-bit photo white; Pinpoint keeps the high byte, as Pillow itself does for 16-bit RGB.
            // The fixture holds the same picture as 8-bit L, which is what the high bytes must give.
            let expected = m.mode == "I;16" ? hex(Self.fixtures.modes.first { $0.file == "mode-l.png" }!.rgb) : hex(m.rgb)
            let worst = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertEqual(worst, 0, "\(m.file) (\(m.mode)): largest difference from Pillow's convert(\"RGB\") is \(worst)")
            XCTAssertEqual(try ImageCodec.info(path: path(m.file)), info, "header-only read of \(m.file)")
        }
    }

    func testDecodeAndResizeMatchPillowOnPhotos() throws {
        XCTAssertEqual(Self.fixtures.resize.count, 3)
        for c in Self.fixtures.resize {
            let (_, image) = try ImageCodec.decode(path: path(c.source))
            let resized = image.resized(width: 224, height: 224)
            let (_, expected) = try ImageCodec.decode(path: path(c.expected))
            // Debian's libjpeg-turbo and the one Pillow's wheel bundles decode these alike, so the
            // whole path is bit-exact; another libjpeg-turbo could round its IDCT differently.
            let diffs = zip(resized.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            XCTAssertEqual(diffs.max(), 0, "\(c.source): \(diffs.filter { $0 > 0 }.count) values differ from Pillow's, by up to \(diffs.max()!)")
        }
    }

    /// Lossless line art and text at aspect ratios from 1:20 to 20:1, up to 2000 px, shrunk and
    /// enlarged (Fixtures/make_resize_fixtures.py): the resize alone, so bit for bit. Sharp edges
    /// show the order of the two passes, which Pillow 13 chooses by the sizes.
    func testResizeIsBitExactToPillowOnLosslessInput() throws {
        struct Cases: Decodable { struct Case: Decodable { let source: String; let expected: String }; let cases: [Case] }
        let directory = Self.directory.appendingPathComponent("resize")
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: directory.appendingPathComponent("resize.json"))).cases
        XCTAssertEqual(cases.count, 16)
        for c in cases {
            let (_, image) = try ImageCodec.decode(path: directory.appendingPathComponent(c.source).path)
            let (_, expected) = try ImageCodec.decode(path: directory.appendingPathComponent(c.expected).path)
            let resized = image.resized(width: 224, height: 224)
            let diffs = zip(resized.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            XCTAssertEqual(diffs.max(), 0, "\(c.source): \(diffs.filter { $0 > 0 }.count) values differ from Pillow's, by up to \(diffs.max()!)")
        }
    }

    /// JPEGs that make libjpeg warn (Fixtures/make_jpeg_warning_fixtures.py): those Pillow loads
    /// decode to Pillow's pixels, the truncated one Pillow refuses is an error naming the file.
    func testJPEGWarningsAreNoErrorsButTruncationIs() throws {
        struct Cases: Decodable { struct Case: Decodable { let file: String; let pillow: String; let expected: String? }; let cases: [Case] }
        let directory = Self.directory.appendingPathComponent("warnings")
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: directory.appendingPathComponent("warnings.json"))).cases
        XCTAssertEqual(cases.map(\.pillow), ["loads", "loads", "loads", "refuses: image file is truncated (10 bytes not processed)"])
        for c in cases {
            let path = directory.appendingPathComponent(c.file).path
            if let expected = c.expected {
                let (info, image) = try ImageCodec.decode(path: path)
                XCTAssertEqual(info.mode, "RGB", c.file)
                XCTAssertEqual(image.pixels, try ImageCodec.decode(path: directory.appendingPathComponent(expected).path).image.pixels, c.file)
            } else {
                XCTAssertThrowsError(try ImageCodec.decode(path: path)) { error in
                    XCTAssertTrue("\(error)".hasPrefix(path + ": corrupt JPEG: Premature end of JPEG file"), "\(error)")
                }
            }
        }
    }

    func testTruncatedEmptyAndForeignFilesAreErrorsNamingTheFile() throws {
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("photo-500x375.jpg"))))
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("photo-500x375.expected.png"))))
        for (bytes, expectation) in [(Array(jpeg.prefix(jpeg.count / 2)), "corrupt JPEG"), (Array(png.prefix(png.count / 2)), "corrupt PNG"),
                                     ([], "empty file"), (Array("<annotation/>".utf8), "not a JPEG or PNG")] {
            XCTAssertThrowsError(try ImageCodec.decode(bytes, file: "images/x.jpg")) { error in
                XCTAssertTrue("\(error)".hasPrefix("images/x.jpg: \(expectation)"), "\(error)")
            }
        }
        var flipped = png
        flipped[40] ^= 0xFF  // inside the first IDAT: a CRC or zlib error
        XCTAssertThrowsError(try ImageCodec.decode(flipped, file: "f.png"))
        XCTAssertThrowsError(try ImageCodec.decode(path: path("missing.jpg"))) { XCTAssertTrue("\($0)".contains("missing.jpg: no such file")) }
    }

    func testDeclaredSizeIsBoundedBeforeAllocation() throws {
        var png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("mode-rgb.png"))))
        // IHDR width and height at bytes 16-23: claim 65,000 x 65,000 (the CRC then fails too,
        // so set it right to reach the size check).
        png.replaceSubrange(16..<24, with: [0, 0, 0xFD, 0xE8, 0, 0, 0xFD, 0xE8])
        let crc = ImageTests.pngCRC(Array(png[12..<29]))
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        XCTAssertThrowsError(try ImageCodec.decode(png, file: "huge.png")) { error in
            XCTAssertTrue("\(error)".contains("65000x65000 exceeds the limit"), "\(error)")
        }
    }

    static func pngCRC(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    func testEncodingRoundTripsAndBoxesAreDrawn() throws {
        var image = RGBImage(width: 20, height: 10, filling: (10, 20, 30))
        image.drawBox(xmin: 2, ymin: 1, xmax: 15, ymax: 8, color: (255, 0, 0), lineWidth: 2)
        let pixel = { (x: Int, y: Int) in Array(image.pixels[(y * 20 + x) * 3..<(y * 20 + x) * 3 + 3]) }
        XCTAssertEqual(pixel(2, 1), [255, 0, 0])
        XCTAssertEqual(pixel(15, 8), [255, 0, 0])
        XCTAssertEqual(pixel(3, 5), [255, 0, 0], "two pixels wide on the left")
        XCTAssertEqual(pixel(4, 5), [10, 20, 30], "inside stays untouched")
        XCTAssertEqual(pixel(0, 0), [10, 20, 30])
        let png = try ImageCodec.encodePNG(image)
        XCTAssertEqual(try ImageCodec.decode(png).image, image, "PNG is lossless")
        let (_, photo) = try ImageCodec.decode(path: path("photo-500x375.expected.png"))
        let (info, back) = try ImageCodec.decode(try ImageCodec.encodeJPEG(photo, quality: 95))
        XCTAssertEqual([info.mode, "\(info.width)x\(info.height)"], ["RGB", "224x224"])
        let diffs = zip(back.pixels, photo.pixels).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThan(Double(diffs.reduce(0, +)) / Double(diffs.count), 3, "JPEG at quality 95 stays close")
        image.drawBox(xmin: -5, ymin: -5, xmax: 10, ymax: 7, color: (0, 255, 0))  // partly outside: clipped
        XCTAssertEqual(pixel(10, 3), [0, 255, 0], "right edge")
        XCTAssertEqual(pixel(5, 7), [0, 255, 0], "bottom edge")
        XCTAssertEqual(pixel(0, 0), [10, 20, 30], "the top and left edges fall outside")
        image.drawBox(xmin: 30, ymin: 30, xmax: 40, ymax: 40, color: (0, 0, 255))  // wholly outside: nothing
    }

    /// Edges from data: a model's NaN or a record's 1e30 draws nothing or clamps, never traps.
    func testBoxesFromDataAreClampedOrSkipped() {
        let blank = RGBImage(width: 8, height: 6, filling: (0, 0, 0))
        var image = blank
        image.drawBox(xmin: .nan, ymin: 0, xmax: 5, ymax: 5, color: (255, 0, 0))
        image.drawBox(xmin: 0, ymin: 0, xmax: .infinity, ymax: 5, color: (255, 0, 0))
        XCTAssertEqual(image, blank, "a non-finite edge draws nothing")
        image.drawBox(xmin: -1e30, ymin: 2, xmax: 1e30, ymax: 1e300, color: (0, 255, 0), lineWidth: 1)
        var expected = blank
        expected.drawBox(xmin: -1, ymin: 2, xmax: 8, ymax: 6, color: (0, 255, 0), lineWidth: 1)
        XCTAssertEqual(image, expected, "huge edges are clamped to just outside the image")
        XCTAssertEqual(Array(image.pixels[(2 * 8 + 3) * 3..<(2 * 8 + 3) * 3 + 3]), [0, 255, 0], "the top edge is drawn")
    }

    func testTensorScaling() {
        let image = RGBImage(width: 1, height: 1, pixels: [0, 51, 255])
        XCTAssertTrue(image.tensor(scale: 1 / 255.0).isClose(to: Tensor(shape: [1, 1, 3], scalars: [0, 0.2, 1])))
        XCTAssertTrue(image.tensor(scale: 2 / 255.0, offset: -1).isClose(to: Tensor(shape: [1, 1, 3], scalars: [-1, -0.6, 1])))
    }
}
