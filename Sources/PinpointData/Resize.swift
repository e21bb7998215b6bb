// Bicubic resizing exactly as Pillow's Image.resize(size) does for 8-bit RGB (its default filter
// since Pillow 7 for RGB is BICUBIC): Keys' cubic with a = -0.5, support widened by the scale
// factor when shrinking (so every input pixel contributes), coefficients normalized per output
// pixel and turned into 22-bit fixed point, a horizontal pass then a vertical pass, each
// rounding and clipping to 8 bits. Following Pillow's arithmetic step by step is what makes the
// result match it to within a level or two, not just look alike.

private let precisionBits = 32 - 8 - 2

private func bicubic(_ x: Double) -> Double {
    let a = -0.5
    let x = abs(x)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

/// For each output position: the first input index and fixed-point weights of the inputs it reads.
private func coefficients(input: Int, output: Int) -> (starts: [Int], weights: [[Int32]]) {
    let scale = Double(input) / Double(output)
    let filterScale = max(scale, 1)
    let support = 2.0 * filterScale
    var starts: [Int] = [], weights: [[Int32]] = []
    for o in 0..<output {
        let center = (Double(o) + 0.5) * scale
        let lo = max(Int(center - support + 0.5), 0)
        let hi = min(Int(center + support + 0.5), input)
        var k = (lo..<hi).map { bicubic((Double($0) - center + 0.5) / filterScale) }
        let total = k.reduce(0, +)
        if total != 0 { k = k.map { $0 / total } }
        starts.append(lo)
        weights.append(k.map { w in Int32(w < 0 ? -0.5 + w * Double(1 << precisionBits) : 0.5 + w * Double(1 << precisionBits)) })
    }
    return (starts, weights)
}

@inline(__always)
private func clip8(_ value: Int64) -> UInt8 {
    let v = value >> Int64(precisionBits)
    return v < 0 ? 0 : v > 255 ? 255 : UInt8(v)
}

extension RGBImage {
    /// The image resized as Pillow's `Image.resize((width, height))` with its default bicubic filter.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resized: target \(newWidth)x\(newHeight) must be positive")
        if newWidth == width && newHeight == height { return self }
        let horizontal = coefficients(input: width, output: newWidth)
        let vertical = coefficients(input: height, output: newHeight)
        let half = Int64(1) << Int64(precisionBits - 1)
        // Horizontal pass: height x newWidth.
        var temp = [UInt8](repeating: 0, count: height * newWidth * 3)
        pixels.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for x in 0..<newWidth {
                        let start = horizontal.starts[x], k = horizontal.weights[x]
                        var r = half, g = half, b = half
                        for (j, w) in k.enumerated() {
                            let i = (y * width + start + j) * 3
                            r += Int64(src[i]) * Int64(w); g += Int64(src[i + 1]) * Int64(w); b += Int64(src[i + 2]) * Int64(w)
                        }
                        let o = (y * newWidth + x) * 3
                        dst[o] = clip8(r); dst[o + 1] = clip8(g); dst[o + 2] = clip8(b)
                    }
                }
            }
        }
        // Vertical pass: newHeight x newWidth.
        var out = [UInt8](repeating: 0, count: newHeight * newWidth * 3)
        temp.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<newHeight {
                    let start = vertical.starts[y], k = vertical.weights[y]
                    for x in 0..<(newWidth * 3) {
                        var acc = half
                        for (j, w) in k.enumerated() { acc += Int64(src[(start + j) * newWidth * 3 + x]) * Int64(w) }
                        dst[y * newWidth * 3 + x] = clip8(acc)
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}
