import Foundation
import PinpointAutograd
import PinpointTensor

/// A checkpoint problem, naming the file and what is wrong.
public struct CheckpointError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Named tensors and string metadata in the safetensors format, readable by the `safetensors`
/// libraries PyTorch and Keras users have: an 8-byte little-endian header length, a JSON header
/// (`__metadata__` plus, per tensor, dtype, shape and byte offsets), then the raw little-endian
/// data. Pinpoint writes F32 with Keras's layouts (Conv2D kernels HWIO, Dense kernels in x out).
///
/// ```swift
/// var checkpoint = Checkpoint(metadata: ["architecture": "seed-cnn", "image_size": "224"])
/// checkpoint.add(model.parameters)
/// try checkpoint.write(to: "model.safetensors")           // atomic: temp file, fsync, rename
/// let back = try Checkpoint(contentsOf: "model.safetensors")
/// try back.load(into: model.parameters)                    // every name and shape must match
/// ```
public struct Checkpoint: Sendable {
    public var tensors: [(name: String, tensor: Tensor)] = []
    public var metadata: [String: String]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    public mutating func add(_ parameters: [(name: String, parameter: Parameter)]) {
        tensors += parameters.map { ($0.name, $0.parameter.value) }
    }

    public mutating func add(_ named: [(name: String, value: Tensor)]) {
        tensors += named.map { ($0.name, $0.value) }
    }

    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Test hook: stop writing after this many bytes, as a full disk or a crash would.
    nonisolated(unsafe) static var failAfterBytesForTesting: Int?

    // MARK: Writing

    func encoded() throws(CheckpointError) -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, tensor) in tensors {
            guard header[name] == nil, name != "__metadata__" else {
                throw CheckpointError(file: "(checkpoint)", reason: "tensor name '\(name)' appears twice or is reserved")
            }
            let bytes = tensor.count * 4
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = [UInt8]((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data())
        while json.count % 8 != 0 { json.append(0x20) }  // the format pads the header with spaces
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { values in
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
            }
        }
        return out
    }

    /// Writes atomically: to a temporary file beside `path`, flushed to disk, then renamed over it.
    /// A failure at any point leaves an existing file at `path` as it was.
    public func write(to path: String) throws(CheckpointError) {
        let bytes = try encoded()
        let temporary = path + ".partial-\(getpid())"
        guard let file = fopen(temporary, "wb") else {
            throw CheckpointError(file: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        let limit = Self.failAfterBytesForTesting ?? Int.max
        let written = fwrite(bytes, 1, min(bytes.count, limit), file)
        let ok = written == bytes.count && fflush(file) == 0 && fsync(fileno(file)) == 0
        fclose(file)
        guard ok, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CheckpointError(file: path, reason: "write failed after \(written) of \(bytes.count) bytes; the previous file is untouched")
        }
    }

    // MARK: Reading

    public init(contentsOf path: String) throws(CheckpointError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError(file: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        try self.init(bytes: [UInt8](data), file: path)
    }

    public init(bytes: [UInt8], file: String = "(checkpoint)") throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(file: file, reason: reason) }
        guard bytes.count >= 8 else { throw fail("too short for a safetensors header (\(bytes.count) bytes)") }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * i) }
        guard length <= UInt64(bytes.count - 8), length <= 100_000_000 else { throw fail("header length \(length) exceeds the file") }
        let dataStart = 8 + Int(length)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var entries: [(String, [Int], Int, Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2 else {
                throw fail("tensor '\(name)': malformed header entry")
            }
            guard dtype == "F32" else { throw fail("tensor '\(name)': dtype \(dtype), Pinpoint reads F32") }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] - offsets[0] == count * 4,
                  dataStart + offsets[1] <= bytes.count else {
                throw fail("tensor '\(name)': offsets \(offsets) do not fit shape \(shape) in a \(bytes.count)-byte file")
            }
            entries.append((name, shape, offsets[0], offsets[1]))
        }
        entries.sort { $0.2 < $1.2 }
        for (a, b) in zip(entries, entries.dropFirst()) where a.3 > b.2 {
            throw fail("tensors '\(a.0)' and '\(b.0)' overlap")
        }
        tensors = entries.map { name, shape, start, _ in
            (name, Tensor(shape: shape) { p, count in
                for i in 0..<count {
                    let b = dataStart + start + 4 * i
                    p[i] = Float(bitPattern: UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16 | UInt32(bytes[b + 3]) << 24)
                }
            })
        }
    }

    /// Copies tensors into parameters by name. Every parameter must be present with its shape and
    /// nothing else may be in the checkpoint (optimizer state, under `optimizer.`, is ignored),
    /// unless `allowPartial`, which loads what matches and still refuses mis-shaped tensors.
    /// Returns the names loaded.
    @discardableResult
    public func load(into parameters: [(name: String, parameter: Parameter)], allowPartial: Bool = false,
                     file: String = "(checkpoint)") throws(CheckpointError) -> [String] {
        let available = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let wanted = Set(parameters.map(\.name))
        let missing = parameters.map(\.name).filter { available[$0] == nil }
        let unexpected = tensors.map(\.name).filter { !wanted.contains($0) && !$0.hasPrefix("optimizer.") }
        let misshaped = parameters.compactMap { p in
            available[p.name].flatMap { $0.shape == p.parameter.shape ? nil : "\(p.name) is \($0.shape) in the file, \(p.parameter.shape) in the model" }
        }
        var problems: [String] = []
        if !misshaped.isEmpty { problems.append("mis-shaped: " + misshaped.joined(separator: "; ")) }
        if !allowPartial {
            if !missing.isEmpty { problems.append("missing: " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { problems.append("unexpected: " + unexpected.joined(separator: ", ")) }
        }
        guard problems.isEmpty else {
            throw CheckpointError(file: file, reason: "does not fit the model (\(problems.joined(separator: " | ")))"
                                  + (allowPartial ? "" : "; nothing was loaded"))
        }
        var loaded: [String] = []
        for p in parameters {
            if let t = available[p.name] {
                p.parameter.value = t
                loaded.append(p.name)
            }
        }
        return loaded
    }

    /// The tensors whose names start with `optimizer.`, for `Optimizer.restore`.
    public var optimizerState: [String: Tensor] {
        Dictionary(tensors.filter { $0.name.hasPrefix("optimizer.") }.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    }
}
