import PinpointTensor
import XCTest

/// Value semantics, views and copy-on-write.
final class TensorSemanticsTests: XCTestCase {
    func testMutatingACopyLeavesTheOriginal() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        var b = a
        b[0, 1] = 20
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [1, 20, 3, 4])
    }

    func testViewsShareUntilWritten() {
        var a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let t = a.transposed()
        XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(t.shape, [3, 2])
        XCTAssertEqual(t.scalars, [1, 4, 2, 5, 3, 6])
        a[0, 0] = 100
        XCTAssertEqual(t[0, 0], 1, "a view taken before a write keeps the old values")
        XCTAssertEqual(a[0, 0], 100)
    }

    func testWritingThroughAViewCopiesOnlyTheView() {
        let base = Tensor(shape: [4], scalars: [1, 2, 3, 4])
        var view = base.sliced(alongAxis: 0, from: 1, to: 3)
        view[0] = 9
        XCTAssertEqual(view.scalars, [9, 3])
        XCTAssertEqual(base.scalars, [1, 2, 3, 4])
    }

    func testWritingThroughABroadcastViewMaterializesIt() {
        var b = Tensor([1, 2]).broadcast(to: [3, 2])
        XCTAssertEqual(b.strides, [0, 1])
        b[1, 0] = 7
        XCTAssertEqual(b.scalars, [1, 2, 7, 2, 1, 2], "one logical element changes, not the whole column")
    }

    func testReshapeIsAViewWhenTheLayoutAllows() {
        let a = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        let r = a.reshaped([6, 4])
        XCTAssertTrue(r.sharesStorage(with: a))
        let inferred = a.reshaped([4, -1])
        XCTAssertEqual(inferred.shape, [4, 6])
        // Merging axes of a permuted tensor needs a copy; splitting a strided axis does not.
        let p = a.permuted([1, 0, 2])
        let merged = p.reshaped([6, 4])
        XCTAssertFalse(merged.sharesStorage(with: a))
        XCTAssertEqual(merged.scalars, p.contiguous().scalars)
        let stepped = a.sliced(alongAxis: 2, from: 0, to: 4, step: 2)          // [2, 3, 2], strides [12, 4, 2]
        let split = stepped.reshaped([2, 3, 2, 1])
        XCTAssertTrue(split.sharesStorage(with: a))
        XCTAssertEqual(split.scalars, stepped.scalars)
        let mergedOuter = a.sliced(alongAxis: 2, from: 1, to: 3).reshaped([6, 2])
        XCTAssertTrue(mergedOuter.sharesStorage(with: a))
        XCTAssertEqual(mergedOuter.scalars, [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
    }

    func testSlicingWithStepsAndNegativeBounds() {
        let a = Tensor((0..<10).map(Float.init))
        XCTAssertEqual(a.sliced(alongAxis: 0, from: 1, to: 8, step: 3).scalars, [1, 4, 7])
        XCTAssertEqual(a.sliced(alongAxis: 0, from: -3).scalars, [7, 8, 9])
        XCTAssertEqual(a.sliced(alongAxis: 0, from: 5, to: 2).shape, [0])
        XCTAssertEqual(a.sliced(alongAxis: 0, from: 2, to: 100).count, 8)
        let m = Tensor(shape: [3, 4], scalars: (0..<12).map(Float.init))
        XCTAssertEqual(m.sliced([1..<3, 0..<2]).scalars, [4, 5, 8, 9])
        XCTAssertEqual(m[index: -1].scalars, [8, 9, 10, 11])
    }

    func testAssignSliceIsTheAdjointOfSlicing() {
        var z = Tensor.zeros([2, 5])
        z.assignSlice(alongAxis: 1, from: 0, to: 5, step: 2, Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(z.scalars, [1, 0, 2, 0, 3, 4, 0, 5, 0, 6])
    }

    func testBroadcastShapeRulesAndErrorsNameBothShapes() throws {
        XCTAssertEqual(try Tensor.broadcastShape([2, 1, 4], [3, 1]), [2, 3, 4])
        XCTAssertEqual(try Tensor.broadcastShape([], [5]), [5])
        XCTAssertThrowsError(try Tensor.broadcastShape([2, 3], [4, 3], operation: "add")) { error in
            XCTAssertEqual((error as? ShapeError)?.description, "add: shapes [2, 3] and [4, 3] cannot be broadcast together")
        }
    }

    func testUnbroadcastSumsBroadcastAxes() {
        let g = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(g.unbroadcast(to: [3]).scalars, [5, 7, 9])
        XCTAssertEqual(g.unbroadcast(to: [2, 1]).scalars, [6, 15])
        XCTAssertEqual(g.unbroadcast(to: []).scalars, [21])
        XCTAssertEqual(g.unbroadcast(to: [1, 1]).shape, [1, 1])
    }

    func testExpandSqueezeAndScalars() {
        let a = Tensor(shape: [2, 3], repeating: 1)
        XCTAssertEqual(a.expandingDimensions(at: 0).shape, [1, 2, 3])
        XCTAssertEqual(a.expandingDimensions(at: -1).shape, [2, 3, 1])
        XCTAssertEqual(a.expandingDimensions(at: 1).squeezed().shape, [2, 3])
        XCTAssertEqual(Tensor(3).scalar, 3)
        XCTAssertEqual(Tensor(3).rank, 0)
        XCTAssertEqual((Tensor([1, 2]) + 1).scalars, [2, 3])
    }

    func testContiguousOfAContiguousTensorSharesStorage() {
        let a = Tensor.ones([3, 3])
        XCTAssertTrue(a.contiguous().sharesStorage(with: a))
        XCTAssertFalse(a.transposed().contiguous().sharesStorage(with: a))
    }

    func testEmptyTensorsFlowThroughOps() {
        let e = Tensor.zeros([0, 3])
        XCTAssertEqual((e + Tensor([1, 2, 3])).shape, [0, 3])
        XCTAssertEqual(e.sum(alongAxes: [0]).scalars, [0, 0, 0])
        XCTAssertEqual(Tensor.concatenate([e, Tensor.ones([2, 3])], alongAxis: 0).shape, [2, 3])
    }

    func testDescriptionShowsShapeAndValues() {
        XCTAssertEqual(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]).description, "Tensor(shape: [2, 2], [[1.0, 2.0], [3.0, 4.0]])")
    }

    func testConvolutionGeometryErrorsAreTyped() {
        XCTAssertThrowsError(try Conv2DGeometry(inputShape: [1, 2, 2, 3], kernelShape: [3, 3, 3, 4], strides: (1, 1),
                                                padding: .valid, dilation: (1, 1))) { error in
            XCTAssertTrue("\(error)".contains("larger than the input"), "\(error)")
        }
        XCTAssertThrowsError(try Conv2DGeometry(inputShape: [1, 5, 5, 3], kernelShape: [3, 3, 2, 4], strides: (1, 1),
                                                padding: .same, dilation: (1, 1))) { error in
            XCTAssertTrue("\(error)".contains("[3, 3, 2, 4]") && "\(error)".contains("[1, 5, 5, 3]"), "\(error)")
        }
    }

    func testSamePaddingPutsTheExtraRowAtTheBottom() throws {
        // 6 inputs, window 3, stride 2 -> 3 outputs, 1 padding cell in total: 0 before, 1 after.
        let axis = try WindowAxis(input: 6, window: 3, stride: 2, padding: .same, "test")
        XCTAssertEqual(axis.output, 3)
        XCTAssertEqual(axis.padBefore, 0)
        let odd = try WindowAxis(input: 5, window: 4, stride: 1, padding: .same, "test")
        XCTAssertEqual(odd.padBefore, 1, "3 cells of padding: 1 before, 2 after")
    }
}


