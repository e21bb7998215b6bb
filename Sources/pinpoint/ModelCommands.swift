import ArgumentParser
import Foundation
import Pinpoint

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a Keras-style summary of a model or a checkpoint's model.")

    @Option(help: "seed-cnn, or a checkpoint file.") var model: String
    @Option(help: "Input size for an architecture name (a checkpoint knows its own).") var imageSize: Int?

    func run() throws {
        if model == "seed-cnn" {
            print(try ModelConfiguration.seedCNN(imageSize: imageSize ?? 224).makeModel().summary())
        } else {
            let loaded = try LoadedModel(contentsOf: model)
            if let imageSize, imageSize != loaded.configuration.imageSize {
                throw ValidationError("\(model) was trained at \(loaded.configuration.imageSize)x\(loaded.configuration.imageSize), not \(imageSize)")
            }
            print(loaded.model.summary())
        }
    }
}

/// Mean IoU etc. of a model over TFRecord files, batch by batch.
func evaluateModel(_ loaded: LoadedModel, paths: [String], batchSize: Int = 40) throws -> LocalizationMetrics {
    try evaluateModel(loaded.model, loaded.configuration, paths: paths, batchSize: batchSize)
}

func evaluateModel(_ model: Sequential, _ c: ModelConfiguration, paths: [String], batchSize: Int = 40) throws -> LocalizationMetrics {
    let pipeline = try LocalizationBatches(paths: paths, batchSize: batchSize, scale: c.inputScale, offset: c.inputOffset)
    guard pipeline.imageSize == c.imageSize else {
        throw ValidationError("\(paths.joined(separator: ", ")) holds \(pipeline.imageSize)x\(pipeline.imageSize) images; the model takes \(c.imageSize)x\(c.imageSize)")
    }
    var metrics = LocalizationMetrics()
    let epoch = pipeline.epoch(0)
    while let batch = try epoch.next() {
        metrics.add(predictedBoxes: try model.predict(batch.images), trueBoxes: batch.boxes)
    }
    return metrics
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the tutorial's CNN on loc_train.tfr, validating on loc_val.tfr.",
        discussion: """
            The tutorial's settings: MSE loss, RMSprop with momentum 0.9, the learning rate halved every 10 epochs \
            (ExponentialDecay with rate 0.5, decay steps = 10 x training records / batch, staircase). A checkpoint is \
            written to --out after every epoch; --resume continues from it to --epochs in total, reaching the same \
            weights as an uninterrupted run with the same seed.
            """)

    @Option(help: "Training TFRecord file.") var train: String
    @Option(help: "Validation TFRecord file.") var val: String
    @Option(help: "Architecture.") var model = "seed-cnn"
    @Option(help: "Epochs in total.") var epochs = 40
    @Option(help: "Batch size.") var batch = 40
    @Option(help: "Initial learning rate.") var lr: Float = 1e-4
    @Option(help: "Image size; must agree with the records when given.") var imageSize: Int?
    @Option(help: "Random seed (initial weights, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Checkpoint file, written after every epoch.") var out: String
    @Flag(help: "Continue from the checkpoint at --out.") var resume = false
    @Flag(help: "No progress line.") var quiet = false

    func validate() throws {
        guard model == "seed-cnn" else { throw ValidationError("unknown --model '\(model)' (known: seed-cnn)") }
        guard epochs > 0, batch > 0, lr > 0 else { throw ValidationError("--epochs, --batch and --lr must be positive") }
    }

    func run() throws {
        _ = try trainCNN(trainPath: train, valPath: val, epochs: epochs, batch: batch, lr: lr, imageSize: imageSize, seed: seed,
                         out: out, resume: resume, quiet: quiet)
    }
}

