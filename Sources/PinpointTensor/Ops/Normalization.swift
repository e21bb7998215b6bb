import CPinpointKernels

// Batch normalization over every axis but the last (NHWC channels), as three fused passes:
// the batch moments (one read, Double sums), the normalization (one read, one write), and the
// gradient (two reads: the per-channel sums, then the input gradient). Composed from generic
// operations it would be a dozen passes and as many activation-sized temporaries kept on the
// tape, where MobileNetV2's training step would spend most of its time.

/// Mean and (biased) variance per channel of `x` over every axis but the last, accumulated in
/// Double: what Keras's BatchNormalization normalizes a training batch with.
///
/// ```swift
/// let (mean, variance) = batchMoments(x)   // x: [N, H, W, C] -> [C], [C]
/// ```
public func batchMoments(_ x: Tensor) -> (mean: Tensor, variance: Tensor) {
    let channels = x.shape.last ?? 1
    let rows = x.count / Swift.max(channels, 1)
    let input = x.contiguous()
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, x.count / Parallelism.minimumElementsPerThread, rows))
    // Per worker: the sum and the sum of squares, around a shift (the first row) so that a large
    // mean does not cancel the variance away. In Double per element: Float partial sums over
    // blocks of rows ran 2.5x faster but doubled MobileNetV2's median training-gradient error
    // against float64 Keras (0.8% -> 1.7-1.9%, with the first row or a sample mean as the shift;
    // Keras's own float32 run: 1.8%). Exactness matters where a channel is constant (a dead
    // ReLU): Double gives it a zero variance, Float partial sums give noise that 1/sqrt(epsilon)
    // then amplifies.
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * workers * channels)
    defer { sums.deallocate() }
    sums.initialize(repeating: 0, count: 2 * workers * channels)
    let src = input.basePointer
    withExtendedLifetime(input) {
        forEachWorker(limit: workers) { worker, total in
            // Row after row (memory order), into per-worker sums that stay in L1.
            kernels.batch_norm_moments(src, rows * worker / total, rows * (worker + 1) / total, Int32(channels),
                                       sums + 2 * worker * channels, sums + (2 * worker + 1) * channels)
        }
    }
    var mean = [Float](repeating: 0, count: channels), variance = mean
    let m = Double(Swift.max(rows, 1))
    withExtendedLifetime(input) {
        for c in 0..<channels {
            var sum = 0.0, squares = 0.0
            for worker in 0..<workers {
                sum += sums[2 * worker * channels + c]
                squares += sums[(2 * worker + 1) * channels + c]
            }
            let shiftedMean = sum / m
            mean[c] = Float(Double(src[c]) + shiftedMean)
            variance[c] = Float(Swift.max(squares / m - shiftedMean * shiftedMean, 0))
        }
    }
    return (Tensor(shape: [channels], scalars: mean), Tensor(shape: [channels], scalars: variance))
}

/// Per-channel (x - mean) * gamma / sqrt(variance + epsilon) + beta, in one threaded pass:
/// Keras `BatchNormalization` with the given statistics; `activation` (the ReLU6 after it in
/// MobileNetV2) is applied to each chunk while it is in cache.
///
/// ```swift
/// let y = batchNormalization(x, gamma: g, beta: b, mean: m, variance: v, epsilon: 1e-3)
/// ```
public func batchNormalization(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
                               activation: FusedActivation = .linear) -> Tensor {
    let channels = x.shape.last ?? 1
    for (t, name) in [(mean, "mean"), (variance, "variance"), (gamma, "gamma"), (beta, "beta")] where t.shape != [channels] {
        trap(.mismatch(operation: "batchNormalization", expected: [channels], got: t.shape, detail: name))
    }
    let scale = (gamma / (variance + epsilon).sqrt()).contiguous()
    let input = x.contiguous(), m = mean.contiguous(), b = beta.contiguous()
    let rows = x.count / Swift.max(channels, 1)
    return withExtendedLifetime((input, scale, m, b)) {
        Tensor(shape: x.shape) { out, _ in
            let src = input.basePointer, sp = scale.basePointer, mp = m.basePointer, bp = b.basePointer
            parallelChunks(rows, costPerItem: channels) { range in
                if let fused = activation.kernelActivation {
                    kernels.batch_norm_rows(src + range.lowerBound * channels, range.count, Int32(channels), mp, sp, bp, fused,
                                            out + range.lowerBound * channels)
                    return
                }
                for r in range {
                    let row = src + r * channels, o = out + r * channels
                    for c in 0..<channels { o[c] = (row[c] - mp[c]) * sp[c] + bp[c] }
                    // Row by row, while the row is in L1 (a chunk is half the tensor).
                    applyBiasActivation(o, rows: 1, columns: channels, bias: nil, activation: activation)
                }
            }
        }
    }
}

