@testable import PinpointTensor
import XCTest

/// The fused inverted-residual kernel against the same convolutions run one by one, with and
/// without expansion, at both strides, with the residual, on odd sizes, in one band per image and
/// in many (a band budget of a few rows, so halos and the last short band are exercised).
final class InvertedResidualTests: XCTestCase {
    func testTheFusedBlockEqualsItsLayersRunOneByOne() throws {
        var rng = SeededGenerator(seed: 5)
        func folded(_ shape: [Int]) -> FoldedConvolution {
            FoldedConvolution(kernel: Tensor.uniform(shape, low: -0.5, high: 0.5, using: &rng),
                              bias: Tensor.uniform([shape[3] == 1 ? shape[2] : shape[3]], low: -0.5, high: 0.5, using: &rng))
        }
        var cases = 0
        for (height, width) in [(7, 9), (8, 8), (1, 5)] {
            for (inChannels, expansion) in [(16, 1), (8, 4)] {
                for stride in [1, 2] {
                    for outChannels in [inChannels, 24] where stride == 1 || outChannels != inChannels {
                        for bandBytes in [1 << 20, 2 * width * inChannels * expansion * 4] {
                            let x = Tensor.uniform([3, height, width, inChannels], low: -1, high: 1, using: &rng)
                            let expanded = inChannels * expansion
                            let expand = expansion == 1 ? nil : folded([1, 1, inChannels, expanded])
                            let depthwise = folded([3, 3, expanded, 1]), project = folded([1, 1, expanded, outChannels])
                            let residual = stride == 1 && outChannels == inChannels
                            let y = try XCTUnwrap(fusedInvertedResidual(x, expand: expand, depthwise: depthwise, strides: (stride, stride),
                                                                        project: project, residual: residual, bandBytes: bandBytes))
                            var e = x
                            if let expand { e = conv2D(x, kernel: expand.kernel, padding: .same, bias: expand.bias, activation: .relu6) }
                            let d = depthwiseConv2D(e, kernel: depthwise.kernel, strides: (stride, stride), padding: .same,
                                                    bias: depthwise.bias, activation: .relu6)
                            var expected = conv2D(d, kernel: project.kernel, padding: .same, bias: project.bias)
                            if residual { expected = expected + x }
                            XCTAssertEqual(y.shape, expected.shape)
                            let worst = zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
                            XCTAssertLessThan(worst, 1e-4, "\(height)x\(width), \(inChannels)x\(expansion) -> \(outChannels), stride \(stride), band \(bandBytes)")
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(cases, 36)
    }

    func testShapesTheKernelDoesNotCoverAreDeclined() {
        let x = Tensor.zeros([1, 4, 4, 8])
        let depthwise = FoldedConvolution(kernel: .zeros([3, 3, 8, 1]), bias: .zeros([8]))
        let project = FoldedConvolution(kernel: .zeros([1, 1, 8, 8]), bias: .zeros([8]))
        XCTAssertNil(fusedInvertedResidual(x, expand: nil, depthwise: depthwise, strides: (1, 1), project: project, residual: true),
                     "8 channels: not a multiple of 16")
        let wide = FoldedConvolution(kernel: .zeros([3, 3, 16, 2]), bias: .zeros([32]))
        XCTAssertNil(fusedInvertedResidual(.zeros([1, 4, 4, 16]), expand: nil, depthwise: wide, strides: (1, 1),
                                           project: FoldedConvolution(kernel: .zeros([1, 1, 32, 16]), bias: .zeros([16])), residual: false),
                     "depth multiplier 2")
    }
}