/// The train command's work, shared with the demo. Returns the epoch history.
func trainCNN(trainPath: String, valPath: String, epochs: Int, batch: Int, lr: Float, imageSize: Int?, seed: UInt64,
              out: String, resume: Bool, quiet: Bool) throws -> [EpochResult] {
    let trainBatches = try LocalizationBatches(paths: [trainPath], batchSize: batch, shuffleBuffer: 1000, seed: seed, scale: 1 / 255)
    let valBatches = try LocalizationBatches(paths: [valPath], batchSize: batch, scale: 1 / 255)
    let size = trainBatches.imageSize
    if let imageSize, imageSize != size {
        throw ValidationError("--image-size \(imageSize) does not match the records: \(trainPath) holds \(size)x\(size) images")
    }
    guard valBatches.imageSize == size else {
        throw ValidationError("\(valPath) holds \(valBatches.imageSize)x\(valBatches.imageSize) images, \(trainPath) \(size)x\(size)")
    }
    let configuration = ModelConfiguration.seedCNN(imageSize: size)
    let model = try configuration.makeModel(seed: seed)
    print(model.summary())
    let decaySteps = 10 * Double(trainBatches.recordCount) / Double(batch)
    let optimizer = RMSprop(model.trainableParameters,
                            learningRate: ExponentialDecay(initial: lr, decaySteps: decaySteps, decayRate: 0.5, staircase: true), momentum: 0.9)
    let trainer = Trainer(model: model, loss: MeanSquaredError(), optimizer: optimizer, seed: seed, checkpointPath: out,
                          metadata: configuration.metadata)
    trainer.showsProgress = !quiet
    if resume {
        let done = try trainer.resume(from: out)
        print("resumed from \(out) after epoch \(done)")
    }
    print("training on \(trainBatches.recordCount) records (\(size)x\(size)), validating on \(valBatches.recordCount); "
          + "batch \(batch), RMSprop(lr \(lr), momentum 0.9), lr halved every \(String(format: "%.1f", decaySteps)) steps")
    struct Report: TrainingCallback {
        let epochs: Int, model: Sequential, configuration: ModelConfiguration
        let valPath: String
        func epochEnded(_ r: EpochResult, trainer: Trainer) throws {
            let metrics = try evaluateModel(model, configuration, paths: [valPath])
            print(String(format: "epoch %d/%d: train loss %.5f, val loss %.5f, val mean IoU %.4f (%.1f images/s, %.1f s)", r.epoch, epochs,
                         r.trainingLoss, r.validationLoss ?? .nan, metrics.meanIoU, r.imagesPerSecond, r.seconds))
            fflush(nil)  // a log file sees each epoch as it ends, not at exit
        }
    }
    let history = try trainer.fit(train: LocalizationBatchSource(trainBatches), validation: LocalizationBatchSource(valBatches),
                                  epochs: epochs, callbacks: [Report(epochs: epochs, model: model, configuration: configuration, valPath: valPath)])
    print("checkpoint: \(out)")
    return history
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mean IoU (and IoU >= 0.5 / 0.75 rates) of a checkpoint on TFRecord files.",
        discussion: "IoU is computed on the model's boxes as output (unclipped), each box in one unit. --json prints one object.")

    @Option(help: "A checkpoint written by train.") var model: String
    @Option(help: "TFRecord file to evaluate on.") var data: String
    @Flag(help: "Print {\"mean_iou\", \"iou50\", \"iou75\", \"count\", \"accuracy\"} as JSON.") var json = false

    func run() throws {
        let metrics = try evaluateModel(try LoadedModel(contentsOf: model), paths: [data])
        if json {
            let accuracy = metrics.accuracy.map { String($0) } ?? "null"
            print("{\"mean_iou\": \(metrics.meanIoU), \"iou50\": \(metrics.iou50), \"iou75\": \(metrics.iou75), \"count\": \(metrics.count), \"accuracy\": \(accuracy)}")
        } else {
            print(String(format: "%d boxes: mean IoU %.4f, IoU >= 0.5 %.1f%%, IoU >= 0.75 %.1f%%", metrics.count, metrics.meanIoU,
                         100 * metrics.iou50, 100 * metrics.iou75))
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict the box of each image, in the original image's pixels, and draw it.",
        discussion: """
            Any JPEG or PNG is accepted (non-RGB images are converted to RGB). With --out, writes DIR/<name>.png with \
            the prediction in red and, when --annotations holds <name>.xml, the ground truth in green. An unreadable \
            image is reported and the others go on; the exit status is then non-zero.
            """)

    @Option(help: "A checkpoint written by train.") var model: String
    @Argument(help: "Images.") var images: [String]
    @Option(help: "Folder for the drawn PNGs.") var out: String?
    @Option(help: "Folder of Pascal VOC XML files, to draw the ground truth too.") var annotations: String?
    @Flag(help: "One JSON object per image: {\"image\", \"box\": [xmin, ymin, xmax, ymax], \"class\", \"probability\"}.") var json = false

    func run() throws {
        let loaded = try LoadedModel(contentsOf: model)
        let size = loaded.configuration.imageSize
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var failures = 0
        for path in images {
            do {
                var (_, image) = try ImageCodec.decode(path: path)
                let b = try loaded.predict([image.resized(width: size, height: size).pixels]).scalars
                let box = CenterBox(x: Double(b[0]), y: Double(b[1]), w: Double(b[2]), h: Double(b[3])).pixels(width: image.width, height: image.height)
                let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                if json {
                    print("{\"image\": \"\(path)\", \"box\": [\(box.xmin), \(box.ymin), \(box.xmax), \(box.ymax)], \"class\": null, \"probability\": null}")
                } else {
                    print(String(format: "%@: box xmin %.1f, ymin %.1f, xmax %.1f, ymax %.1f", path, box.xmin, box.ymin, box.xmax, box.ymax))
                }
                if let out {
                    let thickness = max(2, min(image.width, image.height) / 150)
                    if let annotations, let truth = try? Annotation(contentsOf: "\(annotations)/\(name).xml").objects[0].box {
                        image.drawBox(xmin: Int(truth.xmin), ymin: Int(truth.ymin), xmax: Int(truth.xmax) - 1, ymax: Int(truth.ymax) - 1,
                                      color: (0, 255, 0), lineWidth: thickness)
                    }
                    image.drawBox(xmin: Int(box.xmin.rounded()), ymin: Int(box.ymin.rounded()), xmax: Int(box.xmax.rounded()) - 1,
                                  ymax: Int(box.ymax.rounded()) - 1, color: (255, 0, 0), lineWidth: thickness)
                    try image.write(to: "\(out)/\(name).png")
                }
            } catch {
                failures += 1
                FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
