import Foundation

/// A seeded random number generator (xoshiro256**, seeded through SplitMix64) that yields the
/// same sequence on every run and machine for a given seed.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let w = Tensor.glorotUniform([3, 3, 16, 32], using: &rng)
/// ```
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform Float in [0, 1) with 24 random bits; defined here rather than through
    /// `Float.random(in:)` so the values cannot change with the standard library.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal sample (Box-Muller in Double, rounded once to Float).
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)        // [0, 1)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// A derived generator for a sub-stream (for example one per layer), independent of how many
    /// values this one has produced.
    public func fork(_ stream: UInt64) -> SeededGenerator {
        var copy = self
        return SeededGenerator(seed: copy.next() ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }
}

extension Tensor {
    /// Uniform samples in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { p, n in
            for i in 0..<n { p[i] = low + (high - low) * rng.nextUnitFloat() }
        }
    }

    /// Normal samples.
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { p, n in
            for i in 0..<n { p[i] = mean + standardDeviation * rng.nextNormal() }
        }
    }

    /// Normal samples redrawn until they lie within two standard deviations of the mean
    /// (Keras `TruncatedNormal`).
    public static func truncatedNormal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                                       using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { p, n in
            for i in 0..<n {
                var z: Float
                repeat { z = rng.nextNormal() } while Swift.abs(z) > 2
                p[i] = mean + standardDeviation * z
            }
        }
    }

    /// Keras's fans for a kernel shape: Dense [in, out]; Conv HWIO [h, w, in, out] scales by h * w.
    public static func fans(_ shape: [Int]) -> (fanIn: Float, fanOut: Float) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Float(shape[0]), Float(shape[0]))
        case 2: return (Float(shape[0]), Float(shape[1]))
        default:
            let receptive = Float(shape.dropLast(2).reduce(1, *))
            return (Float(shape[shape.count - 2]) * receptive, Float(shape[shape.count - 1]) * receptive)
        }
    }

    /// Keras `glorot_uniform` (the default kernel initializer): U(-l, l), l = sqrt(6 / (fanIn + fanOut)).
    public static func glorotUniform(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let limit = (6 / (fanIn + fanOut)).squareRoot()
        return uniform(shape, low: -limit, high: limit, using: &rng)
    }

    /// Keras `glorot_normal`: truncated normal with stddev sqrt(2 / (fanIn + fanOut)) / 0.8796...
    public static func glorotNormal(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        return truncatedNormal(shape, standardDeviation: (2 / (fanIn + fanOut)).squareRoot() / truncationCorrection, using: &rng)
    }

    /// Keras `he_uniform`: U(-l, l), l = sqrt(6 / fanIn).
    public static func heUniform(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let limit = (6 / fans(shape).fanIn).squareRoot()
        return uniform(shape, low: -limit, high: limit, using: &rng)
    }

    /// Keras `he_normal`: truncated normal with stddev sqrt(2 / fanIn) / 0.8796...
    public static func heNormal(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        truncatedNormal(shape, standardDeviation: (2 / fans(shape).fanIn).squareRoot() / truncationCorrection, using: &rng)
    }

    /// Standard deviation of a standard normal truncated to [-2, 2]; Keras divides by it so the
    /// truncated samples keep the intended variance.
    static let truncationCorrection: Float = 0.879_625_661_034_239_78
}
