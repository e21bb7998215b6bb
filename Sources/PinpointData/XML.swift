/// A strict, non-validating XML parser for annotation files.
///
/// It accepts well-formed XML: an optional declaration, elements with attributes, text, CDATA,
/// comments and processing instructions, the five predefined entities and character references.
/// It refuses any document type declaration: that is where entities are declared, and an
/// annotation must neither pull in another file's content (external entities) nor expand a few
/// bytes into gigabytes (nested internal entities). Foundation's XMLParser on Linux enables
/// libxml2's entity substitution and error recovery, which is why Pinpoint does not use it here.
public enum XML {
    public struct Element: Equatable, Sendable {
        public let name: String
        public let attributes: [String: String]
        public let children: [Element]
        /// The element's own text (not its children's), entities resolved.
        public let text: String

        /// The first child with this name.
        public func child(_ name: String) -> Element? { children.first { $0.name == name } }
        public func children(named name: String) -> [Element] { children.filter { $0.name == name } }
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let reason: String
        public var description: String { "line \(line), column \(column): \(reason)" }
    }

    public static let maximumDepth = 64
    public static let maximumSize = 4 << 20

    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> Element {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }  // UTF-8 byte order mark
        }

        func fail(_ reason: String, at position: Int? = nil) -> ParseError {
            let p = min(position ?? i, bytes.count)
            var line = 1, column = 1
            for b in bytes[..<p] {
                if b == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
            }
            return ParseError(line: line, column: column, reason: reason)
        }

        func peek(_ s: String) -> Bool { bytes[i...].starts(with: s.utf8) }

        mutating func expect(_ s: String) throws(ParseError) {
            guard peek(s) else { throw fail("expected '\(s)'") }
            i += s.utf8.count
        }

        mutating func skipWhitespace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func skip(until terminator: String, _ what: String) throws(ParseError) {
            let start = i
            while i < bytes.count && !peek(terminator) { i += 1 }
            guard i < bytes.count else { throw fail("unterminated \(what)", at: start) }
            i += terminator.utf8.count
        }

        /// Comments, processing instructions and whitespace between elements.
        mutating func skipMisc() throws(ParseError) {
            while true {
                skipWhitespace()
                if peek("<!--") { try skip(until: "-->", "comment") }
                else if peek("<?") { try skip(until: "?>", "processing instruction") }
                else if peek("<!DOCTYPE") || peek("<!doctype") {
                    throw fail("document type declarations are not accepted (they can declare entities that read other files or expand without bound)")
                } else { return }
            }
        }

        mutating func document() throws(ParseError) -> Element {
            guard bytes.count <= XML.maximumSize else { throw fail("file larger than \(XML.maximumSize) bytes", at: 0) }
            try skipMisc()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw fail(i >= bytes.count ? "no root element" : "text before the root element") }
            let root = try element(depth: 1)
            try skipMisc()
            guard i == bytes.count else { throw fail("content after the root element") }
            return root
        }

        mutating func name() throws(ParseError) -> String {
            let start = i
            func isNameByte(_ b: UInt8, first: Bool) -> Bool {
                (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x3A || b >= 0x80
                    || (!first && ((b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E))
            }
            while i < bytes.count, isNameByte(bytes[i], first: i == start) { i += 1 }
            guard i > start else { throw fail("expected a name") }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func element(depth: Int) throws(ParseError) -> Element {
            guard depth <= XML.maximumDepth else { throw fail("elements nested deeper than \(XML.maximumDepth)") }
            try expect("<")
            let tag = try name()
            var attributes: [String: String] = [:]
            while true {
                skipWhitespace()
                if peek("/>") {
                    i += 2
                    return Element(name: tag, attributes: attributes, children: [], text: "")
                }
                if peek(">") { i += 1; break }
                let attribute = try name()
                skipWhitespace()
                try expect("=")
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else { throw fail("expected a quoted value") }
                let quote = bytes[i]
                i += 1
                let start = i
                while i < bytes.count && bytes[i] != quote {
                    guard bytes[i] != UInt8(ascii: "<") else { throw fail("'<' in an attribute value") }
                    i += 1
                }
                guard i < bytes.count else { throw fail("unterminated attribute value", at: start) }
                guard attributes[attribute] == nil else { throw fail("attribute '\(attribute)' repeated") }
                attributes[attribute] = try resolve(Array(bytes[start..<i]), at: start)
                i += 1
            }
            var children: [Element] = []
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("element <\(tag)> is not closed") }
                if peek("</") {
                    i += 2
                    let closing = try name()
                    guard closing == tag else { throw fail("</\(closing)> closes <\(tag)>") }
                    skipWhitespace()
                    try expect(">")
                    return Element(name: tag, attributes: attributes, children: children, text: String(decoding: text, as: UTF8.self))
                } else if peek("<!--") {
                    try skip(until: "-->", "comment")
                } else if peek("<![CDATA[") {
                    i += 9
                    let start = i
                    try skip(until: "]]>", "CDATA section")
                    text += bytes[start..<(i - 3)]
                } else if peek("<?") {
                    try skip(until: "?>", "processing instruction")
                } else if peek("<!") {
                    throw fail("declarations are not accepted inside elements")
                } else if bytes[i] == UInt8(ascii: "<") {
                    children.append(try element(depth: depth + 1))
                } else {
                    let start = i
                    while i < bytes.count && bytes[i] != UInt8(ascii: "<") { i += 1 }
                    text += try resolve(Array(bytes[start..<i]), at: start).utf8
                }
            }
        }

        /// Replaces the predefined entities and character references; anything else is an error.
        func resolve(_ raw: [UInt8], at offset: Int) throws(ParseError) -> String {
            guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
            var out: [UInt8] = []
            var j = 0
            while j < raw.count {
                guard raw[j] == UInt8(ascii: "&") else { out.append(raw[j]); j += 1; continue }
                guard let end = raw[j...].firstIndex(of: UInt8(ascii: ";")) else { throw fail("unterminated entity reference", at: offset + j) }
                let entity = String(decoding: raw[(j + 1)..<end], as: UTF8.self)
                switch entity {
                case "lt": out.append(UInt8(ascii: "<"))
                case "gt": out.append(UInt8(ascii: ">"))
                case "amp": out.append(UInt8(ascii: "&"))
                case "quot": out.append(UInt8(ascii: "\""))
                case "apos": out.append(UInt8(ascii: "'"))
                default:
                    let digits = entity.hasPrefix("#x") ? (entity.dropFirst(2), 16) : entity.hasPrefix("#") ? (entity.dropFirst(), 10) : nil
                    guard let (number, radix) = digits, let code = UInt32(number, radix: radix), let scalar = Unicode.Scalar(code) else {
                        throw fail("undefined entity '&\(entity);' (only the five predefined entities and character references are accepted)", at: offset + j)
                    }
                    out += Array(String(Character(scalar)).utf8)
                }
                j = end + 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
