import CFuzzDriver

nonisolated(unsafe) private var body: (([UInt8]) -> Void)?

private func callback(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    body?(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// Runs libFuzzer with the program's arguments, feeding each input to `fuzz`. An input that
/// makes `fuzz` trap, leak past the RSS limit or run past the timeout is a finding.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                      _ fuzz: @escaping ([UInt8]) -> Void) -> CInt {
    body = fuzz
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}
