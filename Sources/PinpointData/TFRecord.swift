import Foundation

// TFRecord framing, as TensorFlow's record_writer.cc writes it:
//   uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data

/// A TFRecord file problem, with where it happened.
public struct TFRecordError: Error, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case cannotOpen = "cannot open"
        case lengthChecksum = "length CRC mismatch"
        case dataChecksum = "data CRC mismatch"
        case truncated = "truncated record"
        case io = "I/O error"
    }

    public let kind: Kind
    public let file: String
    /// Index of the record within its file (0-based).
    public let record: Int
    /// Byte offset of the record's start within its file.
    public let offset: Int
    public let detail: String

    public var description: String {
        "\(file): \(kind.rawValue) in record \(record) at byte offset \(offset)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}

/// Streams records from one or more TFRecord files, in order, checking both CRCs of every
/// record. Only one record is in memory at a time.
///
/// ```swift
/// let reader = try TFRecordReader(paths: ["loc_train.tfr"])
/// while let record = try reader.next() {
///     let example = try Example(serialized: record)
/// }
/// ```
public final class TFRecordReader {
    public let paths: [String]
    /// Accept a last record cut short (a file still being written); it is dropped, not returned.
    public let allowsTruncatedTail: Bool
    private var fileIndex = -1
    private var file: UnsafeMutablePointer<FILE>?
    private var fileSize = 0
    private var offset = 0
    private var recordInFile = 0
    /// Records returned so far across all files.
    public private(set) var recordsRead = 0

    public init(paths: [String], allowsTruncatedTail: Bool = false) throws(TFRecordError) {
        self.paths = paths
        self.allowsTruncatedTail = allowsTruncatedTail
        try openNext()
    }

    public convenience init(path: String, allowsTruncatedTail: Bool = false) throws(TFRecordError) {
        try self.init(paths: [path], allowsTruncatedTail: allowsTruncatedTail)
    }

    deinit {
        if let file { fclose(file) }
    }

    /// The file currently being read.
    public var currentPath: String? { fileIndex < paths.count && fileIndex >= 0 ? paths[fileIndex] : nil }

    /// The index, within `currentPath`, of the record `next()` returned last: with the path, what
    /// an error about that record's contents names.
    public var currentRecordIndex: Int { recordInFile - 1 }

    private func openNext() throws(TFRecordError) {
        if let file { fclose(file) }
        file = nil
        fileIndex += 1
        offset = 0
        recordInFile = 0
        guard fileIndex < paths.count else { return }
        let path = paths[fileIndex]
        guard let f = fopen(path, "rb") else {
            throw TFRecordError(kind: .cannotOpen, file: path, record: 0, offset: 0, detail: String(cString: strerror(errno)))
        }
        var info = stat()
        fstat(fileno(f), &info)
        fileSize = Int(info.st_size)
        file = f
    }

    private func fail(_ kind: TFRecordError.Kind, _ detail: String = "") -> TFRecordError {
        TFRecordError(kind: kind, file: paths[fileIndex], record: recordInFile, offset: offset, detail: detail)
    }

    /// The next record's bytes, or nil after the last record of the last file.
    public func next() throws(TFRecordError) -> [UInt8]? {
        while let f = file {
            var header = [UInt8](repeating: 0, count: 12)
            let got = fread(&header, 1, 12, f)
            if got == 0 && feof(f) != 0 {
                try openNext()
                continue
            }
            guard got == 12 else {
                if allowsTruncatedTail { try openNext(); continue }
                throw fail(.truncated, "\(got) of 12 header bytes")
            }
            var length: UInt64 = 0
            for i in 0..<8 { length |= UInt64(header[i]) << (8 * i) }
            let storedLengthCRC = UInt32(header[8]) | UInt32(header[9]) << 8 | UInt32(header[10]) << 16 | UInt32(header[11]) << 24
            let lengthCRC = header.withUnsafeBytes { CRC32C.masked(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<8]))) }
            guard lengthCRC == storedLengthCRC else {
                throw fail(.lengthChecksum, String(format: "stored 0x%08x, computed 0x%08x", storedLengthCRC, lengthCRC))
            }
            // The length is checksummed, but a record can still claim more than the file holds.
            let remaining = UInt64(fileSize - offset - 12)
            guard length + 4 <= remaining else {
                if allowsTruncatedTail { try openNext(); continue }
                throw fail(.truncated, "record of \(length) bytes, \(remaining) bytes left in the file")
            }
            var data = [UInt8](repeating: 0, count: Int(length))
            var footer = [UInt8](repeating: 0, count: 4)
            guard fread(&data, 1, Int(length), f) == Int(length), fread(&footer, 1, 4, f) == 4 else {
                throw fail(.io, String(cString: strerror(errno)))
            }
            let storedDataCRC = UInt32(footer[0]) | UInt32(footer[1]) << 8 | UInt32(footer[2]) << 16 | UInt32(footer[3]) << 24
            let dataCRC = CRC32C.masked(CRC32C.checksum(data))
            guard dataCRC == storedDataCRC else {
                throw fail(.dataChecksum, String(format: "stored 0x%08x, computed 0x%08x", storedDataCRC, dataCRC))
            }
            offset += 12 + Int(length) + 4
            recordInFile += 1
            recordsRead += 1
            return data
        }
        return nil
    }
}

