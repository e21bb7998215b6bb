import Foundation
import PinpointData
import PinpointModels
import XCTest

/// The fuzz targets' inputs replayed through the same entry points (FuzzEntryPoints.swift, the
/// fuzz package's own file), so CI holds every fix without running the fuzzer: the seed corpora
/// (Fuzz/Seeds) and every input a fuzzer run found (Fuzz/Regressions). Each must come back as a
/// value or a thrown error, never a trap. (The fuzzer's 1 s timeout is its own to enforce: this
/// suite also runs unoptimized, and asserts no times.)
final class FuzzCorpusTests: XCTestCase {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz").standardized

    func replay(_ corpus: String) throws -> Int {
        var count = 0
        for (target, run) in FuzzEntryPoints.all {
            let directory = Self.fuzz.appendingPathComponent(corpus).appendingPathComponent(target)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.sorted() ?? [] {
                run([UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
                count += 1
            }
        }
        return count
    }

    func testTheSeedCorporaParseWithoutTrapping() throws {
        XCTAssertEqual(try replay("Seeds"), 38)
    }

    func testEveryInputAFuzzerFoundIsHandled() throws {
        XCTAssertGreaterThanOrEqual(try replay("Regressions"), 1)
    }
}
