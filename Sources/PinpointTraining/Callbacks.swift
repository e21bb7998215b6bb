import Foundation

/// What a callback watches: a value in `Trainer.metrics`, and whether lower or higher is better.
public enum Monitor: String, Sendable, CaseIterable {
    case valLoss = "val_loss", valIoU = "val_iou"

    /// True when `value` improves on `best` (there is no best yet when it is nil).
    func improves(_ value: Double, on best: Double?) -> Bool {
        guard let best else { return true }
        return self == .valLoss ? value < best : value > best
    }
}

/// Keras's `EarlyStopping`: ends training once the monitored value has not improved for
/// `patience` epochs in a row. Its best value and wait count are in every checkpoint.
public final class EarlyStopping: TrainingCallback {
    public let monitor: Monitor
    public let patience: Int
    public private(set) var best: Double?
    public private(set) var wait = 0

    public init(monitor: Monitor = .valLoss, patience: Int) {
        precondition(patience > 0, "EarlyStopping: patience must be positive")
        self.monitor = monitor
        self.patience = patience
    }

    public func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        guard let value = trainer.metrics[monitor.rawValue], value.isFinite else { return }
        if monitor.improves(value, on: best) {
            (best, wait) = (value, 0)
        } else {
            wait += 1
            if wait >= patience { trainer.stopTraining = true }
        }
    }

    public var state: [String: String] {
        ["early_stopping.best": best.map { String($0) } ?? "", "early_stopping.wait": String(wait)]
    }

    public func restore(_ state: [String: String]) throws {
        best = state["early_stopping.best"].flatMap(Double.init)
        wait = state["early_stopping.wait"].flatMap(Int.init) ?? 0
    }
}

/// Keras's `ModelCheckpoint(save_best_only=True)`: writes the checkpoint of each epoch whose
/// monitored value is the best so far to `path` (rank 0 alone, as every checkpoint).
public final class BestCheckpoint: TrainingCallback {
    public let path: String
    public let monitor: Monitor
    public private(set) var best: Double?

    public init(path: String, monitor: Monitor = .valLoss) {
        self.path = path
        self.monitor = monitor
    }

    public func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        guard let value = trainer.metrics[monitor.rawValue], value.isFinite, monitor.improves(value, on: best) else { return }
        best = value
        if trainer.communicator.isRoot { try trainer.saveCheckpoint(to: path) }
    }

    public var state: [String: String] { ["best_checkpoint.best": best.map { String($0) } ?? ""] }

    public func restore(_ state: [String: String]) throws {
        best = state["best_checkpoint.best"].flatMap(Double.init)
    }
}

/// Keras's `ReduceLROnPlateau`: multiplies the learning rate by `factor` once the monitored value
/// has not improved for `patience` epochs, then waits `patience` epochs again. The factor applied
/// so far is the optimizer's `learningRateScale`, which checkpoints keep.
public final class ReduceLROnPlateau: TrainingCallback {
    public let monitor: Monitor
    public let factor: Float
    public let patience: Int
    public private(set) var best: Double?
    public private(set) var wait = 0

    public init(monitor: Monitor = .valLoss, factor: Float, patience: Int) {
        precondition(factor > 0 && factor < 1 && patience > 0, "ReduceLROnPlateau: factor in (0, 1) and a positive patience")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
    }

    public func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        guard let value = trainer.metrics[monitor.rawValue], value.isFinite else { return }
        if monitor.improves(value, on: best) {
            (best, wait) = (value, 0)
        } else {
            wait += 1
            if wait >= patience {
                trainer.optimizer.learningRateScale *= factor
                wait = 0
            }
        }
    }

    public var state: [String: String] {
        ["reduce_lr.best": best.map { String($0) } ?? "", "reduce_lr.wait": String(wait)]
    }

    public func restore(_ state: [String: String]) throws {
        best = state["reduce_lr.best"].flatMap(Double.init)
        wait = state["reduce_lr.wait"].flatMap(Int.init) ?? 0
    }
}
