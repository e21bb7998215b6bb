import FuzzEntryPoints
import FuzzSupport

@_cdecl("FuzzImage_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, FuzzEntryPoints.image)
}
