import CPinpointKernels

// C = A B for a few rows of A against a large B read once: the tutorial CNN's Dense layer, a
// batch of 40 flattened 50176-value feature maps against a 50176 x 1024 kernel (205 MB). OpenBLAS
// packs every panel of B before multiplying, so B crosses memory about three times (29 ms for a
// product whose floor, one read of B, is 9 ms here). This kernel reads B in place, a block of its
// rows at a time, while every row of A is multiplied against the block from L1.

/// Whether `streamingSGEMM` takes C = A B: A plain with few rows, B plain and tall, C's columns a
/// whole number of the kernel's 64-column blocks.
func usesStreamingGEMM(_ a: GEMMOperand, _ b: GEMMOperand, m: Int, n: Int, k: Int, alpha: Float, beta: Float) -> Bool {
    !a.transposed && !b.transposed && alpha == 1 && beta == 0 && m <= streamingGEMMMaximumRows && n % 64 == 0
        && k >= streamingGEMMMinimumDepth
}

/// Up to this many rows of A the product is bound by reading B (OpenBLAS wins beyond).
let streamingGEMMMaximumRows = 64
/// Below this depth B is small enough for OpenBLAS's packing not to matter.
let streamingGEMMMinimumDepth = 4096

/// C[m, n] = A[m, k] B[k, n] (row-major, C with leading dimension ldc), threads splitting the
/// depth k (`splitAlongDepth`), so each reads its own contiguous rows of B front to back. Each
/// thread walks its rows `depth` at a time; for each 64-column strip of such a block (64 KB, in
/// L2), five rows of A by 64 columns accumulate in twenty registers over the whole depth and are
/// added to the thread's C (in L2). At 32 rows a block, C's accumulators would be loaded and
/// stored eight times as often (the Dense forward measured 22 ms per batch of 40 that way, 18 at 256).
func streamingSGEMM(_ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, ldc: Int) {
    KernelCounters.add(multiplyAdds: m * n * k)
    let depth = 256
    splitAlongDepth(m: m, n: n, k: k, c: c, ldc: ldc, workers: k / depth) { depths, out, ldo, _ in
        for i in 0..<m { (out + i * ldo).update(repeating: 0, count: n) }
        var k0 = depths.lowerBound
        while k0 < depths.upperBound {
            let rows = Swift.min(depth, depths.upperBound - k0)
            for j in stride(from: 0, to: n, by: 64) {
                var i = 0
                while i < m {
                    let count = Swift.min(5, m - i)
                    multiplyBlock(a.pointer + i * a.leadingDimension + k0, rowStep: a.leadingDimension, depthStep: 1, rows: count,
                                  b.pointer + k0 * b.leadingDimension + j, ldb: b.leadingDimension, depth: rows,
                                  out + i * ldo + j, ldc: ldo, store: PP_STORE_ACCUMULATE)
                    i += count
                }
            }
            k0 += rows
        }
    }
}

/// C[r, 0..<64] = (or += with PP_STORE_ACCUMULATE) the sum over d < depth of A[r, d] B[d, 0..<64],
/// for `rows` (1 to 5) rows, A[r, d] at a[r * rowStep + d * depthStep]: twenty accumulators in
/// registers, C touched once at the end (the kernel set's `gemm_block_5x64`).
@inline(__always)
private func multiplyBlock(_ a: UnsafePointer<Float>, rowStep: Int, depthStep: Int, rows: Int, _ b: UnsafePointer<Float>, ldb: Int,
                           depth: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int, store: pp_store) {
    kernels.gemm_block_5x64(a, rowStep, depthStep, Int32(rows), b, ldb, Int32(depth), c, ldc, store)
}

/// Whether `shallowSGEMM` takes C = A B: a shallow inner dimension (a Dense layer's kernel
/// gradient, X^T dY over a batch of 40) producing a large C, columns in 64-column blocks.
func usesShallowGEMM(_ a: GEMMOperand, _ b: GEMMOperand, m: Int, n: Int, k: Int, alpha: Float, beta: Float) -> Bool {
    !b.transposed && alpha == 1 && beta == 0 && k <= streamingGEMMMaximumRows && n % 64 == 0 && m >= 4096
}

