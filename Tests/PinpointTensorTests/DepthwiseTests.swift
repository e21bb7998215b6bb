@testable import PinpointTensor
import XCTest

/// The depthwise forward kernel's SIMD path (multiplier 1, channels in multiples of 16) and both
/// gradients at those channel counts, against a direct float64 loop, for every padding, stride
/// and dilation, and odd sizes.
final class DepthwiseTests: XCTestCase {
    func testTheVectorPathMatchesADirectLoop() throws {
        var rng = SeededGenerator(seed: 11)
        var cases = 0
        for (height, width) in [(7, 7), (6, 9), (2, 3)] {
            for padding in Padding.allCases {
                for stride in [1, 2] {
                    for dilation in [1, 2] where stride == 1 || dilation == 1 {
                        let x = Tensor.uniform([2, height, width, 32], low: -1, high: 1, using: &rng)
                        let k = Tensor.uniform([3, 3, 32, 1], low: -1, high: 1, using: &rng)
                        guard let g = try? WindowGeometry(inputShape: x.shape, window: (3, 3), strides: (stride, stride),
                                                          dilation: (dilation, dilation), padding: padding, operation: "test") else { continue }
                        let y = depthwiseConv2D(x, kernel: k, strides: (stride, stride), padding: padding, dilation: (dilation, dilation))
                        XCTAssertEqual(y.shape, g.outputShape(channels: 32))
                        let xs = x.scalars, ks = k.scalars, ys = y.scalars
                        var worst = 0.0
                        for n in 0..<2 { for oh in 0..<g.height.output { for ow in 0..<g.width.output { for c in 0..<32 {
                            var sum = 0.0
                            for kh in 0..<3 { for kw in 0..<3 {
                                let ih = g.height.start(oh) + kh * dilation, iw = g.width.start(ow) + kw * dilation
                                guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                sum += Double(xs[((n * height + ih) * width + iw) * 32 + c]) * Double(ks[(kh * 3 + kw) * 32 + c])
                            } }
                            let index = ((n * g.height.output + oh) * g.width.output + ow) * 32 + c
                            worst = max(worst, abs(Double(ys[index]) - sum))
                        } } } }
                        XCTAssertLessThan(worst, 1e-5, "\(height)x\(width) \(padding) stride \(stride) dilation \(dilation)")
                        // Both gradients, against the same loop run backwards.
                        let dy = Tensor.uniform(y.shape, low: -1, high: 1, using: &rng)
                        let dys = dy.scalars
                        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: k.count)
                        for n in 0..<2 { for oh in 0..<g.height.output { for ow in 0..<g.width.output { for c in 0..<32 {
                            for kh in 0..<3 { for kw in 0..<3 {
                                let ih = g.height.start(oh) + kh * dilation, iw = g.width.start(ow) + kw * dilation
                                guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                let xi = ((n * height + ih) * width + iw) * 32 + c, ki = (kh * 3 + kw) * 32 + c
                                let d = Double(dys[((n * g.height.output + oh) * g.width.output + ow) * 32 + c])
                                dx[xi] += d * Double(ks[ki])
                                dk[ki] += d * Double(xs[xi])
                            } }
                        } } } }
                        let strides = (stride, stride), dilations = (dilation, dilation)
                        let dxActual = depthwiseConv2DBackpropInput(dy, kernel: k, inputShape: x.shape, strides: strides, padding: padding,
                                                                    dilation: dilations).scalars
                        let dkActual = depthwiseConv2DBackpropKernel(x, outputGradient: dy, kernelShape: k.shape, strides: strides,
                                                                     padding: padding, dilation: dilations).scalars
                        XCTAssertLessThan(zip(dxActual, dx).map { abs(Double($0) - $1) }.max() ?? 0, 1e-5, "input gradient")
                        XCTAssertLessThan(zip(dkActual, dk).map { abs(Double($0) - $1) }.max() ?? 0, 1e-4, "kernel gradient")
                        cases += 1
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(cases, 14)
    }
}