final class StoragePoolTests: XCTestCase {
    func testFreedLargeBuffersAreReusedForRequestsUpToHalfTheirSize() {
        StoragePool.drain()
        var first: TensorStorage? = TensorStorage(uninitializedCount: 1 << 20)
        let address = first!.pointer
        first = nil
        XCTAssertEqual(StoragePool.cachedByteCount, 4 << 20, "the freed buffer is kept")
        let smaller = TensorStorage(uninitializedCount: 600_000)
        XCTAssertEqual(smaller.pointer, address, "a request of more than half its size reuses it")
        XCTAssertEqual(StoragePool.cachedByteCount, 0)
        let tiny = TensorStorage(uninitializedCount: 1000)
        XCTAssertNotEqual(tiny.pointer, address, "small buffers are not pooled")
        withExtendedLifetime((smaller, tiny)) {}
        var big: TensorStorage? = TensorStorage(uninitializedCount: 1 << 20)
        let bigAddress = big!.pointer
        big = nil
        let quarter = TensorStorage(uninitializedCount: 1 << 18)
        XCTAssertNotEqual(quarter.pointer, bigAddress, "a buffer more than twice the request is not used for it")
        withExtendedLifetime(quarter) {}
        StoragePool.drain()
        XCTAssertEqual(StoragePool.cachedByteCount, 0)
    }
}
