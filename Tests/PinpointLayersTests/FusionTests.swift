import PinpointAutograd
import PinpointLayers
import PinpointTensor
import XCTest

/// Fused layers compute what the separate layers compute: outputs, gradients and moving
/// statistics, in training and in inference (where BatchNormalization folds into the convolution,
/// and zero padding becomes the next convolution's SAME padding).
final class FusionTests: XCTestCase {
    func model() throws -> Sequential {
        try Sequential(inputShape: [9, 9, 3], [
            Conv2D(16, padding: .same, useBias: false), BatchNormalization(), ReLU6(),
            ZeroPadding2D(padding: (1, 1, 1, 1)), DepthwiseConv2D(strides: (2, 2), padding: .valid, depthMultiplier: 2), BatchNormalization(), ReLU(),
            Conv2D(20, kernelSize: (1, 1), padding: .same), BatchNormalization(),
            Conv2D(8, padding: .same), ReLU(),
            Flatten(), Dense(12), BatchNormalization(), ReLU(), Dense(3), Sigmoid(),
        ], seed: 4)
    }

    func run(_ model: Sequential, _ x: Tensor, training: Bool, fused: Bool) -> (output: Tensor, gradients: [Tensor]) {
        let tape = GradientTape()
        var context = LayerContext(training: training, tape: training ? tape : nil)
        context.fusesLayers = fused
        let y = model(Traced(x), context: &context)
        guard training else { return (y.value, []) }
        return (y.value, tape.gradient(of: (y * y).sum(), wrt: model.trainableParameters.map(\.parameter)))
    }

    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Float = 2e-5) {
        XCTAssertEqual(a.shape, b.shape, what)
        let scale = max(b.scalars.map(abs).max() ?? 0, 1e-3)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): worst \(worst) at scale \(scale)")
    }

    func testFusedAndSeparateLayersAgree() throws {
        var rng = SeededGenerator(seed: 9)
        let x = Tensor.uniform([4, 9, 9, 3], low: -1, high: 1, using: &rng)
        let fused = try model(), separate = try model()
        // Moving statistics away from their initial values, so inference folding has something to fold.
        for m in [fused, separate] {
            for layer in m.layers {
                guard let bn = layer as? BatchNormalization else { continue }
                let c = bn.movingMean!.shape[0]
                bn.movingMean!.value = Tensor.uniform([c], low: -0.5, high: 0.5, using: &rng)
                bn.movingVariance!.value = Tensor.uniform([c], low: 0.5, high: 2, using: &rng)
                bn.gamma!.value = Tensor.uniform([c], low: 0.5, high: 1.5, using: &rng)
                bn.beta!.value = Tensor.uniform([c], low: -0.5, high: 0.5, using: &rng)
            }
        }
        for (a, b) in zip(fused.parameters, separate.parameters) { b.parameter.value = a.parameter.value }

        assertClose(run(fused, x, training: false, fused: true).output, run(separate, x, training: false, fused: false).output, "inference")
        let (yf, gf) = run(fused, x, training: true, fused: true)
        let (ys, gs) = run(separate, x, training: true, fused: false)
        assertClose(yf, ys, "training output")
        for (i, (a, b)) in zip(gf, gs).enumerated() {
            assertClose(a, b, "gradient of \(fused.trainableParameters[i].name)", tolerance: 1e-4)
        }
        for (a, b) in zip(fused.parameters, separate.parameters) where !a.parameter.isTrainable {
            XCTAssertEqual(a.parameter.value, b.parameter.value, "\(a.name) after a training call")
        }
    }

    func testTheProfilerShowsAFusedGroupAsOneScope() throws {
        let profiler = Profiler()
        var context = LayerContext(profiler: profiler)
        _ = try model()(Traced(Tensor.zeros([1, 9, 9, 3])), context: &context)
        let scopes = Set(profiler.entries.map(\.scope))
        XCTAssertTrue(scopes.contains("conv2d+batch_normalization+re_lu"), "\(scopes)")
        XCTAssertTrue(scopes.contains("conv2d_1+batch_normalization_2"), "\(scopes)")
        XCTAssertTrue(scopes.contains("dense_1+sigmoid"), "\(scopes)")
        // Zero padding then a VALID window that covers what SAME would: the padding disappears.
        XCTAssertTrue(scopes.contains("depthwise_conv2d+batch_normalization_1+re_lu_1"), "\(scopes)")
        XCTAssertFalse(scopes.contains { $0.contains("zero_padding2d") }, "\(scopes)")
    }

    /// In training, a 1x1 convolution with an output of 2^24 floats and up gathers its batch
    /// moments for the BatchNormalization after it; the result is the separate layers' up to
    /// float rounding, moving statistics included.
    func testAConvolutionThatGathersBatchMomentsTrainsAsTheSeparateLayers() throws {
        func model() throws -> Sequential {
            try Sequential(inputShape: [512, 512, 4], [
                Conv2D(64, kernelSize: (1, 1), padding: .same, useBias: false), BatchNormalization(), ReLU6(),
            ], seed: 5)
        }
        var rng = SeededGenerator(seed: 10)
        let x = Tensor.uniform([1, 512, 512, 4], low: -1, high: 1, using: &rng)
        XCTAssertTrue(conv2DGathersBatchMoments(inputShape: x.shape, kernelShape: [1, 1, 4, 64]))
        let fused = try model(), separate = try model()
        for (a, b) in zip(fused.parameters, separate.parameters) { b.parameter.value = a.parameter.value }
        let (yf, gf) = run(fused, x, training: true, fused: true)
        let (ys, gs) = run(separate, x, training: true, fused: false)
        // The output on a sample of its 2^24 values (all of them take seconds in a debug build).
        let sample = Array(stride(from: 0, to: yf.count, by: 997))
        let (af, bs) = (yf.scalars, ys.scalars)
        assertClose(Tensor(shape: [sample.count], scalars: sample.map { af[$0] }),
                    Tensor(shape: [sample.count], scalars: sample.map { bs[$0] }), "training output")
        for (i, (a, b)) in zip(gf, gs).enumerated() {
            assertClose(a, b, "gradient of \(fused.trainableParameters[i].name)", tolerance: 1e-4)
        }
        for (a, b) in zip(fused.parameters, separate.parameters) where !a.parameter.isTrainable {
            assertClose(a.parameter.value, b.parameter.value, "\(a.name) after a training call", tolerance: 1e-6)
        }
    }
}
