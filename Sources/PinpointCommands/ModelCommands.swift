import ArgumentParser
import Foundation
import Pinpoint

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a Keras-style summary of a model or a checkpoint's model.")

    @Option(help: "seed-cnn, mobilenetv2, or a checkpoint file.") var model: String
    @Option(help: "Input size for an architecture name (a checkpoint knows its own).") var imageSize: Int?
    @Option(help: "MobileNetV2 width multiplier.") var alpha: Double = 1.0

    func run() throws {
        if model == "seed-cnn" || model == "mobilenetv2" {
            let c = model == "seed-cnn" ? ModelConfiguration.seedCNN(imageSize: imageSize ?? 224)
                : ModelConfiguration.mobileNetV2(alpha: alpha, imageSize: imageSize ?? 224)
            print(describe(try c.makeModel()))
        } else {
            let loaded = try LoadedModel(contentsOf: model)
            if let imageSize, imageSize != loaded.configuration.imageSize {
                throw ValidationError("\(model) was trained at \(loaded.configuration.imageSize)x\(loaded.configuration.imageSize), not \(imageSize)")
            }
            print(describe(loaded.model))
        }
    }
}

/// The Keras-style summary of either architecture.
func describe(_ model: any Layer) -> String {
    (model as? Sequential)?.summary() ?? (model as? TwoHeadLocalizer)?.summary() ?? "\(model.name) (\(model.typeName))"
}

/// Mean IoU etc. of a model over TFRecord files, batch by batch.
func evaluateModel(_ loaded: LoadedModel, paths: [String], batchSize: Int = 40) throws -> LocalizationMetrics {
    try evaluateModel(loaded.model, loaded.configuration, pipeline: evaluationPipeline(loaded.configuration, paths: paths, batchSize: batchSize)).metrics
}

/// TFRecord files read in order, scaled for the model, refused unless their images are its size.
func evaluationPipeline(_ c: ModelConfiguration, paths: [String], batchSize: Int = 40) throws -> LocalizationBatches {
    let pipeline = try LocalizationBatches(paths: paths, batchSize: batchSize, scale: c.inputScale, offset: c.inputOffset)
    guard pipeline.imageSize == c.imageSize else {
        throw ValidationError("\(paths.joined(separator: ", ")) holds \(pipeline.imageSize)x\(pipeline.imageSize) images; the model takes \(c.imageSize)x\(c.imageSize)")
    }
    return pipeline
}

