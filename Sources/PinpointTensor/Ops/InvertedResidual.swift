// MobileNetV2's inverted residual block in inference, in one pass over memory: 1x1 expansion,
// depthwise convolution, 1x1 projection, each with its folded BatchNormalization as a bias, run
// band of output rows by band of output rows so the expanded activation (six times the block's
// input, 193 MB for block_1 at batch 40) lives only in a per-thread buffer sized for L2. Layer by
// layer, those early blocks are bound by memory bandwidth (each writes and reads back its expanded
// tensor twice); fused, only the block's input and output cross main memory.

/// The folded weights of one convolution: kernel (HWIO, or [KH, KW, C, 1] for depthwise) and
/// the per-output-channel bias that BatchNormalization folded into it.
public struct FoldedConvolution {
    public let kernel: Tensor
    public let bias: Tensor

    public init(kernel: Tensor, bias: Tensor) {
        self.kernel = kernel
        self.bias = bias
    }
}

/// Default bytes of expanded activation a thread works on at a time: the band's rows, with the depthwise
/// window's halo, stay in the 2 MiB L2 beside the depthwise output and the GEMM panels.
public let invertedResidualBandBytes = 1 << 20

/// `activation(depthwise(activation(x * expand)))` projected by `project` (+ x when `residual`),
/// NHWC, SAME padding, biases added after each convolution: MobileNetV2's inverted residual block
/// with BatchNormalization folded into each convolution (`expand` is nil for the first block,
/// which has no expansion). The result equals the layer-by-layer computation up to float
/// rounding order.
///
/// Returns nil when the block is not one this kernel handles (a depth multiplier other than 1,
/// expanded channels not a multiple of 16, kernels that are not 1x1 around the depthwise one);
/// the caller then runs the layers one by one. `bandBytes` bounds the expanded rows a thread
/// holds at a time.
///
/// ```swift
/// let y = fusedInvertedResidual(x, expand: e, depthwise: d, strides: (2, 2), project: p, residual: false)
/// ```
public func fusedInvertedResidual(_ input: Tensor, expand: FoldedConvolution?, depthwise: FoldedConvolution, strides: (Int, Int),
                                  project: FoldedConvolution, residual: Bool, activation: FusedActivation = .relu6,
                                  bandBytes: Int = invertedResidualBandBytes) -> Tensor? {
    guard input.rank == 4, depthwise.kernel.rank == 4, project.kernel.rank == 4 else { return nil }
    let (batch, height, width, inChannels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let expanded = expand?.kernel.shape.last ?? inChannels
    let outChannels = project.kernel.shape[3]
    if let expand, expand.kernel.shape != [1, 1, inChannels, expanded] || expand.bias.shape != [expanded] { return nil }
    guard depthwise.kernel.shape[2] == expanded, depthwise.kernel.shape[3] == 1, depthwise.bias.shape == [expanded],
          project.kernel.shape[0] == 1, project.kernel.shape[1] == 1, project.kernel.shape[2] == expanded,
          project.bias.shape == [outChannels], expanded % 16 == 0,
          !residual || (outChannels == inChannels && strides == (1, 1)),
          let g = try? WindowGeometry(inputShape: [batch, height, width, expanded],
                                      window: (depthwise.kernel.shape[0], depthwise.kernel.shape[1]), strides: strides,
                                      dilation: (1, 1), padding: .same, operation: "fusedInvertedResidual")
    else { return nil }
    let h = g.height, w = g.width
    KernelCounters.add(multiplyAdds: batch * (height * width * (expand == nil ? 0 : inChannels * expanded)
        + h.output * w.output * expanded * (h.window * w.window + outChannels)))

    // Output rows per band: as many as keep the band's expanded rows within the budget.
    let rowBytes = width * expanded * MemoryLayout<Float>.stride
    let budgetRows = Swift.max(h.window, bandBytes / Swift.max(rowBytes, 1))
    let bandRows = Swift.min(h.output, Swift.max(1, (budgetRows - h.window + h.stride) / h.stride))
    let bands = (h.output + bandRows - 1) / bandRows
    let maxExpandedRows = Swift.min(height, (bandRows - 1) * h.stride + h.window)

    let x = input.contiguous()
    let expandKernel = expand?.kernel.contiguous(), expandBias = expand?.bias.contiguous()
    let taps = depthwise.kernel.contiguous(), depthwiseBias = depthwise.bias.contiguous()
    let projectKernel = project.kernel.contiguous(), projectBias = project.bias.contiguous()
    let imageSize = height * width * inChannels
    return withExtendedLifetime((x, expandKernel, expandBias, taps, depthwiseBias, projectKernel, projectBias)) {
        Tensor(shape: [batch, h.output, w.output, outChannels]) { out, _ in
            let expandedCount = expand == nil ? 0 : maxExpandedRows * width * expanded
            let units = batch * bands
            forEachWorker(limit: units) { worker, workers in
                Workspace.withBuffer(count: expandedCount + bandRows * w.output * expanded) { scratch in
                    let filtered = scratch + expandedCount
                    var unit = worker
                    while unit < units {
                        let n = unit / bands, first = unit % bands * bandRows
                        let last = Swift.min(first + bandRows, h.output)
                        let image = x.basePointer + n * imageSize
                        // The depthwise convolution reads the image's rows through `rows`,
                        // addressed as the whole image: the expanded band's rows, or the input.
                        var rows = UnsafePointer(image)
                        if let expandKernel, let expandBias {
                            let top = Swift.max(0, h.start(first))
                            let bottom = Swift.min(height, h.start(last - 1) + h.window)
                            sgemm(GEMMOperand(pointer: image + top * width * inChannels, transposed: false, leadingDimension: inChannels),
                                  GEMMOperand(pointer: expandKernel.basePointer, transposed: false, leadingDimension: expanded),
                                  scratch, m: (bottom - top) * width, n: expanded, k: inChannels, ldc: expanded, counted: false)
                            applyBiasActivation(scratch, rows: (bottom - top) * width, columns: expanded,
                                                bias: expandBias.basePointer, activation: activation)
                            rows = UnsafePointer(scratch - top * width * expanded)
                        }
                        for oh in first..<last {
                            depthwiseRow(rows, taps.basePointer, filtered + (oh - first) * w.output * expanded, oh: oh, g)
                        }
                        let pixels = (last - first) * w.output
                        applyBiasActivation(filtered, rows: pixels, columns: expanded, bias: depthwiseBias.basePointer,
                                            activation: activation)
                        let y = out + (n * h.output + first) * w.output * outChannels
                        sgemm(GEMMOperand(pointer: filtered, transposed: false, leadingDimension: expanded),
                              GEMMOperand(pointer: projectKernel.basePointer, transposed: false, leadingDimension: outChannels),
                              y, m: pixels, n: outChannels, k: expanded, ldc: outChannels, counted: false)
                        addBiasAndResidual(y, pixels: pixels, channels: outChannels, bias: projectBias.basePointer,
                                           residual: residual ? image + first * w.output * inChannels : nil)
                        unit += workers
                    }
                }
            }
        }
    }
}

/// y[p, c] += bias[c] (+ residual[p, c]).
private func addBiasAndResidual(_ y: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, bias: UnsafePointer<Float>,
                                residual: UnsafePointer<Float>?) {
    for p in 0..<pixels {
        let row = y + p * channels
        if let residual {
            let r = residual + p * channels
            for c in 0..<channels { row[c] += bias[c] + r[c] }
        } else {
            for c in 0..<channels { row[c] += bias[c] }
        }
    }
}
