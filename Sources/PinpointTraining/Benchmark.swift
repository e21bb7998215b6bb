import Foundation
import PinpointAutograd
import PinpointData
import PinpointLayers
import PinpointMetrics
import PinpointModels
import PinpointOptimizers
import PinpointTensor

/// Images per second of a model's training step or inference, on generated data: what
/// `pinpoint bench` prints and the benchmark target records. A training step is the whole of
/// `Trainer.step` (forward, loss, gradients, RMSprop update); inference is `inference(model, x)`.
///
/// ```swift
/// let result = try ThroughputBenchmark(configuration: .seedCNN(imageSize: 224), mode: .train).run()
/// print(result.imagesPerSecond, result.peakResidentMiB)
/// ```
public struct ThroughputBenchmark {
    public enum Mode: String, Sendable, CaseIterable {
        case train, infer
    }

    public var configuration: ModelConfiguration
    public var mode: Mode
    public var batchSize: Int
    public var warmupSteps: Int
    public var steps: Int
    public var seed: UInt64
    /// Training only: take each step's batch from these TFRecord files (the tutorial's records,
    /// read, shuffled and batched by `LocalizationBatches` on its prefetch thread, epoch after
    /// epoch) instead of one generated batch in memory. The timed step includes waiting for it.
    public var records: [String]
    /// The ranks of a data-parallel benchmark: `batchSize` is the global batch, each rank steps
    /// on its share, and the images/s are the whole job's.
    public var communicator: any Communicator = SingleProcess()

    public init(configuration: ModelConfiguration, mode: Mode, batchSize: Int = 40, warmupSteps: Int = 3, steps: Int = 10, seed: UInt64 = 0,
                records: [String] = []) {
        self.configuration = configuration
        self.mode = mode
        self.batchSize = batchSize
        self.warmupSteps = warmupSteps
        self.steps = steps
        self.seed = seed
        self.records = records
    }

    /// Runs the warm-up steps, then the timed ones. With a profiler, only the timed steps are
    /// profiled (it is reset after warm-up); profiling adds a little time of its own.
    /// `progress` is called after every step with (steps done, steps in all).
    public func run(profiler: Profiler? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> ThroughputResult {
        precondition(batchSize > 0 && steps > 0 && warmupSteps >= 0, "ThroughputBenchmark: batch and steps must be positive")
        let model = try configuration.makeModel(seed: seed)
        let size = configuration.imageSize
        var random = SeededGenerator(seed: seed)
        // Inputs in the range the model is fed in training (pixels scaled as configured).
        let inputs = Tensor.uniform([batchSize, size, size, 3], using: &random) * (255 * configuration.inputScale) + configuration.inputOffset
        let boxes = Tensor.uniform([batchSize, 4], low: 0.2, high: 0.8, using: &random)
        let targets = configuration.tutorialTargets == .classAndBox
            ? Tensor.concatenate([Tensor.uniform([batchSize, 1], using: &random).greater(Tensor(Float(0.5))), boxes], alongAxis: 1)
            : boxes
        let generated = TrainingBatch(inputs: inputs, targets: targets)
        var nextBatch: () throws -> TrainingBatch = { generated }
        if !records.isEmpty {
            precondition(mode == .train, "ThroughputBenchmark: records are for training")
            let pipeline = try LocalizationBatches(paths: records, batchSize: batchSize, shuffleBuffer: 1000, seed: seed,
                                                   scale: configuration.inputScale, offset: configuration.inputOffset)
            guard pipeline.imageSize == size else {
                throw TrainingError(reason: "\(records[0]) holds \(pipeline.imageSize)x\(pipeline.imageSize) images; the benchmark is at \(size)")
            }
            let source = LocalizationBatchSource(pipeline, targets: configuration.tutorialTargets)
            var epoch = 0
            var batches = source.batches(epoch: epoch)
            nextBatch = {
                while true {
                    // Full batches only, so every step does the same work.
                    if let batch = try batches(), batch.count == self.batchSize { return batch }
                    epoch += 1
                    batches = source.batches(epoch: epoch)
                }
            }
        }
        let trainer = Trainer(model: model, loss: configuration.tutorialLoss,
                              optimizer: configuration.tutorialOptimizer(for: model, decaySteps: 1000), seed: seed)
        let parameters = trainer.optimizer.parameters.map(\.parameter)
        trainer.communicator = communicator
        try trainer.synchronize()
        let share = batchShare(count: batchSize, rank: communicator.rank, size: communicator.size)
        let localInputs = inputs.sliced(alongAxis: 0, from: share.lowerBound, to: share.upperBound)

        func runStep(_ index: Int, _ profiler: Profiler?) throws {
            switch mode {
            case .train:
                try trainer.step(on: try nextBatch(), seed: seed &+ UInt64(index), parameters: parameters, profiler: profiler)
            case .infer:
                profiler?.restartClock()
                var context = LayerContext(profiler: profiler)
                if !share.isEmpty { _ = model(Traced(localInputs), context: &context).value }
                // A step ends when every rank's share is done.
                try communicator.barrier()
            }
        }
        for i in 0..<warmupSteps {
            try runStep(i, profiler)
            progress?(i + 1, warmupSteps + steps)
        }
        profiler?.reset()
        let communicationBefore = trainer.communication
        var seconds: [Double] = []
        let flopsBefore = KernelCounters.floatingPointOperations
        for i in 0..<steps {
            let start = DispatchTime.now().uptimeNanoseconds
            try runStep(warmupSteps + i, profiler)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            progress?(warmupSteps + i + 1, warmupSteps + steps)
        }
        // Per image this rank computed: the same per image as the whole job's.
        let flops = Double(KernelCounters.floatingPointOperations - flopsBefore) / Double(steps * Swift.max(share.count, 1))
        let communication = trainer.communication
        return ThroughputResult(batchSize: batchSize, stepSeconds: seconds, flopsPerImage: flops, peakResidentMiB: peakResidentMebibytes(),
                                ranks: communicator.size,
                                allreduceSecondsPerStep: (communication.seconds - communicationBefore.seconds) / Double(steps),
                                allreduceBytesPerStep: (communication.bytes - communicationBefore.bytes) / steps)
    }
}

/// What a throughput benchmark measured.
public struct ThroughputResult: Sendable {
    public let batchSize: Int
    /// Seconds per timed step, in the order run.
    public let stepSeconds: [Double]
    /// Floating-point operations per image in the GEMM and convolution kernels (`KernelCounters`).
    public let flopsPerImage: Double
    /// The process's peak resident set so far (VmHWM), in MiB.
    public let peakResidentMiB: Double
    /// Ranks of a data-parallel run (1 alone), and the time and bytes of each step's gradient
    /// allreduce on this rank.
    public var ranks = 1
    public var allreduceSecondsPerStep = 0.0
    public var allreduceBytesPerStep = 0

