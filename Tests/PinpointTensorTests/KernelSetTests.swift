import CPinpointKernels
@testable import PinpointTensor
import XCTest

/// Every kernel set this CPU runs, called directly through its table on the same inputs, against
/// float64 loops (or exact scalar loops for max pooling): the op-level tests cover only the set
/// in use, which `make test` varies with PINPOINT_CPU.
final class KernelSetTests: XCTestCase, KernelSetTesting {
    func testTheSetInUseIsTheForcedOneOrTheBest() {
        let supported = KernelSet.supported
        XCTAssertEqual(supported.first, .generic)
        XCTAssertEqual(supported.last, KernelSet.best)
        XCTAssertEqual(supported, Array(KernelSet.allCases.prefix(supported.count)))
        if let forced = ProcessInfo.processInfo.environment["PINPOINT_CPU"], !forced.isEmpty {
            XCTAssertEqual(KernelSet.current.rawValue, forced)
        } else {
            XCTAssertEqual(KernelSet.current, KernelSet.best)
        }
    }

    func testRMSpropUpdatesRoundAsKerasFormulaIsWritten() {
        var rng = SeededGenerator(seed: 19)
        let n = 37  // two vectors and a remainder
        let w = random(n, &rng), v = random(n, &rng).map { abs($0) }, m = random(n, &rng), g = random(n, &rng)
        let (lr, rho, momentum, epsilon): (Float, Float, Float, Float) = (1e-3, 0.9, 0.9, 1e-7)
        forEachSupportedSet { set, table in
            for withMomentum in [false, true] {
                var (w1, v1, m1) = (w, v, m)
                if withMomentum { table.rmsprop_update(&w1, &v1, &m1, g, n, lr, rho, momentum, epsilon) }
                else { table.rmsprop_update(&w1, &v1, nil, g, n, lr, rho, momentum, epsilon) }
                for j in 0..<n {
                    let vj = v[j] * rho + g[j] * g[j] * (1 - rho)
                    let increment = g[j] * lr / (vj + epsilon).squareRoot()
                    let mj = m[j] * momentum + increment
                    XCTAssertEqual(v1[j].bitPattern, vj.bitPattern, "\(set) momentum \(withMomentum) v[\(j)]")
                    XCTAssertEqual(w1[j].bitPattern, (withMomentum ? w[j] - mj : w[j] - increment).bitPattern, "\(set) w[\(j)]")
                    XCTAssertEqual(m1[j].bitPattern, (withMomentum ? mj : m[j]).bitPattern, "\(set) momentum \(withMomentum) m[\(j)]")
                }
            }
        }
    }

    /// AVX2 and AVX-512 both fuse each multiply-add, in the same order: their results are identical.
    func testTheFusedSetsAgreeBitForBit() throws {
        let sets = KernelSet.supported.filter { $0 != .generic }
        try XCTSkipIf(sets.count < 2, "this CPU runs fewer than two fused sets")
        var rng = SeededGenerator(seed: 15)
        let depth = 300, a = random(5 * depth, &rng), b = random(depth * 64, &rng)
        let results = sets.map { set -> [Float] in
            var c = [Float](repeating: 0, count: 5 * 64)
            pp_kernels_for(set.cValue)!.pointee.gemm_block_5x64(a, depth, 1, 5, b, 64, Int32(depth), &c, 64, PP_STORE_WRITE)
            return c
        }
        XCTAssertEqual(results[0], results[1])
    }
}
