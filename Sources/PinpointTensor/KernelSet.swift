import CPinpointKernels

/// The instruction set Pinpoint's own kernels run with, chosen once per process from the CPU
/// (CPUID and the OS's saved register state): `avx512`, `avx2` (with FMA) or `generic`.
/// `PINPOINT_CPU=generic|avx2|avx512` forces a set at most as wide as the CPU's, so every path
/// can be tested on one machine; a set the CPU cannot run stops the process with a message.
/// OpenBLAS, which carries the remaining GEMMs, makes its own choice (`BLAS.coreName`).
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

/// The kernel table in use (see `KernelSet`).
/// The table is filled once and never written again, so sharing it across threads is safe.
nonisolated(unsafe) let kernels: pp_kernel_table = pp_kernels().pointee
