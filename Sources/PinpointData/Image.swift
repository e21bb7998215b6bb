import CPinpointIO
import Foundation
import PinpointTensor

/// An 8-bit RGB image, pixels interleaved row by row.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int, filling color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.init(width: width, height: height, pixels: Array([color.0, color.1, color.2].repeated(width * height)))
    }

    /// The image as a [height, width, 3] tensor, each value multiplied by `scale` (1/255 for [0, 1]).
    public func tensor(scale: Float = 1, offset: Float = 0) -> Tensor {
        Tensor(shape: [height, width, 3]) { out, count in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<count { out[i] = Float(p[i]) * scale + offset }
            }
        }
    }
}

extension Array {
    fileprivate func repeated(_ times: Int) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(count * times)
        for _ in 0..<times { out += self }
        return out
    }
}

/// A file's container format, found from its bytes rather than its name.
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG"
    case png = "PNG"
}

/// What an image file holds, named as Pillow names it.
public struct ImageInfo: Equatable, Sendable {
    public let format: ImageFormat
    /// Pillow's mode: "RGB", "L", "LA", "P", "RGBA", "CMYK", "1", "I;16".
    public let mode: String
    public let width: Int
    public let height: Int
}

/// An image that cannot be read or written, naming the file when there is one.
public struct ImageError: Error, Equatable, CustomStringConvertible {
    public let file: String?
    public let reason: String

    public var description: String { (file.map { "\($0): " } ?? "") + reason }
}

/// JPEG and PNG decoding and encoding through libjpeg-turbo and libpng.
///
/// ```swift
/// let (info, image) = try ImageCodec.decode(path: "images/Abyssinian_1.jpg")
/// guard info.mode == "RGB" else { ... }          // the tutorial keeps RGB images only
/// let small = image.resized(width: 224, height: 224)   // as Pillow's Image.resize
/// ```
public enum ImageCodec {
    /// Images with more pixels are refused before anything is allocated (Pillow's
    /// decompression-bomb threshold): a damaged header can claim 65,000 rows.
    public static let maximumPixels = 89_478_485