/// One inference pass over a pipeline: the localization metrics and, given a loss, its mean over
/// the records (so training's validation loss and IoU come from the same pass).
func evaluateModel(_ model: any Layer, _ c: ModelConfiguration, pipeline: LocalizationBatches, loss: (any Loss)? = nil,
                   eachBox: ((_ inputs: Tensor, _ row: Int, _ truth: CenterBox, _ prediction: CenterBox) -> Void)? = nil)
    throws -> (metrics: LocalizationMetrics, loss: Double?) {
    var metrics = LocalizationMetrics()
    var lossSum = 0.0
    let next = LocalizationBatchSource(pipeline, targets: c.tutorialTargets).batches(epoch: 0)
    while let batch = try next() {
        let output = inference(model, batch.inputs)
        if let loss { lossSum += Double(loss(batch.targets, Traced(output)).value.scalar) * Double(batch.count) }
        if let eachBox {
            let outputs = output.scalars, targets = batch.targets.scalars
            let (outputWidth, targetWidth) = (output.shape[1], batch.targets.shape[1])
            for row in 0..<batch.count {
                let t = Array(targets[row * targetWidth..<(row + 1) * targetWidth].suffix(4)).map(Double.init)
                eachBox(batch.inputs, row, CenterBox(x: t[0], y: t[1], w: t[2], h: t[3]),
                        c.predictedBox(Array(outputs[row * outputWidth..<(row + 1) * outputWidth])))
            }
        }
        if c.hasClassHead {
            func columns(_ t: Tensor, _ r: Range<Int>) -> Tensor { t.sliced(alongAxis: 1, from: r.lowerBound, to: r.upperBound).contiguous() }
            metrics.add(predictedBoxes: columns(output, TutorialColumns.predictedBox),
                        trueBoxes: columns(batch.targets, TutorialColumns.targetBox),
                        classProbabilities: columns(output, TutorialColumns.predictedClassProbabilities),
                        trueClasses: columns(batch.targets, TutorialColumns.targetClass))
        } else {
            metrics.add(predictedBoxes: output, trueBoxes: batch.targets)
        }
    }
    return (metrics, loss.map { _ in metrics.count > 0 ? lossSum / Double(metrics.count) : .nan })
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

    @Option(parsing: .upToNextOption,
            help: "Training TFRecord files, read as one stream: several, comma-separated, or a quoted glob such as 'shards/train-*.tfr'. Under mpirun, with at least as many files as ranks, each rank reads its own.")
    var train: [String]
    @Option(help: "Validation TFRecord file.") var val: String
    @Option(help: "Architecture: seed-cnn (the tutorial's CNN) or mobilenetv2 (two heads: dog/cat and box).") var model = "seed-cnn"
    @Option(help: "MobileNetV2 width multiplier (0.35, 0.5, 0.75, 1.0, 1.3, 1.4); default: the --weights file's, else 1.0.")
    var alpha: Double?
    @Option(help: "MobileNetV2 backbone weights: a Keras .h5 file (the ImageNet file Keras downloads, a model.save file, or Keras 3's .weights.h5) or Pinpoint safetensors.")
    var weights: String?
    @Option(help: "Keep the MobileNetV2 backbone frozen (inference-mode BatchNorm, no gradients) for the first N epochs.")
    var freezeBackboneEpochs = 0
    @Flag(help: "Feed MobileNetV2 pixel / 255 as the tutorial does (a bug: Keras's MobileNetV2 expects [-1, 1]).")
    var tutorialScaling = false
    @Option(help: "The box term of the loss: mse (the tutorial's), smoothl1, giou, diou or ciou (torchvision.ops' IoU losses).")
    var boxLoss = "mse"
    @Option(help: "Add this multiple of the boxes' mean absolute error (L1) to the box term.") var boxL1: Float = 0
    @Option(help: "MobileNetV2: the weight of the dog/cat term (the box term's is 5, as in the tutorial).") var classWeight: Float = 1
    @Option(help: "Epochs in total.") var epochs = 40
    @Option(help: "Batch size.") var batch = 40
    @Option(help: "Initial learning rate.") var lr: Float = 1e-4
    @Option(help: "Image size; must agree with the records when given.") var imageSize: Int?
    @Option(help: "Random seed (initial weights, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Checkpoint file, written after every epoch.") var out: String
    @Flag(help: "Continue from the checkpoint at --out.") var resume = false
    @Flag(help: "No progress line.") var quiet = false
    @Option(help: "Stop once the monitored value has not improved for N epochs (Keras's EarlyStopping).") var earlyStoppingPatience: Int?
    @Option(help: "What --early-stopping-patience, --best and --reduce-lr-on-plateau watch: val_loss or val_iou (the mean IoU).")
    var monitor = "val_loss"
    @Option(help: "Also write the checkpoint of the best monitored epoch to PATH (Keras's ModelCheckpoint, save_best_only).") var best: String?
    @Option(help: "FACTOR,PATIENCE: multiply the learning rate by FACTOR after PATIENCE epochs without improvement.")
    var reduceLrOnPlateau: String?
    @Option(help: "Augment the training images and their boxes: a comma-separated list of hflip, crop, scale, translate, color (each with its defaults, Docs/Tutorial.md), or a JSON recipe file.")
    var augment: String?
    @Option(help: "Write DIR/history.csv (one row per epoch) and a TensorBoard event file as training goes.") var log: String?
    @Flag(help: "With --log: replace the log of an earlier run in that directory.") var overwrite = false

    func validate() throws {
        guard model == "seed-cnn" || model == "mobilenetv2" else { throw ValidationError("unknown --model '\(model)' (known: seed-cnn, mobilenetv2)") }
        if model == "seed-cnn" && (weights != nil || freezeBackboneEpochs > 0 || tutorialScaling || alpha != nil) {
            throw ValidationError("--alpha, --weights, --freeze-backbone-epochs and --tutorial-scaling are for --model mobilenetv2")
        }
        if let alpha, !MobileNetV2.alphas.contains(alpha) {
            throw ValidationError("--alpha \(alpha) is not a MobileNetV2 width Keras offers (\(MobileNetV2.alphas.map { String($0) }.joined(separator: ", ")))")
        }
        guard epochs > 0, batch > 0, lr > 0 else { throw ValidationError("--epochs, --batch and --lr must be positive") }
        guard BoxLoss.Kind(rawValue: boxLoss) != nil else {
            throw ValidationError("unknown --box-loss '\(boxLoss)' (known: \(BoxLoss.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard boxL1 >= 0, classWeight >= 0 else { throw ValidationError("--box-l1 and --class-weight must not be negative") }
        if model == "seed-cnn" && classWeight != 1 { throw ValidationError("--class-weight is for --model mobilenetv2") }
        guard Monitor(rawValue: monitor) != nil else {
            throw ValidationError("unknown --monitor '\(monitor)' (known: \(Monitor.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let patience = earlyStoppingPatience, patience <= 0 { throw ValidationError("--early-stopping-patience must be positive") }
        _ = try plateau()
        _ = try augmentation()
    }

    /// --augment's transforms.
    func augmentation() throws -> BoxAugmentation? {
        guard let augment else { return nil }
        do { return try BoxAugmentation(parsing: augment) } catch { throw ValidationError("--augment: \(error)") }
    }

    /// --reduce-lr-on-plateau's factor and patience.
    func plateau() throws -> (factor: Float, patience: Int)? {
        guard let text = reduceLrOnPlateau else { return nil }
        let parts = text.split(separator: ",")
        guard parts.count == 2, let factor = Float(parts[0]), let patience = Int(parts[1]), factor > 0, factor < 1, patience > 0 else {
            throw ValidationError("--reduce-lr-on-plateau takes FACTOR,PATIENCE with FACTOR in (0, 1) and PATIENCE positive, e.g. 0.5,3; got '\(text)'")
        }
        return (factor, patience)
    }

    func run() throws {
        let watched = Monitor(rawValue: monitor)!
        var callbacks: [any TrainingCallback] = []
        if let patience = earlyStoppingPatience { callbacks.append(EarlyStopping(monitor: watched, patience: patience)) }
        if let best { callbacks.append(BestCheckpoint(path: best, monitor: watched)) }
        if let (factor, patience) = try plateau() { callbacks.append(ReduceLROnPlateau(monitor: watched, factor: factor, patience: patience)) }
        _ = try trainModel(callbacks: callbacks, architecture: model, alpha: alpha, weights: weights, freezeBackboneEpochs: freezeBackboneEpochs,
                           tutorialScaling: tutorialScaling, trainPaths: try expandingGlobs(train), valPath: val,
                           boxLoss: BoxLoss.Kind(rawValue: boxLoss)!, boxL1: boxL1, classWeight: classWeight, epochs: epochs, batch: batch, lr: lr,
                           imageSize: imageSize, seed: seed, augmentation: try augmentation(), out: out, resume: resume, quiet: quiet,
                           log: log, overwrite: overwrite)
    }
}

/// The train command's work, shared with the demo. Returns the epoch history.
func trainModel(callbacks: [any TrainingCallback] = [], architecture: String = "seed-cnn", alpha: Double? = nil, weights: String? = nil, freezeBackboneEpochs: Int = 0,
                tutorialScaling: Bool = false, trainPaths: [String], valPath: String,
                boxLoss: BoxLoss.Kind = .meanSquaredError, boxL1: Float = 0, classWeight: Float = 1, epochs: Int, batch: Int, lr: Float, imageSize: Int?,
                seed: UInt64, augmentation: BoxAugmentation? = nil, out: String, resume: Bool, quiet: Bool, log: String? = nil,
                overwrite: Bool = false) throws -> [EpochResult] {
    // Under mpirun every rank runs this; rank 0 alone prints, loads what is broadcast (weights,
    // a resumed checkpoint) and writes the checkpoint (Docs/Distributed.md).
    let communicator = PinpointCommand.communicator
    let root = communicator.isRoot
    func say(_ line: String) { if root { print(line) } }
    // A Keras weights file is read on rank 0, which alone loads weights; its alpha (from its
    // shapes) goes to every rank as an index into Keras's list, which a Float carries exactly.
    let kerasWeights = try weights.flatMap { root && KerasWeights.isHDF5($0) ? try KerasWeights(contentsOf: $0) : nil }
    var widths: [Float] = [-1]
    if alpha == nil, let kerasWeights { widths[0] = Float(MobileNetV2.alphas.firstIndex(of: try kerasWeights.mobileNetV2Alpha()) ?? -1) }
    if alpha == nil && weights != nil { try communicator.broadcast(&widths) }
    let width = alpha ?? (widths[0] >= 0 ? MobileNetV2.alphas[Int(widths[0])] : 1.0)
    // The input scaling depends on the architecture only; the image size comes from the records.
    var configuration = architecture == "seed-cnn" ? ModelConfiguration.seedCNN()
        : ModelConfiguration.mobileNetV2(alpha: width, tutorialScaling: tutorialScaling)
    // Sharding by file when there are at least as many files as ranks: rank r reads files r,
    // r + N, ..., in batches of its share; otherwise every rank reads every file and takes its
    // share of each global batch.
    let sharded = communicator.size > 1 && trainPaths.count >= communicator.size
    if sharded && batch < communicator.size {
        throw ValidationError("--batch \(batch) is smaller than the \(communicator.size) ranks that share it")
    }
    let paths = sharded ? stride(from: communicator.rank, to: trainPaths.count, by: communicator.size).map { trainPaths[$0] } : trainPaths
    let trainPath = paths.joined(separator: ", ")
    let trainBatches = try LocalizationBatches(
        paths: paths, batchSize: sharded ? batchShare(count: batch, rank: communicator.rank, size: communicator.size).count : batch,
        shuffleBuffer: 1000, seed: sharded ? seed &+ UInt64(communicator.rank) : seed,
        scale: configuration.inputScale, offset: configuration.inputOffset, augmentation: augmentation)
    let size = trainBatches.imageSize
    configuration.imageSize = size
    let valBatches = try LocalizationBatches(paths: [valPath], batchSize: batch, scale: configuration.inputScale, offset: configuration.inputOffset)
    for (path, batches) in [(trainPath, trainBatches), (valPath, valBatches)] where batches.recordCount == 0 {
        throw ValidationError("\(path) holds no records")
    }
    if let sizes = ModelConfiguration.supportedImageSizes[architecture], !sizes.contains(size) {
        throw ValidationError("\(trainPath) holds \(size)x\(size) images; \(architecture) is built at \(sizes.lowerBound) to \(sizes.upperBound) pixels")
    }
    if let imageSize, imageSize != size {
        throw ValidationError("--image-size \(imageSize) does not match the records: \(trainPath) holds \(size)x\(size) images")
    }
    say("input: pixel x \(configuration.inputScale) + \(configuration.inputOffset)")
    guard valBatches.imageSize == size else {
        throw ValidationError("\(valPath) holds \(valBatches.imageSize)x\(valBatches.imageSize) images, \(trainPath) \(size)x\(size)")
    }
    let model = try configuration.makeModel(seed: seed)
    say(describe(model))
    let twoHead = model as? TwoHeadLocalizer
    if let weights, let twoHead, root {
        if let kerasWeights {
            if let stated = kerasWeights.statedImageSize, let imageSize, stated != imageSize {
                throw ValidationError("--image-size \(imageSize) does not match \(weights), whose names state \(stated)x\(stated) weights")
            }
            try twoHead.backbone.loadWeights(from: kerasWeights)
            let note = kerasWeights.statedImageSize.map { $0 == size ? "" : ", stated for \($0)x\($0) and used at \(size)x\(size)" } ?? ""
            say("loaded backbone weights from \(weights) (\(kerasWeights.layout.rawValue) layout, alpha \(width)\(note))")
        } else {
            try twoHead.backbone.loadWeights(from: weights)
            say("loaded backbone weights from \(weights)")
        }
    }
    let source: any BatchSource = sharded
        ? try ShardedBatchSource(LocalizationBatchSource(trainBatches, targets: configuration.tutorialTargets), globalBatch: batch,
                                 communicator: communicator)
        : LocalizationBatchSource(trainBatches, targets: configuration.tutorialTargets)
    // The tutorial's 10 epochs' worth of steps (records / batch, fractional as in the tutorial).
    let decaySteps = sharded ? 10 * Double(source.batchesPerEpoch) : 10 * Double(trainBatches.recordCount) / Double(batch)
    let optimizer = configuration.tutorialOptimizer(for: model, learningRate: lr, decaySteps: decaySteps)
    // The tutorial's loss unless another box term or class weight is asked for.
    let box = boxLoss == .meanSquaredError && boxL1 == 0 ? nil : BoxLoss(boxLoss, l1Weight: boxL1)
    let loss = configuration.loss(box: box, classWeight: classWeight)
    if let box {
        say("box loss: \(box.kind.rawValue)" + (boxL1 > 0 ? " + \(boxL1) x L1" : "") + (configuration.hasClassHead ? ", class weight \(classWeight)" : ""))
    }
    // The loss goes into the checkpoint, so that evaluate reports the loss the model trained on.
    var metadata = configuration.metadata
    metadata["box_loss"] = boxLoss.rawValue
    metadata["box_l1"] = String(boxL1)
    if configuration.hasClassHead { metadata["class_weight"] = String(classWeight) }
    if let augmentation {
        metadata["augmentation"] = augmentation.description
        say("augmentation: \(augmentation)")
    }
    let trainer = Trainer(model: model, loss: loss, optimizer: optimizer, seed: seed, checkpointPath: out, metadata: metadata)
    trainer.showsProgress = !quiet
    trainer.communicator = communicator
    // Ranks reading their own files hold different record counts; the steps they take are agreed.
    try communicator.checkAgreement("--batch, --epochs, --seed, the files and the record counts",
                                    [Int64(batch), Int64(epochs), Int64(truncatingIfNeeded: seed), Int64(trainPaths.count),
                                     sharded ? 0 : Int64(trainBatches.recordCount), Int64(valBatches.recordCount), Int64(size)])
    if resume && root { try trainer.resume(from: out) }
    try trainer.synchronize()
    if resume { say("resumed from \(out) after epoch \(trainer.completedEpochs)") }
    twoHead?.backboneFrozen = trainer.completedEpochs < freezeBackboneEpochs
    let trainingLog = try log.flatMap { directory in
        root ? try TrainingLog(directory: directory, resumingAfter: resume ? trainer.completedEpochs : nil, overwrite: overwrite) : nil
    }
    say("training on \(trainBatches.recordCount) records (\(size)x\(size)), validating on \(valBatches.recordCount); "
          + "batch \(batch), RMSprop(lr \(lr), momentum 0.9), lr halved every \(String(format: "%.1f", decaySteps)) steps")
    // Validation loss and IoU come from one inference pass here, rather than a pass in fit for the
    // loss and a second one for the metrics.
    struct Report: TrainingCallback {
        let epochs: Int, model: any Layer, configuration: ModelConfiguration
        let validation: LocalizationBatches, loss: any Loss, freezeBackboneEpochs: Int
        let log: TrainingLog?, optimizer: RMSprop
        func epochEnded(_ r: EpochResult, trainer: Trainer) throws {
            if trainer.communicator.isRoot { try report(r, trainer) }
            if let twoHead = model as? TwoHeadLocalizer, twoHead.backboneFrozen, r.epoch >= freezeBackboneEpochs {
                twoHead.backboneFrozen = false
                if trainer.communicator.isRoot { print("backbone unfrozen from epoch \(r.epoch + 1)") }
            }
            fflush(nil)  // a log file sees each epoch as it ends, not at exit
        }

        /// Validation on rank 0 (the other ranks go on to the next epoch's first step and wait
        /// there for it).
        func report(_ r: EpochResult, _ trainer: Trainer) throws {
            let (metrics, valLoss) = try evaluateModel(model, configuration, pipeline: validation, loss: loss)
            trainer.metrics["val_loss"] = valLoss
            trainer.metrics["val_iou"] = metrics.meanIoU
            let accuracy = metrics.accuracy.map { String(format: ", val accuracy %.3f", $0) } ?? ""
            print(String(format: "epoch %d/%d: train loss %.5f, val loss %.5f, val mean IoU %.4f%@ (%.1f images/s, %.1f s)", r.epoch, epochs,
                         r.trainingLoss, valLoss ?? .nan, metrics.meanIoU, accuracy, r.imagesPerSecond, r.seconds))
            try log?.record(["epoch": Double(r.epoch), "learning_rate": Double(optimizer.learningRate(optimizer.iterations) * optimizer.learningRateScale),
                             "train_loss": r.trainingLoss, "val_loss": valLoss ?? .nan, "val_mean_iou": metrics.meanIoU,
                             "val_iou50": metrics.iou50, "seconds": r.seconds])
        }
    }
    if sharded { say("sharding by file: \(trainPaths.count) files over \(communicator.size) ranks") }
    let history = try trainer.fit(train: source, epochs: epochs,
                                  callbacks: [Report(epochs: epochs, model: model, configuration: configuration, validation: valBatches,
                                                     loss: loss, freezeBackboneEpochs: freezeBackboneEpochs, log: trainingLog,
                                                     optimizer: optimizer)] + callbacks)
    if trainer.stopTraining { say("stopped early after epoch \(trainer.completedEpochs) of \(epochs): the monitored value stopped improving") }
    say("checkpoint: \(out)")
    return history
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mean IoU (and IoU >= 0.5 / 0.75 rates) of a checkpoint on TFRecord files.",
        discussion: "IoU is computed on the model's boxes as output (unclipped), each box in one unit. --json prints one object.")

    @Option(help: "A checkpoint written by train.") var model: String
    @Option(help: "TFRecord file to evaluate on.") var data: String
    @Flag(help: "Print {\"mean_iou\", \"iou50\", \"iou75\", \"count\", \"accuracy\", \"loss\"} as JSON.") var json = false
    @Option(help: "Write DIR/success.png (the share of boxes at or above each IoU threshold, 0.5 to 0.95) and DIR/worst.png (the 16 worst predictions, drawn).")
    var plot: String?

    func run() throws {
        let loaded = try LoadedModel(contentsOf: model)
        let c = loaded.configuration
        let pipeline = try evaluationPipeline(c, paths: [data])
        var boxes: [(iou: Double, image: RGBImage, truth: CenterBox, prediction: CenterBox)] = []
        let collect: ((Tensor, Int, CenterBox, CenterBox) -> Void)? = plot == nil ? nil : { inputs, row, truth, prediction in
            let score = iou(truth, prediction)
            // The worst 16 so far, with their pixels back from the model's input scaling.
            guard boxes.count < 16 || score < boxes[boxes.count - 1].iou else { return }
            let pixels = inputs.sliced(alongAxis: 0, from: row, to: row + 1).scalars.map {
                UInt8(clamping: Int((($0 - c.inputOffset) / c.inputScale).rounded()))
            }
            boxes.append((score, RGBImage(width: c.imageSize, height: c.imageSize, pixels: pixels), truth, prediction))
            boxes.sort { $0.iou < $1.iou }
            if boxes.count > 16 { boxes.removeLast() }
        }
        var scores: [Double] = []
        let (metrics, loss) = try evaluateModel(loaded.model, c, pipeline: pipeline, loss: try trainingLoss(loaded)) { inputs, row, truth, prediction in
            scores.append(iou(truth, prediction))
            collect?(inputs, row, truth, prediction)
        }
        if let plot { try writeEvaluationPlots(to: plot, scores: scores, worst: boxes) }
        if json {
            let accuracy = metrics.accuracy.map { String($0) } ?? "null"
            print("{\"mean_iou\": \(metrics.meanIoU), \"iou50\": \(metrics.iou50), \"iou75\": \(metrics.iou75), \"count\": \(metrics.count), "
                  + "\"accuracy\": \(accuracy), \"loss\": \(loss ?? .nan)}")
        } else {
            print(String(format: "%d boxes: mean IoU %.4f, IoU >= 0.5 %.1f%%, IoU >= 0.75 %.1f%%, loss %.5f", metrics.count, metrics.meanIoU,
                         100 * metrics.iou50, 100 * metrics.iou75, loss ?? .nan)
                  + (metrics.accuracy.map { String(format: "; dog/cat accuracy %.1f%%", 100 * $0) } ?? ""))
        }
    }

    /// The loss the checkpoint's model trained with (train records it; the tutorial's otherwise).
    func trainingLoss(_ loaded: LoadedModel) throws -> any Loss {
        let metadata = loaded.checkpoint.metadata
        guard let kind = BoxLoss.Kind(rawValue: metadata["box_loss"] ?? "mse") else {
            throw ValidationError("\(model): unknown box_loss '\(metadata["box_loss"] ?? "")' in its metadata")
        }
        let l1 = metadata["box_l1"].flatMap(Float.init) ?? 0, classWeight = metadata["class_weight"].flatMap(Float.init) ?? 1
        let box = kind == .meanSquaredError && l1 == 0 ? nil : BoxLoss(kind, l1Weight: l1)
        return loaded.configuration.loss(box: box, classWeight: classWeight)
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
    @Flag(help: "Decode JPEGs at 1/2, 1/4 or 1/8 scale while they stay at least the model's size, as Pillow's Image.draft does: faster on large photos, slightly different boxes.")
    var jpegDraft = false

    func run() throws {
        let loaded = try LoadedModel(contentsOf: model)
        let size = loaded.configuration.imageSize
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var failures = 0
        for path in images {
            do {
                let bytes = try ImageCodec.readFile(path)
                let (info, decoded) = try ImageCodec.decode(bytes, file: path, draft: jpegDraft ? (size, size) : nil)
                var image = decoded
                let output = try loaded.predict([image.resized(width: size, height: size).pixels]).scalars
                let box = loaded.configuration.predictedBox(output).pixels(width: info.width, height: info.height)
                let cls = loaded.configuration.predictedClass(output)
                let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                if json {
                    let classField = cls.map { "\"\($0.name)\"" } ?? "null", probability = cls.map { "\($0.probability)" } ?? "null"
                    print("{\"image\": \"\(path)\", \"box\": [\(box.xmin), \(box.ymin), \(box.xmax), \(box.ymax)], \"class\": \(classField), \"probability\": \(probability)}")
                } else {
                    print(String(format: "%@: box xmin %.1f, ymin %.1f, xmax %.1f, ymax %.1f", path, box.xmin, box.ymin, box.xmax, box.ymax)
                          + (cls.map { String(format: "; %@ (%.3f)", $0.name, $0.probability) } ?? ""))
                }
                if let out {
                    if image.width != info.width { image = try ImageCodec.decode(bytes, file: path).image }  // drawn at full size
                    let thickness = max(2, min(image.width, image.height) / 150)
                    if let annotations, let truth = try? Annotation(contentsOf: "\(annotations)/\(name).xml").objects[0].box {
                        image.drawBox(xmin: truth.xmin.rounded(.towardZero), ymin: truth.ymin.rounded(.towardZero),
                                      xmax: truth.xmax.rounded(.towardZero) - 1, ymax: truth.ymax.rounded(.towardZero) - 1,
                                      color: (0, 255, 0), lineWidth: thickness)
                    }
                    image.drawBox(xmin: box.xmin.rounded(), ymin: box.ymin.rounded(), xmax: box.xmax.rounded() - 1,
                                  ymax: box.ymax.rounded() - 1, color: (255, 0, 0), lineWidth: thickness)
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

/// The paths, each argument split at commas (`--train a.tfr,b.tfr`), with each glob pattern (`*`,
/// `?`, `[`) replaced by its matches in sorted order: every rank expands the same pattern to the
/// same list. A pattern that matches nothing is an error.
func expandingGlobs(_ arguments: [String]) throws -> [String] {
    try arguments.flatMap { $0.split(separator: ",").map(String.init) }.flatMap { pattern -> [String] in
        guard pattern.contains(where: { "*?[".contains($0) }) else { return [pattern] }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0 else { throw ValidationError("\(pattern) matches no file") }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}

/// evaluate --plot: the localization success curve and a grid of the worst predictions (ground
/// truth in green, prediction in red, the IoU under each).
func writeEvaluationPlots(to directory: String, scores: [Double],
                          worst: [(iou: Double, image: RGBImage, truth: CenterBox, prediction: CenterBox)]) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let thresholds = stride(from: 0.5, through: 0.951, by: 0.05).map { $0 }
    let shares = thresholds.map { t in Double(scores.filter { $0 >= t }.count) / Double(Swift.max(scores.count, 1)) }
    var curve = RGBImage(width: 520, height: 400, filling: (255, 255, 255))
    TrainingCurves.draw(&curve, frame: (0, 0, 520, 400), title: "share of boxes with IoU >= t",
                        [TrainingCurves.Series(name: "\(scores.count) boxes", color: (31, 119, 180), points: zip(thresholds, shares).map { ($0, $1) })],
                        floorAtZero: true, xLabel: "IoU threshold t", xTicks: thresholds.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
    try curve.write(to: directory + "/success.png")

    let cell = 2 * (worst.first?.image.width ?? 64)
    let cells = worst.map { item in
        var image = item.image.resized(width: cell, height: cell)
        let thickness = Swift.max(1, cell / 100)
        for (box, color) in [(item.truth, (UInt8(0), UInt8(200), UInt8(0))), (item.prediction, (UInt8(230), UInt8(0), UInt8(0)))] {
            let p = box.pixels(width: cell, height: cell)
            image.drawBox(xmin: p.xmin.rounded(), ymin: p.ymin.rounded(), xmax: p.xmax.rounded() - 1, ymax: p.ymax.rounded() - 1,
                          color: color, lineWidth: thickness)
        }
        return (image, String(format: "IoU %.3f", item.iou))
    }
    let grid = RGBImage.grid(cells, columns: 4)
    try grid.write(to: directory + "/worst.png")
}
