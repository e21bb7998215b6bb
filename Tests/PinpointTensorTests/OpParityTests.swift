import PinpointTensor
import XCTest

/// The fixtures as a whole (every op has cases; each family's file tests its own), and the random
/// generator against an independent implementation.
final class OpParityTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testFixturesCoverEveryOp() {
        let ops = Set(fixtures.cases.map(\.op))
        XCTAssertEqual(ops.count, 45, "ops in the fixture: \(ops.sorted())")
    }

    func testRandomGeneratorMatchesIndependentImplementation() {
        var rng = SeededGenerator(seed: fixtures.random.seed)
        XCTAssertEqual((0..<8).map { _ in String(rng.next()) }, fixtures.random.uint64)
        var floats = SeededGenerator(seed: fixtures.random.seed)
        XCTAssertEqual((0..<8).map { _ in floats.nextUnitFloat() }, fixtures.random.unitFloat)
    }
}