    public static func format(of bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// Reads the header only.
    public static func info(of bytes: [UInt8], file: String? = nil) throws(ImageError) -> ImageInfo {
        try run(bytes, file: file, toRGB: false, maximumPixels: maximumPixels, draft: nil).info
    }

    /// Decodes to RGB, converting other modes as Pillow's `convert("RGB")` does, and reports the
    /// file's own mode and size. An image declaring more than `maximumPixels` pixels is refused
    /// before anything is allocated.
    ///
    /// With a `draft` size, a JPEG is decoded at 1/2, 1/4 or 1/8 of its size inside libjpeg's
    /// IDCT, the smallest of these that is still at least `draft` on both sides, exactly as
    /// Pillow's `Image.draft("RGB", draft)` does (`Image.thumbnail` uses it). A photo several
    /// times the model's input then costs a fraction of a full decode and of the resize after
    /// it, and the pixels differ slightly from the full decode's. `info` keeps the file's own
    /// size, the image is the reduced one; PNGs always decode at full size.
    ///
    /// ```swift
    /// let (info, image) = try ImageCodec.decode(bytes, draft: (224, 224))   // 752x800 -> 376x400
    /// let input = image.resized(width: 224, height: 224)
    /// ```
    public static func decode(_ bytes: [UInt8], file: String? = nil, maximumPixels: Int = ImageCodec.maximumPixels,
                              draft: (width: Int, height: Int)? = nil) throws(ImageError) -> (info: ImageInfo, image: RGBImage) {
        let (info, image) = try run(bytes, file: file, toRGB: true, maximumPixels: maximumPixels, draft: draft)
        guard let image else { throw ImageError(file: file, reason: "the decoder returned no pixels") }
        return (info, image)
    }

    public static func decode(path: String) throws(ImageError) -> (info: ImageInfo, image: RGBImage) {
        try decode(readFile(path), file: path)
    }

    public static func info(path: String) throws(ImageError) -> ImageInfo {
        try info(of: readFile(path), file: path)
    }

    /// The file's bytes, or an error naming it.
    public static func readFile(_ path: String) throws(ImageError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(file: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        return [UInt8](data)
    }

    private static func run(_ bytes: [UInt8], file: String?, toRGB: Bool, maximumPixels: Int,
                            draft: (width: Int, height: Int)?) throws(ImageError) -> (info: ImageInfo, image: RGBImage?) {
        guard !bytes.isEmpty else { throw ImageError(file: file, reason: "empty file") }
        guard let format = format(of: bytes) else {
            let head = bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageError(file: file, reason: "not a JPEG or PNG file (starts with \(head))")
        }
        var raw = pinpoint_image_info()
        var pixels: UnsafeMutablePointer<UInt8>?
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            switch format {
            case .jpeg:
                pinpoint_jpeg_decode(b.baseAddress, b.count, maximumPixels, toRGB ? 0 : 1, Int32(clamping: max(draft?.width ?? 0, 0)),
                                     Int32(clamping: max(draft?.height ?? 0, 0)), &raw, &pixels, &message, message.count)
            case .png:
                pinpoint_png_decode(b.baseAddress, b.count, maximumPixels, toRGB ? 1 : 0, &raw, &pixels, &message, message.count)
            }
        }
        defer { free(pixels) }
        guard status == 0 else {
            throw ImageError(file: file, reason: "corrupt \(format.rawValue): \(text(message))")
        }
        let info = ImageInfo(format: format, mode: mode(format, raw), width: Int(raw.width), height: Int(raw.height))
        guard toRGB, let pixels else { return (info, nil) }
        let width = Int(raw.decoded_width), height = Int(raw.decoded_height)
        let count = width * height
        var rgb = [UInt8](repeating: 0, count: count * 3)
        switch (format, raw.color) {
        case (.png, _), (.jpeg, 3):
            rgb.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: pixels, count: count * 3) }
        case (.jpeg, 1):
            for i in 0..<count { rgb[3 * i] = pixels[i]; rgb[3 * i + 1] = pixels[i]; rgb[3 * i + 2] = pixels[i] }
        case (.jpeg, 4):
            // Pillow reads Adobe CMYK JPEGs as inverted ("CMYK;I") and converts with
            // R = (255 - K) - C * (255 - K) / 255, rounded as its MULDIV255.
            let inverted = raw.flag != 0
            for i in 0..<count {
                let k = Int(inverted ? 255 - pixels[4 * i + 3] : pixels[4 * i + 3])
                let nk = 255 - k
                for c in 0..<3 {
                    let value = Int(inverted ? 255 - pixels[4 * i + c] : pixels[4 * i + c])
                    let t = value * nk + 128
                    rgb[3 * i + c] = UInt8(clamping: nk - ((t + (t >> 8)) >> 8))
                }
            }
        default:
            throw ImageError(file: file, reason: "unsupported JPEG with \(raw.color) components")
        }
        return (info, RGBImage(width: width, height: height, pixels: rgb))
    }

    private static func mode(_ format: ImageFormat, _ raw: pinpoint_image_info) -> String {
        switch format {
        case .jpeg:
            return raw.color == 1 ? "L" : raw.color == 4 ? "CMYK" : "RGB"
        case .png:
            switch raw.color {
            case 0: return raw.bit_depth == 1 ? "1" : raw.bit_depth == 16 ? "I;16" : "L"
            case 2: return "RGB"
            case 3: return "P"
            case 4: return "LA"
            default: return "RGBA"
            }
        }
    }

    /// PNG bytes of an RGB image.
    public static func encodePNG(_ image: RGBImage) throws(ImageError) -> [UInt8] {
        try encode { out, size, message in
            pinpoint_png_encode(image.pixels, Int32(image.width), Int32(image.height), 3, nil, 0, &out, &size, &message, message.count)
        }
    }

    /// PNG bytes of 8-bit samples with 1 (gray, mode "L") or 4 (RGBA) components per pixel.
    public static func encodePNG(samples: [UInt8], width: Int, height: Int, components: Int) throws(ImageError) -> [UInt8] {
        precondition([1, 4].contains(components) && samples.count == width * height * components,
                     "encodePNG: \(samples.count) samples for \(width)x\(height)x\(components)")
        return try encode { out, size, message in
            pinpoint_png_encode(samples, Int32(width), Int32(height), Int32(components), nil, 0, &out, &size, &message, message.count)
        }
    }

    /// A palette PNG (mode "P"): one index per pixel into `palette`, RGB triples.
    public static func encodePalettePNG(indices: [UInt8], width: Int, height: Int, palette: [UInt8]) throws(ImageError) -> [UInt8] {
        precondition(indices.count == width * height && palette.count % 3 == 0 && palette.count <= 768)
        return try encode { out, size, message in
            pinpoint_png_encode(indices, Int32(width), Int32(height), 1, palette, Int32(palette.count / 3), &out, &size, &message, message.count)
        }
    }

    /// Baseline grayscale JPEG bytes (mode "L").
    public static func encodeGrayJPEG(_ samples: [UInt8], width: Int, height: Int, quality: Int = 90) throws(ImageError) -> [UInt8] {
        precondition(samples.count == width * height)
        return try encode { out, size, message in
            pinpoint_jpeg_encode(samples, Int32(width), Int32(height), 1, Int32(quality), &out, &size, &message, message.count)
        }
    }

    /// Baseline JPEG bytes of an RGB image.
    public static func encodeJPEG(_ image: RGBImage, quality: Int = 90) throws(ImageError) -> [UInt8] {
        try encode { out, size, message in
            pinpoint_jpeg_encode(image.pixels, Int32(image.width), Int32(image.height), 3, Int32(quality), &out, &size,
                                 &message, message.count)
        }
    }

    private static func encode(_ body: (inout UnsafeMutablePointer<UInt8>?, inout Int, inout [CChar]) -> Int32) throws(ImageError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        guard body(&out, &size, &message) == 0, let out else {
            throw ImageError(file: nil, reason: "cannot encode: \(text(message))")
        }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

/// Writes bytes through a temporary file renamed into place, so a failure never leaves half a file.
public func writeFile(_ bytes: [UInt8], to path: String) throws(ImageError) {
    let temporary = path + ".partial-\(getpid())"
    guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)), rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw ImageError(file: path, reason: "cannot write: \(reason)")
    }
}

