import Foundation
import PinpointTensor

/// Records operations on `Traced` values and computes gradients in reverse order, with
/// TensorFlow `GradientTape` semantics: only watched values (and what is computed from them) are
/// recorded; a value used several times accumulates every contribution; a non-persistent tape
/// answers one `gradient` call and then releases what it kept, a persistent one answers many.
///
/// ```swift
/// let tape = GradientTape()
/// let w = tape.watch(weights)               // a Parameter
/// let loss = ((x.matmul(w) - y).square()).mean()
/// let grads = tape.gradient(of: loss, wrt: [weights])
/// ```
public final class GradientTape {
    public let isPersistent: Bool

    private struct Node {
        var inputs: [Int]            // node index of each input, -1 for a constant
        var inputShapes: [[Int]]
        var pullback: Traced.Pullback?
        var operation = ""
        var scope = 0               // the profiler's scope, when profiling
    }

    private var nodes: [Node] = []
    private var parameterNodes: [ObjectIdentifier: Int] = [:]
    private var consumed = false

    /// When set, recorded operations and their pullbacks are timed (see `Profiler`).
    public var profiler: Profiler?

    public init(persistent: Bool = false) {
        isPersistent = persistent
    }

    /// Starts recording from `tensor`: the result is a source gradients can be taken with respect to.
    public func watch(_ tensor: Tensor) -> Traced {
        append(tensor, inputs: [], operation: "watch", pullback: nil)
    }

    /// Starts recording from a parameter's current value. Watching the same parameter again returns
    /// the same source, so all its uses add up in one gradient.
    public func watch(_ parameter: Parameter) -> Traced {
        if let node = parameterNodes[ObjectIdentifier(parameter)] {
            return Traced(parameter.value, tape: self, node: node)
        }
        let traced = watch(parameter.value)
        parameterNodes[ObjectIdentifier(parameter)] = traced.node
        return traced
    }

    /// Whether `watch(_:)` was called with this parameter on this tape.
    public func isWatching(_ parameter: Parameter) -> Bool { parameterNodes[ObjectIdentifier(parameter)] != nil }

    func append(_ value: Tensor, inputs: [Traced], operation: String, pullback: Traced.Pullback?) -> Traced {
        precondition(!consumed, "GradientTape: recording on a non-persistent tape whose gradient was already taken")
        var node = Node(inputs: inputs.map { $0.tape === self ? $0.node : -1 }, inputShapes: inputs.map(\.shape), pullback: pullback)
        if let profiler {
            profiler.charge(forwardTo: operation)
            node.operation = operation
            node.scope = profiler.currentScope
        }
        nodes.append(node)
        return Traced(value, tape: self, node: nodes.count - 1)
    }

    /// Gradients of `target` with respect to each source, in order. A non-scalar target is treated
    /// as its sum unless `outputGradient` (the seed, of the target's shape) is given. A source the
    /// target does not depend on gets zeros.
    public func gradient(of target: Traced, wrt sources: [Traced], outputGradient: Tensor? = nil) -> [Tensor] {
        precondition(!consumed, "GradientTape: a non-persistent tape can compute gradients once; use GradientTape(persistent: true)")
        for source in sources {
            precondition(source.tape === self, "GradientTape.gradient: a source was not recorded on this tape")
        }
        if let seed = outputGradient, seed.shape != target.shape {
            preconditionFailure("GradientTape.gradient: output gradient shape \(seed.shape) differs from target shape \(target.shape)")
        }
        guard target.tape === self else {
            return sources.map { Tensor.zeros($0.shape) }
        }
        let sourceNodes = Set(sources.map(\.node))
        // A node matters when it is a source or depends on one; only those get pullbacks.
        var needed = [Bool](repeating: false, count: target.node + 1)
        for i in 0...target.node {
            needed[i] = sourceNodes.contains(i) || nodes[i].inputs.contains { $0 >= 0 && needed[$0] }
        }
        var grads = [Tensor?](repeating: nil, count: target.node + 1)
        grads[target.node] = outputGradient ?? Tensor.ones(target.shape)
        for i in stride(from: target.node, through: 0, by: -1) where needed[i] {
            guard let g = grads[i], let pullback = nodes[i].pullback else { continue }
            let start = profiler == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let inputGrads = pullback(g)
            precondition(inputGrads.count == nodes[i].inputs.count,
                         "GradientTape: a pullback returned \(inputGrads.count) gradients for \(nodes[i].inputs.count) inputs")
            for (j, input) in nodes[i].inputs.enumerated() where input >= 0 && needed[input] {
                guard let inputGrad = inputGrads[j] else { continue }
                // The one place where broadcasting is undone for every operation.
                let shaped = inputGrad.unbroadcast(to: nodes[i].inputShapes[j])
                grads[input] = grads[input].map { $0 + shaped } ?? shaped
            }
            if let profiler {
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                profiler.charge(backward: seconds, scope: nodes[i].scope, operation: nodes[i].operation)
            }
            if !sourceNodes.contains(i) { grads[i] = nil }
            if !isPersistent { nodes[i].pullback = nil }
        }
        if !isPersistent {
            consumed = true
            nodes.removeAll()
        }
        return sources.map { grads[$0.node] ?? Tensor.zeros($0.shape) }
    }

    /// Gradients with respect to watched parameters, in order (zeros for one never watched or
    /// not used).
    public func gradient(of target: Traced, wrt parameters: [Parameter], outputGradient: Tensor? = nil) -> [Tensor] {
        let watched = parameters.enumerated().compactMap { index, p in
            parameterNodes[ObjectIdentifier(p)].map { (index, Traced(p.value, tape: self, node: $0)) }
        }
        let grads = gradient(of: target, wrt: watched.map(\.1), outputGradient: outputGradient)
        // Zeros only where there is no gradient: made up front for every parameter, they would be a
        // 205 MB fill per step for the tutorial CNN's Dense kernel, thrown away at once.
        var result = [Tensor?](repeating: nil, count: parameters.count)
        for (k, (index, _)) in watched.enumerated() { result[index] = grads[k] }
        return zip(result, parameters).map { gradient, parameter in gradient ?? Tensor.zeros(parameter.shape) }
    }
}
