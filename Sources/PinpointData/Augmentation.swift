import Foundation
import PinpointTensor

/// Random transforms of a training image that move its box with it: horizontal flip, crop,
/// scale, translate, and brightness/contrast/saturation jitter.
///
/// The geometric transforms follow torchvision.transforms.v2 applied in this order to an image
/// and its `tv_tensors.BoundingBoxes`: `horizontal_flip`, `resized_crop` (back to the full side),
/// `affine` (scale about the centre, then translate), the box clamped to the image after each as
/// `clamp_bounding_boxes` does. The image is resampled once (bilinear) through the composed map;
/// where the scale or translation uncovers pixels outside the crop, they take `fill` (114, the
/// grey of Ultralytics' letterbox). A draw whose box would end up narrower or shorter than one
/// pixel (torchvision's `SanitizeBoundingBoxes` would drop it) keeps the sample's geometry
/// unchanged; the colour jitter still applies. Colour jitter follows torchvision's
/// `adjust_brightness`, `adjust_contrast` and `adjust_saturation` on float pixels, in that fixed
/// order (torchvision's `ColorJitter` shuffles it).
///
/// ```swift
/// let augmentation = try BoxAugmentation(parsing: "hflip,crop,color")
/// var rng = BoxAugmentation.generator(seed: 1, epoch: 0, sample: 17)
/// let (pixels, box) = augmentation.apply(augmentation.draw(using: &rng), to: record, side: 224, box: (0.5, 0.5, 0.2, 0.3))
/// ```
public struct BoxAugmentation: Sendable, Equatable, CustomStringConvertible {
    /// Mirror left to right with `probability`.
    public struct Flip: Sendable, Equatable {
        public var probability: Float = 0.5
        public init() {}
    }

    /// With `probability`, a window of `area` (a fraction of the image, drawn uniformly) and
    /// width/height ratio drawn log-uniformly from `aspectRatio`, placed uniformly inside the
    /// image and resized to the full side.
    public struct Crop: Sendable, Equatable {
        public var probability: Float = 0.5
        public var area: ClosedRange<Float> = 0.5...1
        public var aspectRatio: ClosedRange<Float> = 0.75...(4 / 3)
        public init() {}
    }

    /// With `probability`, a zoom about the centre by a factor drawn uniformly from `factor`
    /// (below 1 shrinks the picture inside a `fill` border).
    public struct Scale: Sendable, Equatable {
        public var probability: Float = 0.5
        public var factor: ClosedRange<Float> = 0.75...1.25
        public init() {}
    }

    /// With `probability`, a shift of up to `fraction` of the side along each axis (uniform).
    public struct Translate: Sendable, Equatable {
        public var probability: Float = 0.5
        public var fraction: Float = 0.1
        public init() {}
    }

    /// With `probability`, brightness, contrast and saturation factors each drawn uniformly from
    /// [1 - x, 1 + x] (torchvision's `ColorJitter(0.4, 0.4, 0.4)` by default).
    public struct Color: Sendable, Equatable {
        public var probability: Float = 0.5
        public var brightness: Float = 0.4
        public var contrast: Float = 0.4
        public var saturation: Float = 0.4
        public init() {}
    }

    public var flip: Flip?
    public var crop: Crop?
    public var scale: Scale?
    public var translate: Translate?
    public var color: Color?
    /// The pixel value (0-255) of areas the geometry uncovers.
    public var fill: Float = 114

    /// The transforms' names, as `--augment` and a recipe file spell them.
    public static let names = ["hflip", "crop", "scale", "translate", "color"]

    /// The named transforms with their default settings.
    public init(names: [String]) throws(AugmentationError) {
        for name in names {
            switch name {
            case "hflip": flip = Flip()
            case "crop": crop = Crop()
            case "scale": scale = Scale()
            case "translate": translate = Translate()
            case "color": color = Color()
            default: throw AugmentationError("unknown augmentation '\(name)' (known: \(Self.names.joined(separator: ", ")))")
            }
        }
    }

