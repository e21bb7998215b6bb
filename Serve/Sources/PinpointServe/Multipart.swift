import Foundation

/// The one part of a `multipart/form-data` body (RFC 7578) that the service reads: a field's bytes.
enum Multipart {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// The contents of the part named `name`, or what is wrong with the body.
    static func field(_ name: String, in body: [UInt8], contentType: String) -> Result<[UInt8], Problem> {
        guard let boundary = parameter("boundary", of: contentType), !boundary.isEmpty else {
            return .failure(Problem(description: "multipart/form-data without a boundary parameter"))
        }
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Range<Int>] = []
        var start: Int?
        var i = 0
        while let found = find(delimiter, in: body, from: i) {
            if let s = start { parts.append(s..<found) }
            var next = found + delimiter.count
            if body[next...].starts(with: Array("--".utf8)) { start = nil; break }
            if body[next...].starts(with: [13, 10]) { next += 2 }
            start = next
            i = next
        }
        if start != nil { return .failure(Problem(description: "the multipart body ends before its closing boundary")) }
        for range in parts {
            var part = Array(body[range])
            if part.suffix(2) == [13, 10] { part.removeLast(2) }   // the line break before the next delimiter
            guard let split = find([13, 10, 13, 10], in: part, from: 0) else { continue }
            let headers = String(decoding: part[..<split], as: UTF8.self).split(separator: "\r\n")
            let disposition = headers.first { $0.lowercased().hasPrefix("content-disposition:") }.map(String.init) ?? ""
            if parameter("name", of: disposition) == name { return .success(Array(part[(split + 4)...])) }
        }
        return .failure(Problem(description: "the multipart body has no field named '\(name)'"))
    }

    /// A `key=value` or `key="value"` parameter of a header value.
    static func parameter(_ key: String, of header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
