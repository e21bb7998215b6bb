/// Padding modes with TensorFlow's semantics.
public enum Padding: String, Sendable, CaseIterable {
    /// Output size ceil(input / stride); the padding is split with the extra row or column at the
    /// bottom and right (TensorFlow's rule, which Keras follows).
    case same
    /// No padding; windows that would cross the border are dropped.
    case valid
}

/// Where a sliding window (convolution or pooling) lands along one spatial axis.
public struct WindowAxis: Equatable, Sendable {
    public let input: Int
    public let window: Int
    public let stride: Int
    public let dilation: Int
    public let output: Int
    /// Padding before the first input element; padding after is implied by the output size.
    public let padBefore: Int

    public init(input: Int, window: Int, stride: Int, dilation: Int = 1, padding: Padding, _ operation: String) throws(ShapeError) {
        guard window > 0, stride > 0, dilation > 0 else {
            throw .invalid(operation: operation, shape: [input],
                           detail: "window \(window), stride \(stride) and dilation \(dilation) must be positive")
        }
        let effective = (window - 1) * dilation + 1
        self.input = input
        self.window = window
        self.stride = stride
        self.dilation = dilation
        switch padding {
        case .valid:
            guard input >= effective else {
                throw .invalid(operation: operation, shape: [input],
                               detail: "VALID window of extent \(effective) is larger than the input \(input)")
            }
            output = (input - effective) / stride + 1
            padBefore = 0
        case .same:
            output = (input + stride - 1) / stride
            let total = Swift.max((output - 1) * stride + effective - input, 0)
            padBefore = total / 2
        }
    }

    /// First input coordinate the window at output position `o` would read (may be negative).
    @inline(__always) public func start(_ o: Int) -> Int { o * stride - padBefore }

    /// The real (unpadded) input coordinates under an undilated window at output position `o`.
    @inline(__always) public func validRange(_ o: Int) -> Range<Int> {
        Swift.max(start(o), 0)..<Swift.min(start(o) + window, input)
    }
}

/// The geometry of a 2-D window operation on NHWC input.
public struct WindowGeometry: Equatable, Sendable {
    public let batch: Int
    public let channels: Int
    public let height: WindowAxis
    public let width: WindowAxis

    public init(inputShape: [Int], window: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1),
                padding: Padding, operation: String) throws(ShapeError) {
        guard inputShape.count == 4 else {
            throw .invalid(operation: operation, shape: inputShape, detail: "input must be NHWC (rank 4)")
        }
        batch = inputShape[0]
        channels = inputShape[3]
        height = try WindowAxis(input: inputShape[1], window: window.0, stride: strides.0, dilation: dilation.0,
                                padding: padding, operation)
        width = try WindowAxis(input: inputShape[2], window: window.1, stride: strides.1, dilation: dilation.1,
                               padding: padding, operation)
    }

    public var inputShape: [Int] { [batch, height.input, width.input, channels] }
    public func outputShape(channels outChannels: Int) -> [Int] { [batch, height.output, width.output, outChannels] }
}
