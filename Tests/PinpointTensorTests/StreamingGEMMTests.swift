@testable import PinpointTensor
import XCTest

/// The streaming kernels for a few rows against a large B (a Dense layer's forward pass and input
/// gradient) against OpenBLAS, with row counts that leave a partial group, depths that leave a partial
/// block and split unevenly across threads, and a C wider than the product (ldc > n).
final class StreamingGEMMTests: XCTestCase {
    func testTheStreamingKernelMatchesOpenBLAS() {
        var rng = SeededGenerator(seed: 21)
        for (m, n, k) in [(1, 64, 4096), (3, 128, 4099), (6, 64, 5000), (9, 192, 4133)] {
            let a = Tensor.uniform([m, k], low: -1, high: 1, using: &rng), b = Tensor.uniform([k, n], low: -1, high: 1, using: &rng)
            let ldc = n + 16
            let aOperand = GEMMOperand(pointer: a.basePointer, transposed: false, leadingDimension: k)
            let bOperand = GEMMOperand(pointer: b.basePointer, transposed: false, leadingDimension: n)
            XCTAssertTrue(usesStreamingGEMM(aOperand, bOperand, m: m, n: n, k: k, alpha: 1, beta: 0))
            var streamed = [Float](repeating: .nan, count: m * ldc), reference = streamed
            streamed.withUnsafeMutableBufferPointer { streamingSGEMM(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc) }
            reference.withUnsafeMutableBufferPointer { sgemm(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc) }
            for i in 0..<m {
                for j in 0..<n {
                    XCTAssertEqual(streamed[i * ldc + j], reference[i * ldc + j], accuracy: 1e-3, "\(m)x\(n)x\(k) at [\(i), \(j)]")
                }
                XCTAssertTrue(streamed[(i * ldc + n)..<((i + 1) * ldc)].allSatisfy(\.isNaN), "columns past n are left alone")
            }
            withExtendedLifetime((a, b)) {}
        }
    }

    func testTheShallowKernelMatchesOpenBLAS() {
        var rng = SeededGenerator(seed: 22)
        for (m, n, k, transposed) in [(4096, 64, 40, true), (4099, 128, 3, false), (4101, 64, 17, true)] {
            // A is m x k, stored as k x m when transposed (a Dense layer's X^T).
            let a = Tensor.uniform(transposed ? [k, m] : [m, k], low: -1, high: 1, using: &rng)
            let b = Tensor.uniform([k, n], low: -1, high: 1, using: &rng)
            let aOperand = GEMMOperand(pointer: a.basePointer, transposed: transposed, leadingDimension: transposed ? m : k)
            let bOperand = GEMMOperand(pointer: b.basePointer, transposed: false, leadingDimension: n)
            XCTAssertTrue(usesShallowGEMM(aOperand, bOperand, m: m, n: n, k: k, alpha: 1, beta: 0))
            var shallow = [Float](repeating: .nan, count: m * n), reference = shallow
            shallow.withUnsafeMutableBufferPointer { shallowSGEMM(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: n) }
            reference.withUnsafeMutableBufferPointer { sgemm(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: n) }
            let worst = zip(shallow, reference).map { abs($0 - $1) }.max() ?? .nan
            XCTAssertLessThan(worst, 1e-4, "\(m)x\(n)x\(k), A transposed: \(transposed)")
            withExtendedLifetime((a, b)) {}
        }
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { storage.deallocate() }
        let p = GEMMOperand(pointer: storage, transposed: false, leadingDimension: 1)
        XCTAssertFalse(usesShallowGEMM(p, p, m: 4096, n: 64, k: 65, alpha: 1, beta: 0), "deep")
        XCTAssertFalse(usesShallowGEMM(p, p, m: 1000, n: 64, k: 40, alpha: 1, beta: 0), "small C")
        XCTAssertFalse(usesShallowGEMM(p, p, m: 4096, n: 96, k: 40, alpha: 1, beta: 0), "columns not in 64-blocks")
    }

    /// A result past `streamedResultMinimumCount` goes out by non-temporal stores; a row count that
    /// leaves a partial group of five.
    func testTheShallowKernelStreamsALargeResult() {
        var rng = SeededGenerator(seed: 24)
        let (m, n, k) = (8193, 1024, 3)
        XCTAssertGreaterThanOrEqual(m * n, streamedResultMinimumCount)
        let a = Tensor.uniform([k, m], low: -1, high: 1, using: &rng), b = Tensor.uniform([k, n], low: -1, high: 1, using: &rng)
        let aOperand = GEMMOperand(pointer: a.basePointer, transposed: true, leadingDimension: m)
        let bOperand = GEMMOperand(pointer: b.basePointer, transposed: false, leadingDimension: n)
        let shallow = Tensor(shape: [m, n]) { out, _ in shallowSGEMM(aOperand, bOperand, out, m: m, n: n, k: k, ldc: n) }
        let reference = Tensor(shape: [m, n]) { out, _ in sgemm(aOperand, bOperand, out, m: m, n: n, k: k, ldc: n) }
        let worst = shallow.scalars.withUnsafeBufferPointer { s in
            reference.scalars.withUnsafeBufferPointer { r in (0..<(m * n)).reduce(Float(0)) { Swift.max($0, abs(s[$1] - r[$1])) } }
        }
        XCTAssertLessThan(worst, 1e-5)
        withExtendedLifetime((a, b)) {}
    }

