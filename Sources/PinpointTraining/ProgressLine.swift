import Foundation

/// A one-line progress display on standard error: phase, count, rate and ETA, redrawn in place on
/// a terminal and printed every few seconds otherwise (logs stay readable).
///
/// ```swift
/// let progress = ProgressLine()
/// for i in 1...n { ...; progress.update("writing", i, n, unit: "records") }
/// ```
public final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var start = Date()
    private var phase = ""
    private var lastPrint = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) != 0

    public init() {}

    /// Redraws the line; `detail` (a loss, say) is shown after the counts.
    public func update(_ phase: String, _ done: Int, _ total: Int, unit: String = "items", detail: String = "") {
        lock.lock()
        defer { lock.unlock() }
        if phase != self.phase {
            if !self.phase.isEmpty && interactive { FileHandle.standardError.write("\n".data(using: .utf8)!) }
            self.phase = phase
            start = Date()
        }
        let now = Date()
        let finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= (interactive ? 0.2 : 5) else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        // Under half a second the rate is noise; say nothing rather than something absurd.
        let rate = elapsed >= 0.5 ? Double(done) / elapsed : nil
        let timing = rate.map { String(format: "%.1f/s, ETA %@", $0, Self.duration($0 > 0 ? Double(total - done) / $0 : 0)) }
            ?? (finished ? String(format: "%.1f s", elapsed) : "starting")
        let line = "\(phase) \(done)/\(total) \(unit)" + (detail.isEmpty ? "" : " \(detail)") + " (\(timing))"
        FileHandle.standardError.write(((interactive ? "\r\u{1B}[K" : "") + line + (interactive && !finished ? "" : "\n")).data(using: .utf8)!)
    }

    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
