import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// What an op family's tests share: the NumPy / TensorFlow fixtures (Fixtures/make_op_fixtures.py)
/// with a relative tolerance, and central-difference gradient checks on seeded random inputs.
protocol OpTesting: XCTestCase {
    var rng: SeededGenerator { get set }
}

extension OpTesting {
    var fixtures: OpFixtures { OpFixtures.shared }

    func assertClose(_ actual: Tensor, _ expected: Tensor, _ name: String, tolerance: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let a = actual.scalars, e = expected.scalars
        var worst: Float = 0
        for i in 0..<a.count {
            worst = max(worst, abs(a[i] - e[i]) / max(abs(e[i]), 1))
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "\(name): worst relative difference \(worst)", file: file, line: line)
    }

    func random(_ shape: [Int], _ low: Float = -1, _ high: Float = 1) -> Tensor {
        Tensor.uniform(shape, low: low, high: high, using: &rng)
    }

    /// The pullbacks of `f` at `inputs` against central differences (`GradientChecker`).
    func assertGradients(_ inputs: [Tensor], _ name: String, checker: GradientChecker = GradientChecker(),
                         file: StaticString = #filePath, line: UInt = #line,
                         _ f: @escaping ([Traced]) -> Traced) {
        let report = checker.check(inputs) { x, _ in f(x) }
        XCTAssertTrue(report.passed, "\(name): \(report)", file: file, line: line)
    }
}

/// Tests that call every kernel set this CPU runs directly through its table, on the same inputs:
/// the op-level tests cover only the set in use, which `make test` varies with PINPOINT_CPU.
protocol KernelSetTesting: XCTestCase {}

extension KernelSetTesting {
    func forEachSupportedSet(_ body: (KernelSet, pp_kernel_table) throws -> Void) rethrows {
        for set in KernelSet.supported { try body(set, pp_kernels_for(set.cValue)!.pointee) }
    }

    func random(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }
}
