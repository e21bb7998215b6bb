import CPinpointKernels
import Foundation

/// One row of 2x2, stride-2 max pooling over `rowCount` (1 or 2) rows of `width` pixels held
/// contiguously (channels in multiples of 16), recording each window's maximum cell (unless
/// `cells` is nil): pooled pixel pw takes columns 2pw and 2pw + 1 where they exist, compared in
/// window order (row, then column) so the first of equal values wins, as `maxPool2DBackprop` routes.
@inline(__always)
func maxPoolRowRecordingWindows(_ input: UnsafePointer<Float>, rowCount: Int, width: Int, pooledWidth: Int, channels: Int,
                                into out: UnsafeMutablePointer<Float>, cells: UnsafeMutablePointer<Float>?) {
    kernels.max_pool_windows_row(input, Int32(rowCount), Int32(width), Int32(pooledWidth), Int32(channels), out, cells)
}

/// Columns `firstColumn ..< firstColumn + count` of row `row` of image `n` of the gradient the
/// windows route back to the pooling's input (`out`, count x channels floats): each pooled
/// gradient at its window's maximum cell, zeros elsewhere, in rows and columns no window covers
/// and outside the image. The one routing rule, for whole rows below and for `WinogradSource`'s
/// tiles.
@inline(__always)
func routeWindows(cells: UnsafePointer<Float>, pooledGradient gz: UnsafePointer<Float>, inputShape: (height: Int, width: Int, channels: Int),
                  pooledShape: (height: Int, width: Int), image n: Int, row: Int, firstColumn: Int, count: Int,
                  into out: UnsafeMutablePointer<Float>) {
    let channels = inputShape.channels
    guard row >= 0, row < inputShape.height, row / 2 < pooledShape.height else {
        out.update(repeating: 0, count: count * channels)
        return
    }
    let offset = (n * pooledShape.height + row / 2) * pooledShape.width * channels
    kernels.route_windows(cells + offset, gz + offset, Int32(row % 2), Int32(firstColumn), Int32(count),
                          Int32(Swift.min(inputShape.width, 2 * pooledShape.width)), Int32(channels), out)
}

/// Row `row` of image `n` of the gradient the windows route back to the pooling's input.
@inline(__always)
func routeWindowsRow(_ windows: MaxPoolWindows, pooledGradient gz: UnsafePointer<Float>, image n: Int, row: Int,
                     into out: UnsafeMutablePointer<Float>) {
    let shape = windows.inputShape, pooled = windows.outputShape
    routeWindows(cells: windows.cells.basePointer, pooledGradient: gz, inputShape: (shape[1], shape[2], shape[3]),
                 pooledShape: (pooled[1], pooled[2]), image: n, row: row, firstColumn: 0, count: shape[2], into: out)
}
