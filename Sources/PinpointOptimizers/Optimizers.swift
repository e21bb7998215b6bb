import CPinpointKernels
import Foundation
import PinpointAutograd
import PinpointTensor

/// An optimizer over a fixed list of named parameters, with per-parameter state that can be saved
/// and restored by name (`optimizer.<parameter>.<slot>`, plus `optimizer.iterations`).
public protocol Optimizer: AnyObject {
    var parameters: [(name: String, parameter: Parameter)] { get }
    /// Steps taken so far (Keras's `iterations`).
    var iterations: Int { get set }
    /// Rescale gradients so their global norm is at most this (Keras's `global_clipnorm`).
    var globalClipNorm: Float? { get set }
    /// A factor on the schedule's learning rate (1 unless a callback such as ReduceLROnPlateau
    /// lowers it); checkpoints keep it.
    var learningRateScale: Float { get set }
    /// One update from gradients aligned with `parameters`; increments `iterations`.
    func apply(_ gradients: [Tensor])
    /// Slot tensors by name, for checkpoints.
    var state: [(name: String, value: Tensor)] { get }
    func restore(_ state: [String: Tensor]) throws(OptimizerError)
}

public struct OptimizerError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

extension Optimizer {
    /// The gradients scaled down to `globalClipNorm` when their joint norm exceeds it.
    func clipped(_ gradients: [Tensor]) -> [Tensor] {
        precondition(gradients.count == parameters.count,
                     "\(type(of: self)): \(gradients.count) gradients for \(parameters.count) parameters")
        for (g, p) in zip(gradients, parameters) where g.shape != p.parameter.shape {
            preconditionFailure("\(type(of: self)): gradient of shape \(g.shape) for '\(p.name)' of shape \(p.parameter.shape)")
        }
        guard let limit = globalClipNorm else { return gradients }
        let norm = gradients.reduce(Float(0)) { $0 + $1.square().sum().scalar }.squareRoot()
        guard norm > limit else { return gradients }
        return gradients.map { $0 * (limit / norm) }
    }

    /// A zero slot per parameter. Optimizers make their slots at the first step (or on `state`),
    /// not when built, each slot its own storage: an optimizer built only to run a model
    /// (inference, `bench infer`) then holds no memory, and slots sharing one zero tensor cost a
    /// copy of each on the first step (205 MB apiece for the CNN's Dense kernel).
    func zeroSlots() -> [Tensor] { parameters.map { Tensor.zeros($0.parameter.shape) } }

    func slotState(_ slots: [(String, [Tensor])]) -> [(name: String, value: Tensor)] {
        var out: [(name: String, value: Tensor)] = [("optimizer.iterations", Tensor(Float(iterations)))]
        for (slot, values) in slots {
            for (p, v) in zip(parameters, values) { out.append(("optimizer.\(p.name).\(slot)", v)) }
        }
        return out
    }

    func restoreSlots(_ state: [String: Tensor], _ slots: [String]) throws(OptimizerError) -> [[Tensor]] {
        guard let steps = state["optimizer.iterations"] else { throw OptimizerError(reason: "optimizer state lacks optimizer.iterations") }
        // The count comes from a file: one finite, whole, non-negative value, or it is refused
        // (Int(_:) of NaN or of 1e30 traps).
        guard steps.count == 1, let count = Int(exactly: steps.scalars[0]), count >= 0 else {
            throw OptimizerError(reason: "optimizer.iterations is \(steps.shape) \(steps.scalars.prefix(4)), not one whole number of steps")
        }
        iterations = count
        return try slots.map { slot throws(OptimizerError) in
            try parameters.map { p throws(OptimizerError) in
                let key = "optimizer.\(p.name).\(slot)"
                guard let v = state[key] else { throw OptimizerError(reason: "optimizer state lacks \(key)") }
                guard v.shape == p.parameter.shape else {
                    throw OptimizerError(reason: "\(key) has shape \(v.shape), the parameter \(p.parameter.shape)")
                }
                return v
            }
        }
    }
}

/// Keras `RMSprop`: v = rho v + (1 - rho) g^2; increment = lr g / sqrt(v + epsilon) (epsilon
/// inside the root, as Keras 3); with momentum m = momentum m + increment and w -= m, else
/// w -= increment. `centered` subtracts the squared running mean of g inside the root.
public final class RMSprop: Optimizer {
    public let parameters: [(name: String, parameter: Parameter)]
    public var learningRate: any LearningRateSchedule
    public let rho: Float, momentum: Float, epsilon: Float, centered: Bool
    public var iterations = 0
    public var globalClipNorm: Float?
    public var learningRateScale: Float = 1
    private var velocity: [Tensor] = [], momenta: [Tensor] = [], averageGradient: [Tensor] = []

