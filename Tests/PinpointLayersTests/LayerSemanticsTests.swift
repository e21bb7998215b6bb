import PinpointAutograd
import PinpointLayers
import PinpointTensor
import XCTest

final class LayerSemanticsTests: XCTestCase {
    func tutorialCNN(size: Int = 32) throws -> Sequential {
        var layers: [Layer] = []
        for filters in [32, 64, 128, 256] {
            layers += [Conv2D(filters, padding: .same, activation: .relu), MaxPooling2D(padding: .same)]
        }
        layers += [Flatten(), Dense(1024, activation: .relu), Dropout(0.4), Dense(4, activation: .sigmoid)]
        return try Sequential(inputShape: [size, size, 3], layers, seed: 1)
    }

    func testKerasNamesShapesAndParameterCounts() throws {
        let model = try tutorialCNN()
        XCTAssertEqual(model.layers.map(\.name), ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "max_pooling2d_2",
                                                 "conv2d_3", "max_pooling2d_3", "flatten", "dense", "dropout", "dense_1"])
        XCTAssertEqual(model.parameters.map(\.name).prefix(4), ["conv2d.kernel", "conv2d.bias", "conv2d_1.kernel", "conv2d_1.bias"])
        XCTAssertEqual(try model.outputShape(for: [32, 32, 3]), [4])
        // Keras's count for this model at 32x32: 896 + 18,496 + 73,856 + 295,168 + 1,049,600 + 4,100.
        XCTAssertEqual(model.parameters.reduce(0) { $0 + $1.parameter.value.count }, 1_442_116)
        let summary = model.summary()
        XCTAssertTrue(summary.contains(" conv2d_3 (Conv2D)"), summary)
        XCTAssertTrue(summary.contains("(None, 2, 2, 256)"), summary)
        XCTAssertTrue(summary.contains("Total params: 1,442,116"), summary)
        XCTAssertEqual(ReLU().defaultName, "re_lu")
        XCTAssertEqual(GlobalAveragePooling2D().defaultName, "global_average_pooling2d")
        XCTAssertEqual(DepthwiseConv2D().defaultName, "depthwise_conv2d")
        XCTAssertEqual(BatchNormalization().defaultName, "batch_normalization")
        XCTAssertEqual(ZeroPadding2D().defaultName, "zero_padding2d")
    }

    func testABadInputShapeIsAnErrorNamingTheLayer() {
        XCTAssertThrowsError(try Sequential(inputShape: [2, 2, 3], [Conv2D(4, kernelSize: (3, 3))])) { error in
            XCTAssertTrue("\(error)".hasPrefix("layer 'conv2d': "), "\(error)")
        }
        let model = try! Sequential(inputShape: [8, 8, 3], [Flatten(), Dense(2)])
        XCTAssertThrowsError(try model.predict(Tensor.zeros([1, 9, 8, 3]))) { error in
            XCTAssertTrue("\(error)".contains("expects input of shape [batch] + [8, 8, 3], got [1, 9, 8, 3]"), "\(error)")
        }
    }

    func testDropoutKeepsOneMinusRateAndScalesOnlyInTraining() throws {
        let dropout = Dropout(0.4)
        let x = Traced(Tensor.ones([100_000]))
        var inference = LayerContext()
        XCTAssertEqual(dropout(x, context: &inference).value, x.value)
        var training = LayerContext(training: true, seed: 3)
        let y = dropout(x, context: &training).value
        let kept = y.greater(Tensor(Float(0))).mean().scalar
        XCTAssertEqual(kept, 0.6, accuracy: 0.01)
        XCTAssertEqual(y.max().scalar, 1 / 0.6, accuracy: 1e-6)
        XCTAssertEqual(y.mean().scalar, 1, accuracy: 0.02, "expected value preserved")
        let again = dropout(x, context: &training).value
        XCTAssertNotEqual(again, y, "the generator advances between calls")
    }

    func testInferenceRecordsNothingAndTrainingWatchesTrainableParametersOnly() throws {
        let bn = BatchNormalization()
        let model = try Sequential(inputShape: [4, 4, 2], [Conv2D(3, padding: .same), bn, Flatten(), Dense(1)])
        let images = Tensor.ones([2, 4, 4, 2])
        var inference = LayerContext()
        XCTAssertFalse(model(Traced(images), context: &inference).isRecorded)
        let tape = GradientTape()
        var training = LayerContext(training: true, tape: tape)
        let loss = model(Traced(images), context: &training).mean()
        let grads = tape.gradient(of: loss, wrt: model.parameters.map(\.parameter))
        let named = Dictionary(uniqueKeysWithValues: zip(model.parameters.map(\.name), grads))
        XCTAssertEqual(named["batch_normalization.moving_mean"]?.abs().sum().scalar, 0, "state gets no gradient")
        XCTAssertGreaterThan(named["dense.kernel"]!.abs().sum().scalar, 0)
        XCTAssertFalse(bn.movingMean!.isTrainable)
    }
}
