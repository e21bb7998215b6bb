import CPinpointKernels
import Foundation

/// One output row of a depthwise convolution with multiplier 1 and channels in multiples of 16:
/// each output pixel's 16-channel groups accumulate in a SIMD register over the kernel's taps
/// and are stored once (the general loop above adds into the output row once per tap: 9 loads
/// and stores of every output value for a 3x3 kernel). `image` is addressed as the whole image;
/// only the rows this output row's window covers are read. `streaming` (an image read from
/// memory, not cache) reads the interior pixel by pixel in address order; both orders give the
/// same values.
@inline(__always)
func depthwiseRow(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, oh: Int,
                  _ g: WindowGeometry, streaming: Bool = false) {
    let w = g.width
    if g.height.window == 3 && w.window == 3 && g.height.dilation == 1 && w.dilation == 1,
       let interior = depthwiseRow3x3(image, taps, out, oh: oh, g, streaming: streaming) {
        for ow in 0..<w.output where !interior.contains(ow) { depthwisePixel(image, taps, out + ow * g.channels, oh: oh, ow: ow, g) }
        return
    }
    for ow in 0..<w.output { depthwisePixel(image, taps, out + ow * g.channels, oh: oh, ow: ow, g) }
}

/// The output pixels of row `oh` whose 3x3 window lies inside the image's columns, with the
/// kernel's taps held in registers for each 16-channel group across the row: per output vector,
/// nine loads and multiply-adds and one store, no bounds logic. Returns the columns it wrote, or
/// nil when fewer than two of the window's rows are inside the image.
@inline(__always)
private func depthwiseRow3x3(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, oh: Int,
                             _ g: WindowGeometry, streaming: Bool) -> Range<Int>? {
    let h = g.height, w = g.width, c = g.channels
    let top = h.start(oh)
    let firstRow = Swift.max(0, -top), rowCount = Swift.min(3, h.input - top) - firstRow
    guard rowCount >= 2 else { return nil }
    // Columns ow with 0 <= ow * stride - padBefore <= width - 3.
    let first = (w.padBefore + w.stride - 1) / w.stride
    let end = Swift.max(first, Swift.min(w.output, w.input - 3 + w.padBefore >= 0 ? (w.input - 3 + w.padBefore) / w.stride + 1 : 0))
    let rowStride = w.input * c, step = w.stride * c
    if end > first {
        let row = streaming ? kernels.depthwise3x3_row_streaming : kernels.depthwise3x3_row
        row(image + (top + firstRow) * rowStride + (first * w.stride - w.padBefore) * c, rowStride, step, Int32(c),
            taps + firstRow * 3 * c, Int32(rowCount), Int32(end - first), out + first * c)
    }
    return first..<end
}

/// One output pixel (all channels, multiplier 1, channels in multiples of 16), any window.
@inline(__always)
private func depthwisePixel(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            oh: Int, ow: Int, _ g: WindowGeometry) {
    let h = g.height, w = g.width, c = g.channels
    // Kernel rows and columns inside the image for this output pixel.
    let firstRow = Swift.max(0, (-h.start(oh) + h.dilation - 1) / h.dilation)
    let lastRow = Swift.min(h.window, (h.input - h.start(oh) + h.dilation - 1) / h.dilation)
    let firstColumn = Swift.max(0, (-w.start(ow) + w.dilation - 1) / w.dilation)
    let lastColumn = Swift.min(w.window, (w.input - w.start(ow) + w.dilation - 1) / w.dilation)
    var group = 0
    while group < c {
        var acc = SIMD16<Float>()
        for kh in firstRow..<Swift.max(firstRow, lastRow) {
            let inputRow = image + (h.start(oh) + kh * h.dilation) * w.input * c + group
            let tapRow = taps + kh * w.window * c + group
            for kw in firstColumn..<Swift.max(firstColumn, lastColumn) {
                let x = UnsafeRawPointer(inputRow + (w.start(ow) + kw * w.dilation) * c).loadUnaligned(as: SIMD16<Float>.self)
                let k = UnsafeRawPointer(tapRow + kw * c).loadUnaligned(as: SIMD16<Float>.self)
                acc += x * k
            }
        }
        UnsafeMutableRawPointer(y + group).storeBytes(of: acc, as: SIMD16<Float>.self)
        group += 16
    }
}

/// The depthwise kernel [KH, KW, C, M] turned by 180 degrees in its spatial axes.
func rotatedHalfTurn(_ kernel: Tensor) -> Tensor {
    let k = kernel.contiguous()
    let (kh, kw) = (k.shape[0], k.shape[1]), taps = k.shape[2] * k.shape[3]
    return withExtendedLifetime(k) {
        Tensor(shape: k.shape) { out, _ in
            for a in 0..<kh {
                for b in 0..<kw {
                    (out + (a * kw + b) * taps).initialize(from: k.basePointer + ((kh - 1 - a) * kw + (kw - 1 - b)) * taps, count: taps)
                }
            }
        }
    }
}

/// Adds output row `oh`'s contribution to the gradient of a 3x3 kernel (multiplier 1, channels
/// in multiples of 16, undilated): dk[kh, kw, c] += x[ih, iw, c] * dy[oh, ow, c]. The row's
/// interior columns accumulate the nine taps in registers per 16-channel group and add them to
/// `dk` once; edge pixels take a per-tap loop. `streaming` as for `depthwiseRow`.
func depthwiseKernelGradientRow(_ image: UnsafePointer<Float>, _ dyRow: UnsafePointer<Float>, _ dk: UnsafeMutablePointer<Float>,
                                oh: Int, _ g: WindowGeometry, streaming: Bool) {
    typealias V = SIMD16<Float>
    let h = g.height, w = g.width, c = g.channels
    let top = h.start(oh)
    let firstRow = Swift.max(0, -top), lastRow = Swift.min(3, h.input - top)
    let rowCount = lastRow - firstRow
    let first = (w.padBefore + w.stride - 1) / w.stride
    let end = rowCount < 2 ? first
        : Swift.max(first, Swift.min(w.output, w.input - 3 + w.padBefore >= 0 ? (w.input - 3 + w.padBefore) / w.stride + 1 : 0))
    let rowStride = w.input * c, step = w.stride * c
    func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    func add(_ p: UnsafeMutablePointer<Float>, _ v: V) { UnsafeMutableRawPointer(p).storeBytes(of: load(p) + v, as: V.self) }
    if end > first {
        let row = streaming ? kernels.depthwise3x3_kernel_gradient_row_streaming : kernels.depthwise3x3_kernel_gradient_row
        row(image + (top + firstRow) * rowStride + (first * w.stride - w.padBefore) * c, rowStride, step, Int32(c), dyRow + first * c,
            Int32(rowCount), Int32(end - first), dk + firstRow * 3 * c)
    }
    // Edge columns (and rows with fewer than two kernel rows inside): tap by tap.
    for ow in 0..<w.output where ow < first || ow >= end {
        let d = dyRow + ow * c
        for kh in firstRow..<Swift.max(firstRow, lastRow) {
            let inputRow = image + (top + kh) * rowStride
            for kw in 0..<3 {
                let iw = w.start(ow) + kw
                if iw < 0 || iw >= w.input { continue }
                let x = inputRow + iw * c, tap = dk + (kh * 3 + kw) * c
                for group in stride(from: 0, to: c, by: 16) { add(tap + group, load(x + group) * load(d + group)) }
            }
        }
    }
}
