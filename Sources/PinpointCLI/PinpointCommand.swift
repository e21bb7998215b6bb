import ArgumentParser

@main
struct PinpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinpoint",
        abstract: "Bounding-box localization on Linux, in Swift.",
        subcommands: [Demo.self, Synth.self, Prepare.self, TFRecordCommand.self, Show.self, Summary.self, Train.self,
                      Evaluate.self, Predict.self, Bench.self, CPU.self])
}
