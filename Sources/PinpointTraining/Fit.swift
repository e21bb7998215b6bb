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
    /// Set when this batch is already one rank's share of a global batch (a data-parallel run
    /// whose ranks read their own files): its rows are `range` of a global batch of `count`.
    /// Unset, every rank holds the global batch and `Trainer` takes the rank's share of it.
    public var globalRows: (range: Range<Int>, count: Int)?
    public var count: Int { inputs.shape[0] }

    public init(inputs: Tensor, targets: Tensor, globalRows: (range: Range<Int>, count: Int)? = nil) {
        self.inputs = inputs
        self.targets = targets
        self.globalRows = globalRows
    }

    /// These rows of the inputs and targets (views, no copy).
    public func rows(_ range: Range<Int>) -> TrainingBatch {
        TrainingBatch(inputs: inputs.sliced(alongAxis: 0, from: range.lowerBound, to: range.upperBound),
                      targets: targets.sliced(alongAxis: 0, from: range.lowerBound, to: range.upperBound))
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

/// One rank's own files in a data-parallel run (sharding by file): the rank reads only its
/// files, in batches of its share of the global batch, and every rank takes the same number of
/// steps per epoch, the fewest any rank's files give. The records a rank has beyond those steps
/// are not used that epoch; the shuffle, seeded by epoch, leaves out different ones each epoch.
///
/// ```swift
/// let mine = try LocalizationBatches(paths: shardsOfThisRank, batchSize: batchShare(count: 40, rank: r, size: n).count, ...)
/// let source = try ShardedBatchSource(LocalizationBatchSource(mine), globalBatch: 40, communicator: world)
/// ```
public struct ShardedBatchSource: BatchSource {
    public let local: any BatchSource
    public let globalBatch: Int
    public let batchesPerEpoch: Int
    let share: Range<Int>

    /// `local` yields this rank's batches of `batchShare(count: globalBatch, ...)` samples.
    public init(_ local: any BatchSource, globalBatch: Int, communicator: any Communicator) throws {
        self.local = local
        self.globalBatch = globalBatch
        share = batchShare(count: globalBatch, rank: communicator.rank, size: communicator.size)
        let (fewest, most) = try communicator.allreduceMinMax([Int64(local.batchesPerEpoch)])
        guard fewest[0] > 0 else {
            throw DistributedError(rank: communicator.rank, reason: "a rank's files give no batch (this rank's give \(local.batchesPerEpoch))")
        }
        batchesPerEpoch = Int(fewest[0])
        if communicator.isRoot && most[0] > fewest[0] {
            print("sharding by file: \(batchesPerEpoch) steps per epoch, the fewest a rank's files give (the most: \(most[0]))")
        }
    }

    public func batches(epoch: Int) -> () throws -> TrainingBatch? {
        let next = local.batches(epoch: epoch)
        let (steps, share, globalBatch) = (batchesPerEpoch, share, globalBatch)
        var step = 0
        return {
            guard step < steps, var batch = try next() else { return nil }
            step += 1
            batch.globalRows = (share.lowerBound..<(share.lowerBound + batch.count), globalBatch)
            return batch
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

/// Something to run after each epoch, before its checkpoint is written: evaluation, logging,
/// early stopping (`trainer.stopTraining`), a best checkpoint, a lower learning rate. Values it
/// computes go into `trainer.metrics` for the callbacks after it. What it must remember across
/// a resume (a best value, a wait counter) it gives as `state`, which each checkpoint keeps and
/// `restore` gets back, so a resumed run decides exactly as an uninterrupted one.
public protocol TrainingCallback {
    func epochEnded(_ result: EpochResult, trainer: Trainer) throws
    /// Text values saved in each checkpoint's metadata (as `callback.<key>`); keys must be unique
    /// among a run's callbacks.
    var state: [String: String] { get }
    func restore(_ state: [String: String]) throws
}

extension TrainingCallback {
    public var state: [String: String] { [:] }
    public func restore(_ state: [String: String]) throws {}
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
    /// This epoch's values, for callbacks: `loss` (training) and `val_loss` from `fit`, more from
    /// the callbacks that compute them (the command line's adds `val_iou`).
    public var metrics: [String: Double] = [:]
    /// Set by a callback to end `fit` after this epoch (its checkpoint is written).
    public var stopTraining = false
    /// Callback state read from the checkpoint by `resume`, handed to the callbacks of `fit`.
    private var resumedCallbackState: [String: String] = [:]
    private var callbackState: [String: String] = [:]
    /// The ranks of a data-parallel run (Docs/Distributed.md): each step takes the rank's share of
    /// the global batch, gradients are averaged over ranks before the update, and rank 0 alone
    /// writes checkpoints and shows progress. `SingleProcess` (the default) is one process.
    public var communicator: any Communicator = SingleProcess() {
        didSet { averaging = nil }
    }
    private var averaging: GradientAveraging?
    /// Time spent averaging gradients over the ranks (packing them and the allreduce calls), and
    /// the bytes reduced, over all data-parallel steps so far.
    public private(set) var communication = (seconds: 0.0, bytes: 0)

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
        if let scale = checkpoint.metadata["learning_rate_scale"] {
            guard let value = Float(scale), value > 0, value.isFinite else {
                throw TrainingError(reason: "\(path): learning_rate_scale '\(scale)' is not a positive number")
            }
            optimizer.learningRateScale = value
        }
        resumedCallbackState = Dictionary(uniqueKeysWithValues: checkpoint.metadata.compactMap { key, value in
            key.hasPrefix("callback.") ? (String(key.dropFirst("callback.".count)), value) : nil
        })
        completedEpochs = epochs
        return epochs
    }

    /// Makes every rank start equal: rank 0's parameters (BatchNormalization's statistics among
    /// them), optimizer state and training position are broadcast to the others, after checking
    /// that all ranks built the same model. `fit` calls it before its first step; a resumed run
    /// loads its checkpoint on rank 0 alone (`resume`), and the broadcast carries it to the rest.
    public func synchronize() throws {
        guard communicator.size > 1 else { return }
        let shapes = parameters.flatMap { [Int64($0.parameter.shape.count)] + $0.parameter.shape.map(Int64.init) }
        try communicator.checkAgreement("the model's parameter shapes (\(parameters.count) parameters)",
                                        [Int64(parameters.count), Int64(shapes.count), Int64(truncatingIfNeeded: stableHash(shapes))])
        var position: [Float] = [Float(completedEpochs)]
        try communicator.broadcast(&position)
        completedEpochs = Int(position[0])
        for (_, parameter) in parameters {
            var value = parameter.value
            try value.withUnsafeMutableBufferPointer { try communicator.broadcast($0, root: 0) }
            parameter.value = value
        }
        let state = optimizer.state
        var restored: [String: Tensor] = [:]
        for (name, value) in state {
            var copy = value
            try copy.withUnsafeMutableBufferPointer { try communicator.broadcast($0, root: 0) }
            restored[name] = copy
        }
        try optimizer.restore(restored)
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
        try synchronize()
        let root = communicator.isRoot
        for callback in callbacks { try callback.restore(resumedCallbackState) }
        stopTraining = false
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
                // The job's images: the global batch when this batch is one rank's share of it.
                let images = batch.globalRows?.count ?? batch.count
                total += Double(lossValue) * Double(images)
                seen += images
                step += 1
                if showsProgress && root {
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
            metrics = ["loss": result.trainingLoss]
            if let validationLoss { metrics["val_loss"] = validationLoss }
            for callback in callbacks { try callback.epochEnded(result, trainer: self) }
            callbackState = callbacks.reduce(into: [:]) { all, callback in all.merge(callback.state) { _, new in new } }
            if communicator.size > 1 {
                // Rank 0 alone validates, so its callbacks decide for every rank.
                var decisions: [Float] = [stopTraining ? 1 : 0, optimizer.learningRateScale]
                try communicator.broadcast(&decisions)
                (stopTraining, optimizer.learningRateScale) = (decisions[0] != 0, decisions[1])
            }
            if let checkpointPath {
                // Rank 0 writes (to a temporary file, then renames); the others wait, so no rank
                // runs ahead of the checkpoint a restart would resume from.
                if root { try saveCheckpoint(to: checkpointPath) }
                try communicator.barrier()
            }
            if stopTraining { break }
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
    ///
    /// In a data-parallel run `batch` is the global batch, the same on every rank: each rank
    /// computes on its share (`batchShare`), with Dropout drawing the masks of the whole global
    /// batch and keeping its rows, and the gradients and loss are averaged over the ranks before
    /// the update, so every rank applies the update one process would. BatchNormalization's
    /// batch statistics are the rank's own share's.
    @discardableResult
    public func step(on batch: TrainingBatch, seed: UInt64, parameters: [Parameter]? = nil, profiler: Profiler? = nil) throws -> Float {
        let trained = parameters ?? optimizer.parameters.map(\.parameter)
        guard communicator.size > 1 else {
            let (value, gradients) = try lossAndGradients(batch, seed: seed, rows: nil, trained: trained, profiler: profiler)
            update(gradients, profiler: profiler)
            return value
        }
        if averaging == nil || averaging!.shapes != trained.map(\.shape) {
            averaging = GradientAveraging(communicator: communicator, shapes: trained.map(\.shape))
            try communicator.checkAgreement("the step's gradient buffer (elements)", [Int64(averaging!.elementCount)])
        }
        let rows: TrainingBatch, globalRows: (range: Range<Int>, count: Int)
        if let given = batch.globalRows {
            (rows, globalRows) = (batch, given)
        } else {
            let share = batchShare(count: batch.count, rank: communicator.rank, size: communicator.size)
            (rows, globalRows) = (batch.rows(share), (share, batch.count))
        }
        var local: (value: Float, gradients: [Tensor])?
        if rows.count > 0 {
            local = try lossAndGradients(rows, seed: seed, rows: globalRows, trained: trained, profiler: profiler)
        }
        profiler?.restartClock()
        // A rank's own batches (sharding by file) may differ in size: their total is counted.
        let clock = DispatchTime.now().uptimeNanoseconds
        let averaged = try averaging!.average(local?.gradients, meanLoss: local?.value ?? 0, localCount: rows.count,
                                              globalCount: batch.globalRows == nil ? batch.count : nil)
        communication.seconds += Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
        communication.bytes += averaging!.elementCount * MemoryLayout<Float>.size
        update(averaged.gradients, profiler: profiler)
        return averaged.meanLoss
    }

    /// Forward on a tape, the loss and its gradients for `batch` (the rows `rows` of a global
    /// batch, when set).
    private func lossAndGradients(_ batch: TrainingBatch, seed: UInt64, rows: (range: Range<Int>, count: Int)?, trained: [Parameter],
                                  profiler: Profiler?) throws -> (Float, [Tensor]) {
        let tape = GradientTape()
        tape.profiler = profiler
        profiler?.restartClock()
        var context = LayerContext(training: true, tape: tape, seed: seed, profiler: profiler)
        context.globalRows = rows
        let output = model(Traced(batch.inputs), context: &context)
        if !checkedParameters {
            if let error = untrainedParameter(in: model, tape: tape, checked: trained) { throw error }
            checkedParameters = true
        }
        let value: Traced = profiler.map { p in p.measure("(loss)") { loss(batch.targets, output) } } ?? loss(batch.targets, output)
        return (value.value.scalar, tape.gradient(of: value, wrt: trained))
    }

    private func update(_ gradients: [Tensor], profiler: Profiler?) {
        if let profiler {
            profiler.restartClock()
            profiler.measure("(optimizer)") { optimizer.apply(gradients) }
        } else {
            optimizer.apply(gradients)
        }
    }

    /// The mean loss over a source in inference mode (no tape, no Dropout, moving statistics).
    /// In a data-parallel run each rank evaluates its share of every batch and the sums are
    /// reduced, so every rank returns the same mean.
    public func evaluate(_ source: any BatchSource, epoch: Int = 0) throws -> Double {
        var total = 0.0, seen = 0
        let next = source.batches(epoch: epoch)
        while let batch = try next() {
            let share = batchShare(count: batch.count, rank: communicator.rank, size: communicator.size)
            guard !share.isEmpty else { continue }
            var context = LayerContext()
            let rows = batch.rows(share)
            total += Double(loss(rows.targets, model(Traced(rows.inputs), context: &context)).value.scalar) * Double(share.count)
            seen += share.count
        }
        if communicator.size > 1 {
            var sums: [Float] = [Float(total), Float(seen)]
            try sums.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
            (total, seen) = (Double(sums[0]), Int(sums[1]))
        }
        return seen > 0 ? total / Double(seen) : .nan
    }

    public func saveCheckpoint(to path: String) throws {
        var position = ["epochs_completed": String(completedEpochs), "seed": String(seed), "optimizer_iterations": String(optimizer.iterations),
                        "learning_rate_scale": String(optimizer.learningRateScale)]
        for (key, value) in callbackState { position["callback." + key] = value }
        var checkpoint = Checkpoint(metadata: metadata.merging(position) { _, new in new })
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
