import Foundation
import Pinpoint
import XCTest

/// Runs the Distributed package's `pinpoint` under `mpirun` as a user would, and holds data-parallel
/// training to one process's results: the same weights, bit-identical repeats, a killed rank that
/// ends the job, and ranks that disagree named in the error.
final class DataParallelTests: XCTestCase {
    /// `swift build --build-tests` puts the executable beside the test bundle.
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinpoint-mpi").path
    static let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    var directory: String!

    override func setUpWithError() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.executable), "\(Self.executable) is not built")
        XCTAssertNotNil(Self.mpirun, "mpirun is not installed (apt-get install openmpi-bin)")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-mpi-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    struct Run { let status: Int32; let output: String; let error: String; let seconds: Double }

    /// Runs `pinpoint arguments` alone (ranks 0) or under `mpirun -np ranks`, one thread per rank.
    @discardableResult
    func run(ranks: Int, _ arguments: [String], mpmd: [String]? = nil, onStart: ((Process) throws -> Void)? = nil) throws -> Run {
        let process = Process()
        var environment = ProcessInfo.processInfo.environment
        environment["PINPOINT_THREADS"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        // Shared memory between the ranks; no network interfaces are probed in a container.
        environment["OMPI_MCA_btl"] = "self,vader"
        process.environment = environment
        if ranks == 0 {
            process.executableURL = URL(fileURLWithPath: Self.executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.mpirun!)
            var command = ["--oversubscribe", "-np", String(ranks), Self.executable] + arguments
            if let mpmd { command += [":", "-np", "1", Self.executable] + mpmd }
            process.arguments = command
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let start = Date()
        try process.run()
        try onStart?(process)
        let output = out.fileHandleForReading.readDataToEndOfFile(), error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                   error: String(decoding: error, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }

    /// Records for a small run at 32x32: 21 from 30 pets (the last global batch of 8 is 5, split 3
    /// and 2), 101 from 110 (batches of 40, 40 and 21, the last split 11 and 10).
    func records(pets count: Int = 30) throws -> (train: String, val: String) {
        let pets = directory + "/pets", prep = directory + "/prep"
        XCTAssertEqual(try run(ranks: 0, ["synth", "--out", pets, "--count", String(count), "--seed", "3"]).status, 0)
        XCTAssertEqual(try run(ranks: 0, ["prepare", "--data", pets, "--out", prep, "--size", "32", "--val-count", "4"]).status, 0)
        return (prep + "/loc_train.tfr", prep + "/loc_val.tfr")
    }

    func train(ranks: Int, _ data: (train: String, val: String), out: String, epochs: Int = 2, batch: Int = 8, extra: [String] = [],
               onStart: ((Process) throws -> Void)? = nil) throws -> Run {
        try run(ranks: ranks, ["train", "--train", data.train, "--val", data.val, "--out", out, "--epochs", String(epochs),
                               "--batch", String(batch), "--seed", "5", "--quiet"] + extra, onStart: onStart)
    }

    func weights(_ path: String) throws -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: try Checkpoint(contentsOf: path).tensors.map { ($0.name, $0.tensor.scalars) })
    }

    /// Global batch 40 on 2 ranks against batch 40 in one process: the same Dropout masks, the same
    /// averaged gradients (summed in another order), so the same weights up to float rounding as
    /// RMSprop amplifies it: each parameter tensor within 1e-3 of its norm. RMSprop divides by the
    /// root of the squared gradients, so the rounding of a near-zero gradient becomes a step of
    /// the learning rate's size; the biases, which start at zero, show it most. After 2 epochs the
    /// worst tensor was 1.7e-6 of its norm with the avx512 kernels, 2.1e-6 with generic and 2.7e-4
    /// with avx2 (its kernel tensors within 2.5e-6); averaging the gradients wrongly, as without
    /// per-global-sample Dropout masks, is 0.5 off. (The optimizer's slots are compared by the
    /// weights they move; a slot's near-zero elements differ by more, relative to its own norm.)
    func testTwoRanksTrainTheWeightsOneProcessDoes() throws {
        let data = try records(pets: 110)
        let alone = try train(ranks: 0, data, out: directory + "/alone.safetensors", batch: 40)
        XCTAssertEqual(alone.status, 0, alone.error)
        let two = try train(ranks: 2, data, out: directory + "/two.safetensors", batch: 40)
        XCTAssertEqual(two.status, 0, two.error)
        XCTAssertEqual(two.output.components(separatedBy: "epoch 2/2: train loss").count, 2, "rank 0 alone prints: \(two.output)")
        let a = try weights(directory + "/alone.safetensors"), b = try weights(directory + "/two.safetensors")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst = (name: "", difference: 0.0)
        for (name, x) in a where !name.hasPrefix("optimizer.") {
            let y = try XCTUnwrap(b[name])
            let norm = zip(x, x).map { Double($0) * Double($1) }.reduce(0, +).squareRoot()
            let difference = zip(x, y).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot() / Swift.max(norm, 1e-30)
            if difference > worst.difference { worst = (name, difference) }
        }
        XCTAssertLessThanOrEqual(worst.difference, 1e-3, "\(worst.name): |two ranks - one process| / |one process|")
        XCTAssertGreaterThan(a.keys.filter { !$0.hasPrefix("optimizer.") }.count, 10)
        print("2 ranks against 1 process after 2 epochs: worst relative difference \(worst.difference) (\(worst.name))")
    }

    func testTheSameRanksAndSeedGiveBitIdenticalCheckpoints() throws {
        let data = try records()
        for name in ["first", "second"] {
            let result = try train(ranks: 2, data, out: "\(directory!)/\(name).safetensors")
            XCTAssertEqual(result.status, 0, result.error)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/first.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: directory + "/second.safetensors")))
    }

    /// A rank killed mid-training ends the job (non-zero, no hang); the checkpoint on disk is whole,
    /// and resuming from it gives the uninterrupted run's weights.
    func testAKilledRankEndsTheJobAndTheRunResumesToTheSameWeights() throws {
        let data = try records()
        let straight = try train(ranks: 2, data, out: directory + "/straight.safetensors", epochs: 4)
        XCTAssertEqual(straight.status, 0, straight.error)

        let path = directory + "/killed.safetensors"
        var killedAt = Date()
        let killed = try train(ranks: 2, data, out: path, epochs: 400) { mpirun in
            // Wait for the first checkpoint, then kill rank 1 (a child of mpirun) with SIGKILL.
            let deadline = Date().addingTimeInterval(120)
            while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(20_000) }
            let rank = try XCTUnwrap(Self.child(of: mpirun.processIdentifier, rank: 1), "rank 1 not found")
            killedAt = Date()
            kill(rank, SIGKILL)
        }
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(killedAt), 60, "the job took over 60 s to end after the kill")
        let epochs = try XCTUnwrap(Int(try Checkpoint(contentsOf: path).metadata["epochs_completed"] ?? ""))
        XCTAssertGreaterThanOrEqual(epochs, 1)
        XCTAssertLessThan(epochs, 400)

        // The resumed run continues to 4 epochs from wherever the kill left it (past 4: start over
        // from a copy of an earlier state instead).
        if epochs < 4 {
            let resumed = try train(ranks: 2, data, out: path, epochs: 4, extra: ["--resume"])
            XCTAssertEqual(resumed.status, 0, resumed.error)
            XCTAssertTrue(resumed.output.contains("resumed from \(path) after epoch \(epochs)"), resumed.output)
            XCTAssertEqual(try weights(path), try weights(directory + "/straight.safetensors"))
        }
    }

    /// A rank that cannot read its data, or that was given another batch, fails the whole job with
    /// a message naming the rank.
    func testARankThatCannotReadItsDataOrDisagreesFailsTheJob() throws {
        let data = try records()
        let common = ["train", "--val", data.val, "--out", directory + "/m.safetensors", "--epochs", "1", "--quiet"]
        let missing = try run(ranks: 1, common + ["--train", data.train, "--batch", "8"],
                              mpmd: common + ["--train", directory + "/nowhere.tfr", "--batch", "8"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.error.contains("rank 1 of 2: ") && missing.error.contains("nowhere.tfr"), missing.error)

        let disagree = try run(ranks: 1, common + ["--train", data.train, "--batch", "8"], mpmd: common + ["--train", data.train, "--batch", "6"])
        XCTAssertNotEqual(disagree.status, 0)
        XCTAssertTrue(disagree.error.contains("ranks disagree on --batch"), disagree.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/m.safetensors"))
    }

    /// MobileNetV2's BatchNormalization normalises each rank's share with that share's statistics.
    /// The reference is one process that runs each half of every global batch (`batchShare`)
    /// through the model on its own, so each half gets its own batch statistics, adds the halves'
    /// gradients weighted by their counts, applies one update, and keeps the moving statistics
    /// the first half left (rank 0's, which the checkpoint holds). One process on whole batches
    /// normalises over all 8 samples and ends elsewhere.
    ///
    /// Two steps (16 records): rounding grows fast here. At 4 samples per rank, RMSprop divides
    /// near-zero gradients (the projections' BatchNormalization betas) by their own RMS, so a
    /// rounding-level change in their sign becomes a learning-rate-sized step; after one step the
    /// runs agree to 1e-11, after two to about 1e-5, after three to 1e-3.
    func testMobileNetV2NormalizesPerRankAsAOneProcessHalfBatchReference() throws {
        var data = try records()
        do {
            let reader = try TFRecordReader(path: data.train), writer = try TFRecordWriter(path: directory + "/sixteen.tfr")
            for _ in 0..<16 { try writer.write(try XCTUnwrap(try reader.next())) }
            try writer.close()
            data.train = directory + "/sixteen.tfr"
        }
        let mobile = ["--model", "mobilenetv2", "--alpha", "0.35"]
        let two = try train(ranks: 2, data, out: directory + "/two.safetensors", epochs: 1, extra: mobile)
        XCTAssertEqual(two.status, 0, two.error)
        let alone = try train(ranks: 0, data, out: directory + "/alone.safetensors", epochs: 1, extra: mobile)
        XCTAssertEqual(alone.status, 0, alone.error)

        let configuration = ModelConfiguration.mobileNetV2(alpha: 0.35, imageSize: 32)
        let model = try configuration.makeModel(seed: 5)
        let pipeline = try LocalizationBatches(paths: [data.train], batchSize: 8, shuffleBuffer: 1000, seed: 5,
                                               scale: configuration.inputScale, offset: configuration.inputOffset)
        let optimizer = configuration.tutorialOptimizer(for: model, learningRate: 1e-4, decaySteps: 10 * Double(pipeline.recordCount) / 8)
        let trained = optimizer.parameters.map(\.parameter)
        let moving = model.weights.map(\.parameter).filter { !$0.isTrainable }
        XCTAssertFalse(moving.isEmpty)
        let next = LocalizationBatchSource(pipeline, targets: configuration.tutorialTargets).batches(epoch: 0)
        while let batch = try next() {
            var sum: [Tensor] = []
            var firstHalfStatistics: [Tensor] = []
            for rank in 0..<2 {
                let rows = batchShare(count: batch.count, rank: rank, size: 2)
                if rank == 1 { firstHalfStatistics = moving.map(\.value) }
                let tape = GradientTape()
                var context = LayerContext(training: true, tape: tape)
                let output = model(Traced(batch.inputs.sliced(alongAxis: 0, from: rows.lowerBound, to: rows.upperBound)), context: &context)
                let loss = configuration.tutorialLoss(batch.targets.sliced(alongAxis: 0, from: rows.lowerBound, to: rows.upperBound), output)
                let gradients = tape.gradient(of: loss, wrt: trained).map { $0 * Float(rows.count) }
                sum = sum.isEmpty ? gradients : zip(sum, gradients).map { $0 + $1 }
            }
            for (parameter, value) in zip(moving, firstHalfStatistics) { parameter.value = value }
            optimizer.apply(sum.map { $0 / Float(batch.count) })
        }
        let reference = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.parameter.value.scalars) })
        // Over all weights at once: the projections' BatchNormalization betas stay near 1e-6, where
        // a tensor's own norm is no scale for rounding.
        func difference(_ other: [String: [Float]]) throws -> Double {
            var squares = 0.0, norm = 0.0
            for (name, x) in reference {
                let y = try XCTUnwrap(other[name], name)
                squares += zip(x, y).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
                norm += x.map { Double($0) * Double($0) }.reduce(0, +)
            }
            return (squares / norm).squareRoot()
        }
        let ranks = try difference(try weights(directory + "/two.safetensors"))
        XCTAssertLessThanOrEqual(ranks, 1e-4, "|two ranks - half-batch reference| / |reference|, over all weights")
        let whole = try difference(try weights(directory + "/alone.safetensors"))
        XCTAssertGreaterThan(whole, 100 * Swift.max(ranks, 1e-6), "one process on whole batches should end elsewhere")
        print("MobileNetV2 after an epoch, relative to the half-batch reference: 2 ranks \(ranks), one process on whole batches \(whole)")
    }

    /// Three shards over 2 ranks: each rank reads its own files (0 and 2, or 1), every rank takes
    /// the steps the smaller share gives, and the run repeats bit for bit. Alone, the same glob
    /// reads every shard.
    func testRanksReadTheirOwnShardsAndAgreeOnTheSteps() throws {
        let data = try records()
        let reader = try TFRecordReader(path: data.train)
        var shards = try (0..<3).map { try TFRecordWriter(path: "\(directory!)/shard-\($0).tfr") }
        var index = 0
        while let record = try reader.next() {
            try shards[index % 3].write(record)
            index += 1
        }
        for shard in shards { try shard.close() }
        shards.removeAll()
        let glob = directory + "/shard-*.tfr"
        let alone = try run(ranks: 0, ["train", "--train", glob, "--val", data.val, "--out", directory + "/alone.safetensors", "--epochs", "1",
                                       "--batch", "8", "--quiet"])
        XCTAssertEqual(alone.status, 0, alone.error)
        XCTAssertTrue(alone.output.contains("training on \(index) records"), alone.output)
        for name in ["first", "second"] {
            let result = try run(ranks: 2, ["train", "--train", glob, "--val", data.val, "--out", "\(directory!)/\(name).safetensors",
                                            "--epochs", "2", "--batch", "8", "--seed", "5", "--quiet"])
            XCTAssertEqual(result.status, 0, result.error)
            XCTAssertTrue(result.output.contains("sharding by file: 3 files over 2 ranks"), result.output)
            // Rank 0 holds two thirds of the records in batches of 4, rank 1 a third: rank 1's count decides.
            XCTAssertTrue(result.output.contains("sharding by file: 2 steps per epoch"), result.output)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/first.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: directory + "/second.safetensors")))
    }

    /// Pinpoint's own `pinpoint` (no MPI) started by mpirun refuses, naming pinpoint-mpi, rather than
    /// train N separate copies into one checkpoint.
    func testThePlainBuildUnderMpirunRefusesAndNamesTheMPIBuild() throws {
        let plain = URL(fileURLWithPath: Self.executable).deletingLastPathComponent().appendingPathComponent("pinpoint").path
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: plain), "\(plain) is not built")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mpirun!)
        process.arguments = ["--oversubscribe", "-np", "2", plain, "cpu"]
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(error.contains("this build has no MPI") && error.contains("pinpoint-mpi"), error)
    }

    /// The pid of `parent`'s child whose environment gives it MPI rank `rank`.
    static func child(of parent: Int32, rank: Int) -> Int32? {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                  let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
