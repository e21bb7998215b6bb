import COpenBLAS
import CPinpointKernels
import Foundation

/// OpenBLAS configuration, applied once before the first GEMM.
///
/// Pinpoint owns the threads: OpenBLAS runs single-threaded inside Pinpoint's workers, which split
/// each GEMM by rows or columns and each convolution by chunks of output rows. Measured on this
/// project's machines (Docs/Performance.md), that beats OpenBLAS's own threading by 10-25% on the
/// convolution shapes: each worker's im2col buffer stays in its own core's L2, and no OpenBLAS
/// thread is left spinning on a core that Pinpoint's next loop needs. Set the thread count with
/// `Parallelism.threadCount` or the `PINPOINT_THREADS` environment variable.
public enum BLAS {
    /// The kernel family OpenBLAS runs (for example "Haswell" or "SkylakeX").
    public static var coreName: String {
        configure
        return String(cString: openblas_get_corename())
    }

    /// Which library runs the GEMMs outside Pinpoint's special-purpose kernels (Winograd's
    /// batched products, 1x1 and im2col convolutions, general matmul): Pinpoint's own packed
    /// SGEMM where the kernel set in use has one (AVX-512), so that those products do not depend
    /// on the kernels OpenBLAS chose (`OPENBLAS_CORETYPE` may hold it to AVX2); OpenBLAS
    /// otherwise. `PINPOINT_GEMM=openblas|pinpoint` forces one (pinpoint needs the AVX-512 set).
    public enum Engine: String, Sendable { case openblas, pinpoint }

    public static let engine: Engine = {
        let available = kernels.sgemm != nil
        guard let forced = ProcessInfo.processInfo.environment["PINPOINT_GEMM"], !forced.isEmpty else {
            return available ? .pinpoint : .openblas
        }
        guard let engine = Engine(rawValue: forced) else {
            fatalError("PINPOINT_GEMM=\(forced) is not a GEMM engine (openblas or pinpoint)")
        }
        if engine == .pinpoint && !available {
            fatalError("PINPOINT_GEMM=pinpoint needs the avx512 kernel set; this process runs \(KernelSet.current)")
        }
        return engine
    }()

    /// What `configure` changed, for benchmark reports: nil when OpenBLAS's own choice stood.
    public private(set) nonisolated(unsafe) static var coreSelection: String?

    static let configure: Void = {
        let environment = ProcessInfo.processInfo.environment
        if environment["OPENBLAS_CORETYPE"] == nil {
            selectCoreFromCPUFeatures()
        }
        openblas_set_num_threads(1)
        // OpenBLAS starts its own worker threads when it is loaded; they spin for a while
        // before sleeping and would compete with Pinpoint's workers for the cores. Pinpoint
        // never asks OpenBLAS for more than one thread, so the pool is shut down for good.
        if let shutdown = dlsym(nil, "blas_thread_shutdown_") {
            typealias Entry = @convention(c) () -> Int32
            _ = unsafeBitCast(shutdown, to: Entry.self)()
        }
    }()

    /// OpenBLAS 0.3.21 (Debian 12's) does not recognize some virtualized CPUs and falls back to
    /// its generic Prescott kernels, 3-5x slower than the AVX2 or AVX-512 kernels the CPU can run.
    /// When that happens, and the user has not chosen a core type, this picks the kernel family
    /// from the CPU's own feature flags and asks OpenBLAS to re-run its start-up selection with it,
    /// exactly as if `OPENBLAS_CORETYPE` had been set. A build of OpenBLAS without runtime
    /// dispatch lacks the two entry points and is left alone.
    private static func selectCoreFromCPUFeatures() {
        let detected = String(cString: openblas_get_corename()).lowercased()
        let modern = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]
        guard !modern.contains(detected) else { return }
        let flags = cpuFlags()
        let wanted: String
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) {
            wanted = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            wanted = "Haswell"
        } else {
            return
        }
        // dlsym(nil, ...) is RTLD_DEFAULT on glibc: search every loaded library.
        guard let quit = dlsym(nil, "gotoblas_dynamic_quit"), let initialize = dlsym(nil, "gotoblas_dynamic_init")
        else { return }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", wanted, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
        unsetenv("OPENBLAS_CORETYPE")
        coreSelection = "OpenBLAS detected \(detected); Pinpoint selected \(wanted) from the CPU flags"
    }

    private static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
    }
}

/// A matrix operand as BLAS sees it: a pointer, whether it is transposed, and its leading dimension.
struct GEMMOperand {
    let pointer: UnsafePointer<Float>
    let transposed: Bool
    let leadingDimension: Int
}

/// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, all row-major, C with leading dimension
/// ldc, on the calling thread.
@inline(__always)
func sgemm(
    _ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, ldc: Int, alpha: Float = 1, beta: Float = 0, counted: Bool = true
) {
    BLAS.configure
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C untouched when k == 0 only for beta == 1; make the result defined.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    if counted { KernelCounters.add(multiplyAdds: m * n * k) }
    if BLAS.engine == .pinpoint, let own = kernels.sgemm {
        own(a.transposed ? 1 : 0, b.transposed ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a.pointer, a.leadingDimension,
            b.pointer, b.leadingDimension, beta, c, ldc)
        return
    }
    cblas_sgemm(
        CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a.pointer, Int32(a.leadingDimension),
        b.pointer, Int32(b.leadingDimension), beta, c, Int32(ldc))
}

