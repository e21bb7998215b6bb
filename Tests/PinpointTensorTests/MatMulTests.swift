import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// matmul against NumPy's values and central differences.
final class MatMulTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testMatmulMatchesNumPy() {
        let cases = fixtures.cases("matmul")
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            var a = c.inputs[0].tensor, b = c.inputs[1].tensor
            // Transposed operands are views, exercising the BLAS transpose flags.
            if c.params.transposeA! { a = a.transposed() }
            if c.params.transposeB! { b = b.transposed() }
            assertClose(a.matmul(b), c.output.tensor, c.name)
        }
    }

    func testMatmulGradients() {
        assertGradients([random([3, 4]), random([4, 5])], "matmul") { $0[0].matmul($0[1]) }
        assertGradients([random([2, 3, 4]), random([4, 2])], "batched, broadcast right") { $0[0].matmul($0[1]) }
        assertGradients([random([2, 1, 3, 4]), random([3, 4, 2])], "batched, broadcast both") { $0[0].matmul($0[1]) }
        assertGradients([random([4, 3]), random([5, 4])], "transposed views") { $0[0].transposed().matmul($0[1].transposed()) }
    }
}

/// The GEMM blocks and Pinpoint's SGEMM of every kernel set this CPU runs against float64.
final class MatMulKernelSetTests: XCTestCase, KernelSetTesting {
    func testTheGEMMBlockMatchesFloat64() {
        var rng = SeededGenerator(seed: 11)
        let depth = 37, lda = 41, ldb = 70, ldc = 80
        let a = random(5 * lda, &rng), b = random(depth * ldb, &rng), start = random(5 * ldc, &rng)
        // Streamed stores need C 64-byte aligned.
        let c = UnsafeMutableRawPointer.allocate(byteCount: 5 * ldc * 4, alignment: 64).bindMemory(to: Float.self, capacity: 5 * ldc)
        defer { c.deallocate() }
        forEachSupportedSet { set, table in
            for rows in 1...5 {
                for store in [PP_STORE_WRITE, PP_STORE_ACCUMULATE, PP_STORE_STREAM] {
                    c.update(from: start, count: start.count)
                    table.gemm_block_5x64(a, lda, 1, Int32(rows), b, ldb, Int32(depth), c, ldc, store)
                    table.stream_fence()
                    for r in 0..<5 {
                        for j in 0..<ldc {
                            let i = r * ldc + j
                            guard r < rows, j < 64 else { XCTAssertEqual(c[i], start[i], "\(set): outside the block"); continue }
                            var sum = store == PP_STORE_ACCUMULATE ? Double(start[i]) : 0
                            for d in 0..<depth { sum += Double(a[r * lda + d]) * Double(b[d * ldb + j]) }
                            XCTAssertEqual(Double(c[i]), sum, accuracy: 1e-5 * Double(depth), "\(set) rows \(rows) store \(store) (\(r), \(j))")
                        }
                    }
                }
            }
        }
    }

    func testTheTransposedGEMMBlockMatchesFloat64() {
        var rng = SeededGenerator(seed: 16)
        let depth = 29, ldw = 31, ldc = 12
        let w = random(8 * ldw, &rng), panel = random(depth * 48, &rng)
        forEachSupportedSet { set, table in
            for (rows, m) in [(8, 48), (3, 5), (1, 1), (7, 40)] {
                var c = [Float](repeating: .nan, count: 48 * ldc)
                table.gemm_transposed_block_8x48(w, ldw, Int32(rows), panel, Int32(depth), Int32(m), &c, ldc)
                for i in 0..<48 {
                    for r in 0..<ldc {
                        guard i < m, r < rows else { XCTAssertTrue(c[i * ldc + r].isNaN, "\(set): outside the block"); continue }
                        var sum = 0.0
                        for d in 0..<depth { sum += Double(w[r * ldw + d]) * Double(panel[d * 48 + i]) }
                        XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: 1e-5 * Double(depth), "\(set) rows \(rows) m \(m) (\(i), \(r))")
                    }
                }
            }
        }
    }

    /// Pinpoint's packed SGEMM (the AVX-512 set's), every transpose, alpha and beta, sizes off its
    /// 12 x 32 tiles and its 256-deep and 144-row blocks, against float64.
    func testThePackedSGEMMMatchesFloat64() throws {
        let sets = KernelSet.supported.filter { pp_kernels_for($0.cValue)!.pointee.sgemm != nil }
        try XCTSkipIf(sets.isEmpty, "no kernel set on this CPU has Pinpoint's SGEMM (it needs AVX-512)")
        var rng = SeededGenerator(seed: 18)
        for set in sets {
            let sgemm = pp_kernels_for(set.cValue)!.pointee.sgemm!
            for (m, n, k) in [(1, 1, 1), (13, 33, 7), (150, 70, 300), (12, 32, 256), (5, 1030, 3), (40, 48, 300), (40, 700, 300)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, -2)] {
                        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5
                        let a = random((ta ? k : m) * lda, &rng), b = random((tb ? n : k) * ldb, &rng), start = random(m * ldc, &rng)
                        var c = start
                        sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, lda, b, ldb, beta, &c, ldc)
                        var worst = 0.0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                guard j < n else { XCTAssertEqual(c[i * ldc + j], start[i * ldc + j], "\(set): wrote past column n"); continue }
                                var sum = 0.0
                                for p in 0..<k {
                                    sum += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                                }
                                let expected = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * Double(start[i * ldc + j]))
                                worst = max(worst, abs(Double(c[i * ldc + j]) - expected))
                            }
                        }
                        XCTAssertLessThan(worst, 2e-6 * Double(k) + 1e-6, "\(set) \(m)x\(n)x\(k) trans \(ta) \(tb) alpha \(alpha) beta \(beta)")
                    }
                }
            }
        }
    }
}

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
