// A user's own layer, in their own package: Swish (x * sigmoid(beta * x)) with a learnable beta
// and its own backward rule, trained inside a Sequential next to Pinpoint's layers.
import Foundation
import Pinpoint

/// swish(x) = x * sigmoid(beta x); d/dx = s + beta x s (1 - s), d/dbeta = x^2 s (1 - s).
func swish(_ x: Traced, beta: Traced) -> Traced {
    let s = (x.value * beta.value).sigmoid()
    let ds = s * (1 - s)
    return Traced.record(x.value * s, inputs: [x, beta], pullback: { g in
        [g * (s + x.value * beta.value * ds), g * x.value.square() * ds]
    })
}

final class Swish: Layer {
    var name = ""
    let beta = Parameter(Tensor(Float(1)))
    var weights: [(name: String, parameter: Parameter)] { [("beta", beta)] }
    func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }
    func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced { swish(input, beta: context.read(beta)) }
}

// The custom op's gradient, checked the way Pinpoint checks its own.
var rng = SeededGenerator(seed: 1)
let check = GradientChecker().check([Tensor.uniform([3, 4], low: -2, high: 2, using: &rng), Tensor(Float(0.7))]) { x, _ in
    swish(x[0], beta: x[1])
}
print(check)
guard check.passed else { fatalError("the custom pullback disagrees with finite differences") }

// Learn y = sum of squares of the inputs with a Swish hidden layer.
let x = Tensor.uniform([64, 3], low: -1, high: 1, using: &rng)
let y = x.square().sum(alongAxes: [1], keepingDimensions: true)
let model = try Sequential(inputShape: [3], [Dense(16), Swish(), Dense(1)], seed: 2)
print(model.layers.map(\.name), model.parameters.map(\.name))
let optimizer = Adam(model.trainableParameters, learningRate: ConstantLearningRate(0.02))
var first: Float = 0, last: Float = 0
for step in 0..<300 {
    let tape = GradientTape()
    var context = LayerContext(training: true, tape: tape)
    let loss = MeanSquaredError()(y, model(Traced(x), context: &context))
    optimizer.apply(tape.gradient(of: loss, wrt: model.trainableParameters.map(\.parameter)))
    if step == 0 { first = loss.value.scalar }
    last = loss.value.scalar
}
let learnedBeta = model.parameters.first { $0.name == "swish.beta" }!.parameter.value.scalar
print(String(format: "loss %.4f -> %.4f, learned beta %.3f", first, last, learnedBeta))
guard last < 0.1 * first else { fatalError("the model with the custom layer did not learn") }
