import PinpointTensor
import XCTest

final class RandomTests: XCTestCase {
    func testSameSeedSameValuesDifferentSeedDifferentValues() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), c = SeededGenerator(seed: 8)
        let x = Tensor.normal([100], using: &a), y = Tensor.normal([100], using: &b), z = Tensor.normal([100], using: &c)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(x, z)
    }

    func testDistributionsHaveTheirMoments() {
        var rng = SeededGenerator(seed: 1)
        let n = Tensor.normal([20000], mean: 1, standardDeviation: 2, using: &rng)
        XCTAssertEqual(n.mean().scalar, 1, accuracy: 0.05)
        XCTAssertEqual(n.variance().scalar.squareRoot(), 2, accuracy: 0.05)
        let u = Tensor.uniform([20000], low: -3, high: 5, using: &rng)
        XCTAssertGreaterThanOrEqual(u.min().scalar, -3)
        XCTAssertLessThan(u.max().scalar, 5)
        XCTAssertEqual(u.mean().scalar, 1, accuracy: 0.1)
        let t = Tensor.truncatedNormal([20000], standardDeviation: 1, using: &rng)
        XCTAssertLessThanOrEqual(t.abs().max().scalar, 2)
        // A standard normal truncated to [-2, 2] has standard deviation 0.8796.
        XCTAssertEqual(t.variance().scalar.squareRoot(), 0.8796, accuracy: 0.02)
    }

    func testKerasInitializerScales() {
        var rng = SeededGenerator(seed: 3)
        let shape = [3, 3, 64, 128]  // fan in 576, fan out 1152
        let glorot = Tensor.glorotUniform(shape, using: &rng)
        let limit = Float(6.0 / (576.0 + 1152.0)).squareRoot()
        XCTAssertLessThanOrEqual(glorot.abs().max().scalar, limit)
        XCTAssertGreaterThan(glorot.abs().max().scalar, 0.99 * limit)
        let he = Tensor.heNormal(shape, using: &rng)
        XCTAssertEqual(he.variance().scalar.squareRoot(), Float(2.0 / 576.0).squareRoot(), accuracy: 0.002)
        let glorotNormal = Tensor.glorotNormal([256, 128], using: &rng)
        XCTAssertEqual(glorotNormal.variance().scalar.squareRoot(), Float(2.0 / 384.0).squareRoot(), accuracy: 0.002)
        XCTAssertEqual(Tensor.fans([5, 7]).fanIn, 5)
        XCTAssertEqual(Tensor.fans([3, 3, 4, 8]).fanOut, 72)
    }

    func testForkedStreamsAreIndependentOfConsumption() {
        let base = SeededGenerator(seed: 11)
        var consumed = base
        _ = consumed.next()
        XCTAssertNotEqual(base.fork(1).next2(), base.fork(2).next2())
        XCTAssertEqual(base.fork(1).next2(), base.fork(1).next2())
    }
}

private extension SeededGenerator {
    func next2() -> UInt64 { var g = self; return g.next() }
}

/// Large tensors take the threaded paths; they must agree with the single-threaded results.
final class ParallelTests: XCTestCase {
    func testThreadedLoopsMatchSingleThreaded() {
        var rng = SeededGenerator(seed: 5)
        let a = Tensor.uniform([64, 33, 65], low: -1, high: 1, using: &rng)      // above the threading threshold
        let b = Tensor.uniform([33, 1], low: -1, high: 1, using: &rng)
        let x = Tensor.uniform([3, 40, 36, 16], low: -1, high: 1, using: &rng)
        let k = Tensor.uniform([3, 3, 16, 8], low: -1, high: 1, using: &rng)
        let tall = Tensor.uniform([300, 70], low: -1, high: 1, using: &rng)       // GEMM split by rows
        let wide = Tensor.uniform([70, 300], low: -1, high: 1, using: &rng)       // and by columns
        let small = Tensor.uniform([1, 3, 3, 16], low: -1, high: 1, using: &rng)  // fewer chunks than workers
        func compute() -> [Tensor] {
            let y = conv2D(x, kernel: k, strides: (1, 1), padding: .same)
            let ys = conv2D(small, kernel: k, padding: .same)
            return [a * b, a.permuted([2, 0, 1]).sigmoid(), y,
                    conv2DBackpropInput(y, kernel: k, inputShape: x.shape, padding: .same),
                    conv2DBackpropKernel(x, outputGradient: y, kernelShape: k.shape, padding: .same),
                    conv2DBackpropKernel(small, outputGradient: ys, kernelShape: k.shape, padding: .same),
                    conv2D(x, kernel: k, strides: (2, 2), padding: .valid),
                    tall.matmul(wide), wide.matmul(tall), tall.transposed().matmul(tall),
                    depthwiseConv2D(x, kernel: k.sliced(alongAxis: 3, from: 0, to: 1), padding: .same),
                    depthwiseConv2DBackpropInput(x, kernel: k.sliced(alongAxis: 3, from: 0, to: 1), inputShape: x.shape, padding: .same),
                    depthwiseConv2DBackpropKernel(x, outputGradient: x, kernelShape: [3, 3, 16, 1], padding: .same),
                    maxPool2D(x, padding: .same), avgPool2D(x, poolSize: (3, 3), strides: (2, 2), padding: .same),
                    x.sum(alongAxes: [0, 1, 2]), x.sum(alongAxes: [0, 1], keepingDimensions: true), x.reluGradient(x * 2)]
        }
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        Parallelism.threadCount = 2
        let threaded = compute()
        Parallelism.threadCount = 1
        let serial = compute()
        for (index, (t, s)) in zip(threaded, serial).enumerated() {
            // Split GEMMs and per-worker partial sums may round differently from one pass.
            XCTAssertTrue(t.isClose(to: s, relativeTolerance: 1e-5, absoluteTolerance: 1e-4), "result \(index) differs")
        }
    }
}
