import FuzzSupport
import PinpointData

// tf.train.Example's protobuf wire format, and the typed reads the pipeline makes of it.
@_cdecl("FuzzExample_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { bytes in
        guard let example = try? Example(serialized: bytes) else { return }
        _ = try? example.bytes("image")
        _ = try? example.float("x")
        _ = try? example.int64("cls_num")
        _ = example.jsonLine()
    }
}