/// Writes a TFRecord file. Records go to a temporary file beside `path`, renamed over `path` by
/// `close()`: a writer that fails or is abandoned never leaves a half-written file in place of an
/// existing one.
///
/// ```swift
/// let writer = try TFRecordWriter(path: "out/loc_train.tfr")
/// try writer.write(example.serialized())
/// try writer.close()
/// ```
public final class TFRecordWriter {
    public let path: String
    private let temporaryPath: String
    private var file: UnsafeMutablePointer<FILE>?
    public private(set) var recordsWritten = 0

    public init(path: String) throws(TFRecordError) {
        self.path = path
        temporaryPath = path + ".partial-\(getpid())"
        guard let f = fopen(temporaryPath, "wb") else {
            throw TFRecordError(kind: .cannotOpen, file: path, record: 0, offset: 0, detail: String(cString: strerror(errno)))
        }
        file = f
    }

    deinit {
        if let file {
            fclose(file)
            unlink(temporaryPath)
        }
    }

    public func write<Bytes: Collection<UInt8>>(_ record: Bytes) throws(TFRecordError) {
        guard let file else { preconditionFailure("TFRecordWriter.write after close()") }
        let framed = Self.framed(record)
        guard fwrite(framed, 1, framed.count, file) == framed.count else {
            throw TFRecordError(kind: .io, file: path, record: recordsWritten, offset: 0, detail: String(cString: strerror(errno)))
        }
        recordsWritten += 1
    }

    /// One record in TFRecord framing: length, masked CRC32C of the length, data, masked CRC32C
    /// of the data.
    static func framed<Bytes: Collection<UInt8>>(_ record: Bytes) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 12)
        let length = UInt64(record.count)
        for i in 0..<8 { header[i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
        let lengthCRC = header.withUnsafeBytes { CRC32C.masked(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<8]))) }
        for i in 0..<4 { header[8 + i] = UInt8(truncatingIfNeeded: lengthCRC >> (8 * i)) }
        let data = Array(record)
        let dataCRC = CRC32C.masked(CRC32C.checksum(data))
        return header + data + (0..<4).map { UInt8(truncatingIfNeeded: dataCRC >> (8 * $0)) }
    }

    /// Flushes and moves the finished file into place.
    public func close() throws(TFRecordError) {
        guard let f = file else { return }
        file = nil
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        fclose(f)
        guard flushed, rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw TFRecordError(kind: .io, file: path, record: recordsWritten, offset: 0, detail: reason)
        }
    }
}
