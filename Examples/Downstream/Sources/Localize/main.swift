// A user's own localizer in under 60 lines: TFRecords in, a model built from Pinpoint's layers,
// trained with fit and a callback of its own, scored by mean IoU.
import Foundation
import Pinpoint

let work = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-localize-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: work) }

// Data: a small synthetic Oxford-IIIT Pet folder, prepared into TFRecords at 32x32.
var pets = SyntheticPets(count: 120, seed: 3)
pets.sideRange = 64...160
_ = try pets.write(to: work + "/pets")
var preparation = OxfordPetPreparation(folder: try OxfordPetFolder(root: work + "/pets"))
preparation.size = 32
let records = try preparation.run(outputDirectory: work + "/records")

// A model of our own: two conv blocks, global pooling, a sigmoid box head.
let model = try Sequential(inputShape: [32, 32, 3], [
    Conv2D(16, padding: .same, activation: .relu), MaxPooling2D(),
    Conv2D(32, padding: .same, activation: .relu), MaxPooling2D(),
    Conv2D(32, padding: .same, activation: .relu), GlobalAveragePooling2D(),
    Dense(32, activation: .relu), Dense(4, activation: .sigmoid),
], seed: 1)
print(model.summary())

let train = try LocalizationBatches(paths: [records.trainPath], batchSize: 16, shuffleBuffer: 100, seed: 1)
let validation = try LocalizationBatches(paths: [records.validationPath], batchSize: 16)
let trainer = Trainer(model: model, loss: MeanSquaredError(),
                      optimizer: Adam(model.trainableParameters, learningRate: ConstantLearningRate(3e-3)), seed: 1)
trainer.showsProgress = false

// A callback of our own, beside Pinpoint's EarlyStopping: one line per epoch.
struct EpochLine: TrainingCallback {
    func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        print(String(format: "epoch %d: loss %.4f, val_loss %.4f", result.epoch, result.trainingLoss, trainer.metrics["val_loss"] ?? .nan))
    }
}
let history = try trainer.fit(train: LocalizationBatchSource(train), validation: LocalizationBatchSource(validation), epochs: 12,
                              callbacks: [EpochLine(), EarlyStopping(patience: 3)])

// Mean IoU over the validation records, streamed batch by batch.
var metrics = LocalizationMetrics()
let epoch = validation.epoch(0)
while let batch = try epoch.next() {
    metrics.add(predictedBoxes: try model.predict(batch.images), trueBoxes: batch.boxes)
}
print(String(format: "train loss %.4f -> %.4f; validation mean IoU %.3f over %d boxes",
             history.first!.trainingLoss, history.last!.trainingLoss, metrics.meanIoU, metrics.count))
guard history.last!.trainingLoss < history.first!.trainingLoss, metrics.meanIoU.isFinite else {
    fatalError("the downstream localizer did not train")
}
