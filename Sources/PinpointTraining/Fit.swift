import Foundation
import PinpointAutograd
import PinpointData
import PinpointLayers
import PinpointMetrics
import PinpointModels
import PinpointOptimizers
import PinpointTensor

/// Inputs and loss targets of one step.
public struct TrainingBatch: Sendable {
    public let inputs: Tensor
    public let targets: Tensor
    public var count: Int { inputs.shape[0] }

    public init(inputs: Tensor, targets: Tensor) {
        self.inputs = inputs
        self.targets = targets
    }
}

/// Where `fit` gets its batches: one sequence per epoch, the order a function of the epoch.
public protocol BatchSource {
    var batchesPerEpoch: Int { get }
    func batches(epoch: Int) -> () throws -> TrainingBatch?
}

/// The tutorial's records as training batches: images as configured in the pipeline, targets the
/// box ([n, 4]) or, for a two-head model, the class followed by the box ([n, 5]).
public struct LocalizationBatchSource: BatchSource {
    public enum Targets: Sendable { case box, classAndBox }
    public let pipeline: LocalizationBatches
    public let targets: Targets

    public init(_ pipeline: LocalizationBatches, targets: Targets = .box) {
        self.pipeline = pipeline
        self.targets = targets
    }

    public var batchesPerEpoch: Int { pipeline.batchesPerEpoch }

    public func batches(epoch: Int) -> () throws -> TrainingBatch? {
        let iterator = pipeline.epoch(epoch)
        let targets = targets
        return {
            guard let b = try iterator.next() else { return nil }
            switch targets {
            case .box: return TrainingBatch(inputs: b.images, targets: b.boxes)
            case .classAndBox:
                return TrainingBatch(inputs: b.images, targets: Tensor.concatenate([b.classes.reshaped([-1, 1]), b.boxes], alongAxis: 1))
            }
        }
    }
}

/// What one epoch did.
public struct EpochResult: Sendable {
    public let epoch: Int
    public let trainingLoss: Double
    public let validationLoss: Double?
    public let imagesPerSecond: Double
    public let seconds: Double
}

/// Something to run after each epoch (for example evaluation or logging); it may throw to stop.
public protocol TrainingCallback {
    func epochEnded(_ result: EpochResult, trainer: Trainer) throws
}

/// Training stopped, with why and where.
public struct TrainingError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Trains a model: the reusable `fit` loop behind `pinpoint train`.
///
/// Reproducible by construction: the batch order depends only on the seed and the epoch, each
/// step's random stream (Dropout) only on the seed, epoch and step, and the checkpoint written
/// after every epoch holds the parameters, BatchNormalization's statistics and the optimizer's
/// state, so `resume` then `fit` gives the same weights as an uninterrupted run.
///
/// ```swift
/// let trainer = Trainer(model: model, loss: MeanSquaredError(),
///                       optimizer: RMSprop(model.trainableParameters, learningRate: schedule, momentum: 0.9),
///                       seed: 1, checkpointPath: "model.safetensors", metadata: ["architecture": "seed-cnn"])
/// let history = try trainer.fit(train: train, validation: validation, epochs: 40)
/// ```
public final class Trainer {
    public let model: any Layer
    public let loss: any Loss
    public let optimizer: any Optimizer
    public let seed: UInt64
    /// Written after every epoch (atomically) when set.
    public let checkpointPath: String?
    /// Model configuration stored in each checkpoint's metadata, beside the training position.
    public var metadata: [String: String]
    /// Show a progress line on standard error.
    public var showsProgress = true
    /// Epochs completed (also the next epoch's index).
    public private(set) var completedEpochs = 0
    /// Whether a step has checked that every trainable parameter trains.
    private var checkedParameters = false

