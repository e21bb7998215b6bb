import Foundation
import PinpointTensor

/// Cases from Fixtures/ops.json, written by Fixtures/make_op_fixtures.py (NumPy and TensorFlow).
struct OpFixtures: Decodable {
    struct Array: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { Tensor(shape: shape, scalars: data) }
    }

    struct Case: Decodable {
        let name: String
        let op: String
        let params: Params
        let inputs: [Array]
        let output: Array
        let upstream: Array?
        let gradients: [Array]?
    }

    /// Every parameter any case uses; each case sets the few it needs.
    struct Params: Decodable {
        var axes: [Int]?
        var keepdims: Bool?
        var axis: Int?
        var min: Float?
        var max: Float?
        var transposeA: Bool?
        var transposeB: Bool?
        var sizes: [Int]?
        var piece: Int?
        var paddings: [[Int]]?
        var value: Float?
        var slices: [[Int]]?
        var order: [Int]?
        var shape: [Int]?
        var strides: [Int]?
        var padding: String?
        var dilation: [Int]?
        var poolSize: [Int]?

        var paddingMode: Padding { Padding(rawValue: padding ?? "valid")! }
        var stridePair: (Int, Int) { (strides?[0] ?? 1, strides?[1] ?? 1) }
        var dilationPair: (Int, Int) { (dilation?[0] ?? 1, dilation?[1] ?? 1) }
        var poolPair: (Int, Int) { (poolSize?[0] ?? 2, poolSize?[1] ?? 2) }
    }

    struct RandomReference: Decodable {
        let seed: UInt64
        let uint64: [String]
        let unitFloat: [Float]
    }

    let generator: String
    let cases: [Case]
    let random: RandomReference

    static let shared: OpFixtures = {
        let url = Bundle.module.url(forResource: "ops", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(OpFixtures.self, from: Foundation.Data(contentsOf: url))
    }()

    func cases(_ op: String) -> [Case] { cases.filter { $0.op == op } }
}
