import Foundation
import PinpointTensor

/// Writes a synthetic dataset in the exact Oxford-IIIT Pet layout and XML schema, for demos and
/// tests where the real dataset cannot be downloaded.
///
/// Each image is photo-like (shaded, textured background with clutter and sensor noise) and shows
/// one animal-like figure whose head region is the annotated box (its sides 15% to 60% of the
/// image's, anywhere in the image). Cats and dogs differ in a learnable way: cats have pointed
/// ears and striped grey or ginger coats, dogs hanging ears and brown or cream coats with patches.
/// File names follow the dataset: capitalized cat breeds (`Abyssinian_12.jpg`), lowercase dog
/// breeds (`beagle_7.jpg`). The real dataset's quirks appear in small numbers: palette, grayscale
/// and RGBA images, PNG files named .jpg (an RGB one among them), an XML without its image and an
/// image without its XML.
///
/// ```swift
/// let summary = try SyntheticPets(count: 200, seed: 1).write(to: "/tmp/pets")
/// ```
public struct SyntheticPets: Sendable {
    public var count: Int
    public var seed: UInt64
    /// Range of image sides in pixels (the real images are about 200 to 800 a side).
    public var sideRange: ClosedRange<Int> = 200...800

    public init(count: Int, seed: UInt64 = 0) {
        self.count = count
        self.seed = seed
    }

    static let catBreeds = ["Abyssinian", "Bengal", "Birman", "Bombay", "British_Shorthair", "Egyptian_Mau",
                            "Maine_Coon", "Persian", "Ragdoll", "Russian_Blue", "Siamese", "Sphynx"]
    static let dogBreeds = ["american_bulldog", "basset_hound", "beagle", "boxer", "chihuahua", "havanese",
                            "keeshond", "leonberger", "pug", "samoyed", "shiba_inu", "yorkshire_terrier"]

    /// What a quirky file is (nil for an ordinary RGB JPEG with its annotation).
    enum Quirk: CaseIterable {
        case palettePNG, grayJPEG, rgbaPNG, rgbPNG, annotationWithoutImage, imageWithoutAnnotation
    }

    /// One of each quirk per 60 images (at least one of each from 12 images on), at fixed
    /// positions so every seed has them.
    func quirk(at index: Int) -> Quirk? {
        guard count >= 12 else { return nil }
        let period = max(count / max(count / 60, 1), 12)
        let slot = index % period
        return slot < Quirk.allCases.count ? Quirk.allCases[slot] : nil
    }

    public struct Summary: Sendable {
        public var images = 0
        public var annotations = 0
        public var cats = 0
        public var dogs = 0
        public var quirks: [String: Int] = [:]
    }

    public func write(to directory: String, progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        let images = directory + "/images", xmls = directory + "/annotations/xmls"
        for d in [images, xmls] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        var summary = Summary()
        let base = SeededGenerator(seed: seed)
        for index in 0..<count {
            var rng = base.fork(UInt64(index))
            let isCat = rng.nextUnitFloat() < 0.5
            let breeds = isCat ? Self.catBreeds : Self.dogBreeds
            let name = "\(breeds[Int(rng.nextUnitFloat() * Float(breeds.count))])_\(index + 1)"
            let width = sideRange.lowerBound + Int(rng.nextUnitFloat() * Float(sideRange.count))
            let height = Swift.max(sideRange.lowerBound, Swift.min(sideRange.upperBound, Int(Float(width) * (0.6 + 0.8 * rng.nextUnitFloat()))))
            let (image, box) = Self.draw(width: width, height: height, cat: isCat, using: &rng)
            let q = quirk(at: index)
            if let q { summary.quirks["\(q)", default: 0] += 1 }
            if q != .annotationWithoutImage {
                let path = "\(images)/\(name).jpg"
                switch q {
                case .palettePNG: try writeFile(try Self.palettePNG(image), to: path)
                case .grayJPEG: try writeFile(try ImageCodec.encodeGrayJPEG(Self.gray(image), width: width, height: height), to: path)
                case .rgbaPNG:
                    var rgba = [UInt8](repeating: 255, count: width * height * 4)
                    for i in 0..<(width * height) { for c in 0..<3 { rgba[4 * i + c] = image.pixels[3 * i + c] } }
                    try writeFile(try ImageCodec.encodePNG(samples: rgba, width: width, height: height, components: 4), to: path)
                case .rgbPNG: try writeFile(try ImageCodec.encodePNG(image), to: path)
                default: try image.write(to: path, jpegQuality: 90)
                }
                summary.images += 1
            }
            if q != .imageWithoutAnnotation {
                try Self.annotationXML(name: name, width: width, height: height, box: box, cat: isCat)
                    .write(toFile: "\(xmls)/\(name).xml", atomically: true, encoding: .utf8)
                summary.annotations += 1
            }
            if isCat { summary.cats += 1 } else { summary.dogs += 1 }
            progress?(index + 1, count)
        }
        return summary
    }

