import Foundation

/// A box in pixel coordinates, as Pascal VOC stores it.
public struct PixelBox: Equatable, Sendable {
    public var xmin: Double, ymin: Double, xmax: Double, ymax: Double

    public init(xmin: Double, ymin: Double, xmax: Double, ymax: Double) {
        self.xmin = xmin; self.ymin = ymin; self.xmax = xmax; self.ymax = ymax
    }
}

/// One annotated object of a Pascal VOC file.
public struct AnnotatedObject: Equatable, Sendable {
    public var name: String
    public var pose: String
    public var truncated: Bool
    public var occluded: Bool
    public var difficult: Bool
    public var box: PixelBox
}

/// An annotation that cannot be used, naming the file and what is wrong.
public struct AnnotationError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// A Pascal VOC annotation as the Oxford-IIIT Pet dataset ships them (`annotations/xmls/*.xml`).
///
/// ```swift
/// let annotation = try Annotation(contentsOf: "annotations/xmls/Abyssinian_1.xml")
/// let head = annotation.objects[0].box      // xmin 333, ymin 72, xmax 425, ymax 158
/// ```
public struct Annotation: Equatable, Sendable {
    public var filename: String
    public var width: Int
    public var height: Int
    public var depth: Int?
    public var objects: [AnnotatedObject]

    public init(contentsOf path: String) throws(AnnotationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AnnotationError(file: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        try self.init(xml: [UInt8](data), file: path)
    }

    /// Parses and validates: every object's box must be finite, of positive size and inside the
    /// image: 0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height.
    public init(xml: [UInt8], file: String) throws(AnnotationError) {
        let root: XML.Element
        do { root = try XML.parse(xml) } catch { throw AnnotationError(file: file, reason: "malformed XML at \(error)") }
        func fail(_ reason: String) -> AnnotationError { AnnotationError(file: file, reason: reason) }
        guard root.name == "annotation" else { throw fail("root element is <\(root.name)>, expected <annotation>") }

        func text(_ element: XML.Element, _ path: [String]) throws(AnnotationError) -> String {
            var current = element
            for name in path {
                guard let next = current.child(name) else { throw fail("missing <\(path.joined(separator: "><"))> in <\(element.name)>") }
                current = next
            }
            return current.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func number(_ element: XML.Element, _ path: [String]) throws(AnnotationError) -> Double {
            let t = try text(element, path)
            guard let value = Double(t) else { throw fail("<\(path.joined(separator: "><"))> is '\(t)', not a number") }
            return value
        }
        func flag(_ element: XML.Element, _ name: String) throws(AnnotationError) -> Bool {
            guard element.child(name) != nil else { return false }
            return try number(element, [name]) != 0
        }

        filename = (try? text(root, ["filename"])) ?? ""
        let w = try number(root, ["size", "width"]), h = try number(root, ["size", "height"])
        guard w.isFinite, h.isFinite, w > 0, h > 0, w == w.rounded(), h == h.rounded(), w < 1e6, h < 1e6 else {
            throw fail("image size \(w)x\(h) is not a positive whole number of pixels")
        }
        width = Int(w)
        height = Int(h)
        depth = root.child("size")?.child("depth").flatMap { Int($0.text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        var objects: [AnnotatedObject] = []
        for (index, object) in root.children(named: "object").enumerated() {
            let box = PixelBox(xmin: try number(object, ["bndbox", "xmin"]), ymin: try number(object, ["bndbox", "ymin"]),
                               xmax: try number(object, ["bndbox", "xmax"]), ymax: try number(object, ["bndbox", "ymax"]))
            guard [box.xmin, box.ymin, box.xmax, box.ymax].allSatisfy(\.isFinite),
                  0 <= box.xmin, box.xmin < box.xmax, box.xmax <= w, 0 <= box.ymin, box.ymin < box.ymax, box.ymax <= h else {
                throw fail("object \(index) has an invalid box (xmin \(box.xmin), ymin \(box.ymin), xmax \(box.xmax), ymax \(box.ymax)) for a \(width)x\(height) image")
            }
            objects.append(AnnotatedObject(
                name: try text(object, ["name"]), pose: (try? text(object, ["pose"])) ?? "Unspecified",
                truncated: try flag(object, "truncated"), occluded: try flag(object, "occluded"),
                difficult: try flag(object, "difficult"), box: box))
        }
        guard !objects.isEmpty else { throw fail("no <object> with a <bndbox>") }
        self.objects = objects
    }

    /// The first object's box as the tutorial normalizes it: (x_center, y_center, w, h) in [0, 1],
    /// divided by the size the XML declares.
    public var normalizedBox: (x: Float, y: Float, w: Float, h: Float) {
        let b = objects[0].box, w = Double(width), h = Double(height)
        return (Float((b.xmin + b.xmax) / 2 / w), Float((b.ymin + b.ymax) / 2 / h), Float((b.xmax - b.xmin) / w), Float((b.ymax - b.ymin) / h))
    }
}

/// The Oxford-IIIT Pet convention: breed names of cats start with a capital letter
/// (`Abyssinian_1.jpg`), dogs' with a lowercase one (`beagle_7.jpg`). Class 1 is cat, 0 dog.
public func petClass(forFileName name: String) -> Int {
    name.first.map { $0.isUppercase ? 1 : 0 } ?? 0
}
