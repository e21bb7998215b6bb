import FuzzSupport
import PinpointModels

// safetensors checkpoints: the header's JSON, offsets, shapes and dtypes.
@_cdecl("FuzzCheckpoint_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { bytes in _ = try? Checkpoint(bytes: bytes, file: "fuzz.safetensors") }
}