/// A NUL-terminated C message buffer as a String.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension RGBImage {
    /// Writes PNG (for a .png path) or JPEG, through a temporary file renamed into place.
    public func write(to path: String, jpegQuality: Int = 90) throws(ImageError) {
        try writeFile(path.lowercased().hasSuffix(".png") ? ImageCodec.encodePNG(self) : ImageCodec.encodeJPEG(self, quality: jpegQuality), to: path)
    }

    /// Draws a rectangle outline `lineWidth` pixels wide, inside the pixel box
    /// [xmin, xmax] x [ymin, ymax] (clipped to the image).
    /// Draws a box whose edges come from data (a record's box, a model's prediction): edges
    /// already rounded to pixels, inclusive, any finite value clamped to just outside the image,
    /// and nothing drawn for a non-finite one, since converting NaN or 1e30 to Int traps.
    public mutating func drawBox(xmin: Double, ymin: Double, xmax: Double, ymax: Double, color: (UInt8, UInt8, UInt8), lineWidth: Int = 2) {
        guard [xmin, ymin, xmax, ymax].allSatisfy(\.isFinite) else { return }
        func pixel(_ v: Double, _ limit: Int) -> Int { Int(Swift.min(Swift.max(v, -1), Double(limit))) }
        drawBox(xmin: pixel(xmin, width), ymin: pixel(ymin, height), xmax: pixel(xmax, width), ymax: pixel(ymax, height),
                color: color, lineWidth: lineWidth)
    }

    public mutating func drawBox(xmin: Int, ymin: Int, xmax: Int, ymax: Int, color: (UInt8, UInt8, UInt8), lineWidth: Int = 2) {
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) {
            let top = Swift.max(y0, 0), bottom = Swift.min(y1, height - 1)
            let left = Swift.max(x0, 0), right = Swift.min(x1, width - 1)
            guard top <= bottom, left <= right else { return }
            for y in top...bottom {
                for x in left...right {
                    let i = (y * width + x) * 3
                    pixels[i] = color.0; pixels[i + 1] = color.1; pixels[i + 2] = color.2
                }
            }
        }
        guard xmin <= xmax, ymin <= ymax, xmax >= 0, ymax >= 0, xmin < width, ymin < height else { return }
        let t = Swift.max(lineWidth, 1) - 1
        fill(xmin, ymin, xmax, Swift.min(ymin + t, ymax))          // top
        fill(xmin, Swift.max(ymax - t, ymin), xmax, ymax)          // bottom
        fill(xmin, ymin, Swift.min(xmin + t, xmax), ymax)          // left
        fill(Swift.max(xmax - t, xmin), ymin, xmax, ymax)          // right
    }
}
