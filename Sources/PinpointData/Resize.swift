// Bicubic resizing exactly as Pillow's Image.resize(size) does for 8-bit RGB (its default filter
// since Pillow 7 for RGB is BICUBIC): Keys' cubic with a = -0.5, support widened by the scale
// factor when shrinking (so every input pixel contributes), coefficients normalized per output
// pixel and turned into 22-bit fixed point, one pass per axis, each rounding and clipping to 8
// bits. Following Pillow's arithmetic step by step is what makes the result bit-exact to it on
// lossless input, not just alike. The order of the two passes matters (the first one's rounding
// feeds the second), and Pillow 13 chooses it by the sizes: the vertical pass first when the
// height shrinks by more than twice as many pixels as the width does, otherwise the horizontal.

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

/// One 8-bit resampling pass along an axis of an interleaved RGB image: `lines` lines across the
/// axis, a pixel `pixelStride` bytes from the next along it and `lineStride` from the next line;
/// into `dst`, whose strides are `outPixelStride` and `outLineStride`. `outputsOuter` walks the
/// outputs in the outer loop (the vertical pass: each output row is then written in order, its
/// input rows read in order), otherwise the lines (the horizontal pass: row by row).
private func resamplePass(_ src: UnsafeBufferPointer<UInt8>, lines: Int, pixelStride: Int, lineStride: Int,
                          _ c: (starts: [Int], weights: [[Int32]]), into dst: UnsafeMutableBufferPointer<UInt8>,
                          outPixelStride: Int, outLineStride: Int, outputsOuter: Bool) {
    let half = Int64(1) << Int64(precisionBits - 1)
    @inline(__always) func resample(_ line: Int, _ o: Int) {
        var r = half, g = half, b = half
        let start = c.starts[o]
        for (j, w) in c.weights[o].enumerated() {
            let i = line * lineStride + (start + j) * pixelStride
            r += Int64(src[i]) * Int64(w); g += Int64(src[i + 1]) * Int64(w); b += Int64(src[i + 2]) * Int64(w)
        }
        let q = line * outLineStride + o * outPixelStride
        dst[q] = clip8(r); dst[q + 1] = clip8(g); dst[q + 2] = clip8(b)
    }
    if outputsOuter {
        for o in c.starts.indices { for line in 0..<lines { resample(line, o) } }
    } else {
        for line in 0..<lines { for o in c.starts.indices { resample(line, o) } }
    }
}

extension RGBImage {
    /// The image resized as Pillow's `Image.resize((width, height))` with its default bicubic filter.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resized: target \(newWidth)x\(newHeight) must be positive")
        if newWidth == width && newHeight == height { return self }
        let verticalFirst = height > newHeight && height - newHeight > 2 * (width - newWidth)
        return verticalFirst ? resampled(height: newHeight).resampled(width: newWidth)
            : resampled(width: newWidth).resampled(height: newHeight)
    }

    /// The horizontal pass: each row resampled to `newWidth` pixels.
    private func resampled(width newWidth: Int) -> RGBImage {
        if newWidth == width { return self }
        var out = [UInt8](repeating: 0, count: height * newWidth * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                resamplePass(src, lines: height, pixelStride: 3, lineStride: width * 3, coefficients(input: width, output: newWidth),
                             into: dst, outPixelStride: 3, outLineStride: newWidth * 3, outputsOuter: false)
            }
        }
        return RGBImage(width: newWidth, height: height, pixels: out)
    }

    /// The vertical pass: each column resampled to `newHeight` pixels.
    private func resampled(height newHeight: Int) -> RGBImage {
        if newHeight == height { return self }
        var out = [UInt8](repeating: 0, count: newHeight * width * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                resamplePass(src, lines: width, pixelStride: width * 3, lineStride: 3, coefficients(input: height, output: newHeight),
                             into: dst, outPixelStride: width * 3, outLineStride: 3, outputsOuter: true)
            }
        }
        return RGBImage(width: width, height: newHeight, pixels: out)
    }
}
