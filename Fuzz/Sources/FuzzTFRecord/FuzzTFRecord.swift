import Foundation
import FuzzSupport
import PinpointData

// TFRecord framing (lengths, CRC32C, truncated tails), read from a file as users' records are.
@_cdecl("FuzzTFRecord_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    let path = "/dev/shm/pinpoint-fuzz-\(getpid()).tfrecord"
    return runFuzzer(argc, argv) { bytes in
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        for tail in [false, true] {
            guard let reader = try? TFRecordReader(path: path, allowsTruncatedTail: tail) else { continue }
            while let record = try? reader.next() { _ = try? Example(serialized: record) }
        }
    }
}