/// C[m, n] = A[m, k] B[k, n] for a small k (A plain or transposed): every element of C is a
/// k-term sum written once. Threads split C's rows; five rows by 64 columns accumulate in twenty
/// registers over k, with B (k x n, small) read from L2, and C is stored without being read.
/// OpenBLAS packs A and B for such a product and writes C's 205 MB (for the Dense layer) at
/// half this speed. A C larger than the last-level cache goes out by non-temporal stores: its
/// first rows would be evicted before anyone read them, and the stores then skip the caches
/// (the Dense kernel gradient, 16 ms -> 13 per batch of 40 here).
func shallowSGEMM(_ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, ldc: Int) {
    KernelCounters.add(multiplyAdds: m * n * k)
    // A[r, i]: row r of op(A), element i.
    let (rowStep, depthStep) = a.transposed ? (1, a.leadingDimension) : (a.leadingDimension, 1)
    let streams = m * n >= streamedResultMinimumCount && Int(bitPattern: c) % 64 == 0 && ldc % 16 == 0
    let groups = (m + 4) / 5
    forEachWorker(limit: groups) { worker, workers in
        for group in (groups * worker / workers)..<(groups * (worker + 1) / workers) {
            let r = group * 5
            for j in stride(from: 0, to: n, by: 64) {
                multiplyBlock(a.pointer + r * rowStep, rowStep: rowStep, depthStep: depthStep, rows: Swift.min(5, m - r), b.pointer + j,
                              ldb: b.leadingDimension, depth: k, c + r * ldc + j, ldc: ldc,
                              store: streams ? PP_STORE_STREAM : PP_STORE_WRITE)
            }
        }
        if streams { kernels.stream_fence() }
    }
}

/// Results of at least this many floats (32 MiB, past a server's last-level cache share) are
/// written by non-temporal stores.
let streamedResultMinimumCount = 1 << 23

/// Whether `transposedStreamingSGEMM` takes C = A B^T: a few rows of A against a large B read in
/// place (the Dense layer's input gradient, dY W^T with W 50176 x 1024).
func usesTransposedStreamingGEMM(_ a: GEMMOperand, _ b: GEMMOperand, m: Int, n: Int, k: Int, alpha: Float, beta: Float) -> Bool {
    !a.transposed && b.transposed && alpha == 1 && beta == 0 && m <= transposedStreamingGEMMMaximumRows && n >= 4096 && k >= 256
}

/// The kernel's panel width: A's rows, as columns of its packed transpose.
let transposedStreamingGEMMMaximumRows = 48

/// C[m, n] = A[m, k] B^T with B n x k (row-major, leading dimension ldb): A is packed once,
/// transposed, into a k x 48 panel (in L2, shared by the threads); threads split B's rows, eight
/// at a time, each row read front to back once and multiplied against the whole panel, and the
/// 8 x m block is written as eight columns of C. The general SGEMM (as C^T = B A^T) packs B's
/// panels before use: 24 ms for the Dense input gradient per batch of 40, against 13.5 here.
func transposedStreamingSGEMM(_ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int,
                              ldc: Int) {
    KernelCounters.add(multiplyAdds: m * n * k)
    let width = transposedStreamingGEMMMaximumRows
    Workspace.withBuffer(count: k * width) { panel in
        for d in 0..<k {
            let row = panel + d * width
            for i in 0..<m { row[i] = a.pointer[i * a.leadingDimension + d] }
            for i in m..<width { row[i] = 0 }
        }
        let groups = (n + 7) / 8
        forEachWorker(limit: groups) { worker, workers in
            for group in (groups * worker / workers)..<(groups * (worker + 1) / workers) {
                let j = group * 8
                kernels.gemm_transposed_block_8x48(b.pointer + j * b.leadingDimension, b.leadingDimension, Int32(Swift.min(8, n - j)),
                                                   panel, Int32(k), Int32(m), c + j, ldc)
            }
        }
    }
}
