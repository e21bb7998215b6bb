import ArgumentParser
import PinpointTraining

/// The `pinpoint` command line. The executables are thin: Sources/PinpointCLI runs it as one
/// process, and the Distributed package's `pinpoint` sets `communicator` to MPI's world first.
public struct PinpointCommand: ParsableCommand {
    /// The ranks `train` and `bench` run across (Docs/Distributed.md); one process by default.
    /// Set once, before the command runs, by the executable.
    nonisolated(unsafe) public static var communicator: any Communicator = SingleProcess()

    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "pinpoint",
        abstract: "Bounding-box localization on Linux, in Swift.",
        subcommands: [Demo.self, Synth.self, Prepare.self, TFRecordCommand.self, Show.self, Summary.self, Train.self, Export.self,
                      Evaluate.self, Predict.self, Plot.self, Bench.self, CPU.self])
}