    public init(_ parameters: [(name: String, parameter: Parameter)], learningRate: any LearningRateSchedule = ConstantLearningRate(1e-3),
                rho: Float = 0.9, momentum: Float = 0, epsilon: Float = 1e-7, centered: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
    }

    /// The slots the formula uses (see `zeroSlots`).
    private func makeSlots() {
        guard velocity.count != parameters.count else { return }
        velocity = zeroSlots()
        if momentum > 0 { momenta = zeroSlots() }
        if centered { averageGradient = zeroSlots() }
    }

    public func apply(_ gradients: [Tensor]) {
        makeSlots()
        let lr = learningRate(iterations) * learningRateScale
        let (rho, momentum, epsilon, centered) = (rho, momentum, epsilon, centered)
        for (i, g) in clipped(gradients).enumerated() {
            // One threaded pass per parameter, in place, with the formulas above in the same order.
            let w = writableElements(&parameters[i].parameter.value), v = writableElements(&velocity[i])
            let m = momentum > 0 ? writableElements(&momenta[i]) : nil, a = centered ? writableElements(&averageGradient[i]) : nil
            forEachChunk(of: g) { g, range in
                if !centered {
                    // In the kernel set chosen for this CPU: the update touches every weight each
                    // step (the Dense layer's 51M among them), and Swift's SIMD code compiles for
                    // baseline x86-64 (4-lane SSE) in a plain build.
                    let j = range.lowerBound
                    kernels.rmsprop_update(w + j, v + j, m.map { $0 + j }, g + j, range.count, lr, rho, momentum, epsilon)
                    return
                }
                for j in range {
                    v[j] = v[j] * rho + g[j] * g[j] * (1 - rho)
                    a![j] = a![j] * rho + g[j] * (1 - rho)
                    let increment = g[j] * lr / (v[j] - a![j] * a![j] + epsilon).squareRoot()
                    if momentum > 0 {
                        m![j] = m![j] * momentum + increment
                        w[j] = w[j] - m![j]
                    } else {
                        w[j] = w[j] - increment
                    }
                }
            }
        }
        iterations += 1
    }

    public var state: [(name: String, value: Tensor)] {
        makeSlots()
        return slotState([("velocity", velocity)] + (momentum > 0 ? [("momentum", momenta)] : []) + (centered ? [("average_gradient", averageGradient)] : []))
    }

    public func restore(_ state: [String: Tensor]) throws(OptimizerError) {
        let names = ["velocity"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["average_gradient"] : [])
        let slots = try restoreSlots(state, names)
        velocity = slots[0]
        if momentum > 0 { momenta = slots[1] }
        if centered { averageGradient = slots[names.count - 1] }
    }
}

/// Keras `SGD`: with momentum m = momentum m - lr g and w += m (Nesterov: w += momentum m - lr g);
/// without, w -= lr g.
public final class SGD: Optimizer {
    public let parameters: [(name: String, parameter: Parameter)]
    public var learningRate: any LearningRateSchedule
    public let momentum: Float, nesterov: Bool
    public var iterations = 0
    public var globalClipNorm: Float?
    public var learningRateScale: Float = 1
    private var momenta: [Tensor] = []

    public init(_ parameters: [(name: String, parameter: Parameter)], learningRate: any LearningRateSchedule = ConstantLearningRate(0.01),
                momentum: Float = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    /// The momentum slot, when there is momentum (see `zeroSlots`).
    private func makeSlots() {
        if momentum > 0 && momenta.count != parameters.count { momenta = zeroSlots() }
    }

    public func apply(_ gradients: [Tensor]) {
        makeSlots()
        let lr = learningRate(iterations) * learningRateScale
        let (momentum, nesterov) = (momentum, nesterov)
        for (i, g) in clipped(gradients).enumerated() {
            let w = writableElements(&parameters[i].parameter.value), m = momentum > 0 ? writableElements(&momenta[i]) : nil
            forEachChunk(of: g) { g, range in
                for j in range {
                    if momentum > 0 {
                        m![j] = m![j] * momentum - g[j] * lr
                        w[j] = nesterov ? w[j] + m![j] * momentum - g[j] * lr : w[j] + m![j]
                    } else {
                        w[j] = w[j] - g[j] * lr
                    }
                }
            }
        }
        iterations += 1
    }

    public var state: [(name: String, value: Tensor)] {
        makeSlots()
        return slotState(momentum > 0 ? [("momentum", momenta)] : [])
    }
    public func restore(_ state: [String: Tensor]) throws(OptimizerError) {
        let slots = try restoreSlots(state, momentum > 0 ? ["momentum"] : [])
        if momentum > 0 { momenta = slots[0] }
    }
}

/// Keras `Adam`: m += (g - m)(1 - beta1); v += (g^2 - v)(1 - beta2);
/// w -= lr sqrt(1 - beta2^t) / (1 - beta1^t) m / (sqrt(v) + epsilon), t = step + 1.
public final class Adam: Optimizer {
    public let parameters: [(name: String, parameter: Parameter)]
    public var learningRate: any LearningRateSchedule
    public let beta1: Float, beta2: Float, epsilon: Float
    public var iterations = 0
    public var globalClipNorm: Float?
    public var learningRateScale: Float = 1
    private var m: [Tensor] = [], v: [Tensor] = []