    static func annotationXML(name: String, width: Int, height: Int, box: PixelBox, cat: Bool) -> String {
        """
        <annotation><folder>OXIIIT</folder><filename>\(name).jpg</filename><source><database>Pinpoint synthetic pets</database>\
        <annotation>OXIIIT</annotation><image>generated</image></source><size><width>\(width)</width><height>\(height)</height>\
        <depth>3</depth></size><segmented>0</segmented><object><name>\(cat ? "cat" : "dog")</name><pose>Frontal</pose>\
        <truncated>0</truncated><occluded>0</occluded><bndbox><xmin>\(Int(box.xmin))</xmin><ymin>\(Int(box.ymin))</ymin>\
        <xmax>\(Int(box.xmax))</xmax><ymax>\(Int(box.ymax))</ymax></bndbox><difficult>0</difficult></object></annotation>

        """
    }

    static func gray(_ image: RGBImage) -> [UInt8] {
        (0..<(image.width * image.height)).map { i -> UInt8 in
            let r = 299 * Int(image.pixels[3 * i]), g = 587 * Int(image.pixels[3 * i + 1]), b = 114 * Int(image.pixels[3 * i + 2])
            return UInt8((r + g + b) / 1000)
        }
    }

    /// A 64-colour palette version (each channel quantized to 4 levels).
    static func palettePNG(_ image: RGBImage) throws(ImageError) -> [UInt8] {
        var palette: [UInt8] = []
        for r in 0..<4 { for g in 0..<4 { for b in 0..<4 { palette += [UInt8(r * 85), UInt8(g * 85), UInt8(b * 85)] } } }
        let indices = (0..<(image.width * image.height)).map { i -> UInt8 in
            let q = (0..<3).map { (Int(image.pixels[3 * i + $0]) + 42) / 85 }
            return UInt8(q[0] * 16 + q[1] * 4 + q[2])
        }
        return try ImageCodec.encodePalettePNG(indices: indices, width: image.width, height: image.height, palette: palette)
    }

    // MARK: Drawing

    private struct Canvas {
        let width: Int, height: Int
        var pixels: [Float]

        mutating func blend(_ x: Int, _ y: Int, _ color: (Float, Float, Float), _ alpha: Float = 1) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            pixels[i] += (color.0 - pixels[i]) * alpha
            pixels[i + 1] += (color.1 - pixels[i + 1]) * alpha
            pixels[i + 2] += (color.2 - pixels[i + 2]) * alpha
        }

        /// Fills an ellipse, shading each pixel through `shade(dx, dy)` with dx, dy in [-1, 1].
        mutating func ellipse(cx: Float, cy: Float, rx: Float, ry: Float, _ shade: (Float, Float) -> (Float, Float, Float)) {
            let x0 = Swift.max(Int(cx - rx), 0), x1 = Swift.min(Int(cx + rx) + 1, width - 1)
            let y0 = Swift.max(Int(cy - ry), 0), y1 = Swift.min(Int(cy + ry) + 1, height - 1)
            guard x0 <= x1, y0 <= y1 else { return }
            for y in y0...y1 {
                for x in x0...x1 {
                    let dx = (Float(x) - cx) / rx, dy = (Float(y) - cy) / ry
                    let r = dx * dx + dy * dy
                    if r <= 1 { blend(x, y, shade(dx, dy), Swift.min(1, (1 - r) * 8)) }
                }
            }
        }