/// Gradients of `batchNormalization` with respect to its input, gamma and beta. With
/// `batchStatistics`, mean and variance are the input's own batch moments, and the input
/// gradient includes their dependence on the input:
/// dx = gamma s (dy - sum(dy)/M - (x - mean) s^2 sum(dy (x - mean))/M), s = 1/sqrt(var + eps);
/// otherwise (moving statistics, constants) dx = gamma s dy.
/// With a fused `activation` (then `beta` is needed), the output gradient is first taken through
/// the activation, at the pre-activation value recomputed from the input exactly as the forward
/// pass computed it: reading the stored output instead would be one more stream over memory in
/// each pass (these passes are memory-bound).
public func batchNormalizationBackprop(_ outputGradient: Tensor, input x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor,
                                       epsilon: Float, batchStatistics: Bool, activation: FusedActivation = .linear,
                                       beta: Tensor? = nil)
    -> (input: Tensor, gamma: Tensor, beta: Tensor) {
    if outputGradient.shape != x.shape {
        trap(.mismatch(operation: "batchNormalizationBackprop", expected: x.shape, got: outputGradient.shape, detail: "output gradient"))
    }
    precondition(activation == .linear || beta != nil, "batchNormalizationBackprop: a fused activation needs beta")
    let channels = x.shape.last ?? 1
    // The forward pass's per-channel scale, computed the same way, so recomputed values are identical.
    let forwardScale = (gamma / (variance + epsilon).sqrt()).contiguous()
    let shift = (beta ?? Tensor.zeros([channels])).contiguous()
    let sp = forwardScale.basePointer, bp0 = shift.basePointer
    let rows = x.count / Swift.max(channels, 1)
    let dy = outputGradient.contiguous(), input = x.contiguous(), m = mean.contiguous()
    let inverse = (variance + epsilon).sqrt().map { 1 / $0 }.contiguous()
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, x.count / Parallelism.minimumElementsPerThread, rows))
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * workers * channels)
    defer { sums.deallocate() }
    sums.initialize(repeating: 0, count: 2 * workers * channels)
    let gp = dy.basePointer, xp = input.basePointer, mp = m.basePointer
    // Pass 1: per channel, sum(dy) and sum(dy (x - mean)), dy taken through the fused activation.
    func firstPass<A: ActivationDerivative>(_: A.Type) {
        forEachWorker(limit: workers) { worker, total in
            let sumDy = sums + 2 * worker * channels, sumDyX = sumDy + channels
            // Float sums over blocks of 8 rows (vectorized), added into Double.
            let block = UnsafeMutablePointer<Float>.allocate(capacity: 2 * channels)
            defer { block.deallocate() }
            if let fused = A.kernelActivation {
                kernels.batch_norm_gradient_sums(xp, gp, rows * worker / total, rows * (worker + 1) / total, Int32(channels), mp, sp, bp0,
                                                 fused, block, sumDy, sumDyX)
                return
            }
            let blockDy = block, blockDyX = block + channels
            var r = rows * worker / total
            let end = rows * (worker + 1) / total
            while r < end {
                let count = Swift.min(8, end - r)
                block.initialize(repeating: 0, count: 2 * channels)
                for i in 0..<count {
                    let row = xp + (r + i) * channels, g = gp + (r + i) * channels
                    for c in 0..<channels {
                        let d = A.gradient(g[c], preactivation: (row[c] - mp[c]) * sp[c] + bp0[c])
                        blockDy[c] += d
                        blockDyX[c] += d * (row[c] - mp[c])
                    }
                }
                for c in 0..<channels {
                    sumDy[c] += Double(blockDy[c])
                    sumDyX[c] += Double(blockDyX[c])
                }
                r += count
            }
        }
    }
    withExtendedLifetime((dy, input, m, forwardScale, shift)) { switch activation {
                case .linear: firstPass(LinearDerivative.self)
                case .relu: firstPass(ReLUDerivative.self)
                case .relu6: firstPass(ReLU6Derivative.self)
                case .sigmoid: firstPass(SigmoidDerivative.self)
                } }
    var dBeta = [Double](repeating: 0, count: channels), dyX = dBeta
    for c in 0..<channels {
        for worker in 0..<workers {
            dBeta[c] += sums[2 * worker * channels + c]
            dyX[c] += sums[(2 * worker + 1) * channels + c]
        }
    }
    let gammaValues = gamma.scalars, inverseValues = inverse.scalars
    let betaGradient = Tensor(shape: [channels], scalars: dBeta.map { Float($0) })
    let gammaGradient = Tensor(shape: [channels], scalars: (0..<channels).map { Float(dyX[$0] * Double(inverseValues[$0])) })
    // Pass 2: dx = a (dy - b - (x - mean) k), per channel a = gamma s, b = sum(dy)/M,
    // k = s^2 sum(dy (x - mean))/M: the coefficients in Double, the pass in Float (computing it in
    // Double changed MobileNetV2's gradients against float64 Keras by under 0.1% and ran slower).
    let count = Double(Swift.max(rows, 1))
    var coefficients = [Float](repeating: 0, count: 4 * channels)  // a, b, k, mean per channel
    for c in 0..<channels {
        let s = Double(inverseValues[c])
        coefficients[c] = Float(Double(gammaValues[c]) * s)
        if batchStatistics {
            coefficients[channels + c] = Float(dBeta[c] / count)
            coefficients[2 * channels + c] = Float(s * s * dyX[c] / count)
        }
        coefficients[3 * channels + c] = mp[c]
    }
    let dx = withExtendedLifetime((dy, input, m, forwardScale, shift)) {
        coefficients.withUnsafeBufferPointer { coefficients in
            let ap = coefficients.baseAddress!, bp = ap + channels, kp = bp + channels, meanp = kp + channels
            return Tensor(shape: x.shape) { out, _ in
                func secondPass<A: ActivationDerivative>(_: A.Type) {
                    parallelChunks(rows, costPerItem: channels) { range in
                        if let fused = A.kernelActivation {
                            let first = range.lowerBound * channels
                            kernels.batch_norm_input_gradient(xp + first, gp + first, range.count, Int32(channels), mp, sp, bp0, fused,
                                                              ap, bp, kp, out + first)
                            return
                        }
                        for r in range {
                            let row = xp + r * channels, o = out + r * channels, g = gp + r * channels
                            for c in 0..<channels {
                                let gc = A.gradient(g[c], preactivation: (row[c] - mp[c]) * sp[c] + bp0[c])
                                o[c] = ap[c] * (gc - bp[c] - (row[c] - meanp[c]) * kp[c])
                            }
                        }
                    }
                }
                switch activation {
                case .linear: secondPass(LinearDerivative.self)
                case .relu: secondPass(ReLUDerivative.self)
                case .relu6: secondPass(ReLU6Derivative.self)
                case .sigmoid: secondPass(SigmoidDerivative.self)
                }
            }
        }
    }
    return (dx, gammaGradient, betaGradient)
}
