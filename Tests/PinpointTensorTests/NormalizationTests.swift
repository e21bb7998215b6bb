import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Batch normalization against its composed definition and central differences.
final class NormalizationTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testBatchNormalizationWithBatchAndMovingStatistics() {
        let gamma = random([3], 0.5, 1.5), beta = random([3])
        // Batch statistics: the moments are recomputed from the perturbed input on every evaluation.
        assertGradients([random([2, 3, 2, 3], -2, 3), gamma, beta], "batchNormalization, batch statistics") { p in
            let (mean, variance) = batchMoments(p[0].value)
            return batchNormalization(p[0], gamma: p[1], beta: p[2], mean: mean, variance: variance, epsilon: 1e-3, batchStatistics: true)
                .square()  // a plain sum of normalized values has zero gradient with respect to x
        }
        let mean = random([3]), variance = random([3], 0.5, 2)
        assertGradients([random([4, 3]), gamma, beta], "batchNormalization, moving statistics") { p in
            batchNormalization(p[0], gamma: p[1], beta: p[2], mean: mean, variance: variance, epsilon: 1e-3, batchStatistics: false).square()
        }
    }

    func testBatchMomentsAndNormalizationEqualTheComposedOperations() {
        let x = random([3, 5, 4, 6], -3, 7) + 100, gamma = random([6]), beta = random([6])
        let (mean, variance) = batchMoments(x)
        let expectedMean = x.mean(alongAxes: [0, 1, 2])
        let expectedVariance = (x - expectedMean).square().mean(alongAxes: [0, 1, 2])
        for c in 0..<6 {
            XCTAssertEqual(mean[c], expectedMean[c], accuracy: 1e-5)
            XCTAssertEqual(variance[c], expectedVariance[c], accuracy: 1e-4 * expectedVariance[c])
        }
        let y = batchNormalization(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3)
        let composed = (x - mean) * (gamma / (variance + 1e-3).sqrt()) + beta
        XCTAssertEqual(y, composed)
    }
}

/// The batch-normalization passes of every kernel set this CPU runs against their definitions.
final class NormalizationKernelSetTests: XCTestCase, KernelSetTesting {
    func testBatchNormalizationPassesMatchTheirDefinitions() {
        var rng = SeededGenerator(seed: 17)
        let rows = 11, channels = 20  // two 8-channel vectors, then 4 one by one
        let x = random(rows * channels, &rng).map { $0 + 3 }, dy = random(rows * channels, &rng)
        let mean = random(channels, &rng).map { $0 + 3 }, scale = random(channels, &rng), shift = random(channels, &rng)
        let a = random(channels, &rng), b = random(channels, &rng), k = random(channels, &rng)
        func relu6Gradient(_ g: Float, _ z: Float) -> Float { z > 0 && z < 6 ? g : 0 }
        forEachSupportedSet { set, table in
            var sum = [Double](repeating: 0, count: channels), squares = sum
            table.batch_norm_moments(x, 0, rows, Int32(channels), &sum, &squares)
            var normalized = [Float](repeating: 0, count: rows * channels)
            table.batch_norm_rows(x, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, &normalized)
            var block = [Float](repeating: 0, count: 2 * channels), sumDy = [Double](repeating: 0, count: channels), sumDyX = sumDy
            table.batch_norm_gradient_sums(x, dy, 0, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, &block, &sumDy, &sumDyX)
            var dx = [Float](repeating: 0, count: rows * channels)
            table.batch_norm_input_gradient(x, dy, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, a, b, k, &dx)
            for c in 0..<channels {
                var (s, q, sd, sdx) = (0.0, 0.0, 0.0, 0.0)
                for r in 0..<rows {
                    let i = r * channels + c
                    let d = Double(x[i]) - Double(x[c])
                    s += d
                    q += d * d
                    let z = (x[i] - mean[c]) * scale[c] + shift[c]
                    XCTAssertEqual(normalized[i], Swift.min(Swift.max(z, 0), 6), "\(set) normalized (\(r), \(c))")
                    let g = relu6Gradient(dy[i], z)
                    sd += Double(g)
                    sdx += Double(g) * Double(x[i] - mean[c])
                    XCTAssertEqual(dx[i], a[c] * (g - b[c] - (x[i] - mean[c]) * k[c]), "\(set) input gradient (\(r), \(c))")
                }
                XCTAssertEqual(sum[c], s, accuracy: 1e-9, "\(set) sum \(c)")
                XCTAssertEqual(squares[c], q, accuracy: 1e-9, "\(set) squares \(c)")
                XCTAssertEqual(sumDy[c], sd, accuracy: 1e-5, "\(set) sum of dy \(c)")
                XCTAssertEqual(sumDyX[c], sdx, accuracy: 1e-5, "\(set) sum of dy (x - mean) \(c)")
            }
        }
    }
}
