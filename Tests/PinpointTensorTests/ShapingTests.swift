import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Views and copies against NumPy's values and central differences.
final class ShapingTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testShaping() {
        for c in fixtures.cases("concatenate") {
            assertClose(Tensor.concatenate(c.inputs.map(\.tensor), alongAxis: c.params.axis!), c.output.tensor, c.name, tolerance: 0)
        }
        let stack = fixtures.cases("stack")[0]
        assertClose(Tensor.stack(stack.inputs.map(\.tensor), alongAxis: stack.params.axis!), stack.output.tensor, stack.name, tolerance: 0)
        let split = fixtures.cases("split")[0]
        let pieces = split.inputs[0].tensor.split(sizes: split.params.sizes!, alongAxis: split.params.axis!)
        assertClose(pieces[split.params.piece!], split.output.tensor, split.name, tolerance: 0)
        let pad = fixtures.cases("pad")[0]
        let paddings = pad.params.paddings!.map { (before: $0[0], after: $0[1]) }
        assertClose(pad.inputs[0].tensor.padded(paddings, value: pad.params.value!), pad.output.tensor, pad.name, tolerance: 0)
        let slice = fixtures.cases("slice")[0]
        var sliced = slice.inputs[0].tensor
        for (axis, s) in slice.params.slices!.enumerated() {
            sliced = sliced.sliced(alongAxis: axis, from: s[0], to: s[1], step: s[2])
        }
        assertClose(sliced, slice.output.tensor, slice.name, tolerance: 0)
        let permute = fixtures.cases("permute")[0]
        assertClose(permute.inputs[0].tensor.permuted(permute.params.order!), permute.output.tensor, permute.name, tolerance: 0)
        let reshape = fixtures.cases("reshapeOfPermute")[0]
        assertClose(reshape.inputs[0].tensor.permuted(reshape.params.order!).reshaped(reshape.params.shape!),
                    reshape.output.tensor, reshape.name, tolerance: 0)
    }

    func testShapingOps() {
        let x = random([2, 3, 4])
        assertGradients([x], "reshaped") { $0[0].reshaped([4, 6]) * Tensor((0..<6).map(Float.init)) }
        assertGradients([x], "flattened") { $0[0].flattened() }
        assertGradients([x], "permuted") { $0[0].permuted([2, 0, 1]) }
        assertGradients([x], "transposed") { $0[0].transposed() }
        assertGradients([x], "expand and squeeze") { $0[0].expandingDimensions(at: 1).squeezed() * 2 }
        assertGradients([random([3, 1])], "broadcast") { $0[0].broadcast(to: [2, 3, 4]) }
        assertGradients([x], "sliced with step") { $0[0].sliced(alongAxis: 2, from: 1, to: 4, step: 2) }
        assertGradients([x], "subscript") { $0[0][index: 1] }
        assertGradients([x], "padded") { $0[0].padded([(1, 0), (0, 2), (1, 1)], value: 3) }
        assertGradients([x, random([2, 1, 4])], "concatenate") { Traced.concatenate([$0[0], $0[1]], alongAxis: 1) }
        assertGradients([x, random([2, 3, 4])], "stack") { Traced.stack([$0[0], $0[1] * 2], alongAxis: 3) }
        assertGradients([x], "split") {
            let parts = $0[0].split(sizes: [1, 3], alongAxis: 2)
            return parts[0] * parts[1].sum(alongAxes: [2], keepingDimensions: true)
        }
    }
}