    func testTheTransposedStreamingKernelMatchesOpenBLAS() {
        var rng = SeededGenerator(seed: 25)
        for (m, n, k) in [(1, 4096, 256), (13, 4099, 300), (48, 4103, 257)] {
            // C = A B^T, B stored n x k (a Dense layer's kernel, read transposed).
            let a = Tensor.uniform([m, k], low: -1, high: 1, using: &rng), b = Tensor.uniform([n, k], low: -1, high: 1, using: &rng)
            let ldc = n + 5
            let aOperand = GEMMOperand(pointer: a.basePointer, transposed: false, leadingDimension: k)
            let bOperand = GEMMOperand(pointer: b.basePointer, transposed: true, leadingDimension: k)
            XCTAssertTrue(usesTransposedStreamingGEMM(aOperand, bOperand, m: m, n: n, k: k, alpha: 1, beta: 0))
            var streamed = [Float](repeating: .nan, count: m * ldc), reference = streamed
            streamed.withUnsafeMutableBufferPointer {
                transposedStreamingSGEMM(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc)
            }
            reference.withUnsafeMutableBufferPointer { sgemm(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc) }
            for i in 0..<m {
                for j in 0..<n {
                    XCTAssertEqual(streamed[i * ldc + j], reference[i * ldc + j], accuracy: 1e-3, "\(m)x\(n)x\(k) at [\(i), \(j)]")
                }
                XCTAssertTrue(streamed[(i * ldc + n)..<((i + 1) * ldc)].allSatisfy(\.isNaN), "columns past n are left alone")
            }
            withExtendedLifetime((a, b)) {}
        }
    }

    /// A deep product with a small result (a 1x1 convolution's kernel gradient) splits its depth
    /// across the threads: the result matches one thread's product, with A plain or transposed,
    /// accumulating into C or not, and columns past n untouched. Each shape has at least 4e6
    /// multiply-adds and a depth over 16 times the result's sides, so the split applies.
    func testTheDepthSplitMatchesOneThreadsProduct() {
        var rng = SeededGenerator(seed: 23)
        for (m, n, k, transposed, beta) in [(24, 40, 5003, true, Float(0)), (16, 33, 8192, false, 1), (40, 24, 4500, true, 1)] {
            let a = Tensor.uniform(transposed ? [k, m] : [m, k], low: -1, high: 1, using: &rng)
            let b = Tensor.uniform([k, n], low: -1, high: 1, using: &rng)
            let aOperand = GEMMOperand(pointer: a.basePointer, transposed: transposed, leadingDimension: transposed ? m : k)
            let bOperand = GEMMOperand(pointer: b.basePointer, transposed: false, leadingDimension: n)
            let ldc = n + 3
            let start = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &rng) }
            var split = start, reference = start
            split.withUnsafeMutableBufferPointer {
                parallelSGEMM(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc, beta: beta)
            }
            reference.withUnsafeMutableBufferPointer { sgemm(aOperand, bOperand, $0.baseAddress!, m: m, n: n, k: k, ldc: ldc, beta: beta) }
            for i in 0..<m {
                for j in 0..<ldc {
                    if j >= n { XCTAssertEqual(split[i * ldc + j], start[i * ldc + j], "column past n"); continue }
                    XCTAssertEqual(split[i * ldc + j], reference[i * ldc + j], accuracy: 2e-3, "\(m)x\(n)x\(k) at [\(i), \(j)]")
                }
            }
            withExtendedLifetime((a, b)) {}
        }
    }

    func testOtherShapesGoToOpenBLAS() {
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { storage.deallocate() }
        let p = GEMMOperand(pointer: storage, transposed: false, leadingDimension: 1)
        let t = GEMMOperand(pointer: storage, transposed: true, leadingDimension: 1)
        XCTAssertFalse(usesStreamingGEMM(p, p, m: 65, n: 64, k: 8192, alpha: 1, beta: 0), "too many rows")
        XCTAssertFalse(usesStreamingGEMM(p, p, m: 40, n: 96, k: 8192, alpha: 1, beta: 0), "columns not in 64-blocks")
        XCTAssertFalse(usesStreamingGEMM(p, p, m: 40, n: 64, k: 1024, alpha: 1, beta: 0), "shallow")
        XCTAssertFalse(usesStreamingGEMM(p, t, m: 40, n: 64, k: 8192, alpha: 1, beta: 0), "transposed B")
        XCTAssertFalse(usesStreamingGEMM(p, p, m: 40, n: 64, k: 8192, alpha: 1, beta: 1), "accumulating into C")
        XCTAssertFalse(usesTransposedStreamingGEMM(p, t, m: 49, n: 8192, k: 1024, alpha: 1, beta: 0), "too many rows")
        XCTAssertFalse(usesTransposedStreamingGEMM(p, t, m: 40, n: 4095, k: 1024, alpha: 1, beta: 0), "small B")
        XCTAssertFalse(usesTransposedStreamingGEMM(p, t, m: 40, n: 8192, k: 255, alpha: 1, beta: 0), "shallow")
        XCTAssertFalse(usesTransposedStreamingGEMM(p, p, m: 40, n: 8192, k: 1024, alpha: 1, beta: 0), "plain B")
        XCTAssertFalse(usesTransposedStreamingGEMM(p, t, m: 40, n: 8192, k: 1024, alpha: 1, beta: 1), "accumulating into C")
    }
}
