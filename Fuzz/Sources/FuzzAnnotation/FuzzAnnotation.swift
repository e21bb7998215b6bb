import FuzzEntryPoints
import FuzzSupport

@_cdecl("FuzzAnnotation_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, FuzzEntryPoints.annotation)
}
