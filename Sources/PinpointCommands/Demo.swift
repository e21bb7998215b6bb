import ArgumentParser
import Foundation
import Pinpoint

/// The main job (`make demo`): the tutorial end to end on a synthetic Oxford-IIIT Pet stand-in,
/// sized to finish in about three minutes on two cores.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Synthesize a pet dataset, prepare it, train the tutorial's CNN, evaluate and predict, in one go.",
        discussion: """
            Fails (non-zero exit) unless the model's validation mean IoU beats a trivial baseline (always the training \
            set's mean box) by at least 0.05.
            """)

    @Option(help: "Folder for everything the demo writes.") var workdir = "pinpoint-demo"
    @Option(help: "Synthetic images.") var count = 800
    @Option(help: "Image size (the tutorial's is 224; smaller keeps the demo to minutes).") var imageSize = 96
    @Option(help: "Training epochs.") var epochs = 15
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        let start = Date()
        let pets = "\(workdir)/pets", data = "\(workdir)/data", checkpoint = "\(workdir)/seed-cnn.safetensors"
        let pictures = "\(workdir)/predictions"
        try FileManager.default.createDirectory(atPath: pictures, withIntermediateDirectories: true)
        let progress = ProgressLine()

        print("1. synthetic Oxford-IIIT Pet stand-in: \(count) images -> \(pets)")
        _ = try SyntheticPets(count: count, seed: seed).write(to: pets) { progress.update("synth", $0, $1, unit: "images") }

        print("2. prepare (the tutorial's filtering, resize to \(imageSize)x\(imageSize), TFRecords) -> \(data)")
        var preparation = OxfordPetPreparation(folder: try OxfordPetFolder(root: pets))
        preparation.size = imageSize
        preparation.seed = seed
        let report = try preparation.run(outputDirectory: data) { progress.update($0, $1, $2, unit: "pairs") }
        print("   \(report.trainCount) training and \(report.validationCount) validation records; skipped "
              + report.skipCounts.map { "\($0.category) \($0.count)" }.joined(separator: ", "))

        print("3. train the tutorial's CNN (RMSprop momentum 0.9, lr 1e-4 halved every 10 epochs, MSE, batch 40) -> \(checkpoint)")
        _ = try trainModel(trainPaths: [report.trainPath], valPath: report.validationPath, epochs: epochs, batch: 40, lr: 1e-4,
                         imageSize: imageSize, seed: seed, out: checkpoint, resume: false, quiet: false)

        print("4. evaluate on the validation records")
        let loaded = try LoadedModel(contentsOf: checkpoint)
        let metrics = try evaluateModel(loaded, paths: [report.validationPath])
        let baseline = try meanBoxBaseline(train: report.trainPath, validation: report.validationPath)
        print(String(format: "   model:    mean IoU %.4f, IoU >= 0.5 %.1f%%, IoU >= 0.75 %.1f%% (%d boxes)", metrics.meanIoU,
                     100 * metrics.iou50, 100 * metrics.iou75, metrics.count))
        print(String(format: "   baseline: mean IoU %.4f (always the training set's mean box)", baseline.meanIoU))

        print("5. predict and draw (prediction red, ground truth green) -> \(pictures)")
        let validationPipeline = try LocalizationBatches(paths: [report.validationPath], batchSize: 4, scale: 1 / 255)
        if let batch = try validationPipeline.epoch(0).next() {
            let boxes = inference(loaded.model, batch.images).scalars
            for i in 0..<batch.count {
                var image = RGBImage(width: imageSize, height: imageSize,
                                     pixels: batch.images[index: i].scalars.map { UInt8(($0 * 255).rounded()) })
                let truth = batch.boxes[index: i].scalars.map(Double.init)
                let t = CenterBox(x: truth[0], y: truth[1], w: truth[2], h: truth[3]).pixels(width: imageSize, height: imageSize)
                let p = CenterBox(x: Double(boxes[4 * i]), y: Double(boxes[4 * i + 1]), w: Double(boxes[4 * i + 2]),
                                  h: Double(boxes[4 * i + 3])).pixels(width: imageSize, height: imageSize)
                image.drawBox(xmin: t.xmin.rounded(.towardZero), ymin: t.ymin.rounded(.towardZero), xmax: t.xmax.rounded(.towardZero) - 1,
                              ymax: t.ymax.rounded(.towardZero) - 1, color: (0, 255, 0), lineWidth: 1)
                image.drawBox(xmin: p.xmin.rounded(), ymin: p.ymin.rounded(), xmax: p.xmax.rounded() - 1,
                              ymax: p.ymax.rounded() - 1, color: (255, 0, 0), lineWidth: 1)
                let path = "\(pictures)/validation-\(i).png"
                try image.write(to: path)
                print("   \(path)")
            }
        }
        print(String(format: "done in %.0f s. Try: pinpoint predict --model %@ %@/images/<name>.jpg --out %@ --annotations %@/annotations/xmls",
                     Date().timeIntervalSince(start), checkpoint, pets, pictures, pets))
        guard metrics.meanIoU >= baseline.meanIoU + 0.05 else {
            throw ValidationError(String(format: "the model's mean IoU %.4f does not beat the baseline %.4f by 0.05", metrics.meanIoU, baseline.meanIoU))
        }
        print(String(format: "result: validation mean IoU %.4f against a baseline of %.4f", metrics.meanIoU, baseline.meanIoU))
    }
}

/// Mean IoU on the validation records of always predicting the training records' mean box.
func meanBoxBaseline(train: String, validation: String) throws -> LocalizationMetrics {
    var sum = [Double](repeating: 0, count: 4), n = 0.0
    let trainEpoch = try LocalizationBatches(paths: [train], batchSize: 64).epoch(0)
    while let batch = try trainEpoch.next() {
        let b = batch.boxes.sum(alongAxes: [0]).scalars
        for k in 0..<4 { sum[k] += Double(b[k]) }
        n += Double(batch.count)
    }
    let mean = Tensor(sum.map { Float($0 / n) })
    var metrics = LocalizationMetrics()
    let validationEpoch = try LocalizationBatches(paths: [validation], batchSize: 64).epoch(0)
    while let batch = try validationEpoch.next() {
        metrics.add(predictedBoxes: mean.broadcast(to: [batch.count, 4]).contiguous(), trueBoxes: batch.boxes)
    }
    return metrics
}
