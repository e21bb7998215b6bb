import CPinpointKernels
import Dispatch

/// The instruction set Pinpoint's own kernels run with, chosen once per process from the CPU
/// (CPUID and the OS's saved register state): `avx512`, `avx2` (with FMA) or `generic`.
/// `PINPOINT_CPU=generic|avx2|avx512` forces a set at most as wide as the CPU's, so every path
/// can be tested on one machine; a set the CPU cannot run stops the process with a message.
/// The general GEMMs run on Pinpoint's SGEMM with the AVX-512 set and on OpenBLAS otherwise
/// (`BLAS.engine`); OpenBLAS makes its own kernel choice (`BLAS.coreName`).
///
/// ```swift
/// print(KernelSet.current)   // "avx512" on a Zen 4 or a Skylake-SP
/// ```
public enum KernelSet: String, CaseIterable, Sendable, CustomStringConvertible {
    case generic, avx2, avx512

    /// The set in use.
    public static var current: KernelSet { KernelSet(kernels.set) }

    /// The widest set this CPU runs, whatever `PINPOINT_CPU` says.
    public static var best: KernelSet { KernelSet(pp_best_kernel_set()) }

    /// Every set this CPU runs, narrowest first.
    public static var supported: [KernelSet] { allCases.filter { pp_kernels_for($0.cValue) != nil } }

    public var description: String { rawValue }

    /// The FP32 multiply-add peak of this machine with the set in use, in GFLOP/s (2 per
    /// multiply-add), on `Parallelism.threadCount` threads: register-only chains of fused
    /// multiply-adds, the ceiling no kernel can pass. The best of `repeats` runs of about
    /// `seconds` each.
    ///
    /// ```swift
    /// print(KernelSet.measurePeakGigaflops())   // 2 cores of a Zen 4 (AVX-512 on 256-bit units): about 210
    /// ```
    public static func measurePeakGigaflops(seconds: Double = 0.25, repeats: Int = 3) -> Double {
        let table = kernels
        let perIteration = Double(16 * Int(table.peak_chains))
        // Calibrate on one thread, then run every thread for the same count.
        var iterations = 1 << 16
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = table.peak_multiply_adds(iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if elapsed >= seconds / 4 || iterations >= 1 << 40 {
                iterations = Swift.max(1, Int(Double(iterations) * seconds / Swift.max(elapsed, 1e-9)))
                break
            }
            iterations *= 4
        }
        let threads = Parallelism.threadCount, count = iterations, run = table.peak_multiply_adds
        var best = 0.0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = run(count) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = Swift.max(best, 2 * perIteration * Double(iterations) * Double(threads) / elapsed / 1e9)
        }
        return best
    }

    init(_ set: pp_kernel_set) {
        switch set {
        case PP_KERNEL_SET_AVX512: self = .avx512
        case PP_KERNEL_SET_AVX2: self = .avx2
        default: self = .generic
        }
    }

    var cValue: pp_kernel_set {
        switch self {
        case .generic: PP_KERNEL_SET_GENERIC
        case .avx2: PP_KERNEL_SET_AVX2
        case .avx512: PP_KERNEL_SET_AVX512
        }
    }
}

/// The kernel table in use (see `KernelSet`): filled once and never written again, so sharing it
/// across threads is safe. Package-wide, so that Pinpoint's other modules (the optimizers) call
/// the same table.
nonisolated(unsafe) package let kernels: pp_kernel_table = pp_kernels().pointee
