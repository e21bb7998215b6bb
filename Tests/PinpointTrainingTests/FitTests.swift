import Foundation
import PinpointTraining
import PinpointLayers
import PinpointAutograd
import PinpointMetrics
import PinpointModels
import PinpointOptimizers
import PinpointTensor
import XCTest

/// An in-memory source with a seeded order per epoch.
struct ArraySource: BatchSource {
    let inputs: Tensor, targets: Tensor, batchSize: Int
    var batchesPerEpoch: Int { (inputs.shape[0] + batchSize - 1) / batchSize }
    func batches(epoch: Int) -> () throws -> TrainingBatch? {
        var order = Array(0..<inputs.shape[0])
        var rng = SeededGenerator(seed: UInt64(epoch) + 100)
        order.shuffle(using: &rng)
        var start = 0
        return {
            guard start < order.count else { return nil }
            let rows = order[start..<min(start + batchSize, order.count)]
            start += batchSize
            return TrainingBatch(inputs: Tensor.stack(rows.map { inputs[index: $0] }), targets: Tensor.stack(rows.map { targets[index: $0] }))
        }
    }
}

final class FitTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-fit-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Images whose target is the mean brightness of each half: learnable, small.
    func data(_ n: Int, seed: UInt64) -> ArraySource {
        var rng = SeededGenerator(seed: seed)
        let x = Tensor.uniform([n, 6, 6, 1], using: &rng)
        let y = Tensor.concatenate([x.sliced(alongAxis: 2, from: 0, to: 3).mean(alongAxes: [1, 2]),
                                    x.sliced(alongAxis: 2, from: 3, to: 6).mean(alongAxes: [1, 2])], alongAxis: 1)
        return ArraySource(inputs: x, targets: y, batchSize: 8)
    }

    func model(seed: UInt64) throws -> Sequential {
        try Sequential(inputShape: [6, 6, 1], [Conv2D(4, padding: .same, activation: .relu), BatchNormalization(), Flatten(),
                                               Dense(8, activation: .relu), Dropout(0.2), Dense(2)], seed: seed)
    }

    func trainer(_ model: Sequential, checkpoint: String? = nil) -> Trainer {
        let t = Trainer(model: model, loss: MeanSquaredError(),
                        optimizer: RMSprop(model.trainableParameters,
                                           learningRate: ExponentialDecay(initial: 3e-3, decaySteps: 10, decayRate: 0.5, staircase: true),
                                           momentum: 0.9),
                        seed: 7, checkpointPath: checkpoint, metadata: ["architecture": "test"])
        t.showsProgress = false
        return t
    }

    func testTheLossFallsAndValidationIsReported() throws {
        let t = trainer(try model(seed: 1))
        let history = try t.fit(train: data(48, seed: 1), validation: data(16, seed: 2), epochs: 8)
        XCTAssertEqual(history.map(\.epoch), Array(1...8))
        XCTAssertLessThan(history.last!.trainingLoss, 0.5 * history.first!.trainingLoss)
        XCTAssertNotNil(history.last!.validationLoss)
        XCTAssertLessThan(history.last!.validationLoss!, history.first!.validationLoss!)
    }

    func testResumingGivesTheSameWeightsAsAnUninterruptedRun() throws {
        let straight = try model(seed: 1)
        try trainer(straight, checkpoint: directory + "/straight.safetensors").fit(train: data(40, seed: 1), epochs: 3)

        let first = try model(seed: 1)
        try trainer(first, checkpoint: directory + "/part.safetensors").fit(train: data(40, seed: 1), epochs: 1)
        let resumed = try model(seed: 99)  // different initial weights: everything must come from the checkpoint
        let t = trainer(resumed, checkpoint: directory + "/part.safetensors")
        XCTAssertEqual(try t.resume(from: directory + "/part.safetensors"), 1)
        try t.fit(train: data(40, seed: 1), epochs: 3)

        for (a, b) in zip(straight.parameters, resumed.parameters) {
            XCTAssertEqual(a.parameter.value, b.parameter.value, "\(a.name) differs after resuming")
        }
        let saved = try Checkpoint(contentsOf: directory + "/part.safetensors")
        XCTAssertEqual(saved.metadata["epochs_completed"], "3")
        XCTAssertEqual(saved.metadata["architecture"], "test")
        XCTAssertEqual(saved.optimizerState["optimizer.iterations"]?.scalar, 15)
    }

    func testANonFiniteLossStopsWithAClearMessage() throws {
        var source = data(16, seed: 1)
        var x = source.inputs
        x[3, 0, 0, 0] = .nan
        source = ArraySource(inputs: x, targets: source.targets, batchSize: 8)
        XCTAssertThrowsError(try trainer(try model(seed: 1)).fit(train: source, epochs: 1)) { error in
            XCTAssertTrue("\(error)".contains("the loss is nan; stopping"), "\(error)")
        }
    }

    func testResumingWithAnotherSeedIsRefused() throws {
        let m = try model(seed: 1)
        try trainer(m, checkpoint: directory + "/a.safetensors").fit(train: data(16, seed: 1), epochs: 1)
        let other = Trainer(model: m, loss: MeanSquaredError(), optimizer: RMSprop(m.trainableParameters, momentum: 0.9), seed: 8)
        XCTAssertThrowsError(try other.resume(from: directory + "/a.safetensors")) { XCTAssertTrue("\($0)".contains("seed 7"), "\($0)") }
    }

    /// Puts a scripted validation value into the trainer's metrics, as the command line's
    /// evaluation does, so the callbacks after it have something to decide on.
    struct ScriptedValidation: TrainingCallback {
        let values: [Double]
        func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
            trainer.metrics["val_loss"] = values[result.epoch - 1]
        }
    }

    /// Validation loss 1.0, 0.5 (best), then worse: EarlyStopping(patience 4) stops after epoch 6,
    /// the best checkpoint is epoch 2's, and ReduceLROnPlateau(0.5, patience 2) halves the rate
    /// after epochs 4 and 6. A run resumed after epoch 3 stops at the same epoch with the same
    /// weights and rate, which needs the callbacks' state from the checkpoint.
    func testEarlyStoppingBestCheckpointAndPlateauDecideAsOneRunAfterAResume() throws {
        let values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
        func callbacks() -> [any TrainingCallback] {
            [ScriptedValidation(values: values), EarlyStopping(patience: 4), BestCheckpoint(path: directory + "/best.safetensors"),
             ReduceLROnPlateau(factor: 0.5, patience: 2)]
        }
        let straight = trainer(try model(seed: 1), checkpoint: directory + "/straight.safetensors")
        let history = try straight.fit(train: data(16, seed: 1), epochs: 8, callbacks: callbacks())
        XCTAssertEqual(history.count, 6, "no gain after epoch 2 for 4 epochs: stops after epoch 6")
        XCTAssertEqual(straight.completedEpochs, 6)
        XCTAssertEqual(straight.optimizer.learningRateScale, 0.25, "halved after epochs 4 and 6")
        XCTAssertEqual(try Checkpoint(contentsOf: directory + "/best.safetensors").metadata["epochs_completed"], "2")

        let first = trainer(try model(seed: 1), checkpoint: directory + "/part.safetensors")
        try first.fit(train: data(16, seed: 1), epochs: 3, callbacks: callbacks())
        let resumed = trainer(try model(seed: 99), checkpoint: directory + "/part.safetensors")
        XCTAssertEqual(try resumed.resume(from: directory + "/part.safetensors"), 3)
        let rest = try resumed.fit(train: data(16, seed: 1), epochs: 8, callbacks: callbacks())
        XCTAssertEqual(rest.map(\.epoch), [4, 5, 6])
        XCTAssertEqual(resumed.optimizer.learningRateScale, 0.25)
        for (a, b) in zip(straight.parameters, resumed.parameters) {
            XCTAssertEqual(a.parameter.value.scalars, b.parameter.value.scalars, a.name)
        }
    }

    /// A damaged training position in a checkpoint is an error naming the file, never a trap:
    /// the step count is converted to Int and the epoch count seeds the next epoch's stream.
    func testResumingFromADamagedPositionIsAnErrorNamingTheFile() throws {
        let m = try model(seed: 1), path = directory + "/a.safetensors"
        try trainer(m, checkpoint: path).fit(train: data(16, seed: 1), epochs: 1)
        let saved = try Checkpoint(contentsOf: path)
        func steps(_ value: Tensor) -> (inout Checkpoint) -> Void {
            { checkpoint in checkpoint.tensors = checkpoint.tensors.map { $0.name == "optimizer.iterations" ? ($0.name, value) : $0 } }
        }
        let damages: [(String, (inout Checkpoint) -> Void, String)] = [
            ("NaN steps", steps(Tensor(shape: [], scalars: [.nan])), "optimizer.iterations is"),
            ("1e30 steps", steps(Tensor(shape: [], scalars: [1e30])), "not one whole number"),
            ("negative steps", steps(Tensor(shape: [], scalars: [-3])), "not one whole number"),
            ("two steps", steps(Tensor(shape: [2], scalars: [1, 2])), "is [2]"),
            ("negative epochs", { $0.metadata["epochs_completed"] = "-1" }, "no epochs_completed"),
        ]
        for (name, damage, reason) in damages {
            var checkpoint = saved
            damage(&checkpoint)
            let damaged = directory + "/damaged.safetensors"
            try checkpoint.write(to: damaged)
            XCTAssertThrowsError(try trainer(try model(seed: 2)).resume(from: damaged), name) { error in
                XCTAssertTrue("\(error)".hasPrefix(damaged + ": ") && "\(error)".contains(reason), "\(name): \(error)")
            }
        }
    }

    func testAParameterLeftOutOfWeightsOrReadWithoutTheContextStopsTheFirstStep() throws {
        /// A user's layer with two ways to train nothing: `hidden` is read through the context but
        /// missing from `weights`; `bypassed` is listed but read as a plain value, off the tape.
        final class Careless: Layer {
            var name = ""
            let listsHidden: Bool, bypasses: Bool
            let hidden = Parameter(Tensor(Float(1)))
            let bypassed = Parameter(Tensor(Float(0)))
            init(listsHidden: Bool, bypasses: Bool) { (self.listsHidden, self.bypasses) = (listsHidden, bypasses) }
            var weights: [(name: String, parameter: Parameter)] { (listsHidden ? [("hidden", hidden)] : []) + [("bypassed", bypassed)] }
            func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
            func callAsFunction(_ x: Traced, context: inout LayerContext) -> Traced {
                x * context.read(hidden) + (bypasses ? Traced(bypassed.value) : context.read(bypassed))
            }
        }
        func firstStep(_ layer: Careless) throws {
            let model = try Sequential(inputShape: [6, 6, 1], [layer, Flatten(), Dense(2)], seed: 1)
            let t = trainer(model)
            let batch = try XCTUnwrap(data(8, seed: 1).batches(epoch: 0)())
            try t.step(on: batch, seed: 0)
        }
        XCTAssertThrowsError(try firstStep(Careless(listsHidden: false, bypasses: false))) { error in
            XCTAssertEqual("\(error)", "layer 'careless': parameter 'hidden' is not in the layer's `weights`, so no optimizer updates it; list it there")
        }
        XCTAssertThrowsError(try firstStep(Careless(listsHidden: true, bypasses: true))) { error in
            XCTAssertTrue("\(error)".hasPrefix("layer 'careless': parameter 'bypassed' was not read with `context.read`"), "\(error)")
        }
        XCTAssertNoThrow(try firstStep(Careless(listsHidden: true, bypasses: false)))
    }
}
