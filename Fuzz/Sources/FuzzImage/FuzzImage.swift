import FuzzSupport
import PinpointData

// JPEG and PNG through libjpeg and libpng's C shims: header only, then the whole decode and a
// resize, with a declared-size bound of 4 megapixels (the production bound, Pillow's 89, lets a
// 200-byte file decode to a legal 57-megapixel image, which takes seconds under the sanitizers).
@_cdecl("FuzzImage_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { bytes in
        _ = try? ImageCodec.info(of: bytes, file: "fuzz.jpg")
        if let (_, image) = try? ImageCodec.decode(bytes, file: "fuzz.jpg", maximumPixels: 1 << 22) { _ = image.resized(width: 16, height: 16) }
    }
}
