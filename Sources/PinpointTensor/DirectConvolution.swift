// A direct convolution for layers with few inputs per output, the first layer of an image model
// above all (3x3 window, 3 channels: 27 per output). Through im2col such a layer is a GEMM with
// an inner dimension of 27 and 32 columns, where OpenBLAS spends its time packing, and the
// column buffer it reads is nine times the image. Here each output row's window rows are copied
// once, zero-padded, into a small buffer; four output pixels by 32 output channels accumulate in
// registers over the window, each input value broadcast against two 16-channel kernel vectors.

/// Whether `conv2D` takes the direct kernel: at most `directConvolutionMaximumColumns` inputs per
/// output, output channels in multiples of 16, undilated, not pointwise.
func usesDirectConvolution(_ g: Conv2DGeometry) -> Bool {
    !g.isPointwise && g.columnCount <= directConvolutionMaximumColumns && g.outChannels % 16 == 0
        && g.window.height.dilation == 1 && g.window.width.dilation == 1
}

/// Beyond this many inputs per output (a 3x3 window on 8 channels) im2col + SGEMM is the faster path.
let directConvolutionMaximumColumns = 72

func directConv2D(_ x: Tensor, kernel w: Tensor, _ g: Conv2DGeometry, epilogue: BiasActivation) -> Tensor {
    let h = g.window.height, wd = g.window.width, cin = g.inChannels, cout = g.outChannels
    KernelCounters.add(multiplyAdds: g.batch * g.pixelsPerImage * g.columnCount * cout)
    // The columns the windows cover, from column -padBefore: one row of the padded image.
    let paddedWidth = (wd.output - 1) * wd.stride + wd.window
    let rowLength = paddedWidth * cin
    let inside = Swift.min(wd.input, paddedWidth - wd.padBefore)
    return withExtendedLifetime((x, w, epilogue.bias)) {
        Tensor(shape: g.outputShape) { out, _ in
            parallelChunks(g.batch * h.output, costPerItem: wd.output * g.columnCount * cout) { rows in
                Workspace.withBuffer(count: h.window * rowLength) { padded in
                    for row in rows {
                        let n = row / h.output, oh = row % h.output
                        for kh in 0..<h.window {
                            let ih = h.start(oh) + kh
                            let dst = padded + kh * rowLength
                            if ih < 0 || ih >= h.input {
                                dst.update(repeating: 0, count: rowLength)
                                continue
                            }
                            dst.update(repeating: 0, count: wd.padBefore * cin)
                            (dst + wd.padBefore * cin).update(from: x.basePointer + (n * h.input + ih) * wd.input * cin, count: inside * cin)
                            (dst + (wd.padBefore + inside) * cin).update(repeating: 0, count: rowLength - (wd.padBefore + inside) * cin)
                        }
                        let o = out + row * wd.output * cout
                        directConvolutionRow(padded, rowLength: rowLength, w.basePointer, o, g)
                        epilogue.apply(o, rows: wd.output, columns: cout)
                    }
                }
            }
        }
    }
}

/// One output row from the window's zero-padded input rows (`rowLength` floats apart).
@inline(__always)
private func directConvolutionRow(_ padded: UnsafePointer<Float>, rowLength: Int, _ kernel: UnsafePointer<Float>,
                                  _ out: UnsafeMutablePointer<Float>, _ g: Conv2DGeometry) {
    typealias V = SIMD16<Float>
    let kh = g.window.height.window, wd = g.window.width, cout = g.outChannels
    // Per kernel row, a pixel's inputs are contiguous in the padded row (kw, then channel), in
    // the order of the HWIO kernel's rows.
    let span = wd.window * g.inChannels, step = wd.stride * g.inChannels
    func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    func store(_ p: UnsafeMutablePointer<Float>, _ v: V) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
    var block = 0
    while block < cout {
        let wide = cout - block >= 32
        var ow = 0
        while ow < wd.output {
            let pixels = Swift.min(4, wd.output - ow)
            var (a0, a1, a2, a3, b0, b1, b2, b3) = (V(), V(), V(), V(), V(), V(), V(), V())
            for r in 0..<kh {
                let x = padded + r * rowLength + ow * step
                let k = kernel + r * span * cout + block
                if pixels == 4 && wide {
                    for j in 0..<span {
                        let (w0, w1) = (load(k + j * cout), load(k + j * cout + 16))
                        let (x0, x1, x2, x3) = (V(repeating: x[j]), V(repeating: x[step + j]), V(repeating: x[2 * step + j]),
                                                V(repeating: x[3 * step + j]))
                        a0 += x0 * w0; b0 += x0 * w1
                        a1 += x1 * w0; b1 += x1 * w1
                        a2 += x2 * w0; b2 += x2 * w1
                        a3 += x3 * w0; b3 += x3 * w1
                    }
                } else if pixels == 4 {
                    for j in 0..<span {
                        let w0 = load(k + j * cout)
                        a0 += V(repeating: x[j]) * w0
                        a1 += V(repeating: x[step + j]) * w0
                        a2 += V(repeating: x[2 * step + j]) * w0
                        a3 += V(repeating: x[3 * step + j]) * w0
                    }
                } else {
                    // The row's last pixels, one at a time.
                    for j in 0..<span {
                        let w0 = load(k + j * cout), w1 = wide ? load(k + j * cout + 16) : V()
                        let x0 = V(repeating: x[j])
                        a0 += x0 * w0; b0 += x0 * w1
                        if pixels > 1 { let x1 = V(repeating: x[step + j]); a1 += x1 * w0; b1 += x1 * w1 }
                        if pixels > 2 { let x2 = V(repeating: x[2 * step + j]); a2 += x2 * w0; b2 += x2 * w1 }
                    }
                }
            }
            let y = out + ow * cout + block
            store(y, a0)
            if wide { store(y + 16, b0) }
            if pixels > 1 { store(y + cout, a1); if wide { store(y + cout + 16, b1) } }
            if pixels > 2 { store(y + 2 * cout, a2); if wide { store(y + 2 * cout + 16, b2) } }
            if pixels > 3 { store(y + 3 * cout, a3); if wide { store(y + 3 * cout + 16, b3) } }
            ow += pixels
        }
        block += wide ? 32 : 16
    }
}