    public init(_ parameters: [(name: String, parameter: Parameter)], learningRate: any LearningRateSchedule = ConstantLearningRate(1e-3),
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Both moments (see `zeroSlots`).
    private func makeSlots() {
        guard m.count != parameters.count else { return }
        (m, v) = (zeroSlots(), zeroSlots())
    }

    public func apply(_ gradients: [Tensor]) {
        makeSlots()
        let t = Double(iterations + 1)
        let lr = Float(Double(learningRate(iterations) * learningRateScale) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let (beta1, beta2, epsilon) = (beta1, beta2, epsilon)
        for (i, g) in clipped(gradients).enumerated() {
            let w = writableElements(&parameters[i].parameter.value), m = writableElements(&m[i]), v = writableElements(&v[i])
            forEachChunk(of: g) { g, range in
                let rest = inVectors(range) { j in
                    let gj = load(g + j), mj = load(m + j), vj = load(v + j)
                    let m1 = mj + (gj - mj) * (1 - beta1), v1 = vj + (gj * gj - vj) * (1 - beta2)
                    store(m + j, m1)
                    store(v + j, v1)
                    store(w + j, load(w + j) - m1 * lr / (v1.squareRoot() + epsilon))
                }
                for j in rest {
                    m[j] = m[j] + (g[j] - m[j]) * (1 - beta1)
                    v[j] = v[j] + (g[j] * g[j] - v[j]) * (1 - beta2)
                    w[j] = w[j] - m[j] * lr / (v[j].squareRoot() + epsilon)
                }
            }
        }
        iterations += 1
    }

    public var state: [(name: String, value: Tensor)] {
        makeSlots()
        return slotState([("m", m), ("v", v)])
    }
    public func restore(_ state: [String: Tensor]) throws(OptimizerError) {
        let slots = try restoreSlots(state, ["m", "v"])
        m = slots[0]
        v = slots[1]
    }
}

/// The elements of an optimizer's tensor (a parameter's value or a slot) for an in-place update:
/// the tensor is made contiguous and its own first. The pointer stays valid while the tensor is
/// neither copied into nor reassigned, which holds for the duration of one `apply`.
private func writableElements(_ tensor: inout Tensor) -> UnsafeMutablePointer<Float> {
    tensor.withUnsafeMutableBufferPointer { $0.baseAddress! }
}

/// Runs `vector` at the first index of each whole group of 16 in `range` and returns the indices
/// left for the scalar loop. The vector bodies do the scalar loops' operations in their order,
/// lane by lane, so they give the same results; the compiler leaves the scalar loops scalar.
private func inVectors(_ range: Range<Int>, _ vector: (Int) -> Void) -> Range<Int> {
    var j = range.lowerBound
    while j + 16 <= range.upperBound {
        vector(j)
        j += 16
    }
    return j..<range.upperBound
}

@inline(__always) private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
@inline(__always) private func load(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> { load(UnsafePointer(p)) }
@inline(__always) private func store(_ p: UnsafeMutablePointer<Float>, _ value: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD16<Float>.self)
}

/// Runs `body` over chunks of a gradient's element indices, on all threads, with the gradient's
/// elements. Each update is one pass over memory instead of a temporary tensor per term: for the
/// tutorial CNN's 51M-weight Dense layer, tens of milliseconds per step instead of 450.
private func forEachChunk(of gradient: Tensor, _ body: (UnsafePointer<Float>, Range<Int>) -> Void) {
    let g = gradient.contiguous()
    g.withUnsafeBufferPointer { g in
        Parallelism.forEachChunk(g.count, costPerItem: 8) { range in body(g.baseAddress!, range) }
    }
}
