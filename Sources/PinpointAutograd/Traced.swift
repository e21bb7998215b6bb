import PinpointTensor

/// A tensor as a gradient tape sees it: its value and, while a tape records, the tape node that
/// produced it.
///
/// Operations on `Traced` values compute their result with `Tensor` kernels; when any input is
/// on a tape they also record a pullback there. Values that are on no tape are constants: nothing
/// is recorded and no backward state is allocated, so inference pays nothing for autograd.
///
/// ```swift
/// let tape = GradientTape()
/// let x = tape.watch(Tensor([1, 2, 3]))
/// let y = (x * x).sum()
/// let dx = tape.gradient(of: y, wrt: [x])[0]   // [2, 4, 6]
/// ```
public struct Traced: @unchecked Sendable {
    public let value: Tensor
    // Weak: pullbacks capture their inputs, and a strong reference back to the tape would make
    // every tape a reference cycle. A value that outlives its tape is simply a constant.
    private(set) weak var tape: GradientTape?
    let node: Int

    /// A constant: gradients do not flow into it.
    public init(_ value: Tensor) {
        self.value = value
        tape = nil
        node = -1
    }

    init(_ value: Tensor, tape: GradientTape, node: Int) {
        self.value = value
        self.tape = tape
        self.node = node
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }

    /// True when a tape recorded this value, so gradients can flow into it.
    public var isRecorded: Bool { tape != nil }

    /// The pullback of one operation: from the gradient of its output, the gradients of its inputs
    /// in order (nil for an input that needs none). A gradient may keep a broadcast shape: the tape
    /// sums it back to the input's shape.
    public typealias Pullback = (Tensor) -> [Tensor?]

    /// Records an operation's result on the inputs' tape, if any. `pullback` is only evaluated
    /// (and its closure only allocated) when a tape is recording.
    ///
    /// This is how every differentiable operation is written, in Pinpoint and in user code:
    /// ```swift
    /// func cube(_ x: Traced) -> Traced {
    ///     Traced.record(x.value * x.value * x.value, inputs: [x], pullback: { g in [g * 3 * x.value.square()] })
    /// }
    /// ```
    /// `operation` names the operation in profiles; it defaults to the calling function's name.
    public static func record(_ value: Tensor, inputs: [Traced], operation: String = #function,
                              pullback: @autoclosure () -> Pullback) -> Traced {
        guard let tape = commonTape(inputs) else { return Traced(value) }
        let name = tape.profiler == nil ? "" : String(operation.prefix { $0 != "(" })
        return tape.append(value, inputs: inputs, operation: name, pullback: pullback())
    }

    private static func commonTape(_ inputs: [Traced]) -> GradientTape? {
        var found: GradientTape?
        for input in inputs {
            guard let t = input.tape else { continue }
            if let f = found, f !== t {
                preconditionFailure("Traced: an operation mixes values from two different gradient tapes")
            }
            found = t
        }
        return found
    }
}

extension Traced: CustomStringConvertible {
    public var description: String { "Traced(\(isRecorded ? "recorded" : "constant"), \(value))" }
}
