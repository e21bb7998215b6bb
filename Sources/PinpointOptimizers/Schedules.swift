import Foundation

/// A learning rate as a function of the optimizer's step count (before the step is counted, as
/// Keras: step 0 uses the initial rate).
public protocol LearningRateSchedule: Sendable {
    func callAsFunction(_ step: Int) -> Float
}

/// A constant learning rate.
public struct ConstantLearningRate: LearningRateSchedule {
    public let rate: Float
    public init(_ rate: Float) { self.rate = rate }
    public func callAsFunction(_ step: Int) -> Float { rate }
}

/// Keras `ExponentialDecay`: `initial * decayRate ^ (step / decaySteps)`, the exponent floored
/// when `staircase`. `decaySteps` is a real number, as the tutorial's N_TRAIN / N_BATCH * 10.
///
/// ```swift
/// let lr = ExponentialDecay(initial: 1e-4, decaySteps: 3000.0 / 40 * 10, decayRate: 0.5, staircase: true)
/// lr(0)     // 1e-4
/// lr(750)   // 5e-5
/// ```
public struct ExponentialDecay: LearningRateSchedule {
    public let initial: Float
    public let decaySteps: Double
    public let decayRate: Float
    public let staircase: Bool

    public init(initial: Float, decaySteps: Double, decayRate: Float, staircase: Bool = false) {
        precondition(decaySteps > 0, "ExponentialDecay: decaySteps must be positive")
        self.initial = initial
        self.decaySteps = decaySteps
        self.decayRate = decayRate
        self.staircase = staircase
    }

    public func callAsFunction(_ step: Int) -> Float {
        var p = Double(step) / decaySteps
        if staircase { p = p.rounded(.down) }
        return Float(Double(initial) * pow(Double(decayRate), p))
    }
}
