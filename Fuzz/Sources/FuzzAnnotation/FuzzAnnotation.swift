import FuzzSupport
import PinpointData

// Pascal VOC annotations: the XML parser and the annotation's checks.
@_cdecl("FuzzAnnotation_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { bytes in _ = try? Annotation(xml: bytes, file: "fuzz.xml") }
}
