import FuzzEntryPoints
import FuzzSupport

@_cdecl("FuzzTFRecord_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, FuzzEntryPoints.tfRecord)
}
