/// One feature of a `tf.train.Example`: a list of byte strings, floats or 64-bit integers.
public enum Feature: Equatable, Sendable {
    case bytes([[UInt8]])
    case floats([Float])
    case int64s([Int64])
    /// A Feature message with no list set (TensorFlow parses it as missing).
    case unset

    /// The kind's name as TensorFlow's dump tools print it, nil for `unset`.
    public var kindName: String? {
        switch self {
        case .bytes: "bytes"
        case .floats: "float"
        case .int64s: "int64"
        case .unset: nil
        }
    }

    var count: Int {
        switch self {
        case .bytes(let v): v.count
        case .floats(let v): v.count
        case .int64s(let v): v.count
        case .unset: 0
        }
    }

    public static func == (a: Feature, b: Feature) -> Bool {
        switch (a, b) {
        case let (.bytes(x), .bytes(y)): x == y
        // Bitwise, so NaN payloads compare equal to themselves.
        case let (.floats(x), .floats(y)): x.map(\.bitPattern) == y.map(\.bitPattern)
        case let (.int64s(x), .int64s(y)): x == y
        case (.unset, .unset): true
        default: false
        }
    }
}

/// What is wrong with a feature a caller asked for.
public struct FeatureError: Error, Equatable, CustomStringConvertible {
    public let feature: String
    public let reason: String

    public var description: String { "feature '\(feature)': \(reason)" }
}

/// A `tf.train.Example`: named features, encoded and decoded in protobuf wire format, compatible
/// with TensorFlow's `tf.io.parse_single_example`.
///
/// ```swift
/// var example = Example()
/// example["image"] = .bytes([pixels])
/// example["cls_num"] = .int64s([1])
/// example["x"] = .floats([0.5])
/// let record = example.serialized()
/// let back = try Example(serialized: record)
/// let x = try back.float("x")       // 0.5
/// ```
public struct Example: Equatable, Sendable {
    public var features: [String: Feature]

    public init(features: [String: Feature] = [:]) {
        self.features = features
    }

    public subscript(name: String) -> Feature? {
        get { features[name] }
        set { features[name] = newValue }
    }

    // MARK: Typed access

    public func bytesList(_ name: String) throws(FeatureError) -> [[UInt8]] {
        guard case .bytes(let v) = try feature(name, "bytes") else { fatalError("unreachable") }
        return v
    }

    public func floatList(_ name: String) throws(FeatureError) -> [Float] {
        guard case .floats(let v) = try feature(name, "float") else { fatalError("unreachable") }
        return v
    }

    public func int64List(_ name: String) throws(FeatureError) -> [Int64] {
        guard case .int64s(let v) = try feature(name, "int64") else { fatalError("unreachable") }
        return v
    }

    /// The single byte string of a one-value bytes feature.
    public func bytes(_ name: String) throws(FeatureError) -> [UInt8] { try single(bytesList(name), name) }
    /// The single value of a one-value float feature.
    public func float(_ name: String) throws(FeatureError) -> Float { try single(floatList(name), name) }
    /// The single value of a one-value int64 feature.
    public func int64(_ name: String) throws(FeatureError) -> Int64 { try single(int64List(name), name) }

    private func feature(_ name: String, _ kind: String) throws(FeatureError) -> Feature {
        guard let f = features[name] else {
            throw FeatureError(feature: name, reason: "missing (the example has \(features.keys.sorted()))")
        }
        guard f.kindName == kind else {
            throw FeatureError(feature: name, reason: "is \(f.kindName ?? "unset"), not \(kind)")
        }
        return f
    }

    private func single<T>(_ values: [T], _ name: String) throws(FeatureError) -> T {
        guard values.count == 1 else { throw FeatureError(feature: name, reason: "has \(values.count) values, expected 1") }
        return values[0]
    }

    // MARK: Wire format
    //   Example { Features features = 1 }        Features { map<string, Feature> feature = 1 }
    //   Feature { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3 } }
    //   BytesList { repeated bytes value = 1 }  FloatList { repeated float value = 1 [packed] }
    //   Int64List { repeated int64 value = 1 [packed] }

