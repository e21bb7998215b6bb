import ArgumentParser
import Foundation
import Pinpoint

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Images/s of a model's training step or inference on generated data, to size a machine.",
        discussion: """
            Runs --warmup steps, then --steps timed steps, on one generated batch in a fresh model (or, with --data, on \
            batches read from a TFRecord file as `train` reads them). A training step is \
            the whole of what `train` does per batch (forward, the tutorial's loss, gradients, RMSprop update); inference \
            is a forward pass in inference mode. Prints images/s (median, min, max), the GFLOP/s the GEMM and convolution \
            kernels achieved, and the process's peak RSS. --profile adds forward and backward time per layer and per \
            operation over the timed steps. Threads: PINPOINT_THREADS (default: all cores).
            """)

    @Argument(help: "train or infer.") var mode: ThroughputBenchmark.Mode
    @Option(help: "seed-cnn (the tutorial's CNN) or mobilenetv2 (the two-head model).") var model = "seed-cnn"
    @Option(help: "MobileNetV2 width multiplier.") var alpha: Double = 1.0
    @Option(help: "Image size (square).") var imageSize = 224
    @Option(help: "Batch size.") var batch = 40
    @Option(help: "Timed steps.") var steps = 10
    @Option(help: "Warm-up steps (not timed).") var warmup = 3
    @Flag(help: "Print {\"images_per_second\", \"min\", \"max\", \"peak_rss_mib\", ...} as one JSON line.") var json = false
    @Flag(help: "Time every layer and operation (adds a little overhead).") var profile = false
    @Option(help: "Train on batches from this TFRecord file (prepare's output) instead of one generated batch in memory.")
    var data: String?

    func validate() throws {
        guard model == "seed-cnn" || model == "mobilenetv2" else { throw ValidationError("unknown --model '\(model)' (known: seed-cnn, mobilenetv2)") }
        guard imageSize >= 32 else { throw ValidationError("--image-size must be at least 32") }
        guard batch > 0, steps > 0, warmup >= 0 else { throw ValidationError("--batch and --steps must be positive, --warmup not negative") }
        if data != nil && mode != .train { throw ValidationError("--data is for bench train") }
    }

    func run() throws {
        let configuration = model == "seed-cnn" ? ModelConfiguration.seedCNN(imageSize: imageSize)
            : ModelConfiguration.mobileNetV2(alpha: alpha, imageSize: imageSize)
        var benchmark = ThroughputBenchmark(configuration: configuration, mode: mode, batchSize: batch, warmupSteps: warmup, steps: steps,
                                            records: data.map { [$0] } ?? [])
        let communicator = PinpointCommand.communicator
        benchmark.communicator = communicator
        let profiler = profile ? Profiler() : nil
        let progress = ProgressLine()
        let result = try benchmark.run(profiler: profiler) { done, total in
            if !json && communicator.isRoot { progress.update("\(mode.rawValue) \(model) \(imageSize)", done, total, unit: "steps") }
        }
        // Under mpirun, rank 0 reports for the job: every step ends in a collective, so its step
        // times are the job's.
        guard communicator.isRoot else { return }
        if json {
            print(result.json)
        } else {
            print(String(format: "%@ %@ at %dx%d, batch %d, %d threads, %@ kernels, %@, %@: %.2f images/s (min %.2f, max %.2f over %d steps), "
                         + "%.3f GFLOP/image, %.1f GFLOP/s, peak RSS %.0f MiB",
                         mode.rawValue, model, imageSize, imageSize, batch, Parallelism.threadCount, KernelSet.current.rawValue,
                         BLAS.engine == .pinpoint ? "Pinpoint's SGEMM" : "OpenBLAS \(BLAS.coreName)",
                         data.map { "batches from \($0)" } ?? "one generated batch", result.imagesPerSecond,
                         result.minimum, result.maximum, steps, result.flopsPerImage / 1e9, result.gigaflopsPerSecond, result.peakResidentMiB))
        }
        if communicator.size > 1 && !json {
            print(String(format: "%d ranks (global batch %d): allreduce %.1f ms of a %.1f ms step (%.0f%%), %.1f MB per step at %.2f GB/s",
                         communicator.size, batch, 1000 * result.allreduceSecondsPerStep, 1000 * result.medianStepSeconds,
                         100 * result.allreduceSecondsPerStep / result.medianStepSeconds, Double(result.allreduceBytesPerStep) / 1e6,
                         result.allreduceGigabytesPerSecond))
        }
        if let profiler { print(profiler.report(steps: steps)) }
    }
}

extension ThroughputBenchmark.Mode: ExpressibleByArgument {}
