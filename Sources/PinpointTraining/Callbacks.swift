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

/// The best monitored value so far and the epochs since it, as EarlyStopping and
/// ReduceLROnPlateau both count them, saved under `prefix` in a callback's state.
struct Plateau {
    let monitor: Monitor
    let prefix: String
    private(set) var best: Double?
    var wait = 0

    init(monitor: Monitor, prefix: String) {
        self.monitor = monitor
        self.prefix = prefix
    }

    /// Records this epoch's value; false when it did not improve on the best.
    mutating func improves(_ value: Double) -> Bool {
        guard monitor.improves(value, on: best) else {
            wait += 1
            return false
        }
        (best, wait) = (value, 0)
        return true
    }

    var state: [String: String] { [prefix + ".best": best.map { String($0) } ?? "", prefix + ".wait": String(wait)] }

    mutating func restore(_ state: [String: String]) {
        best = state[prefix + ".best"].flatMap(Double.init)
        wait = state[prefix + ".wait"].flatMap(Int.init) ?? 0
    }
}

/// Keras's `EarlyStopping`: ends training once the monitored value has not improved for
/// `patience` epochs in a row. Its best value and wait count are in every checkpoint.
public final class EarlyStopping: TrainingCallback {
    public let patience: Int
    private var plateau: Plateau
    public var monitor: Monitor { plateau.monitor }
    public var best: Double? { plateau.best }
    public var wait: Int { plateau.wait }

    public init(monitor: Monitor = .valLoss, patience: Int) {
        precondition(patience > 0, "EarlyStopping: patience must be positive")
        self.patience = patience
        plateau = Plateau(monitor: monitor, prefix: "early_stopping")
    }

    public func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        guard let value = trainer.metrics[monitor.rawValue], value.isFinite else { return }
        if !plateau.improves(value) && plateau.wait >= patience { trainer.stopTraining = true }
    }

    public var state: [String: String] { plateau.state }
    public func restore(_ state: [String: String]) throws { plateau.restore(state) }
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
    public let factor: Float
    public let patience: Int
    private var plateau: Plateau
    public var monitor: Monitor { plateau.monitor }
    public var best: Double? { plateau.best }
    public var wait: Int { plateau.wait }

    public init(monitor: Monitor = .valLoss, factor: Float, patience: Int) {
        precondition(factor > 0 && factor < 1 && patience > 0, "ReduceLROnPlateau: factor in (0, 1) and a positive patience")
        self.factor = factor
        self.patience = patience
        plateau = Plateau(monitor: monitor, prefix: "reduce_lr")
    }

    public func epochEnded(_ result: EpochResult, trainer: Trainer) throws {
        guard let value = trainer.metrics[monitor.rawValue], value.isFinite else { return }
        if !plateau.improves(value) && plateau.wait >= patience {
            trainer.optimizer.learningRateScale *= factor
            plateau.wait = 0
        }
    }

    public var state: [String: String] { plateau.state }
    public func restore(_ state: [String: String]) throws { plateau.restore(state) }
}
