import CPinpointKernels
import Foundation

/// Walks the column-matrix rows of the output `rows` (image-major: row n * outputHeight + oh) in
/// order, one stretch at a time: `segment` gets the stretch's offset in the column matrix, the
/// offset of the input elements it mirrors (-1 where the patch lies in the padding) and its length.
/// Patches are laid out in (kh, kw, ci) order; a kernel row inside the image is one stretch.
/// im2col and col2im are the two directions of this one walk.
@inline(__always)
private func forEachPatchSegment(_ g: Conv2DGeometry, rows: Range<Int>, _ segment: (_ column: Int, _ input: Int, _ count: Int) -> Void) {
    let h = g.window.height, w = g.window.width
    let cin = g.inChannels, k = g.columnCount
    let rowLength = w.window * cin
    var column = 0
    for row in rows {
        let n = row / h.output, oh = row % h.output
        for ow in 0..<w.output {
            let iw0 = w.start(ow)
            let inside = w.dilation == 1 && iw0 >= 0 && iw0 + w.window <= w.input
            for kh in 0..<h.window {
                let ih = h.start(oh) + kh * h.dilation
                let c = column + kh * rowLength
                if ih < 0 || ih >= h.input {
                    segment(c, -1, rowLength)
                    continue
                }
                let inputRow = ((n * h.input + ih) * w.input) * cin
                if inside {
                    segment(c, inputRow + iw0 * cin, rowLength)
                } else {
                    for kw in 0..<w.window {
                        let iw = iw0 + kw * w.dilation
                        segment(c + kw * cin, iw < 0 || iw >= w.input ? -1 : inputRow + iw * cin, cin)
                    }
                }
            }
            column += k
        }
    }
}

/// Writes one column-matrix row per output pixel of the output `rows`: the kernel-sized patch it
/// sees, zeros where the patch leaves the input. Runs on the calling thread.
func im2col(_ input: UnsafePointer<Float>, _ g: Conv2DGeometry, rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    forEachPatchSegment(g, rows: rows) { column, source, count in
        if source < 0 {
            (col + column).initialize(repeating: 0, count: count)
        } else {
            (col + column).initialize(from: input + source, count: count)
        }
    }
}

/// The adjoint of `im2col`: adds each column-matrix row of the output `rows` back onto the input
/// elements its patch was copied from. Runs on the calling thread; callers give each thread rows
/// of different images.
func col2im(_ col: UnsafePointer<Float>, _ g: Conv2DGeometry, rows: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    forEachPatchSegment(g, rows: rows) { column, target, count in
        guard target >= 0 else { return }
        let t = dx + target, s = col + column
        for i in 0..<count { t[i] += s[i] }
    }
}
