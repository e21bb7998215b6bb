import PinpointAutograd
import PinpointTensor
import XCTest

/// TensorFlow GradientTape semantics.
final class GradientTapeTests: XCTestCase {
    func testGradientOfASimpleExpression() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([1, 2, 3]))
        let y = (x * x).sum()
        XCTAssertEqual(y.value.scalar, 14)
        XCTAssertEqual(tape.gradient(of: y, wrt: [x])[0].scalars, [2, 4, 6])
    }

    func testAValueUsedTwiceAccumulatesBothGradients() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([3]))
        let y = x * x + x * 2 + x    // dy/dx = 2x + 3 = 9
        XCTAssertEqual(tape.gradient(of: y, wrt: [x])[0].scalars, [9])
    }

    func testBroadcastingIsUndoneForEveryInput() {
        let tape = GradientTape()
        let a = tape.watch(Tensor.ones([2, 3]))
        let b = tape.watch(Tensor([1, 2, 3]))
        let c = tape.watch(Tensor(Float(2)))
        let y = ((a * b) + c).sum()
        let g = tape.gradient(of: y, wrt: [a, b, c])
        XCTAssertEqual(g[0].shape, [2, 3])
        XCTAssertEqual(g[0].scalars, [1, 2, 3, 1, 2, 3])
        XCTAssertEqual(g[1].scalars, [2, 2, 2])
        XCTAssertEqual(g[2].shape, [])
        XCTAssertEqual(g[2].scalar, 6)
    }

    func testNothingIsRecordedWithoutATape() {
        let x = Traced(Tensor([1, 2]))
        let y = (x * x).exp().sum()
        XCTAssertFalse(y.isRecorded)
        XCTAssertEqual(y.value.scalar, Float(exp(1.0) + exp(4.0)), accuracy: 1e-4)
    }

    func testConstantsOnTheTapeGetNoGradientAndUnusedSourcesGetZeros() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([2]))
        let unused = tape.watch(Tensor([5, 5]))
        let constant = Traced(Tensor([10]))
        let y = x * constant
        let g = tape.gradient(of: y, wrt: [x, unused])
        XCTAssertEqual(g[0].scalars, [10])
        XCTAssertEqual(g[1].scalars, [0, 0])
    }

    func testPersistentTapeAnswersManyTimes() {
        let tape = GradientTape(persistent: true)
        let x = tape.watch(Tensor([3]))
        let y = x * x
        let z = y * x
        XCTAssertEqual(tape.gradient(of: y, wrt: [x])[0].scalars, [6])
        XCTAssertEqual(tape.gradient(of: z, wrt: [x])[0].scalars, [27])
        XCTAssertEqual(tape.gradient(of: y, wrt: [x])[0].scalars, [6])
    }

    func testParametersAreWatchedOnceAndFoundByIdentity() {
        let w = Parameter(Tensor([2, 3]))
        let frozen = Parameter(Tensor([1, 1]), trainable: false)
        let tape = GradientTape()
        let a = tape.watch(w), b = tape.watch(w)
        let y = (a * b).sum() + (tape.watch(w) * 4).sum()   // w^2 + 4w
        let g = tape.gradient(of: y, wrt: [w, frozen])
        XCTAssertEqual(g[0].scalars, [8, 10])
        XCTAssertEqual(g[1].scalars, [0, 0])
    }

    func testOutputGradientSeedsTheBackwardPass() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([1, 2]))
        let y = x * 3
        XCTAssertEqual(tape.gradient(of: y, wrt: [x], outputGradient: Tensor([1, -1]))[0].scalars, [3, -3])
    }

    func testANonPersistentTapeReleasesWhatItKept() {
        weak var released: GradientTape?
        var kept: Tensor?
        do {
            let tape = GradientTape()
            released = tape
            let x = tape.watch(Tensor.ones([100]))
            kept = tape.gradient(of: (x.exp() * x).sum(), wrt: [x])[0]
        }
        XCTAssertNil(released, "a tape must not be kept alive by its own pullbacks")
        XCTAssertEqual(kept?.shape, [100])
    }

    func testAPersistentTapeIsNotAReferenceCycle() {
        weak var released: GradientTape?
        do {
            let tape = GradientTape(persistent: true)
            released = tape
            let x = tape.watch(Tensor.ones([4]))
            _ = tape.gradient(of: (x * x).sum(), wrt: [x])
        }
        XCTAssertNil(released)
    }

    func testValuesOnTwoTapesAreIndependent() {
        let outer = GradientTape(), inner = GradientTape()
        let x = outer.watch(Tensor([2]))
        let y = inner.watch(Tensor([5]))
        XCTAssertEqual(outer.gradient(of: x * x, wrt: [x])[0].scalars, [4])
        XCTAssertEqual(inner.gradient(of: y.square(), wrt: [y])[0].scalars, [10])
    }

    func testCustomOperationsRecordLikeBuiltIns() {
        func cube(_ x: Traced) -> Traced {
            Traced.record(x.value * x.value * x.value, inputs: [x], pullback: { g in [g * 3 * x.value.square()] })
        }
        let tape = GradientTape()
        let x = tape.watch(Tensor([2]))
        XCTAssertEqual(tape.gradient(of: cube(x), wrt: [x])[0].scalars, [12])
    }

    func testSoftmaxForwardMatchesTensorFlowFixtureValues() {
        // tf.nn.softmax([[1, 2, 3], [1, 1, 1]]) and tf.nn.log_softmax of the first row.
        let x = Traced(Tensor(shape: [2, 3], scalars: [1, 2, 3, 1, 1, 1]))
        XCTAssertTrue(x.softmax().value.isClose(
            to: Tensor(shape: [2, 3], scalars: [0.09003057, 0.24472848, 0.66524094, 1.0 / 3, 1.0 / 3, 1.0 / 3])))
        XCTAssertTrue(x.logSoftmax().value[index: 0].isClose(to: Tensor([-2.4076059, -1.4076059, -0.40760595])))
    }
}
