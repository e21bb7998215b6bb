import Foundation
@testable import PinpointData
import XCTest

/// TensorBoard event files, byte for byte: Fixtures/tensorboard holds an event file written by
/// TensorBoard's own protobuf classes and record writer, and the scalars its EventAccumulator
/// read back from it (make_tensorboard_fixture.py). SummaryWriter, given the same wall times,
/// writes the same bytes.
final class SummaryWriterTests: XCTestCase {
    struct Fixture: Decodable {
        let start: Double
        let written: [[Written]]
        let read: [String: [[Double]]]
        enum Written: Decodable {
            case number(Double), text(String)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
            }
            var number: Double { if case .number(let d) = self { return d }; return .nan }
            var text: String { if case .text(let s) = self { return s }; return "" }
        }
    }

    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/tensorboard")!
    }

    func testEventsAreTheBytesTensorBoardWritesAndReads() throws {
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixture("tensorboard_scalars.json")))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-events-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try SummaryWriter(directory: directory, wallTime: f.start, host: "fixture")
        for row in f.written {
            try writer.scalar(row[2].text, Float(row[3].number), step: Int(row[1].number), wallTime: row[0].number)
        }
        XCTAssertTrue(writer.path.hasPrefix(directory + "/events.out.tfevents.\(Int(f.start)).fixture."), writer.path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: writer.path))),
                       [UInt8](try Data(contentsOf: fixture("events.out.tfevents.fixture"))))
        // What TensorBoard read back from those bytes is what was written.
        XCTAssertEqual(f.read.values.map(\.count).reduce(0, +), f.written.count)
        for row in f.written {
            let read = try XCTUnwrap(f.read[row[2].text]?.first { $0[1] == row[1].number }, "\(row[2].text) at step \(row[1].number)")
            XCTAssertEqual(read[0], row[0].number)
            XCTAssertEqual(Float(read[2]), Float(row[3].number))
        }
    }
}
