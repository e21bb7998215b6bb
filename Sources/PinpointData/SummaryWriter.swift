import Foundation

/// A TensorBoard event file: TFRecord framing around `tensorflow.Event` protobufs, as
/// `tf.summary.create_file_writer` writes them. The first event names the file format
/// ("brain.Event:2"); each scalar is an event with its wall time, step and one summary value.
/// Events are appended and flushed as they come, so TensorBoard shows a run while it trains.
///
/// ```swift
/// let writer = try SummaryWriter(directory: "logs/run")
/// try writer.scalar("val_loss", 0.021, step: 3)
/// ```
public final class SummaryWriter {
    /// The event file, `events.out.tfevents.<seconds>.<host>.<pid>.pinpoint` in the directory.
    public let path: String
    private var file: UnsafeMutablePointer<FILE>?

    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970,
                host: String = ProcessInfo.processInfo.hostName) throws(TFRecordError) {
        path = String(format: "%@/events.out.tfevents.%010d.%@.%d.pinpoint", directory, Int(wallTime), host, getpid())
        guard let f = fopen(path, "ab") else {
            throw TFRecordError(kind: .cannotOpen, file: path, record: 0, offset: 0, detail: String(cString: strerror(errno)))
        }
        file = f
        var event = WireWriter()
        event.fixed64(1, wallTime)
        event.lengthDelimited(3, Array("brain.Event:2".utf8))
        try append(event.bytes)
    }

    deinit { if let file { fclose(file) } }

    /// One scalar at a step (TensorBoard's x axis), flushed to the file.
    public func scalar(_ tag: String, _ value: Float, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws(TFRecordError) {
        var event = WireWriter()
        event.fixed64(1, wallTime)
        if step != 0 {  // proto3 leaves a default out, as TensorFlow's writer does
            event.tag(2, 0)
            event.varint(UInt64(bitPattern: Int64(step)))
        }
        event.lengthDelimited(5) { summary in
            summary.lengthDelimited(1) { entry in
                entry.lengthDelimited(1, Array(tag.utf8))
                entry.fixed32(2, value)
            }
        }
        try append(event.bytes)
    }

    private func append(_ event: [UInt8]) throws(TFRecordError) {
        guard let file else { return }
        let framed = TFRecordWriter.framed(event)
        guard fwrite(framed, 1, framed.count, file) == framed.count, fflush(file) == 0 else {
            throw TFRecordError(kind: .io, file: path, record: 0, offset: 0, detail: String(cString: strerror(errno)))
        }
    }
}
