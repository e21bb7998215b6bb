import Foundation
import PinpointData
import PinpointModels
import PinpointTraining
import XCTest

/// Runs the built `pinpoint` executable as a user would: exit statuses, standard output and error.
final class CommandTests: XCTestCase {
    var directory: String!

    /// `swift build --build-tests` puts the executable beside the test bundle.
    static let executable: URL = {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinpoint")
    }()

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.executable.path),
                          "pinpoint not built next to the tests (run `swift build --build-tests` first)")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    struct Run { let status: Int32; let output: String; let error: String }

    func pinpoint(_ arguments: String...) throws -> Run { try pinpoint(arguments) }

    func pinpoint(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile(), error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), error: String(decoding: error, as: UTF8.self))
    }

    func testSynthPrepareDumpAndShow() throws {
        let pets = directory + "/pets", prep = directory + "/prep"
        let synth = try pinpoint("synth", "--out", pets, "--count", "14", "--seed", "2")
        XCTAssertEqual(synth.status, 0, synth.error)
        XCTAssertTrue(synth.output.contains("wrote 13 images and 13 annotations"), synth.output)

        let prepare = try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "32", "--val-count", "3", "--verbose")
        XCTAssertEqual(prepare.status, 0, prepare.error)
        XCTAssertTrue(prepare.output.contains("wrote 6 training records"), prepare.output)
        XCTAssertTrue(prepare.output.contains("wrote 3 validation records"), prepare.output)
        XCTAssertTrue(prepare.output.contains("skipped 5: "), prepare.output)
        XCTAssertTrue(prepare.error.contains("writing 9/9 pairs"), "progress line on standard error: \(prepare.error)")

        let dump = try pinpoint("tfrecord", "dump", prep + "/loc_val.tfr")
        XCTAssertEqual(dump.status, 0, dump.error)
        let lines = dump.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: [String: Any]]
            XCTAssertEqual(Set(object.keys), ["image", "cls_num", "x", "y", "w", "h"])
            XCTAssertEqual(object["cls_num"]?["kind"] as? String, "int64")
            let image = (object["image"]?["values"] as! [[String: Any]])[0]
            XCTAssertEqual(image["length"] as? Int, 32 * 32 * 3)
        }
        XCTAssertEqual(try pinpoint("tfrecord", "dump", prep + "/loc_val.tfr", "--limit", "1").output.split(separator: "\n").count, 1)

        let show = try pinpoint("show", "--tfrecord", prep + "/loc_val.tfr", "--index", "1", "--out", directory + "/one.png")
        XCTAssertEqual(show.status, 0, show.error)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/one.png"))
        let name = try FileManager.default.contentsOfDirectory(atPath: pets + "/annotations/xmls").sorted()[0].dropLast(4)
        let original = try pinpoint("show", "--data", pets, "--name", String(name), "--out", directory + "/two.png")
        XCTAssertEqual(original.status, 0, original.error)
    }

    func testACorruptRecordStopsTheDumpWithItsLocation() throws {
        let pets = directory + "/pets", prep = directory + "/prep"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "6").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "1").status, 0)
        let path = prep + "/loc_train.tfr"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let recordLength = 12 + Int(bytes[0]) + Int(bytes[1]) << 8 + Int(bytes[2]) << 16 + 4
        bytes[recordLength + 20] ^= 0xFF  // inside the second record's data
        try bytes.write(to: URL(fileURLWithPath: path))
        let dump = try pinpoint("tfrecord", "dump", path)
        XCTAssertNotEqual(dump.status, 0)
        XCTAssertEqual(dump.output.split(separator: "\n").count, 1, "the first record was printed before the corrupt one")
        XCTAssertTrue(dump.error.contains("data CRC mismatch in record 1 at byte offset \(recordLength)"), dump.error)
    }

    func testShowNamesTheFileAndRecordOfAnIncompleteExample() throws {
        let path = directory + "/no-box.tfr", writer = try TFRecordWriter(path: path)
        try writer.write(Example(features: ["image": .bytes([[UInt8](repeating: 9, count: 12)]), "cls_num": .int64s([1])]).serialized())
        try writer.close()
        let show = try pinpoint("show", "--tfrecord", path, "--index", "0", "--out", directory + "/box.png")
        XCTAssertNotEqual(show.status, 0)
        XCTAssertTrue(show.error.contains("\(path): record 0: feature 'x': missing"), show.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/box.png"))
    }

    /// --log writes history.csv and a TensorBoard event file; a second run into the same log is
    /// refused unless it resumes (then appended) or overwrites.
    func testTrainingLogsAreWrittenResumedAndProtected() throws {
        let pets = directory + "/pets", prep = directory + "/prep", ckpt = directory + "/m.safetensors", logs = directory + "/logs"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "12", "--seed", "4").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "2").status, 0)
        func train(_ extra: String...) throws -> Run {
            try pinpoint(["train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", ckpt, "--batch", "4",
                          "--quiet", "--log", logs] + extra)
        }
        let first = try train("--epochs", "1")
        XCTAssertEqual(first.status, 0, first.error)
        func rows() throws -> [String] { try String(contentsOfFile: logs + "/history.csv", encoding: .utf8).split(separator: "\n").map(String.init) }
        XCTAssertEqual(try rows().first, "epoch,learning_rate,train_loss,val_loss,val_mean_iou,val_iou50,seconds")
        XCTAssertEqual(try rows().count, 2)
        let row = try rows()[1]
        XCTAssertTrue(row.hasPrefix("1,0.0001,"), row)
        let events = try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1)

        let again = try train("--epochs", "1")
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.error.contains("already holds a run (history.csv): pass --resume to continue it, or --overwrite"), again.error)
        let resumed = try train("--epochs", "2", "--resume")
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertEqual(try rows().map { $0.prefix(2) }, ["ep", "1,", "2,"])
        let evaluated = try pinpoint("evaluate", "--model", ckpt, "--data", prep + "/loc_val.tfr", "--plot", directory + "/evaluation")
        XCTAssertEqual(evaluated.status, 0, evaluated.error)
        let success = try ImageCodec.decode(path: directory + "/evaluation/success.png").image
        XCTAssertEqual([success.width, success.height], [520, 400])
        let worst = try ImageCodec.decode(path: directory + "/evaluation/worst.png").image
        XCTAssertEqual(worst.width, 4 * (32 + 8) + 8, "four 2x cells of the 16-pixel images per row")
        XCTAssertTrue(stride(from: 0, to: worst.pixels.count, by: 3).contains { worst.pixels[$0..<$0 + 3].elementsEqual([230, 0, 0]) },
                      "predictions drawn in red")
        let plot = try pinpoint("plot", logs, "--out", directory + "/curves.png")
        XCTAssertEqual(plot.status, 0, plot.error)
        let curves = try ImageCodec.decode(path: directory + "/curves.png").image
        XCTAssertEqual([curves.width, curves.height], [960, 400])
        let colors = Set(stride(from: 0, to: curves.pixels.count, by: 3).map { i in curves.pixels[i..<i + 3].map(Int.init) })
        for series in [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189]] {
            XCTAssertTrue(colors.contains(series), "the series drawn in \(series) is missing")
        }
        // Several files, comma-separated, are one stream.
        var records = 0
        let reader = try TFRecordReader(path: prep + "/loc_train.tfr")
        while try reader.next() != nil { records += 1 }
        let twice = try pinpoint("train", "--train", prep + "/loc_train.tfr," + prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr",
                                 "--out", directory + "/twice.safetensors", "--epochs", "1", "--batch", "4", "--quiet")
        XCTAssertEqual(twice.status, 0, twice.error)
        XCTAssertTrue(twice.output.contains("training on \(2 * records) records"), twice.output)
        let replaced = try train("--epochs", "1", "--overwrite")
        XCTAssertEqual(replaced.status, 0, replaced.error)
        XCTAssertEqual(try rows().count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasPrefix("events.out.tfevents.") }.count, 1)
    }

    /// Keras's callbacks from the command line: early stopping, the best checkpoint and a plateau
    /// schedule on val_iou; wrong values are refused before any work, with what is accepted.
    func testCallbacksStopEarlyKeepTheBestAndRefuseBadValues() throws {
        let pets = directory + "/pets", prep = directory + "/prep"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "12", "--seed", "4").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "2").status, 0)
        let common = ["train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", directory + "/m.safetensors",
                      "--batch", "4", "--quiet"]
        let run = try pinpoint(common + ["--epochs", "40", "--early-stopping-patience", "1", "--monitor", "val_iou",
                                         "--best", directory + "/best.safetensors", "--reduce-lr-on-plateau", "0.5,1"])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.contains("stopped early after epoch "), run.output)
        XCTAssertFalse(run.output.contains("epoch 40/40"), run.output)
        let best = try Checkpoint(contentsOf: directory + "/best.safetensors")
        XCTAssertNotNil(best.metadata["epochs_completed"].flatMap(Int.init))
        for (arguments, message) in [(["--early-stopping-patience", "0"], "--early-stopping-patience must be positive"),
                                     (["--monitor", "accuracy"], "unknown --monitor 'accuracy' (known: val_loss, val_iou)"),
                                     (["--reduce-lr-on-plateau", "2,1"], "--reduce-lr-on-plateau takes FACTOR,PATIENCE")] {
            let refused = try pinpoint(common + arguments)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.error.contains(message), refused.error)
        }
    }

    /// An IoU box loss trains end to end from the command line; an unknown one is refused.
    func testTrainWithAnIoUBoxLossAndL1() throws {
        let pets = directory + "/pets", prep = directory + "/prep", ckpt = directory + "/ciou.safetensors"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "12", "--seed", "4").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "2").status, 0)
        let train = try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", ckpt,
                                 "--epochs", "1", "--batch", "4", "--box-loss", "ciou", "--box-l1", "1", "--quiet")
        XCTAssertEqual(train.status, 0, train.error)
        XCTAssertTrue(train.output.contains("box loss: ciou + 1.0 x L1"), train.output)
        XCTAssertTrue(train.output.contains("epoch 1/1: train loss"), train.output)
        // evaluate reports the loss the checkpoint trained with: the epoch line's val loss.
        let valLoss = try XCTUnwrap(train.output.components(separatedBy: "val loss ").last?.split(separator: ",").first.flatMap { Double($0) })
        let evaluate = try pinpoint("evaluate", "--model", ckpt, "--data", prep + "/loc_val.tfr", "--json")
        XCTAssertEqual(evaluate.status, 0, evaluate.error)
        let result = try JSONSerialization.jsonObject(with: Data(evaluate.output.utf8)) as! [String: Any]
        XCTAssertEqual(try XCTUnwrap(result["loss"] as? Double), valLoss, accuracy: 1e-5)
        let unknown = try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", ckpt, "--box-loss", "iou")
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.error.contains("unknown --box-loss 'iou' (known: mse, smoothl1, giou, diou, ciou)"), unknown.error)
    }

    /// `--weights` takes Keras's own HDF5 files: the alpha comes from the file, a wrong one is
    /// refused naming the tensor, and a damaged file is explained without HDF5's error stack.
    func testTrainReadsKerasHDF5WeightsDirectly() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("PinpointModelsTests/Fixtures/keras_h5").path
        let keras = fixtures + "/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
        let pets = directory + "/pets", prep = directory + "/prep"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "12", "--seed", "7").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "32", "--val-count", "2").status, 0)
        func train(_ extra: [String]) throws -> Run {
            try pinpoint(["train", "--model", "mobilenetv2", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr",
                          "--out", directory + "/m.safetensors", "--epochs", "1", "--batch", "4", "--quiet"] + extra)
        }
        let loaded = try train(["--weights", keras])
        XCTAssertEqual(loaded.status, 0, loaded.error)
        XCTAssertTrue(loaded.output.contains("(Keras 2 save_weights layout, alpha 0.35, stated for 96x96 and used at 32x32)"), loaded.output)
        XCTAssertTrue(loaded.output.contains("Model: \"mobilenetv2_0.35_32_two_head\""), "alpha 0.35 from the file: \(loaded.output)")

        let wrongAlpha = try train(["--weights", fixtures + "/classifier.weights.h5", "--alpha", "0.5"])
        XCTAssertNotEqual(wrongAlpha.status, 0)
        XCTAssertTrue(wrongAlpha.error.contains("classifier.weights.h5: block_1_project.kernel is [1, 1, 48, 8] in the file, [1, 1, 48, 16] in a MobileNetV2 of alpha 0.5; the file's shapes are those of alpha 0.35"), wrongAlpha.error)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: keras))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: directory + "/half.h5"))
        let damaged = try train(["--weights", directory + "/half.h5"])
        XCTAssertNotEqual(damaged.status, 0)
        XCTAssertTrue(damaged.error.contains("half.h5: "), damaged.error)
        XCTAssertFalse(damaged.error.contains("HDF5-DIAG"), "HDF5's own error stack stays hidden: \(damaged.error)")
    }

    /// Augmented training is inside the exact-resume guarantee: one epoch, then a resumed second,
    /// ends on the weights of two epochs in one go.
    func testAugmentedTrainingResumesAsOneRunAndShowDrawsTheDraws() throws {
        let pets = directory + "/pets", prep = directory + "/prep"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "14", "--seed", "6").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "2").status, 0)
        func train(_ out: String, epochs: Int, _ extra: [String] = []) throws -> Run {
            try pinpoint(["train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", out, "--epochs", String(epochs),
                          "--batch", "3", "--seed", "3", "--augment", "hflip,crop,scale,translate,color", "--quiet"] + extra)
        }
        let straight = try train(directory + "/straight.safetensors", epochs: 2)
        XCTAssertEqual(straight.status, 0, straight.error)
        XCTAssertTrue(straight.output.contains(#"augmentation: {"color": {"probability": 0.5"#), straight.output)
        XCTAssertEqual(try train(directory + "/parts.safetensors", epochs: 1).status, 0)
        let resumed = try train(directory + "/parts.safetensors", epochs: 2, ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        let a = try Checkpoint(contentsOf: directory + "/straight.safetensors"), b = try Checkpoint(contentsOf: directory + "/parts.safetensors")
        XCTAssertNotNil(a.metadata["augmentation"])
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        for ((name, x), (_, y)) in zip(a.tensors, b.tensors) { XCTAssertEqual(x.scalars, y.scalars, name) }
        let plain = try Checkpoint(contentsOf: directory + "/straight.safetensors")["dense_1.kernel"]
        XCTAssertEqual(try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--out", directory + "/plain.safetensors",
                                    "--epochs", "2", "--batch", "3", "--seed", "3", "--quiet").status, 0)
        XCTAssertNotEqual(try Checkpoint(contentsOf: directory + "/plain.safetensors")["dense_1.kernel"]?.scalars, plain?.scalars,
                          "augmentation changes what is learnt")

        let unknown = try train(directory + "/x.safetensors", epochs: 1, ["--augment", "hflip,rotate"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.error.contains("--augment: unknown augmentation 'rotate' (known: hflip, crop, scale, translate, color)"), unknown.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/x.safetensors"))

        let show = try pinpoint("show", "--tfrecord", prep + "/loc_train.tfr", "--index", "2", "--augment", "hflip,crop",
                                "--draws", "5", "--out", directory + "/grid.png")
        XCTAssertEqual(show.status, 0, show.error)
        XCTAssertTrue(show.output.contains("record 2 and 5 augmented draws"), show.output)
        let grid = try ImageCodec.decode(path: directory + "/grid.png").image
        XCTAssertEqual([grid.width, grid.height], [3 * (16 + 8) + 8, 2 * (16 + 24) + 8], "3 columns, 6 cells")
    }

    /// A record's box is data: NaN edges draw no box rather than trap, and a negative index is
    /// an argument error.
    func testShowDrawsNoBoxForNonFiniteEdgesAndRefusesANegativeIndex() throws {
        let path = directory + "/nan.tfr", writer = try TFRecordWriter(path: path)
        try writer.write(Example(features: ["image": .bytes([[UInt8](repeating: 9, count: 4 * 4 * 3)]), "cls_num": .int64s([1]),
                                            "x": .floats([.nan]), "y": .floats([0.5]), "w": .floats([1e30]), "h": .floats([0.2])]).serialized())
        try writer.close()
        let show = try pinpoint("show", "--tfrecord", path, "--index", "0", "--out", directory + "/nan.png")
        XCTAssertEqual(show.status, 0, show.error)
        XCTAssertEqual(try ImageCodec.decode(path: directory + "/nan.png").image.pixels, [UInt8](repeating: 9, count: 4 * 4 * 3))
        let negative = try pinpoint("show", "--tfrecord", path, "--index=-1", "--out", directory + "/nan.png")
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.error.contains("--index counts records from 0"), negative.error)
    }

    /// Records that no model can be built from are refused before a model is made: an empty file,
    /// and images smaller than MobileNetV2's five halvings allow.
    func testTrainRefusesRecordsNoModelCanBeBuiltFrom() throws {
        let empty = directory + "/empty.tfr"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        let train = try pinpoint("train", "--train", empty, "--val", empty, "--out", directory + "/m.safetensors", "--quiet")
        XCTAssertNotEqual(train.status, 0)
        XCTAssertTrue(train.error.contains("\(empty) holds no records"), train.error)

        let small = directory + "/small.tfr", writer = try TFRecordWriter(path: small)
        let box: [String: Feature] = ["x": .floats([0.5]), "y": .floats([0.5]), "w": .floats([0.2]), "h": .floats([0.2])]
        try writer.write(Example(features: box.merging(["image": .bytes([[UInt8](repeating: 9, count: 8 * 8 * 3)]),
                                                        "cls_num": .int64s([1])]) { a, _ in a }).serialized())
        try writer.close()
        let mobile = try pinpoint("train", "--model", "mobilenetv2", "--train", small, "--val", small, "--out", directory + "/m.safetensors", "--quiet")
        XCTAssertNotEqual(mobile.status, 0)
        XCTAssertTrue(mobile.error.contains("\(small) holds 8x8 images; mobilenetv2 is built at 32 to 1024 pixels"), mobile.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/m.safetensors"))
    }

    func testTrainResumeEvaluatePredictAndSummary() throws {
        let pets = directory + "/pets", prep = directory + "/prep", ckpt = directory + "/cnn.safetensors"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "16", "--seed", "4").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "16", "--val-count", "3").status, 0)
        let train = try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--epochs", "1",
                                 "--batch", "4", "--out", ckpt, "--quiet")
        XCTAssertEqual(train.status, 0, train.error)
        XCTAssertTrue(train.output.contains("conv2d_3 (Conv2D)"), "the summary is printed first")
        XCTAssertTrue(train.output.contains("epoch 1/1: train loss"), train.output)
        XCTAssertTrue(train.output.contains("val mean IoU"), train.output)
        let resumed = try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--epochs", "2",
                                   "--batch", "4", "--out", ckpt, "--resume", "--quiet")
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.output.contains("resumed from \(ckpt) after epoch 1"), resumed.output)
        XCTAssertTrue(resumed.output.contains("epoch 2/2"), resumed.output)
        XCTAssertFalse(resumed.output.contains("epoch 1/2"), "resuming does not redo epoch 1")

        let wrongSize = try pinpoint("train", "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--image-size", "224",
                                     "--out", directory + "/x.safetensors")
        XCTAssertNotEqual(wrongSize.status, 0)
        XCTAssertTrue(wrongSize.error.contains("--image-size 224 does not match the records"), wrongSize.error)

        let evaluate = try pinpoint("evaluate", "--model", ckpt, "--data", prep + "/loc_val.tfr", "--json")
        XCTAssertEqual(evaluate.status, 0, evaluate.error)
        let result = try JSONSerialization.jsonObject(with: Data(evaluate.output.utf8)) as! [String: Any]
        XCTAssertEqual(result["count"] as? Int, 3)
        XCTAssertTrue(result["accuracy"] is NSNull)
        XCTAssertNotNil(result["mean_iou"] as? Double)

        let image = try FileManager.default.contentsOfDirectory(atPath: pets + "/images").sorted().first { $0.hasSuffix(".jpg") }!
        let predict = try pinpoint("predict", "--model", ckpt, pets + "/images/" + image, directory + "/missing.jpg", "--json",
                                   "--out", directory + "/drawn", "--annotations", pets + "/annotations/xmls")
        XCTAssertNotEqual(predict.status, 0, "one input was unreadable")
        XCTAssertTrue(predict.error.contains("missing.jpg: no such file"), predict.error)
        let line = try JSONSerialization.jsonObject(with: Data(predict.output.split(separator: "\n")[0].utf8)) as! [String: Any]
        XCTAssertEqual((line["box"] as? [Double])?.count, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/drawn/" + image.replacingOccurrences(of: ".jpg", with: ".png")))

        // --jpeg-draft: a JPEG 10x7.5 times the model's 16 pixels is decoded at 1/4 scale; the box is
        // the library's for that decode, in the file's pixels, and the picture is drawn at full size.
        var photo = RGBImage(width: 160, height: 120)
        for i in photo.pixels.indices { photo.pixels[i] = UInt8((i * 7 + i / 480 * 13) % 256) }
        photo.fillRectangle(30, 20, 90, 70, color: (240, 240, 240))
        let jpeg = directory + "/big.jpg"
        try Data(ImageCodec.encodeJPEG(photo)).write(to: URL(fileURLWithPath: jpeg))
        let drafted = try pinpoint("predict", "--model", ckpt, jpeg, "--json", "--jpeg-draft", "--out", directory + "/drafted")
        XCTAssertEqual(drafted.status, 0, drafted.error)
        let loaded = try LoadedModel(contentsOf: ckpt)
        let (info, reduced) = try ImageCodec.decode(ImageCodec.readFile(jpeg), draft: (16, 16))
        XCTAssertEqual([reduced.width, reduced.height], [40, 30])
        let output = try loaded.predict([reduced.resized(width: 16, height: 16).pixels]).scalars
        let expected = loaded.configuration.predictedBox(output).pixels(width: info.width, height: info.height)
        let box = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(drafted.output.utf8)) as? [String: Any])?["box"] as? [Double])
        for (got, want) in zip(box, [expected.xmin, expected.ymin, expected.xmax, expected.ymax]) { XCTAssertEqual(got, want, accuracy: 1e-9) }
        XCTAssertEqual(try ImageCodec.info(path: directory + "/drafted/big.png").width, 160)

        let summary = try pinpoint("summary", "--model", "seed-cnn", "--image-size", "224")
        XCTAssertTrue(summary.output.contains("Total params: 51,773,764"), summary.output)
        XCTAssertTrue(try pinpoint("summary", "--model", ckpt).output.contains("(None, 16, 16, 32)"))
        let export = try pinpoint("export", "--model", ckpt, "--out", directory + "/cnn.onnx")
        XCTAssertEqual(export.status, 0, export.error)
        XCTAssertTrue(export.output.contains("ONNX opset 13") && export.output.contains("image uint8 [N, 16, 16, 3] -> box [N, 4]"), export.output)
        XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: directory + "/cnn.onnx")[.size] as? Int) ?? 0, 1000)
        let format = try pinpoint("export", "--model", ckpt, "--format", "tflite", "--out", directory + "/x")
        XCTAssertTrue(format.error.contains("unknown --format 'tflite' (known: onnx)"), format.error)
        let show = try pinpoint("show", "--tfrecord", prep + "/loc_val.tfr", "--index", "0", "--model", ckpt, "--out", directory + "/s.png")
        XCTAssertEqual(show.status, 0, show.error)
        XCTAssertTrue(show.output.contains("prediction in red (IoU"), show.output)
    }

    func testMobileNetV2TrainsWithAFrozenBackboneAndReportsClasses() throws {
        let pets = directory + "/pets", prep = directory + "/prep", ckpt = directory + "/mnv2.safetensors"
        XCTAssertEqual(try pinpoint("synth", "--out", pets, "--count", "14", "--seed", "5").status, 0)
        XCTAssertEqual(try pinpoint("prepare", "--data", pets, "--out", prep, "--size", "32", "--val-count", "3").status, 0)
        let train = try pinpoint("train", "--model", "mobilenetv2", "--alpha", "0.35", "--freeze-backbone-epochs", "1",
                                 "--train", prep + "/loc_train.tfr", "--val", prep + "/loc_val.tfr", "--epochs", "2", "--batch", "4",
                                 "--out", ckpt, "--quiet")
        XCTAssertEqual(train.status, 0, train.error)
        XCTAssertTrue(train.output.contains("block_16_project (Conv2D)"), "the summary lists Keras's layers")
        XCTAssertTrue(train.output.contains("input: pixel x 0.007843138 + -1.0"), "Keras's [-1, 1] scaling by default: \(train.output)")
        XCTAssertTrue(train.output.contains("val accuracy"), train.output)
        XCTAssertTrue(train.output.contains("backbone unfrozen from epoch 2"), train.output)
        let evaluate = try pinpoint("evaluate", "--model", ckpt, "--data", prep + "/loc_val.tfr", "--json")
        let result = try JSONSerialization.jsonObject(with: Data(evaluate.output.utf8)) as! [String: Any]
        XCTAssertNotNil(result["accuracy"] as? Double, evaluate.output)
        let image = try FileManager.default.contentsOfDirectory(atPath: pets + "/images").sorted().first { $0.hasSuffix(".jpg") }!
        let predict = try pinpoint("predict", "--model", ckpt, pets + "/images/" + image, "--json")
        let line = try JSONSerialization.jsonObject(with: Data(predict.output.utf8)) as! [String: Any]
        XCTAssertTrue(["cat", "dog"].contains(line["class"] as? String), predict.output)
        XCTAssertNotNil(line["probability"] as? Double)
        let bad = try pinpoint("train", "--model", "seed-cnn", "--weights", "x", "--train", "a", "--val", "b", "--out", "c")
        XCTAssertTrue(bad.error.contains("are for --model mobilenetv2"), bad.error)
    }

    func testPrepareWithNothingUsableFailsAndBadArgumentsAreExplained() throws {
        try FileManager.default.createDirectory(atPath: directory + "/empty/images", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/empty/annotations/xmls", withIntermediateDirectories: true)
        let empty = try pinpoint("prepare", "--data", directory + "/empty", "--out", directory + "/out")
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.error.contains("no usable image/annotation pair"), empty.error)
        let missing = try pinpoint("prepare", "--data", directory + "/nowhere", "--out", directory + "/out")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.error.contains("nowhere/images: missing or unreadable"), missing.error)
        let both = try pinpoint("prepare", "--data", "x", "--out", "y", "--val-count", "3", "--val-fraction", "0.2")
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.error.contains("not both"), both.error)
    }

    func testBenchPrintsJSONAndAProfile() throws {
        let json = try pinpoint("bench", "train", "--image-size", "32", "--batch", "2", "--steps", "2", "--warmup", "1", "--json")
        XCTAssertEqual(json.status, 0, json.error)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], json.output)
        for key in ["images_per_second", "min", "max", "peak_rss_mib"] {
            let value = try XCTUnwrap(object[key] as? Double, "\(key) missing in \(json.output)")
            XCTAssertGreaterThan(value, 0, key)
        }
        let profile = try pinpoint("bench", "train", "--model", "mobilenetv2", "--alpha", "0.35", "--image-size", "32", "--batch", "2",
                                   "--steps", "1", "--warmup", "0", "--profile")
        XCTAssertEqual(profile.status, 0, profile.error)
        XCTAssertTrue(profile.output.contains("images/s"), profile.output)
        // MobileNetV2 in training has more layers than the table's 40 rows (in inference each
        // block is one fused kernel); the rest are summed in one.
        for expected in ["Profile:", "more layers)", "calls/step"] { XCTAssertTrue(profile.output.contains(expected), profile.output) }
        let bad = try pinpoint("bench", "fly")
        XCTAssertNotEqual(bad.status, 0)
    }
}
