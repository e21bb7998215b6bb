import Foundation

/// Where a step's time goes: forward and backward seconds per layer and per operation.
///
/// Attach one to a `GradientTape` (`tape.profiler`) and to the `LayerContext` of a call; layers
/// applied through `applyInOrder` (every Sequential and MobileNetV2 block) open a scope named
/// after themselves. Each recorded operation is charged the time since the previous event (its
/// own computation, since operations run one after another), and each pullback the time it and
/// its gradient accumulation took. Without a tape (inference) a layer's time is charged to the
/// layer as a whole. Costs two clock reads per operation; nothing when no profiler is attached.
///
/// ```swift
/// let profiler = Profiler()
/// let tape = GradientTape()
/// tape.profiler = profiler
/// var context = LayerContext(training: true, tape: tape, profiler: profiler)
/// let loss = mse(targets, model(Traced(images), context: &context))
/// _ = tape.gradient(of: loss, wrt: parameters)
/// print(profiler.report())
/// ```
public final class Profiler {
    /// One (scope, operation) pair's totals.
    public struct Entry: Sendable {
        public let scope: String
        public let layerType: String
        public let operation: String
        public var forwardSeconds = 0.0
        public var backwardSeconds = 0.0
        public var forwardCalls = 0
        public var backwardCalls = 0
        public var seconds: Double { forwardSeconds + backwardSeconds }
    }

    private struct Key: Hashable {
        let scope: Int
        let operation: String
    }

    private var scopes: [(path: String, type: String)] = [("", "")]
    private var scopeIndex: [String: Int] = ["": 0]
    private var stack: [Int] = [0]
    private var totals: [Key: Entry] = [:]
    private var order: [Key] = []
    private var lastMark = DispatchTime.now().uptimeNanoseconds

    public init() {}

    /// The scope operations are currently charged to (an index into the profiler's scopes).
    var currentScope: Int { stack[stack.count - 1] }

    /// Opens a scope for a layer (nested in the current one); time until here goes to the parent.
    public func enter(_ name: String, type: String) {
        charge(forwardTo: "(between layers)")
        let parent = scopes[currentScope].path
        let path = parent.isEmpty ? name : parent + "/" + name
        let index: Int
        if let known = scopeIndex[path] {
            index = known
        } else {
            index = scopes.count
            scopes.append((path, type))
            scopeIndex[path] = index
        }
        stack.append(index)
    }

    /// Closes the innermost scope; its remaining time (all of it, without a tape) goes to it.
    public func exit() {
        charge(forwardTo: "(layer)")
        precondition(stack.count > 1, "Profiler.exit without a matching enter")
        stack.removeLast()
    }

    /// Runs `body` in a named scope (the loss, the optimizer update).
    public func measure<T>(_ name: String, type: String = "", _ body: () throws -> T) rethrows -> T {
        enter(name, type: type)
        defer { exit() }
        return try body()
    }

    /// Charges the time since the previous event to `operation` in the current scope.
    func charge(forwardTo operation: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(now - lastMark) / 1e9
        lastMark = now
        update(Key(scope: currentScope, operation: operation)) { $0.forwardSeconds += seconds; $0.forwardCalls += 1 }
    }

    func charge(backward seconds: Double, scope: Int, operation: String) {
        update(Key(scope: scope, operation: operation)) { $0.backwardSeconds += seconds; $0.backwardCalls += 1 }
    }

    /// Starts a new interval: time before this call is charged to nothing.
    public func restartClock() { lastMark = DispatchTime.now().uptimeNanoseconds }

    private func update(_ key: Key, _ change: (inout Entry) -> Void) {
        if totals[key] == nil {
            totals[key] = Entry(scope: scopes[key.scope].path, layerType: scopes[key.scope].type, operation: key.operation)
            order.append(key)
        }
        change(&totals[key]!)
    }

    /// Every (scope, operation) pair in first-seen order.
    public var entries: [Entry] { order.map { totals[$0]! } }

    /// Forgets everything measured (after warm-up steps).
    public func reset() {
        totals = [:]
        order = []
        restartClock()
    }

    /// Two tables: time per layer (forward, backward, share), then per operation across layers.
    /// `steps` divides the totals, giving milliseconds per step.
    public func report(steps: Int = 1, maxRows: Int = 40) -> String {
        let all = entries
        let total = all.reduce(0) { $0 + $1.seconds }
        guard total > 0 else { return "profile: nothing measured" }
        let perStep = 1000 / Double(max(steps, 1))
        func row(_ name: String, _ forward: Double, _ backward: Double, _ extra: String) -> String {
            let label = name.count > 46 ? "…" + name.suffix(45) : name
            return label.padding(toLength: 47, withPad: " ", startingAt: 0)
                + String(format: "%10.2f %10.2f %10.2f %6.1f%%", forward * perStep, backward * perStep, (forward + backward) * perStep,
                         100 * (forward + backward) / total) + extra
        }
        var lines = [String(format: "Profile: %.1f ms per step over %d step%@ (forward / backward / total ms per step, share)",
                            total * perStep, steps, steps == 1 ? "" : "s")]

        var layers: [String: (type: String, forward: Double, backward: Double, order: Int)] = [:]
        for (i, e) in all.enumerated() {
            let name = e.scope.isEmpty ? "(outside layers)" : e.scope
            layers[name, default: (e.layerType, 0, 0, i)].forward += e.forwardSeconds
            layers[name, default: (e.layerType, 0, 0, i)].backward += e.backwardSeconds
        }
        let byLayer = layers.sorted { ($0.value.forward + $0.value.backward) > ($1.value.forward + $1.value.backward) }
        lines.append("")
        lines.append("layer".padding(toLength: 47, withPad: " ", startingAt: 0) + "   forward   backward      total  share  type")
        for (name, v) in byLayer.prefix(maxRows) { lines.append(row(name, v.forward, v.backward, "  " + v.type)) }
        if byLayer.count > maxRows {
            let rest = byLayer.dropFirst(maxRows)
            lines.append(row("(\(rest.count) more layers)", rest.reduce(0) { $0 + $1.value.forward }, rest.reduce(0) { $0 + $1.value.backward }, ""))
        }

        var operations: [String: (forward: Double, backward: Double, calls: Int)] = [:]
        for e in all {
            operations[e.operation, default: (0, 0, 0)].forward += e.forwardSeconds
            operations[e.operation, default: (0, 0, 0)].backward += e.backwardSeconds
            operations[e.operation, default: (0, 0, 0)].calls += max(e.forwardCalls, e.backwardCalls)
        }
        lines.append("")
        lines.append("operation".padding(toLength: 47, withPad: " ", startingAt: 0) + "   forward   backward      total  share  calls/step")
        for (name, v) in operations.sorted(by: { ($0.value.forward + $0.value.backward) > ($1.value.forward + $1.value.backward) }) {
            lines.append(row(name, v.forward, v.backward, "  " + String(v.calls / max(steps, 1))))
        }
        return lines.joined(separator: "\n")
    }
}
