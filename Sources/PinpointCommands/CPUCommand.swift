import ArgumentParser
import Foundation
import Pinpoint

struct CPU: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The kernel sets this CPU runs and the ones in use.",
        discussion: """
            Pinpoint's own kernels are built for several instruction sets (generic, avx2, avx512) in one binary and \
            chosen at start-up from the CPU; PINPOINT_CPU forces a narrower set. The general GEMMs run on Pinpoint's \
            SGEMM with the avx512 set and on OpenBLAS otherwise (PINPOINT_GEMM=openblas|pinpoint forces one); OpenBLAS \
            makes its own kernel choice, which OPENBLAS_CORETYPE steers.
            """)

    @Flag(help: "Print only the supported kernel sets, narrowest first, one line (for scripts).") var supported = false
    @Flag(help: "Also measure the FP32 multiply-add peak (GFLOP/s) with the set in use on PINPOINT_THREADS threads.") var peak = false

    func run() {
        let sets = KernelSet.supported.map(\.rawValue).joined(separator: " ")
        if supported {
            print(sets)
            return
        }
        print("kernel sets this CPU runs: \(sets)")
        print("in use: \(KernelSet.current)\(KernelSet.current == KernelSet.best ? "" : " (PINPOINT_CPU)")")
        print("OpenBLAS kernels: \(BLAS.coreName)\(BLAS.coreSelection.map { " (\($0))" } ?? "")")
        print("general GEMMs: \(BLAS.engine == .pinpoint ? "Pinpoint's packed SGEMM (AVX-512)" : "OpenBLAS")")
        if peak {
            print(String(format: "FP32 peak: %.1f GFLOP/s (%d threads, %@ multiply-adds)", KernelSet.measurePeakGigaflops(),
                         Parallelism.threadCount, KernelSet.current.rawValue))
        }
    }
}
