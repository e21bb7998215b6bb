import ArgumentParser
import Foundation
import Pinpoint

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic dataset in the Oxford-IIIT Pet layout (images/, annotations/xmls/).")

    @Option(help: "Output folder (created if missing).") var out: String
    @Option(help: "Number of images.") var count: Int
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        let progress = ProgressLine()
        let summary = try SyntheticPets(count: count, seed: seed).write(to: out) { progress.update("synth", $0, $1, unit: "images") }
        print("wrote \(summary.images) images and \(summary.annotations) annotations to \(out) (\(summary.cats) cats, \(summary.dogs) dogs)")
        if !summary.quirks.isEmpty {
            print("quirks: " + summary.quirks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }
}

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn an Oxford-IIIT Pet folder into loc_train.tfr and loc_val.tfr, as the tutorial does.",
        discussion: """
            Skips images whose mode is not RGB (an RGB PNG named .jpg is kept), unreadable images, invalid \
            annotations and unpaired files, and says why. Never modifies anything under --data. Exits 0 when at \
            least one pair was written.
            """)

    @Option(help: "The dataset folder (with images/ and annotations/xmls/).") var data: String
    @Option(help: "Output folder for loc_train.tfr and loc_val.tfr.") var out: String
    @Option(help: "Images are resized to SIZE x SIZE.") var size = 224
    @Option(help: "Fraction of kept pairs for validation (default: the tutorial's 685 of 3685).") var valFraction: Double?
    @Option(help: "Number of validation pairs (instead of --val-fraction).") var valCount: Int?
    @Option(help: "Random seed of the split.") var seed: UInt64 = 0
    @Flag(help: "List every skipped pair with its reason.") var verbose = false

    func validate() throws {
        guard size > 0 else { throw ValidationError("--size must be positive") }
        if valFraction != nil && valCount != nil { throw ValidationError("give --val-fraction or --val-count, not both") }
        if let f = valFraction, !(0...1).contains(f) { throw ValidationError("--val-fraction must be between 0 and 1") }
    }

    func run() throws {
        let folder = try OxfordPetFolder(root: data)
        var preparation = OxfordPetPreparation(folder: folder)
        preparation.size = size
        preparation.seed = seed
        preparation.validationCount = valCount
        if let valFraction { preparation.validationFraction = valFraction }
        let progress = ProgressLine()
        let report = try preparation.run(outputDirectory: out) { progress.update($0, $1, $2, unit: "pairs") }
        print("wrote \(report.trainCount) training records to \(report.trainPath)")
        print("wrote \(report.validationCount) validation records to \(report.validationPath)")
        if report.skipped.isEmpty {
            print("skipped nothing")
        } else {
            print("skipped \(report.skipped.count): " + report.skipCounts.map { "\($0.category) \($0.count)" }.joined(separator: ", "))
            if verbose {
                for skip in report.skipped { print("  \(skip.name): \(skip.category) (\(skip.detail))") }
            }
        }
        if report.trainCount + report.validationCount == 0 {
            throw ValidationError("no usable image/annotation pair in \(data)")
        }
    }
}