    public init(batchSize: Int, stepSeconds: [Double], flopsPerImage: Double, peakResidentMiB: Double, ranks: Int = 1,
                allreduceSecondsPerStep: Double = 0, allreduceBytesPerStep: Int = 0) {
        self.batchSize = batchSize
        self.stepSeconds = stepSeconds
        self.flopsPerImage = flopsPerImage
        self.peakResidentMiB = peakResidentMiB
        self.ranks = ranks
        self.allreduceSecondsPerStep = allreduceSecondsPerStep
        self.allreduceBytesPerStep = allreduceBytesPerStep
    }

    /// Median seconds per step.
    public var medianStepSeconds: Double { Double(batchSize) / imagesPerSecond }
    /// The allreduce's bandwidth in GB/s (bytes reduced per second), 0 without communication.
    public var allreduceGigabytesPerSecond: Double {
        allreduceSecondsPerStep > 0 ? Double(allreduceBytesPerStep) / allreduceSecondsPerStep / 1e9 : 0
    }

    private var rates: [Double] { stepSeconds.map { Double(batchSize) / $0 }.sorted() }
    /// Median images per second over the timed steps.
    public var imagesPerSecond: Double {
        let r = rates
        return r.count % 2 == 1 ? r[r.count / 2] : (r[r.count / 2 - 1] + r[r.count / 2]) / 2
    }
    public var minimum: Double { rates.first ?? 0 }
    public var maximum: Double { rates.last ?? 0 }
    /// Kernel GFLOP/s achieved at the median rate.
    public var gigaflopsPerSecond: Double { imagesPerSecond * flopsPerImage / 1e9 }

    /// `{"images_per_second": F, "min": F, "max": F, "peak_rss_mib": F, ...}` on one line.
    public var json: String {
        String(format: "{\"images_per_second\": %.2f, \"min\": %.2f, \"max\": %.2f, \"peak_rss_mib\": %.0f, \"gflop_per_image\": %.3f, "
               + "\"gflops\": %.1f, \"batch\": %d, \"steps\": %d, \"kernel_set\": \"%@\", \"openblas_core\": \"%@\", \"gemm\": \"%@\", "
               + "\"ranks\": %d, \"allreduce_seconds_per_step\": %.4f, \"allreduce_mb_per_step\": %.1f, \"allreduce_gbps\": %.2f}",
               imagesPerSecond, minimum, maximum, peakResidentMiB, flopsPerImage / 1e9, gigaflopsPerSecond, batchSize,
               stepSeconds.count, KernelSet.current.rawValue, BLAS.coreName, BLAS.engine.rawValue,
               ranks, allreduceSecondsPerStep, Double(allreduceBytesPerStep) / 1e6, allreduceGigabytesPerSecond)
    }
}

/// The peak resident set size of this process (Linux's VmHWM), in MiB; 0 where unavailable.
public func peakResidentMebibytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return kibibytes / 1024
}
