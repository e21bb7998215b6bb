import Foundation

extension Tensor {
    /// How BLAS can read the last two axes of this tensor in place (plain or transposed), or nil
    /// when they need a copy first.
    func gemmLayout() -> (transposed: Bool, leadingDimension: Int)? {
        let rows = shape[rank - 2], cols = shape[rank - 1]
        let rs = strides[rank - 2], cs = strides[rank - 1]
        if (cs == 1 || cols == 1) && (rs >= Swift.max(cols, 1) || rows == 1) {
            return (false, Swift.max(rows == 1 ? cols : rs, 1))
        }
        if (rs == 1 || rows == 1) && (cs >= Swift.max(rows, 1) || cols == 1) {
            return (true, Swift.max(cols == 1 ? rows : cs, 1))
        }
        return nil
    }

    /// Matrix product over the last two axes (NumPy `matmul`): [..., m, k] x [..., k, n] -> [..., m, n],
    /// batch axes broadcast. Transposed views go to OpenBLAS as flags, not copies.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2,
                     ShapeError.invalid(operation: "matmul", shape: rank < 2 ? shape : other.shape,
                                        detail: "operands need rank 2 or more").description)
        let m = shape[rank - 2], k = shape[rank - 1], n = other.shape[other.rank - 1]
        if other.shape[other.rank - 2] != k {
            trap(.mismatch(operation: "matmul", expected: [k, n], got: other.shape,
                           detail: "inner dimensions of \(shape) and \(other.shape) differ"))
        }
        let batchShape: [Int]
        do {
            batchShape = try Tensor.broadcastShape(Array(shape.dropLast(2)), Array(other.shape.dropLast(2)),
                                                   operation: "matmul")
        } catch { trap(error) }
        let a = gemmLayout() == nil ? contiguous() : self
        let b = other.gemmLayout() == nil ? other.contiguous() : other
        let (ta, lda) = a.gemmLayout()!
        let (tb, ldb) = b.gemmLayout()!
        let batchCount = elementCount(batchShape)
        // Offsets of each batch's matrix: broadcast the batch axes with zero strides.
        let aBatch = Tensor(storage: a.storage, shape: Array(a.shape.dropLast(2)), strides: Array(a.strides.dropLast(2)),
                            offset: a.offset).broadcastStrides(to: batchShape)
        let bBatch = Tensor(storage: b.storage, shape: Array(b.shape.dropLast(2)), strides: Array(b.strides.dropLast(2)),
                            offset: b.offset).broadcastStrides(to: batchShape)
        var aOffsets = [Int](), bOffsets = [Int]()
        aOffsets.reserveCapacity(batchCount)
        bOffsets.reserveCapacity(batchCount)
        forEachRun(shape: batchShape, strides: [aBatch, bBatch], offsets: [a.offset, b.offset]) { o, st, length, _ in
            for i in 0..<length {
                aOffsets.append(o[0] + i * st[0])
                bOffsets.append(o[1] + i * st[1])
            }
        }
        return withExtendedLifetime((a, b)) {
            Tensor(shape: batchShape + [m, n]) { out, _ in
                for batch in 0..<batchCount {
                    parallelSGEMM(GEMMOperand(pointer: a.storage.pointer + aOffsets[batch], transposed: ta, leadingDimension: lda),
                          GEMMOperand(pointer: b.storage.pointer + bOffsets[batch], transposed: tb, leadingDimension: ldb),
                          out + batch * m * n, m: m, n: n, k: k, ldc: n)
                }
            }
        }
    }
}