    public init(model: any Layer, loss: any Loss, optimizer: any Optimizer, seed: UInt64 = 0, checkpointPath: String? = nil,
                metadata: [String: String] = [:]) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.seed = seed
        self.checkpointPath = checkpointPath
        self.metadata = metadata
    }

    /// Parameters as `layer.weight`: the model's own weights when it is a container (Sequential).
    public var parameters: [(name: String, parameter: Parameter)] { model.weights }

    /// Loads parameters, optimizer state and the training position from a checkpoint written by
    /// `fit`; returns the number of epochs already done.
    @discardableResult
    public func resume(from path: String) throws -> Int {
        let checkpoint = try Checkpoint(contentsOf: path)
        try checkpoint.load(into: parameters, file: path)
        do { try optimizer.restore(checkpoint.optimizerState) } catch {
            throw TrainingError(reason: "\(path): \(error)")
        }
        guard let epochs = checkpoint.metadata["epochs_completed"].flatMap(Int.init), epochs >= 0 else {
            throw TrainingError(reason: "\(path): no epochs_completed (a count of 0 or more) in the checkpoint's metadata")
        }
        if let saved = checkpoint.metadata["seed"], saved != String(seed) {
            throw TrainingError(reason: "\(path) was trained with seed \(saved), this run uses \(seed)")
        }
        completedEpochs = epochs
        return epochs
    }

    /// Trains until `epochs` epochs are done in total (continuing after `resume`).
    @discardableResult
    public func fit(train: any BatchSource, validation: (any BatchSource)? = nil, epochs: Int,
                    callbacks: [any TrainingCallback] = []) throws -> [EpochResult] {
        var history: [EpochResult] = []
        let progress = ProgressLine()
        // Gradients are taken for the optimizer's parameters: a parameter frozen for a while (a
        // backbone) is read as a constant and gets zeros, which leave it and its optimizer state as
        // they are.
        let trainable = optimizer.parameters
        let names = Set(parameters.map(\.name))
        precondition(trainable.allSatisfy { names.contains($0.name) }, "Trainer: the optimizer's parameters must be the model's")
        while completedEpochs < epochs {
            let epoch = completedEpochs
            let start = Date()
            var total = 0.0, seen = 0, step = 0
            let next = train.batches(epoch: epoch)
            while let batch = try next() {
                let lossValue = try self.step(on: batch, seed: Self.stepSeed(seed, epoch, step), parameters: trainable.map(\.parameter))
                guard lossValue.isFinite else {
                    throw TrainingError(reason: "epoch \(epoch + 1), step \(step + 1): the loss is \(lossValue); stopping "
                                        + "(a learning rate too high, or bad inputs or targets)")
                }
                total += Double(lossValue) * Double(batch.count)
                seen += batch.count
                step += 1
                if showsProgress {
                    progress.update("epoch \(epoch + 1)/\(epochs)", step, train.batchesPerEpoch, unit: "steps",
                                    detail: String(format: "loss %.5f, %.1f images/s", total / Double(seen), Double(seen) / Date().timeIntervalSince(start)))
                }
            }
            let seconds = Date().timeIntervalSince(start)
            let validationLoss = try validation.map { try evaluate($0) }
            completedEpochs += 1
            let result = EpochResult(epoch: epoch + 1, trainingLoss: seen > 0 ? total / Double(seen) : .nan, validationLoss: validationLoss,
                                     imagesPerSecond: Double(seen) / seconds, seconds: seconds)
            history.append(result)
            if let checkpointPath { try saveCheckpoint(to: checkpointPath) }
            for callback in callbacks { try callback.epochEnded(result, trainer: self) }
        }
        return history
    }

    /// One optimization step on a batch: forward on a tape (Dropout drawing from `seed`), the loss,
    /// its gradients, the optimizer's update. Returns the loss before the update (the update is
    /// applied even when it is not finite; `fit` stops then). With a profiler, the step's time is
    /// charged to the model's layers and operations, the loss and the optimizer.
    ///
    /// The first step throws, before any update, when a trainable parameter would silently not
    /// train: stored in a layer but not in its `weights`, or not read through `context.read`
    /// (`untrainedParameter(in:tape:checked:)`).
    @discardableResult
    public func step(on batch: TrainingBatch, seed: UInt64, parameters: [Parameter]? = nil, profiler: Profiler? = nil) throws -> Float {
        let tape = GradientTape()
        tape.profiler = profiler
        profiler?.restartClock()
        var context = LayerContext(training: true, tape: tape, seed: seed, profiler: profiler)
        let output = model(Traced(batch.inputs), context: &context)
        let trained = parameters ?? optimizer.parameters.map(\.parameter)
        if !checkedParameters {
            if let error = untrainedParameter(in: model, tape: tape, checked: trained) { throw error }
            checkedParameters = true
        }
        let value: Traced = profiler.map { p in p.measure("(loss)") { loss(batch.targets, output) } } ?? loss(batch.targets, output)
        let gradients = tape.gradient(of: value, wrt: trained)
        if let profiler {
            profiler.restartClock()
            profiler.measure("(optimizer)") { optimizer.apply(gradients) }
        } else {
            optimizer.apply(gradients)
        }
        return value.value.scalar
    }

    /// The mean loss over a source in inference mode (no tape, no Dropout, moving statistics).
    public func evaluate(_ source: any BatchSource, epoch: Int = 0) throws -> Double {
        var total = 0.0, seen = 0
        let next = source.batches(epoch: epoch)
        while let batch = try next() {
            var context = LayerContext()
            total += Double(loss(batch.targets, model(Traced(batch.inputs), context: &context)).value.scalar) * Double(batch.count)
            seen += batch.count
        }
        return seen > 0 ? total / Double(seen) : .nan
    }

    public func saveCheckpoint(to path: String) throws {
        var checkpoint = Checkpoint(metadata: metadata.merging(["epochs_completed": String(completedEpochs), "seed": String(seed),
                                                                "optimizer_iterations": String(optimizer.iterations)]) { _, new in new })
        checkpoint.add(parameters)
        checkpoint.add(optimizer.state)
        try checkpoint.write(to: path)
    }

    /// The random stream of one step, a function of (seed, epoch, step) only.
    static func stepSeed(_ seed: UInt64, _ epoch: Int, _ step: Int) -> UInt64 {
        SeededGenerator(seed: seed).fork(UInt64(epoch) << 32 | UInt64(step)).fork(0x5EED).nextSeed()
    }
}

extension SeededGenerator {
    fileprivate func nextSeed() -> UInt64 {
        var copy = self
        return copy.next()
    }
}