        /// Fills a triangle.
        mutating func triangle(_ a: (Float, Float), _ b: (Float, Float), _ c: (Float, Float), _ color: (Float, Float, Float)) {
            let x0 = Swift.max(Int(Swift.min(a.0, b.0, c.0)), 0), x1 = Swift.min(Int(Swift.max(a.0, b.0, c.0)) + 1, width - 1)
            let y0 = Swift.max(Int(Swift.min(a.1, b.1, c.1)), 0), y1 = Swift.min(Int(Swift.max(a.1, b.1, c.1)) + 1, height - 1)
            guard x0 <= x1, y0 <= y1 else { return }
            func side(_ p: (Float, Float), _ q: (Float, Float), _ r: (Float, Float)) -> Float { (p.0 - r.0) * (q.1 - r.1) - (q.0 - r.0) * (p.1 - r.1) }
            for y in y0...y1 {
                for x in x0...x1 {
                    let p = (Float(x), Float(y))
                    let d1 = side(p, a, b), d2 = side(p, b, c), d3 = side(p, c, a)
                    if !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0)) { blend(x, y, color) }
                }
            }
        }
    }

    static func draw(width: Int, height: Int, cat: Bool, using rng: inout SeededGenerator) -> (RGBImage, PixelBox) {
        func u() -> Float { rng.nextUnitFloat() }
        func color() -> (Float, Float, Float) { (40 + 180 * u(), 40 + 180 * u(), 40 + 180 * u()) }
        var canvas = Canvas(width: width, height: height, pixels: [Float](repeating: 0, count: width * height * 3))
        // Background: two-colour shading plus a woven texture.
        let (c0, c1) = (color(), color())
        let (fx, fy, phase) = (0.02 + 0.2 * u(), 0.02 + 0.2 * u(), 6 * u())
        for y in 0..<height {
            for x in 0..<width {
                let t = (Float(x) / Float(width) + Float(y) / Float(height)) / 2
                let texture = 18 * sin(Float(x) * fx + phase) * cos(Float(y) * fy)
                let i = (y * width + x) * 3
                canvas.pixels[i] = c0.0 + (c1.0 - c0.0) * t + texture
                canvas.pixels[i + 1] = c0.1 + (c1.1 - c0.1) * t + texture
                canvas.pixels[i + 2] = c0.2 + (c1.2 - c0.2) * t + texture
            }
        }
        // Clutter: furniture-like blobs and blocks.
        for _ in 0..<(4 + Int(u() * 6)) {
            let c = color()
            if u() < 0.5 {
                canvas.ellipse(cx: u() * Float(width), cy: u() * Float(height), rx: 10 + u() * Float(width) / 5,
                               ry: 10 + u() * Float(height) / 5) { _, dy in (c.0 - 20 * dy, c.1 - 20 * dy, c.2 - 20 * dy) }
            } else {
                let (x, y, w, h) = (u() * Float(width), u() * Float(height), 10 + u() * Float(width) / 4, 10 + u() * Float(height) / 4)
                canvas.triangle((x, y), (x + w, y), (x, y + h), c)
                canvas.triangle((x + w, y), (x + w, y + h), (x, y + h), c)
            }
        }
        // The head box: sides 15% to 60% of the image's, anywhere.
        let bw = Float(width) * (0.15 + 0.45 * u()), bh = Float(height) * (0.15 + 0.45 * u())
        let bx = u() * (Float(width) - bw), by = u() * (Float(height) - bh)
        let coat: (Float, Float, Float) = cat
            ? (u() < 0.5 ? (200, 120, 50) : (120, 120, 125))
            : (u() < 0.5 ? (120, 75, 35) : (225, 205, 160))
        let stripes = 0.15 + 0.1 * u()
        func fur(_ dx: Float, _ dy: Float) -> (Float, Float, Float) {
            let shade = 1 - 0.25 * dy
            let pattern: Float = cat ? (sin((dx * 3 + dy) / stripes) > 0.3 ? 0.55 : 1) : (sin(dx * 4) * cos(dy * 3) > 0.6 ? 0.6 : 1)
            return (coat.0 * shade * pattern, coat.1 * shade * pattern, coat.2 * shade * pattern)
        }
        // Body below the head (may leave the image), then ears, then the head itself.
        let (hx, hy) = (bx + bw / 2, by + bh * 0.58)
        canvas.ellipse(cx: hx + bw * (u() - 0.5), cy: hy + bh * 1.2, rx: bw * 0.9, ry: bh * 0.9, fur)
        if cat {
            for side: Float in [-1, 1] {
                let base = hx + side * bw * 0.28
                canvas.triangle((base - bw * 0.16, by + bh * 0.35), (base + bw * 0.16, by + bh * 0.35), (base + side * bw * 0.1, by),
                                (coat.0 * 0.8, coat.1 * 0.8, coat.2 * 0.8))
            }
        } else {
            for side: Float in [-1, 1] {
                canvas.ellipse(cx: hx + side * bw * 0.4, cy: by + bh * 0.55, rx: bw * 0.1, ry: bh * 0.4) { _, dy in
                    (coat.0 * 0.55, coat.1 * 0.5, coat.2 * 0.45 + 10 * dy)
                }
            }
        }
        canvas.ellipse(cx: hx, cy: hy, rx: bw * 0.4, ry: bh * 0.42, fur)
        for side: Float in [-1, 1] {
            canvas.ellipse(cx: hx + side * bw * 0.15, cy: hy - bh * 0.05, rx: bw * 0.055, ry: bh * 0.06) { _, _ in cat ? (90, 160, 60) : (30, 20, 10) }
        }
        canvas.ellipse(cx: hx, cy: hy + bh * 0.15, rx: bw * 0.06, ry: bh * 0.045) { _, _ in cat ? (220, 130, 140) : (20, 15, 15) }
        // Sensor noise, then 8 bits.
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<pixels.count {
            pixels[i] = UInt8(Swift.max(0, Swift.min(255, canvas.pixels[i] + 10 * (u() - 0.5))))
        }
        let box = PixelBox(xmin: Double(bx.rounded(.down)), ymin: Double(by.rounded(.down)),
                           xmax: Double(Swift.min((bx + bw).rounded(.up), Float(width))), ymax: Double(Swift.min((by + bh).rounded(.up), Float(height))))
        return (RGBImage(width: width, height: height, pixels: pixels), box)
    }
}
