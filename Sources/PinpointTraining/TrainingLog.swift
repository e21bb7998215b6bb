import Foundation
import PinpointData

/// A run's log in a directory: one row per epoch in `history.csv` and the same scalars in a
/// TensorBoard event file (`SummaryWriter`), each written as the epoch ends, so a run can be
/// plotted (`pinpoint plot`) or watched (`tensorboard --logdir DIR`) while it trains.
///
/// A directory that already holds a run (a `history.csv`) is continued when resuming: rows after
/// the resumed epoch are dropped, since the resumed run writes them again, and a new event file
/// starts beside the old ones. Otherwise it is refused, unless `overwrite` removes the old log
/// files (only `history.csv` and the event files).
///
/// ```swift
/// let log = try TrainingLog(directory: "logs/cnn", resumingAfter: nil)
/// try log.record(["epoch": 1, "train_loss": 0.03, "val_loss": 0.02])
/// ```
public final class TrainingLog {
    /// history.csv's columns, in order; a value not recorded is left empty.
    public static let columns = ["epoch", "learning_rate", "train_loss", "val_loss", "val_mean_iou", "val_iou50", "seconds"]
    public let directory: String
    public var historyPath: String { directory + "/history.csv" }
    private let events: SummaryWriter

    public init(directory: String, resumingAfter epochs: Int?, overwrite: Bool = false) throws {
        self.directory = directory
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let history = directory + "/history.csv"
        if manager.fileExists(atPath: history) {
            if let epochs {
                let rows = try Self.rows(history).filter { ($0["epoch"].flatMap(Double.init) ?? .infinity) <= Double(epochs) }
                try Self.write(rows, to: history)
            } else if overwrite {
                try manager.removeItem(atPath: history)
                for name in try manager.contentsOfDirectory(atPath: directory) where name.hasPrefix("events.out.tfevents.") {
                    try manager.removeItem(atPath: directory + "/" + name)
                }
            } else {
                throw TrainingError(reason: "\(directory) already holds a run (history.csv): pass --resume to continue it, "
                                    + "or --overwrite to replace its log")
            }
        }
        if !manager.fileExists(atPath: history) { try Self.write([], to: history) }
        events = try SummaryWriter(directory: directory)
    }

    /// Appends one epoch: a history row and one TensorBoard scalar per value, at step `epoch`.
    public func record(_ values: [String: Double]) throws {
        guard let epoch = values["epoch"] else { preconditionFailure("TrainingLog.record: a row needs its epoch") }
        let line = Self.columns.map { values[$0].map(Self.text) ?? "" }.joined(separator: ",") + "\n"
        guard let handle = FileHandle(forWritingAtPath: historyPath) else {
            throw TrainingError(reason: "\(historyPath): cannot be opened for writing")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
        for column in Self.columns.dropFirst() {
            if let value = values[column] { try events.scalar(column, Float(value), step: Int(epoch)) }
        }
    }

    /// Whole numbers without a fraction; a value that is a Float (the learning rate) in Float's
    /// shortest form, so 1e-4 reads 0.0001 rather than 9.999999747378752e-05.
    static func text(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
        if Double(Float(value)) == value { return String(Float(value)) }
        return String(value)
    }

    /// history.csv's rows as column name to text.
    public static func rows(_ path: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) else { return [] }
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Dictionary(zip(header, fields).filter { !$0.1.isEmpty }, uniquingKeysWith: { a, _ in a })
        }
    }

    private static func write(_ rows: [[String: String]], to path: String) throws {
        let text = ([columns.joined(separator: ",")] + rows.map { row in columns.map { row[$0] ?? "" }.joined(separator: ",") })
            .joined(separator: "\n") + "\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
