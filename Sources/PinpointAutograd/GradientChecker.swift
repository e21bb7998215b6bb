import PinpointTensor

/// Compares a function's tape gradients with central finite differences, element by element.
///
/// The function's output is reduced to a scalar with fixed random weights (so errors at different
/// output positions cannot cancel). For each checked input element the checker evaluates
/// f(x + h) and f(x - h) with the random seed reset, so stochastic operations repeat exactly, and
/// compares (f(x+h) - f(x-h)) / 2h with the analytic gradient. The error is relative, scaled by
/// max(|analytic|, |numeric|, 1). A point where the one-sided differences disagree sits next to a
/// kink (ReLU at 0, a max-pooling tie) and is skipped; if too many are skipped the check fails,
/// because it could not test anything.
///
/// ```swift
/// let report = GradientChecker().check([x, w]) { inputs, _ in
///     conv2D(inputs[0], kernel: inputs[1], padding: .same)
/// }
/// XCTAssertTrue(report.passed, report.description)
/// ```
public struct GradientChecker: Sendable {
    /// Finite-difference step.
    public var step: Float = 1e-3
    /// Relative tolerance, scaled by max(|analytic|, |numeric|, 1).
    public var tolerance: Float = 1e-2
    /// The largest share of points that may be skipped as kinks before the check fails.
    public var maximumSkippedFraction: Double = 0.25
    /// At most this many elements per input are checked (a seeded sample of larger inputs).
    public var maximumPointsPerInput = 400
    /// Seed of the generator handed to the function on every evaluation, and of the output weights.
    public var seed: UInt64 = 0

    public init(step: Float = 1e-3, tolerance: Float = 1e-2) {
        self.step = step
        self.tolerance = tolerance
    }

    public func check(_ inputs: [Tensor], _ function: ([Traced], inout SeededGenerator) -> Traced) -> GradientCheckReport {
        var weightRNG = SeededGenerator(seed: seed ^ 0x5EED)
        func evaluate(_ values: [Tensor]) -> Tensor {
            var rng = SeededGenerator(seed: seed)
            return function(values.map { Traced($0) }, &rng).value
        }

        // Analytic gradients, seeded with the output weights.
        let tape = GradientTape()
        let sources = inputs.map { tape.watch($0) }
        var rng = SeededGenerator(seed: seed)
        let output = function(sources, &rng)
        let weights = Tensor.uniform(output.shape, low: -1, high: 1, using: &weightRNG)
        let analytic = tape.gradient(of: output, wrt: sources, outputGradient: weights)
        let w = weights.scalars.map(Double.init)
        func loss(_ y: Tensor) -> Double {
            let s = y.scalars
            var total = 0.0
            for i in 0..<s.count { total += Double(s[i]) * w[i] }
            return total
        }
        let center = loss(output.value)

        var report = GradientCheckReport()
        var sampleRNG = SeededGenerator(seed: seed ^ 0xC0FFEE)
        for (inputIndex, input) in inputs.enumerated() {
            let g = analytic[inputIndex].scalars
            var points = Array(0..<input.count)
            if points.count > maximumPointsPerInput {
                points.shuffle(using: &sampleRNG)
                points = Array(points.prefix(maximumPointsPerInput)).sorted()
            }
            var base = inputs.map { $0.contiguous() }
            for point in points {
                let original = base[inputIndex].scalars[point]
                func shifted(_ delta: Float) -> Double {
                    base[inputIndex].withUnsafeMutableBufferPointer { $0[point] = original + delta }
                    defer { base[inputIndex].withUnsafeMutableBufferPointer { $0[point] = original } }
                    return loss(evaluate(base))
                }
                let plus = shifted(step), minus = shifted(-step)
                let h = Double(step)
                let numeric = (plus - minus) / (2 * h)
                let forward = (plus - center) / h, backward = (center - minus) / h
                let a = Double(g[point])
                let scale = Swift.max(Swift.abs(a), Swift.abs(numeric), 1)
                if Swift.abs(forward - backward) > Double(tolerance) * Swift.max(Swift.abs(forward), Swift.abs(backward), 1) {
                    report.skipped += 1
                    continue
                }
                report.checked += 1
                let error = Swift.abs(a - numeric) / scale
                report.worstError = Swift.max(report.worstError, error)
                if error > Double(tolerance) || !a.isFinite {
                    report.failures.append(.init(input: inputIndex, index: point, analytic: a, numeric: numeric))
                }
            }
        }
        report.maximumSkippedFraction = maximumSkippedFraction
        return report
    }
}

/// What a gradient check found.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
    public struct Failure: Sendable {
        public let input: Int
        public let index: Int
        public let analytic: Double
        public let numeric: Double
    }

    public var checked = 0
    public var skipped = 0
    public var worstError = 0.0
    public var failures: [Failure] = []
    var maximumSkippedFraction = 0.25

    /// No point disagreed, something was checked, and few enough points were skipped as kinks.
    public var passed: Bool {
        failures.isEmpty && checked > 0
            && Double(skipped) <= maximumSkippedFraction * Double(checked + skipped)
    }

    public var description: String {
        var text = "gradient check: \(checked) points checked, \(skipped) skipped at kinks, worst relative error \(worstError)"
        for f in failures.prefix(5) {
            text += "\n  input \(f.input) element \(f.index): analytic \(f.analytic), numeric \(f.numeric)"
        }
        if failures.count > 5 { text += "\n  ... \(failures.count - 5) more" }
        return text
    }
}