/// `sgemm` split across Pinpoint's threads: along k for a deep product with a small result,
/// otherwise by rows of C when it is taller than wide, else by columns, in multiples of 16 so
/// every block keeps whole SIMD panels. Small products stay on the calling thread.
func parallelSGEMM(
    _ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, ldc: Int, alpha: Float = 1, beta: Float = 0
) {
    if usesStreamingGEMM(a, b, m: m, n: n, k: k, alpha: alpha, beta: beta) {
        streamingSGEMM(a, b, c, m: m, n: n, k: k, ldc: ldc)
        return
    }
    if usesShallowGEMM(a, b, m: m, n: n, k: k, alpha: alpha, beta: beta) {
        shallowSGEMM(a, b, c, m: m, n: n, k: k, ldc: ldc)
        return
    }
    if usesTransposedStreamingGEMM(a, b, m: m, n: n, k: k, alpha: alpha, beta: beta) {
        transposedStreamingSGEMM(a, b, c, m: m, n: n, k: k, ldc: ldc)
        return
    }
    let threads = Parallelism.threadCount
    let work = Double(m) * Double(n) * Double(k)
    if threads > 1, work >= 4e6, k >= 4096, k >= 16 * Swift.max(m, n) {
        splitDepth(a, b, c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta, threads: threads)
        return
    }
    let splitRows = m >= n
    let extent = splitRows ? m : n
    guard threads > 1, work >= 4e6, extent >= 32 else {
        sgemm(a, b, c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta)
        return
    }
    forEachWorker(limit: extent / 16) { block, blocks in
        let start = extent * block / blocks / 16 * 16
        let end = block == blocks - 1 ? extent : extent * (block + 1) / blocks / 16 * 16
        if end <= start { return }
        if splitRows {
            // Rows of op(A): row r starts at r * lda, or at column r of a transposed A.
            let ap = a.pointer + start * (a.transposed ? 1 : a.leadingDimension)
            sgemm(GEMMOperand(pointer: ap, transposed: a.transposed, leadingDimension: a.leadingDimension), b,
                  c + start * ldc, m: end - start, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta)
        } else {
            // Columns of op(B): column j starts at j, or at row j of a transposed B.
            let bp = b.pointer + start * (b.transposed ? b.leadingDimension : 1)
            sgemm(a, GEMMOperand(pointer: bp, transposed: b.transposed, leadingDimension: b.leadingDimension),
                  c + start, m: m, n: end - start, k: k, ldc: ldc, alpha: alpha, beta: beta)
        }
    }
}

/// A deep product with a small result (a 1x1 convolution's kernel gradient: Cin x Cout summed
/// over every pixel of the batch) split along k (`splitAlongDepth`). Split by rows or columns of C
/// instead, every thread would read the whole of the other operand.
private func splitDepth(_ a: GEMMOperand, _ b: GEMMOperand, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, ldc: Int,
                        alpha: Float, beta: Float, threads: Int) {
    KernelCounters.add(multiplyAdds: m * n * k)
    splitAlongDepth(m: m, n: n, k: k, c: c, ldc: ldc, workers: threads) { depths, out, ldo, first in
        // Depth p of op(A) is column p of A, or row p of a transposed A; of op(B), row p of B.
        let ap = a.pointer + depths.lowerBound * (a.transposed ? a.leadingDimension : 1)
        let bp = b.pointer + depths.lowerBound * (b.transposed ? 1 : b.leadingDimension)
        sgemm(GEMMOperand(pointer: ap, transposed: a.transposed, leadingDimension: a.leadingDimension),
              GEMMOperand(pointer: bp, transposed: b.transposed, leadingDimension: b.leadingDimension), out,
              m: m, n: n, k: depths.count, ldc: ldo, alpha: alpha, beta: first ? beta : 0, counted: false)
    }
}

/// C (m x n, leading dimension ldc) as the sum of products over consecutive ranges of the depth k,
/// one range per thread (up to `workers`), so that each thread reads only its own share of the
/// operands: `product(depths, out, ldo, first)` writes its range's product into C itself for the
/// first range (`first`, leading dimension ldc) and into a private m x n buffer (leading
/// dimension n) for the others, which are then added into C.
func splitAlongDepth(m: Int, n: Int, k: Int, c: UnsafeMutablePointer<Float>, ldc: Int, workers requested: Int,
                     _ product: (_ depths: Range<Int>, _ out: UnsafeMutablePointer<Float>, _ ldo: Int, _ first: Bool) -> Void) {
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, requested))
    Workspace.withBuffer(count: (workers - 1) * m * n) { partials in
        forEachWorker(limit: workers) { worker, total in
            let depths = (k * worker / total)..<(k * (worker + 1) / total)
            if worker == 0 {
                product(depths, c, ldc, true)
            } else {
                product(depths, partials + (worker - 1) * m * n, n, false)
            }
        }
        for worker in 1..<workers {
            let p = partials + (worker - 1) * m * n
            for i in 0..<m {
                let row = c + i * ldc, q = p + i * n
                for j in 0..<n { row[j] += q[j] }
            }
        }
    }
}
