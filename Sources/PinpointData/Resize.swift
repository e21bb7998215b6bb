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

/// For each output position: the first input it reads, how many it reads, and their fixed-point
/// weights, `taps` slots per output (zero-padded), as Pillow's precompute_coeffs lays them out.
private struct Coefficients {
    var starts: [Int] = [], counts: [Int] = []
    var taps = 0
    var weights: [Int32] = []

    init(input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        var rows: [[Int32]] = []
        for o in 0..<output {
            let center = (Double(o) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), input)
            var k = (lo..<hi).map { bicubic((Double($0) - center + 0.5) / filterScale) }
            let total = k.reduce(0, +)
            if total != 0 { k = k.map { $0 / total } }
            starts.append(lo)
            counts.append(k.count)
            rows.append(k.map { w in Int32(w < 0 ? -0.5 + w * Double(1 << precisionBits) : 0.5 + w * Double(1 << precisionBits)) })
        }
        taps = rows.map(\.count).max() ?? 0
        weights = rows.flatMap { $0 + [Int32](repeating: 0, count: taps - $0.count) }
    }
}

/// Pillow's clip8: the 8-bit value of a fixed-point sum.
@inline(__always)
private func clip8(_ value: Int32) -> UInt8 {
    let v = value >> Int32(precisionBits)
    return v < 0 ? 0 : v > 255 ? 255 : UInt8(truncatingIfNeeded: v)
}

/// Half of the fixed-point unit, which every sum starts from so that the shift rounds.
private let half = Int32(1) << Int32(precisionBits - 1)

// The sums are Int32, as Pillow's are (`int`): a pixel's weights add up to one, their absolute
// values to under 1.3, so 255 times them stays far below Int32's range.

/// The horizontal pass over `lines` rows of interleaved RGB: each output pixel a weighted sum of
/// consecutive input pixels.
private func resampleRows(_ src: UnsafePointer<UInt8>, lines: Int, inputWidth: Int, _ c: Coefficients,
                          into dst: UnsafeMutablePointer<UInt8>) {
    let outputs = c.starts.count
    c.weights.withUnsafeBufferPointer { weights in
        for line in 0..<lines {
            let row = src + line * inputWidth * 3, out = dst + line * outputs * 3
            for o in 0..<outputs {
                let p = row + c.starts[o] * 3, w = weights.baseAddress! + o * c.taps
                var r = half, g = half, b = half
                for j in 0..<c.counts[o] {
                    let k = w[j]
                    r &+= Int32(p[3 * j]) &* k; g &+= Int32(p[3 * j + 1]) &* k; b &+= Int32(p[3 * j + 2]) &* k
                }
                out[3 * o] = clip8(r); out[3 * o + 1] = clip8(g); out[3 * o + 2] = clip8(b)
            }
        }
    }
}

/// The vertical pass: each output row a weighted sum of consecutive input rows, accumulated a
/// whole row of bytes at a time so that the inner loop runs over contiguous memory (and vectorizes).
private func resampleColumns(_ src: UnsafePointer<UInt8>, rowBytes: Int, _ c: Coefficients, into dst: UnsafeMutablePointer<UInt8>) {
    var sums = [Int32](repeating: 0, count: rowBytes)
    sums.withUnsafeMutableBufferPointer { sums in
        let acc = sums.baseAddress!
        for o in c.starts.indices {
            for x in 0..<rowBytes { acc[x] = half }
            for j in 0..<c.counts[o] {
                let k = c.weights[o * c.taps + j], row = src + (c.starts[o] + j) * rowBytes
                for x in 0..<rowBytes { acc[x] &+= Int32(row[x]) &* k }
            }
            let out = dst + o * rowBytes
            for x in 0..<rowBytes { out[x] = clip8(acc[x]) }
        }
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
        let c = Coefficients(input: width, output: newWidth)
        let out = [UInt8](unsafeUninitializedCapacity: height * newWidth * 3) { buffer, count in
            pixels.withUnsafeBufferPointer { resampleRows($0.baseAddress!, lines: height, inputWidth: width, c, into: buffer.baseAddress!) }
            count = height * newWidth * 3
        }
        return RGBImage(width: newWidth, height: height, pixels: out)
    }

    /// The vertical pass: each column resampled to `newHeight` pixels.
    private func resampled(height newHeight: Int) -> RGBImage {
        if newHeight == height { return self }
        let c = Coefficients(input: height, output: newHeight)
        let out = [UInt8](unsafeUninitializedCapacity: newHeight * width * 3) { buffer, count in
            pixels.withUnsafeBufferPointer { resampleColumns($0.baseAddress!, rowBytes: width * 3, c, into: buffer.baseAddress!) }
            count = newHeight * width * 3
        }
        return RGBImage(width: width, height: newHeight, pixels: out)
    }
}
