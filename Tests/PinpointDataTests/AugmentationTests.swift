import Foundation
import PinpointData
import PinpointTensor
import XCTest

/// BoxAugmentation against torchvision.transforms.v2 (Fixtures/make_augmentation_fixtures.py) and
/// against cases worked by hand.
final class AugmentationTests: XCTestCase {
    struct Fixture: Decodable {
        struct BoxCase: Decodable {
            let side: Int, box: [Double], flip: Bool, crop: [Double]?, scale: Double, translate: [Double], expected: [Double], kept: Bool
        }
        struct ColorCase: Decodable {
            let side: Int, brightness: Float, contrast: Float, saturation: Float, pixels: [UInt8], expected: [Float]
        }
        let boxes: [BoxCase], colors: [ColorCase]
    }

    static let fixture = try! JSONDecoder().decode(
        Fixture.self, from: Data(contentsOf: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/augmentation_cases.json")))

    typealias Box = (x: Float, y: Float, w: Float, h: Float)

    /// A box given by its corners in pixels of `side`.
    func box(_ xyxy: [Double], side: Int) -> Box {
        let s = Double(side)
        return (Float((xyxy[0] + xyxy[2]) / 2 / s), Float((xyxy[1] + xyxy[3]) / 2 / s), Float((xyxy[2] - xyxy[0]) / s), Float((xyxy[3] - xyxy[1]) / s))
    }

    func corners(_ b: Box, side: Int) -> [Double] {
        let s = Double(side)
        return [(Double(b.x) - Double(b.w) / 2) * s, (Double(b.y) - Double(b.h) / 2) * s, (Double(b.x) + Double(b.w) / 2) * s, (Double(b.y) + Double(b.h) / 2) * s]
    }

    func testBoxesMoveAsTorchvisionMovesThem() throws {
        XCTAssertGreaterThan(Self.fixture.boxes.count, 30)
        XCTAssertTrue(Self.fixture.boxes.contains { !$0.kept }, "the fixture includes boxes that vanish")
        for (n, c) in Self.fixture.boxes.enumerated() {
            let side = Double(c.side)
            var d = BoxAugmentation.Draw()
            d.flipped = c.flip
            if let crop = c.crop { d.crop = (crop[0] / side, crop[1] / side, crop[2] / side, crop[3] / side) }
            d.scale = c.scale
            d.translation = (c.translate[0] / side, c.translate[1] / side)
            let moved = BoxAugmentation.transform(box: box(c.box, side: c.side), by: d, side: c.side)
            XCTAssertEqual(moved != nil, c.kept, "case \(n): torchvision's SanitizeBoundingBoxes \(c.kept ? "keeps" : "drops") the box")
            guard let moved else { continue }
            for (got, want) in zip(corners(moved, side: c.side), c.expected) {
                XCTAssertEqual(got, want, accuracy: 2e-3, "case \(n): \(corners(moved, side: c.side)) against \(c.expected)")
            }
        }
    }

    func testColorJitterMatchesTorchvision() throws {
        let augmentation = try BoxAugmentation(names: ["color"])
        for (n, c) in Self.fixture.colors.enumerated() {
            var d = BoxAugmentation.Draw()
            (d.brightness, d.contrast, d.saturation) = (c.brightness, c.contrast, c.saturation)
            let (pixels, moved) = augmentation.apply(d, to: c.pixels, side: c.side, box: (0.5, 0.5, 0.25, 0.25))
            XCTAssertTrue(moved == (0.5, 0.5, 0.25, 0.25), "colour leaves the box alone")
            for (i, (got, want)) in zip(pixels, c.expected).enumerated() {
                XCTAssertEqual(got / 255, want, accuracy: 2e-6, "colour case \(n), value \(i)")
            }
        }
    }

    func testIdentityCopiesAndFlipMirrorsExactly() throws {
        let side = 4
        let source = (0..<(side * side * 3)).map { UInt8(($0 * 37) % 251) }
        let augmentation = try BoxAugmentation(names: ["hflip"])
        let box: Box = (0.3, 0.4, 0.5, 0.5)
        let same = augmentation.apply(BoxAugmentation.Draw(), to: source, side: side, box: box)
        XCTAssertEqual(same.pixels, source.map(Float.init))
        XCTAssertTrue(same.box == box)
        var d = BoxAugmentation.Draw()
        d.flipped = true
        let flipped = augmentation.apply(d, to: source, side: side, box: box)
        for row in 0..<side {
            for column in 0..<side {
                for c in 0..<3 {
                    XCTAssertEqual(flipped.pixels[(row * side + column) * 3 + c], Float(source[(row * side + side - 1 - column) * 3 + c]))
                }
            }
        }
        XCTAssertEqual(flipped.box.x, 0.7, accuracy: 1e-6)
        XCTAssertTrue((flipped.box.y, flipped.box.w, flipped.box.h) == (box.y, box.w, box.h))
    }

    func testWholePixelTranslationShiftsAndFills() throws {
        let side = 8
        let source = (0..<(side * side * 3)).map { UInt8($0 % 200) }
        var augmentation = try BoxAugmentation(names: ["translate"])
        augmentation.fill = 7
        var d = BoxAugmentation.Draw()
        d.translation = (0.25, -0.125)  // 2 pixels right, 1 up
        let (pixels, moved) = augmentation.apply(d, to: source, side: side, box: (0.5, 0.5, 0.25, 0.25))
        for row in 0..<side {
            for column in 0..<side {
                let want = column < 2 || row == side - 1 ? 7 : Float(source[((row + 1) * side + column - 2) * 3])
                XCTAssertEqual(pixels[(row * side + column) * 3], want, "row \(row), column \(column)")
            }
        }
        XCTAssertEqual(moved.x, 0.75, accuracy: 1e-6)
        XCTAssertEqual(moved.y, 0.375, accuracy: 1e-6)
    }

    /// A white rectangle drawn exactly at the box: after any draw, the pixels above half
    /// brightness span the transformed box, to within a pixel.
    func testPixelsFollowTheBox() throws {
        let side = 64
        var source = [UInt8](repeating: 0, count: side * side * 3)
        for row in 20..<44 { for column in 16..<40 { for c in 0..<3 { source[(row * side + column) * 3 + c] = 255 } } }
        let box: Box = (28 / 64, 32 / 64, 24 / 64, 24 / 64)
        let recipe = #"{"hflip": {"probability": 0.5}, "crop": {"probability": 0.8}, "scale": {"probability": 0.8}, "translate": {"probability": 0.8, "fraction": 0.3}, "fill": 0}"#
        let augmentation = try BoxAugmentation(recipe: Data(recipe.utf8))
        var moved = 0
        for sample in 0..<60 {
            var rng = BoxAugmentation.generator(seed: 3, epoch: 0, sample: sample)
            let d = augmentation.draw(using: &rng)
            let out = augmentation.apply(d, to: source, side: side, box: box)
            guard BoxAugmentation.transform(box: box, by: d, side: side) != nil else {
                XCTAssertEqual(out.pixels, source.map(Float.init), "sample \(sample): a draw that loses the box keeps the image")
                XCTAssertTrue(out.box == box)
                continue
            }
            moved += d.isGeometric ? 1 : 0
            var (x0, y0, x1, y1) = (side, side, -1, -1)
            for row in 0..<side {
                for column in 0..<side where out.pixels[(row * side + column) * 3] > 127.5 {
                    (x0, y0, x1, y1) = (min(x0, column), min(y0, row), max(x1, column + 1), max(y1, row + 1))
                }
            }
            for (got, want) in zip([x0, y0, x1, y1].map(Double.init), corners(out.box, side: side)) {
                XCTAssertEqual(got, want, accuracy: 1, "sample \(sample): \(d)")
            }
        }
        XCTAssertGreaterThan(moved, 40, "most draws move the image")
    }

    func testADrawThatLosesTheBoxKeepsTheGeometryButNotTheColour() throws {
        let side = 8
        let source = (0..<(side * side * 3)).map { UInt8(100 + $0 % 100) }
        let augmentation = try BoxAugmentation(names: ["crop", "color"])
        var d = BoxAugmentation.Draw()
        d.crop = (0.5, 0.5, 0.5, 0.5)   // the bottom-right quarter; the box is in the top-left one
        d.brightness = 0.5
        let box: Box = (0.2, 0.2, 0.2, 0.2)
        XCTAssertNil(BoxAugmentation.transform(box: box, by: d, side: side))
        let out = augmentation.apply(d, to: source, side: side, box: box)
        XCTAssertTrue(out.box == box)
        XCTAssertEqual(out.pixels, source.map { Float($0) * 0.5 })
    }

    func testDrawsDependOnSeedEpochAndSampleAlone() throws {
        let augmentation = try BoxAugmentation(names: BoxAugmentation.names)
        func draw(_ seed: UInt64, _ epoch: Int, _ sample: Int) -> BoxAugmentation.Draw {
            var rng = BoxAugmentation.generator(seed: seed, epoch: epoch, sample: sample)
            return augmentation.draw(using: &rng)
        }
        XCTAssertEqual(draw(1, 2, 3), draw(1, 2, 3))
        XCTAssertNotEqual(draw(1, 2, 3), draw(1, 2, 4))
        XCTAssertNotEqual(draw(1, 2, 3), draw(1, 3, 3))
        XCTAssertNotEqual(draw(1, 2, 3), draw(2, 2, 3))
        let flips = (0..<1000).filter { draw(0, 0, $0).flipped }.count
        XCTAssertTrue((430...570).contains(flips), "probability 0.5: \(flips) of 1000")
        for sample in 0..<200 {
            let d = draw(5, 1, sample)
            XCTAssertTrue(d.crop.x >= 0 && d.crop.y >= 0 && d.crop.x + d.crop.width <= 1 + 1e-12 && d.crop.y + d.crop.height <= 1 + 1e-12)
            XCTAssertTrue((0.75...1.25).contains(d.scale) && abs(d.translation.x) <= 0.1 && abs(d.translation.y) <= 0.1)
            XCTAssertTrue([d.brightness, d.contrast, d.saturation].allSatisfy { (0.6...1.4).contains($0) })
        }
    }

    func testListsAndRecipesAreParsedAndBadOnesRefused() throws {
        let listed = try BoxAugmentation(parsing: "hflip, color")
        XCTAssertNotNil(listed.flip)
        XCTAssertNotNil(listed.color)
        XCTAssertNil(listed.crop)
        XCTAssertThrowsError(try BoxAugmentation(parsing: "hflip,rotate")) {
            XCTAssertEqual("\($0)", "unknown augmentation 'rotate' (known: hflip, crop, scale, translate, color)")
        }
        let recipe = #"{"crop": {"probability": 0.8, "area": [0.3, 1]}, "scale": {"factor": [0.5, 1.5]}, "fill": 0}"#
        let read = try BoxAugmentation(recipe: Data(recipe.utf8))
        XCTAssertEqual(read.crop?.probability, 0.8)
        XCTAssertEqual(read.crop?.area, 0.3...1)
        XCTAssertEqual(read.scale?.factor, 0.5...1.5)
        XCTAssertEqual(read.fill, 0)
        XCTAssertEqual(try BoxAugmentation(recipe: Data(read.description.utf8)), read, "the canonical form reads back: \(read)")
        XCTAssertEqual(try BoxAugmentation(recipe: Data(listed.description.utf8)), listed)
        for (bad, message) in [
            (#"{"crop": {"areas": [0.3, 1]}}"#, "recipe: crop has no setting 'areas'"),
            (#"{"crop": {"area": [0.9, 0.3]}}"#, "recipe: crop.area must be [low, high] with 0.01 <= low <= high <= 1.0"),
            (#"{"hflip": {"probability": 2}}"#, "recipe: hflip.probability must be a number from 0.0 to 1.0"),
            (#"{"blur": {}}"#, "recipe: unknown augmentation 'blur' (known: hflip, crop, scale, translate, color, fill)"),
            (#"["hflip"]"#, "recipe: not a JSON object of transforms"),
        ] {
            XCTAssertThrowsError(try BoxAugmentation(recipe: Data(bad.utf8))) { XCTAssertEqual("\($0)", message) }
        }
        XCTAssertThrowsError(try BoxAugmentation(parsing: "/nonexistent/recipe.json")) {
            XCTAssertEqual("\($0)", "/nonexistent/recipe.json: cannot read the augmentation recipe")
        }
    }

    /// The pipeline gives each record the draw of its own position in the files, whatever the
    /// shuffle puts where, and the same draw every time the epoch is read.
    func testThePipelineAugmentsEachRecordByItsPosition() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-augment-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let side = 8, count = 23
        var rng = SeededGenerator(seed: 11)
        var images: [[UInt8]] = []
        let paths = [directory + "/a.tfr", directory + "/b.tfr"]
        for (file, range) in [(paths[0], 0..<10), (paths[1], 10..<count)] {
            let writer = try TFRecordWriter(path: file)
            for i in range {
                images.append((0..<(side * side * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                try writer.write(Example(features: [
                    "image": .bytes([images[i]]), "cls_num": .int64s([Int64(i)]),
                    "x": .floats([0.5]), "y": .floats([0.4]), "w": .floats([0.5]), "h": .floats([0.6]),
                ]).serialized())
            }
            try writer.close()
        }
        let augmentation = try BoxAugmentation(names: BoxAugmentation.names)
        let pipeline = try LocalizationBatches(paths: paths, batchSize: 4, shuffleBuffer: 6, seed: 9, augmentation: augmentation)
        for epoch in 0..<2 {
            var seen: [Int] = [], first: [[Float]] = []
            for pass in 0..<2 {
                let batches = pipeline.epoch(epoch)
                var rows: [[Float]] = []
                while let batch = try batches.next() {
                    for n in 0..<batch.count {
                        let ordinal = Int(batch.classes.scalars[n])
                        var draws = BoxAugmentation.generator(seed: 9, epoch: epoch, sample: ordinal)
                        let want = augmentation.apply(augmentation.draw(using: &draws), to: images[ordinal], side: side, box: (0.5, 0.4, 0.5, 0.6))
                        let got = Array(batch.images.scalars[(n * side * side * 3)..<((n + 1) * side * side * 3)])
                        XCTAssertEqual(got, want.pixels.map { $0 * (1 / 255) }, "epoch \(epoch), record \(ordinal)")
                        XCTAssertEqual(Array(batch.boxes.scalars[(n * 4)..<(n * 4 + 4)]), [want.box.x, want.box.y, want.box.w, want.box.h])
                        if pass == 0 { seen.append(ordinal) }
                        rows.append(got)
                    }
                }
                if pass == 0 { first = rows } else { XCTAssertEqual(rows, first, "the same epoch reads the same twice") }
            }
            XCTAssertEqual(seen.sorted(), Array(0..<count))
            XCTAssertNotEqual(seen, Array(0..<count), "the records were shuffled")
        }
    }
}
