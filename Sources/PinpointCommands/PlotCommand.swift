import ArgumentParser
import Pinpoint

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a training log's curves (train --log DIR) as a PNG: loss, and validation IoU, per epoch.")

    @Argument(help: "The log directory (holding history.csv).") var directory: String
    @Option(help: "The PNG to write.") var out: String

    func run() throws {
        let history = directory + "/history.csv"
        let image = try TrainingCurves.render(history: history)
        try image.write(to: out)
        print("wrote \(out) (\(image.width)x\(image.height)) from \(history)")
    }
}
