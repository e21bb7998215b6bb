import PinpointTensor

extension Traced {
    /// Matrix product over the last two axes with broadcast batch axes (NumPy `matmul`).
    /// Gradients use transposed views, which OpenBLAS reads in place.
    public func matmul(_ other: Traced) -> Traced {
        Traced.record(value.matmul(other.value), inputs: [self, other], pullback: { g in
            [self.isRecorded ? g.matmul(other.value.transposed()) : nil,
             other.isRecorded ? self.value.transposed().matmul(g) : nil]
        })
    }
}