    /// `argument` is either a comma-separated list of names or the path of a JSON recipe:
    /// an object whose keys are transform names (or "fill") and whose values are objects of
    /// settings, every one optional, e.g.
    /// `{"hflip": {}, "crop": {"probability": 0.8, "area": [0.3, 1]}, "color": {"brightness": 0.2}, "fill": 0}`.
    public init(parsing argument: String) throws(AugmentationError) {
        if argument.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: argument) else {
                throw AugmentationError("\(argument): cannot read the augmentation recipe")
            }
            try self.init(recipe: data, path: argument)
        } else {
            let names = argument.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty else { throw AugmentationError("no augmentation named (known: \(Self.names.joined(separator: ", ")))") }
            try self.init(names: names)
        }
    }

    /// A JSON recipe (see `init(parsing:)`); `path` names it in errors.
    public init(recipe: Foundation.Data, path: String = "recipe") throws(AugmentationError) {
        guard let object = try? JSONSerialization.jsonObject(with: recipe), let top = object as? [String: Any] else {
            throw AugmentationError("\(path): not a JSON object of transforms")
        }
        for (name, value) in top.sorted(by: { $0.key < $1.key }) {
            if name == "fill" {
                guard let number = value as? NSNumber, (0...255).contains(number.floatValue) else {
                    throw AugmentationError("\(path): fill must be a pixel value from 0 to 255")
                }
                fill = number.floatValue
                continue
            }
            guard let settings = value as? [String: Any] else {
                throw AugmentationError(Self.names.contains(name) ? "\(path): \(name) takes an object of settings"
                                        : "\(path): unknown augmentation '\(name)' (known: \(Self.names.joined(separator: ", ")), fill)")
            }
            var reader = SettingsReader(path: path, transform: name, settings: settings)
            switch name {
            case "hflip":
                var t = Flip()
                t.probability = try reader.probability(t.probability)
                flip = t
            case "crop":
                var t = Crop()
                t.probability = try reader.probability(t.probability)
                t.area = try reader.range("area", t.area, within: 0.01...1)
                t.aspectRatio = try reader.range("aspect_ratio", t.aspectRatio, within: 0.1...10)
                crop = t
            case "scale":
                var t = Scale()
                t.probability = try reader.probability(t.probability)
                t.factor = try reader.range("factor", t.factor, within: 0.1...10)
                scale = t
            case "translate":
                var t = Translate()
                t.probability = try reader.probability(t.probability)
                t.fraction = try reader.number("fraction", t.fraction, within: 0...1)
                translate = t
            case "color":
                var t = Color()
                t.probability = try reader.probability(t.probability)
                t.brightness = try reader.number("brightness", t.brightness, within: 0...1)
                t.contrast = try reader.number("contrast", t.contrast, within: 0...1)
                t.saturation = try reader.number("saturation", t.saturation, within: 0...1)
                color = t
            default:
                throw AugmentationError("\(path): unknown augmentation '\(name)' (known: \(Self.names.joined(separator: ", ")), fill)")
            }
            try reader.finish()
        }
    }

    /// The recipe as canonical JSON (every setting spelled out), for logs and checkpoint metadata;
    /// `init(recipe:)` reads it back to an equal value.
    public var description: String {
        func range(_ r: ClosedRange<Float>) -> String { "[\(r.lowerBound), \(r.upperBound)]" }
        var parts: [String] = []
        if let t = color {
            parts.append(#""color": {"probability": \#(t.probability), "brightness": \#(t.brightness), "contrast": \#(t.contrast), "saturation": \#(t.saturation)}"#)
        }
        if let t = crop {
            parts.append(#""crop": {"probability": \#(t.probability), "area": \#(range(t.area)), "aspect_ratio": \#(range(t.aspectRatio))}"#)
        }
        parts.append(#""fill": \#(fill)"#)
        if let t = flip { parts.append(#""hflip": {"probability": \#(t.probability)}"#) }
        if let t = scale { parts.append(#""scale": {"probability": \#(t.probability), "factor": \#(range(t.factor))}"#) }
        if let t = translate { parts.append(#""translate": {"probability": \#(t.probability), "fraction": \#(t.fraction)}"#) }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// The random stream of one sample in one epoch: a function of the three numbers alone, so
    /// a resumed run, a faster consumer or another shuffle order draws the same transforms.
    public static func generator(seed: UInt64, epoch: Int, sample: Int) -> SeededGenerator {
        SeededGenerator(seed: seed ^ 0x6175_676D_656E_7421).fork(UInt64(epoch)).fork(UInt64(sample))
    }

    /// One sample's transform parameters.
    public struct Draw: Sendable, Equatable {
        public var flipped = false
        /// The crop window in the (flipped) image, as fractions of the side: x, y of its top-left
        /// corner, width, height.
        public var crop: (x: Double, y: Double, width: Double, height: Double) = (0, 0, 1, 1)
        public var scale: Double = 1
        /// The shift as fractions of the side.
        public var translation: (x: Double, y: Double) = (0, 0)
        public var brightness: Float = 1
        public var contrast: Float = 1
        public var saturation: Float = 1

        public init() {}

        public var isGeometric: Bool {
            flipped || crop != (0, 0, 1, 1) || scale != 1 || translation != (0, 0)
        }

        public static func == (a: Draw, b: Draw) -> Bool {
            a.flipped == b.flipped && a.crop == b.crop && a.scale == b.scale && a.translation == b.translation
                && a.brightness == b.brightness && a.contrast == b.contrast && a.saturation == b.saturation
        }
    }

    /// Draws every transform's parameters; each transform takes the same count of random numbers
    /// whether or not it applies, so changing one transform's probability leaves the others' draws
    /// alone.
    public func draw(using rng: inout SeededGenerator) -> Draw {
        func uniform(_ range: ClosedRange<Float>) -> Double {
            Double(range.lowerBound) + Double(range.upperBound - range.lowerBound) * Double(rng.nextUnitFloat())
        }
        func happens(_ probability: Float) -> Bool { rng.nextUnitFloat() < probability }
        var d = Draw()
        if let flip { d.flipped = happens(flip.probability) }
        if let crop {
            let applies = happens(crop.probability)
            let area = uniform(crop.area)
            let logRatio = uniform(Float(Foundation.log(crop.aspectRatio.lowerBound))...Float(Foundation.log(crop.aspectRatio.upperBound)))
            let (u, v) = (Double(rng.nextUnitFloat()), Double(rng.nextUnitFloat()))
            if applies {
                let ratio = Foundation.exp(logRatio)
                let width = min(1, (area * ratio).squareRoot()), height = min(1, (area / ratio).squareRoot())
                d.crop = ((1 - width) * u, (1 - height) * v, width, height)
            }
        }
        if let scale {
            let applies = happens(scale.probability), factor = uniform(scale.factor)
            if applies { d.scale = factor }
        }
        if let translate {
            let applies = happens(translate.probability)
            let x = uniform(-translate.fraction...translate.fraction), y = uniform(-translate.fraction...translate.fraction)
            if applies { d.translation = (x, y) }
        }
        if let color {
            let applies = happens(color.probability)
            let b = uniform((1 - color.brightness)...(1 + color.brightness))
            let c = uniform((1 - color.contrast)...(1 + color.contrast))
            let s = uniform((1 - color.saturation)...(1 + color.saturation))
            if applies { (d.brightness, d.contrast, d.saturation) = (Float(b), Float(c), Float(s)) }
        }
        return d
    }

    /// The box (x_center, y_center, width, height as fractions of the side) after the draw's
    /// geometry, or nil when it would end up narrower or shorter than one pixel of `side`.
    public static func transform(box: (x: Float, y: Float, w: Float, h: Float), by d: Draw, side: Int) -> (x: Float, y: Float, w: Float, h: Float)? {
        func clamp(_ v: Double) -> Double { min(max(v, 0), 1) }
        var (x0, x1) = (Double(box.x) - Double(box.w) / 2, Double(box.x) + Double(box.w) / 2)
        var (y0, y1) = (Double(box.y) - Double(box.h) / 2, Double(box.y) + Double(box.h) / 2)
        if d.flipped { (x0, x1) = (1 - x1, 1 - x0) }
        (x0, x1) = (clamp((x0 - d.crop.x) / d.crop.width), clamp((x1 - d.crop.x) / d.crop.width))
        (y0, y1) = (clamp((y0 - d.crop.y) / d.crop.height), clamp((y1 - d.crop.y) / d.crop.height))
        func affine(_ v: Double, _ t: Double) -> Double { clamp(0.5 + d.scale * (v - 0.5) + t) }
        (x0, x1) = (affine(x0, d.translation.x), affine(x1, d.translation.x))
        (y0, y1) = (affine(y0, d.translation.y), affine(y1, d.translation.y))
        guard (x1 - x0) * Double(side) >= 1, (y1 - y0) * Double(side) >= 1 else { return nil }
        return (Float((x0 + x1) / 2), Float((y0 + y1) / 2), Float(x1 - x0), Float(y1 - y0))
    }

    /// The square RGB image `pixels` (`side` x `side` x 3) after the draw, as values from 0 to 255,
    /// written to `output` (`side * side * 3` floats), and its box. A draw that would lose the
    /// box keeps the geometry unchanged.
    public func apply(_ d: Draw, to pixels: UnsafeBufferPointer<UInt8>, side: Int, box: (x: Float, y: Float, w: Float, h: Float),
                      into output: UnsafeMutablePointer<Float>) -> (x: Float, y: Float, w: Float, h: Float) {
        precondition(pixels.count == side * side * 3, "BoxAugmentation.apply: \(pixels.count) bytes is not a \(side)x\(side) RGB image")
        var result = box
        if d.isGeometric, let moved = Self.transform(box: box, by: d, side: side) {
            result = moved
            resample(pixels, side: side, d, into: output)
        } else {
            for i in 0..<pixels.count { output[i] = Float(pixels[i]) }
        }
        if d.brightness != 1 || d.contrast != 1 || d.saturation != 1 {
            Self.jitter(output, count: side * side, brightness: d.brightness, contrast: d.contrast, saturation: d.saturation)
        }
        return result
    }

    /// `apply` on an array, for callers that hold one.
    public func apply(_ d: Draw, to pixels: [UInt8], side: Int, box: (x: Float, y: Float, w: Float, h: Float)) -> (pixels: [Float], box: (x: Float, y: Float, w: Float, h: Float)) {
        var out = [Float](repeating: 0, count: pixels.count)
        let moved = pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { apply(d, to: src, side: side, box: box, into: $0.baseAddress!) }
        }
        return (out, moved)
    }

    /// Where one output row or column samples the source: the two neighbouring source indices,
    /// the second one's weight, and whether it lies inside the crop (else it takes `fill`).
    private struct Tap {
        var low = 0, high = 0
        var weight: Float = 0
        var inside = true
    }

    /// The taps along one axis. Output index i has its centre at (i + 0.5) / side; the affine and
    /// the crop are undone back to the source, where pixel centres also sit at (j + 0.5) / side.
    private static func taps(side: Int, flipped: Bool, start: Double, length: Double, scale: Double, shift: Double) -> [Tap] {
        (0..<side).map { i in
            let u = (Double(i) + 0.5) / Double(side)
            let cropped = 0.5 + (u - 0.5 - shift) / scale
            guard cropped >= 0 && cropped <= 1 else { return Tap(inside: false) }
            var p = start + length * cropped
            if flipped { p = 1 - p }
            var s = p * Double(side) - 0.5
            // A map that lands on pixel centres (the identity, a flip) copies them exactly.
            if abs(s - s.rounded()) < 1e-6 { s = s.rounded() }
            s = min(max(s, 0), Double(side - 1))
            let low = Int(s.rounded(.down))
            return Tap(low: low, high: min(low + 1, side - 1), weight: Float(s - Double(low)), inside: true)
        }
    }

    private func resample(_ src: UnsafeBufferPointer<UInt8>, side: Int, _ d: Draw, into out: UnsafeMutablePointer<Float>) {
        let columns = Self.taps(side: side, flipped: d.flipped, start: d.crop.x, length: d.crop.width, scale: d.scale, shift: d.translation.x)
        let rows = Self.taps(side: side, flipped: false, start: d.crop.y, length: d.crop.height, scale: d.scale, shift: d.translation.y)
        for (i, row) in rows.enumerated() {
            let line = out + i * side * 3
            for (j, column) in columns.enumerated() {
                guard row.inside && column.inside else {
                    for c in 0..<3 { line[j * 3 + c] = fill }
                    continue
                }
                let a = (row.low * side + column.low) * 3, b = (row.low * side + column.high) * 3
                let e = (row.high * side + column.low) * 3, f = (row.high * side + column.high) * 3
                for c in 0..<3 {
                    let top = Float(src[a + c]) + column.weight * (Float(src[b + c]) - Float(src[a + c]))
                    let bottom = Float(src[e + c]) + column.weight * (Float(src[f + c]) - Float(src[e + c]))
                    line[j * 3 + c] = top + row.weight * (bottom - top)
                }
            }
        }
    }

    /// torchvision's `adjust_brightness`, `adjust_contrast`, `adjust_saturation` in turn, on
    /// `pixels` RGB triples of values 0-255, each result clamped to [0, 255] as torchvision
    /// clamps float images to [0, 1].
    static func jitter(_ p: UnsafeMutablePointer<Float>, count pixels: Int, brightness: Float, contrast: Float, saturation: Float) {
        func gray(_ i: Int) -> Float { 0.2989 * p[i] + 0.587 * p[i + 1] + 0.114 * p[i + 2] }
        func blend(_ v: Float, _ other: Float, _ ratio: Float) -> Float { min(max(ratio * v + (1 - ratio) * other, 0), 255) }
        if brightness != 1 {
            for i in 0..<(pixels * 3) { p[i] = blend(p[i], 0, brightness) }
        }
        if contrast != 1 {
            var sum = 0.0
            for i in stride(from: 0, to: pixels * 3, by: 3) { sum += Double(gray(i)) }
            let mean = Float(sum / Double(pixels))
            for i in 0..<(pixels * 3) { p[i] = blend(p[i], mean, contrast) }
        }
        if saturation != 1 {
            for i in stride(from: 0, to: pixels * 3, by: 3) {
                let g = gray(i)
                for c in 0..<3 { p[i + c] = blend(p[i + c], g, saturation) }
            }
        }
    }
}

/// A malformed augmentation list or recipe.
public struct AugmentationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads one transform's settings from a recipe and refuses the ones it does not know.
private struct SettingsReader {
    let path: String, transform: String
    var settings: [String: Any]

    mutating func number(_ key: String, _ value: Float, within bounds: ClosedRange<Float>) throws(AugmentationError) -> Float {
        guard let raw = settings.removeValue(forKey: key) else { return value }
        guard let number = raw as? NSNumber, bounds.contains(number.floatValue) else {
            throw AugmentationError("\(path): \(transform).\(key) must be a number from \(bounds.lowerBound) to \(bounds.upperBound)")
        }
        return number.floatValue
    }

    mutating func probability(_ value: Float) throws(AugmentationError) -> Float { try number("probability", value, within: 0...1) }

    mutating func range(_ key: String, _ value: ClosedRange<Float>, within bounds: ClosedRange<Float>) throws(AugmentationError) -> ClosedRange<Float> {
        guard let raw = settings.removeValue(forKey: key) else { return value }
        guard let pair = raw as? [NSNumber], pair.count == 2, pair[0].floatValue <= pair[1].floatValue,
              bounds.contains(pair[0].floatValue), bounds.contains(pair[1].floatValue) else {
            throw AugmentationError("\(path): \(transform).\(key) must be [low, high] with \(bounds.lowerBound) <= low <= high <= \(bounds.upperBound)")
        }
        return pair[0].floatValue...pair[1].floatValue
    }

    func finish() throws(AugmentationError) {
        if let key = settings.keys.sorted().first {
            throw AugmentationError("\(path): \(transform) has no setting '\(key)'")
        }
    }
}