    /// The protobuf encoding, with features in name order (so equal examples encode to equal
    /// bytes) and numeric lists packed, as TensorFlow writes them.
    public func serialized() -> [UInt8] {
        var out = WireWriter()
        out.lengthDelimited(1) { features in
            for name in self.features.keys.sorted() {
                features.lengthDelimited(1) { entry in
                    entry.lengthDelimited(1, Array(name.utf8))
                    entry.lengthDelimited(2) { feature in
                        switch self.features[name]! {
                        case .bytes(let values):
                            feature.lengthDelimited(1) { list in values.forEach { list.lengthDelimited(1, $0) } }
                        case .floats(let values):
                            feature.lengthDelimited(2) { list in
                                if values.isEmpty { return }
                                var packed: [UInt8] = []
                                packed.reserveCapacity(values.count * 4)
                                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { packed += $0 } }
                                list.lengthDelimited(1, packed)
                            }
                        case .int64s(let values):
                            feature.lengthDelimited(3) { list in
                                if values.isEmpty { return }
                                var packed = WireWriter()
                                values.forEach { packed.varint(UInt64(bitPattern: $0)) }
                                list.lengthDelimited(1, packed.bytes)
                            }
                        case .unset:
                            break
                        }
                    }
                }
            }
        }
        return out.bytes
    }

    /// Decodes a serialized Example; packed and unpacked repeated fields, map entries in any
    /// order and unknown fields are all accepted, as protobuf requires.
    public init(serialized bytes: [UInt8]) throws(ExampleDecodingError) {
        do {
            self = try bytes.withUnsafeBytes { raw throws(WireError) in try Example.decode(WireReader(raw)) }
        } catch let error as WireError {
            throw ExampleDecodingError(offset: error.offset, reason: error.reason)
        } catch {
            preconditionFailure("Example decoding threw \(error)")
        }
    }

    private static func decode(_ reader: WireReader) throws(WireError) -> Example {
        var r = reader
        var example = Example()
        while !r.isAtEnd {
            let (field, type) = try r.tag()
            guard field == 1, type == 2 else { try r.skip(type); continue }
            var features = try r.lengthDelimited()
            while !features.isAtEnd {
                let (f, t) = try features.tag()
                guard f == 1, t == 2 else { try features.skip(t); continue }
                var entry = try features.lengthDelimited()
                var name = "", feature = Feature.unset
                while !entry.isAtEnd {
                    let (ef, et) = try entry.tag()
                    if ef == 1 && et == 2 {
                        let key = try entry.lengthDelimited()
                        guard let text = String(validating: key.remainingBytes(), as: UTF8.self) else {
                            throw WireError(offset: key.base, reason: "feature name is not UTF-8")
                        }
                        name = text
                    } else if ef == 2 && et == 2 {
                        feature = try decodeFeature(entry.lengthDelimited())
                    } else {
                        try entry.skip(et)
                    }
                }
                // Protobuf map semantics: a later entry with the same key replaces an earlier one.
                example.features[name] = feature
            }
        }
        return example
    }

    private static func decodeFeature(_ reader: WireReader) throws(WireError) -> Feature {
        var r = reader
        var result = Feature.unset
        while !r.isAtEnd {
            let (field, type) = try r.tag()
            guard type == 2, (1...3).contains(field) else { try r.skip(type); continue }
            var list = try r.lengthDelimited()
            switch field {
            case 1:
                var values: [[UInt8]] = []
                while !list.isAtEnd {
                    let (f, t) = try list.tag()
                    guard f == 1, t == 2 else { try list.skip(t); continue }
                    values.append(try list.lengthDelimited().remainingBytes())
                }
                result = .bytes(values)
            case 2:
                var values: [Float] = []
                while !list.isAtEnd {
                    let (f, t) = try list.tag()
                    if f == 1 && t == 2 {
                        var packed = try list.lengthDelimited()
                        guard packed.bytes.count % 4 == 0 else {
                            throw WireError(offset: packed.base, reason: "packed float list of \(packed.bytes.count) bytes")
                        }
                        while !packed.isAtEnd { values.append(Float(bitPattern: try packed.fixed32())) }
                    } else if f == 1 && t == 5 {
                        values.append(Float(bitPattern: try list.fixed32()))
                    } else {
                        try list.skip(t)
                    }
                }
                result = .floats(values)
            default:
                var values: [Int64] = []
                while !list.isAtEnd {
                    let (f, t) = try list.tag()
                    if f == 1 && t == 2 {
                        var packed = try list.lengthDelimited()
                        while !packed.isAtEnd { values.append(Int64(bitPattern: try packed.varint())) }
                    } else if f == 1 && t == 0 {
                        values.append(Int64(bitPattern: try list.varint()))
                    } else {
                        try list.skip(t)
                    }
                }
                result = .int64s(values)
            }
        }
        return result
    }
}

/// A serialized Example that is not valid protobuf, with the byte offset inside the record.
public struct ExampleDecodingError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "malformed tf.train.Example at byte \(offset) of the record: \(reason)" }
}

extension Example {
    /// One line of JSON, as `pinpoint tfrecord dump` prints it: feature name ->
    /// {"kind": "bytes"|"float"|"int64"|null, "values": [...]}, names sorted; int64s as JSON
    /// numbers, non-finite floats as "inf", "-inf", "nan", byte strings as {"length", "sha256"}.
    public func jsonLine() -> String {
        func number(_ f: Float) -> String { f.isNaN ? "\"nan\"" : f.isInfinite ? (f > 0 ? "\"inf\"" : "\"-inf\"") : "\(f)" }
        let fields = features.keys.sorted().map { name -> String in
            let feature = features[name]!
            let values: String
            switch feature {
            case .bytes(let list): values = list.map { "{\"length\": \($0.count), \"sha256\": \"\(SHA256.hex($0))\"}" }.joined(separator: ", ")
            case .floats(let list): values = list.map(number).joined(separator: ", ")
            case .int64s(let list): values = list.map { "\($0)" }.joined(separator: ", ")
            case .unset: values = ""
            }
            return "\(jsonQuoted(name)): {\"kind\": \(feature.kindName.map(jsonQuoted) ?? "null"), \"values\": [\(values)]}"
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

/// A JSON string literal.
func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case _ where scalar.value < 0x20: out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String { String(repeating: "0", count: Swift.max(0, length - count)) + self }
}