struct TFRecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tfrecord", abstract: "Inspect TFRecord files.",
                                                    subcommands: [Dump.self])

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each record of a TFRecord file of tf.train.Example as one JSON line.",
            discussion: """
                Each line maps feature names to {"kind": "bytes"|"float"|"int64"|null, "values": [...]}. Bytes values \
                are {"length": N, "sha256": "hex"}; non-finite floats are "inf", "-inf" or "nan". A corrupt record \
                stops the dump with an error on standard error and a non-zero exit.
                """)

        @Argument(help: "The TFRecord file.") var file: String
        @Option(help: "Stop after N records.") var limit: Int?

        func run() throws {
            let reader = try TFRecordReader(path: file)
            var index = 0
            while limit.map({ index < $0 }) ?? true, let record = try reader.next() {
                let example: Example
                do { example = try Example(serialized: record) } catch {
                    throw ValidationError("\(file): record \(index): \(error)")
                }
                print(example.jsonLine())
                index += 1
            }
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the ground-truth box of one image to a PNG.",
        discussion: """
            Either --tfrecord FILE --index I (a prepared record) or --data DIR --name NAME (an original image and its XML). \
            With --augment, a grid: the record as stored, then the augmented image and box that each of the first \
            --draws epochs of `train --augment LIST --seed S` would train on when FILE is the training file.
            """)

    @Option(help: "A prepared TFRecord file.") var tfrecord: String?
    @Option(help: "Record index in --tfrecord.") var index: Int?
    @Option(help: "An Oxford-IIIT Pet folder.") var data: String?
    @Option(help: "Image base name in --data (e.g. Abyssinian_1).") var name: String?
    @Option(help: "The PNG to write.") var out: String
    @Option(help: "With --tfrecord: a checkpoint whose prediction is drawn too (red).") var model: String?
    @Option(help: "With --tfrecord: draw augmented versions (a list of hflip, crop, scale, translate, color, or a JSON recipe).")
    var augment: String?
    @Option(help: "With --augment: how many epochs' draws.") var draws = 8
    @Option(help: "With --augment: the training seed.") var seed: UInt64 = 0

    func validate() throws {
        guard (tfrecord != nil && index != nil && data == nil && name == nil) || (data != nil && name != nil && tfrecord == nil && index == nil) else {
            throw ValidationError("give either --tfrecord and --index, or --data and --name")
        }
        if model != nil && tfrecord == nil { throw ValidationError("--model goes with --tfrecord") }
        if let index, index < 0 { throw ValidationError("--index counts records from 0") }
        if let augment {
            guard tfrecord != nil, model == nil else { throw ValidationError("--augment goes with --tfrecord and without --model") }
            guard draws > 0 else { throw ValidationError("--draws must be positive") }
            do { _ = try BoxAugmentation(parsing: augment) } catch { throw ValidationError("--augment: \(error)") }
        }
    }

    func run() throws {
        var image: RGBImage
        var box: PixelBox
        if let tfrecord, let index {
            let reader = try TFRecordReader(path: tfrecord)
            var record: [UInt8]?
            for _ in 0...index { record = try reader.next() }
            guard let record else { throw ValidationError("\(tfrecord) has fewer than \(index + 1) records") }
            let pixels: [UInt8], x: Double, y: Double, w: Double, h: Double
            do {
                let example = try Example(serialized: record)
                pixels = try example.bytes("image")
                (x, y, w, h) = (Double(try example.float("x")), Double(try example.float("y")), Double(try example.float("w")),
                                Double(try example.float("h")))
            } catch {
                throw ValidationError("\(tfrecord): record \(index): \(error)")
            }
            let side = Int(Double(pixels.count / 3).squareRoot())
            guard side * side * 3 == pixels.count else {
                throw ValidationError("\(tfrecord): record \(index): image of \(pixels.count) bytes is not square RGB")
            }
            image = RGBImage(width: side, height: side, pixels: pixels)
            if let augment {
                try writeAugmentations(try BoxAugmentation(parsing: augment), image: image, box: (Float(x), Float(y), Float(w), Float(h)), index: index)
                return
            }
            box = PixelBox(xmin: (x - w / 2) * Double(side), ymin: (y - h / 2) * Double(side), xmax: (x + w / 2) * Double(side), ymax: (y + h / 2) * Double(side))
        } else {
            let data = data!, name = name!
            image = try ImageCodec.decode(path: "\(data)/images/\(name).jpg").image
            box = try Annotation(contentsOf: "\(data)/annotations/xmls/\(name).xml").objects[0].box
        }
        let thickness = Swift.max(2, Swift.min(image.width, image.height) / 150)
        image.drawBox(xmin: box.xmin.rounded(.towardZero), ymin: box.ymin.rounded(.towardZero),
                      xmax: box.xmax.rounded(.up) - 1, ymax: box.ymax.rounded(.up) - 1,
                      color: (0, 255, 0), lineWidth: thickness)
        var note = "ground truth in green"
        if let model {
            let loaded = try LoadedModel(contentsOf: model)
            guard loaded.configuration.imageSize == image.width else {
                throw ValidationError("\(model) takes \(loaded.configuration.imageSize)x\(loaded.configuration.imageSize) images; the record holds \(image.width)x\(image.height)")
            }
            let output = try loaded.predict([image.pixels]).scalars
            let predicted = loaded.configuration.predictedBox(output)
            let p = predicted.pixels(width: image.width, height: image.height)
            let truth = CenterBox(x: (box.xmin + box.xmax) / 2 / Double(image.width), y: (box.ymin + box.ymax) / 2 / Double(image.height),
                                  w: (box.xmax - box.xmin) / Double(image.width), h: (box.ymax - box.ymin) / Double(image.height))
            image.drawBox(xmin: p.xmin.rounded(), ymin: p.ymin.rounded(), xmax: p.xmax.rounded() - 1, ymax: p.ymax.rounded() - 1,
                          color: (255, 0, 0), lineWidth: thickness)
            note += String(format: ", prediction in red (IoU %.3f)", iou(predicted, truth))
        }
        try image.write(to: out)
        print("wrote \(out) (\(image.width)x\(image.height), \(note))")
    }

    /// The --augment grid: the stored record, then one draw per epoch, each with its box in green.
    func writeAugmentations(_ augmentation: BoxAugmentation, image: RGBImage, box: (x: Float, y: Float, w: Float, h: Float), index: Int) throws {
        let side = image.width
        func drawn(_ pixels: [UInt8], _ b: (x: Float, y: Float, w: Float, h: Float)) -> RGBImage {
            var picture = RGBImage(width: side, height: side, pixels: pixels)
            let (x0, y0) = ((Double(b.x) - Double(b.w) / 2) * Double(side), (Double(b.y) - Double(b.h) / 2) * Double(side))
            let (x1, y1) = ((Double(b.x) + Double(b.w) / 2) * Double(side), (Double(b.y) + Double(b.h) / 2) * Double(side))
            picture.drawBox(xmin: x0.rounded(.towardZero), ymin: y0.rounded(.towardZero), xmax: x1.rounded(.up) - 1, ymax: y1.rounded(.up) - 1,
                            color: (0, 255, 0), lineWidth: Swift.max(1, side / 112))
            return picture
        }
        var cells = [(image: drawn(image.pixels, box), caption: "record \(index)")]
        for epoch in 0..<draws {
            var rng = BoxAugmentation.generator(seed: seed, epoch: epoch, sample: index)
            let draw = augmentation.draw(using: &rng)
            let (values, moved) = augmentation.apply(draw, to: image.pixels, side: side, box: box)
            cells.append((drawn(values.map { UInt8(($0).rounded()) }, moved), "epoch \(epoch)"))
        }
        try RGBImage.grid(cells, columns: 3).write(to: out)
        print("wrote \(out) (record \(index) and \(draws) augmented draws, seed \(seed), boxes in green)")
    }
}

