import FuzzEntryPoints
import FuzzSupport

@_cdecl("FuzzExample_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, FuzzEntryPoints.example)
}
