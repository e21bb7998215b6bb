import ArgumentParser
import Foundation
import Pinpoint

/// The main job until the end-to-end pipeline exists: a small convolutional network, built
/// directly on the tape, learns to point at a bright square in generated images. It exercises
/// convolution, pooling, matmul, broadcasting and the optimizer step end to end, and fails unless
/// the network clearly beats always guessing the mean position.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a tiny localizer on generated images with the tape and gradient descent.")

    @Option(help: "Training epochs.") var epochs = 60
    @Option(help: "Random seed for data and weights.") var seed: UInt64 = 7
    @Option(help: "Learning rate of plain gradient descent.") var learningRate: Float = 0.1

    func run() throws {
        let size = 16, batch = 32, batches = 16
        var rng = SeededGenerator(seed: seed)
        let train = (0..<batches).map { _ in squares(count: batch, size: size, using: &rng) }
        let validation = squares(count: 256, size: size, using: &rng)

        // conv 3x3x1x8 -> relu -> pool -> conv 3x3x8x16 -> relu -> pool -> dense 64x2 -> sigmoid
        let parameters = [
            Parameter(Tensor.glorotUniform([3, 3, 1, 8], using: &rng)), Parameter(Tensor.zeros([8])),
            Parameter(Tensor.glorotUniform([3, 3, 8, 16], using: &rng)), Parameter(Tensor.zeros([16])),
            Parameter(Tensor.glorotUniform([size / 4 * size / 4 * 16, 2], using: &rng)), Parameter(Tensor.zeros([2])),
        ]
        func predict(_ images: Tensor, tape: GradientTape?) -> Traced {
            let p = parameters.map { tape?.watch($0) ?? Traced($0.value) }
            var h = maxPool2D((conv2D(Traced(images), kernel: p[0], padding: .same) + p[1]).relu())
            h = maxPool2D((conv2D(h, kernel: p[2], padding: .same) + p[3]).relu())
            return (h.flattened().matmul(p[4]) + p[5]).sigmoid()
        }
        func pixelError(_ predicted: Tensor, _ target: Tensor) -> Float {
            ((predicted - target).square().sum(alongAxes: [1]).sqrt().mean() * Float(size)).scalar
        }

        let meanCenter = Tensor.concatenate(train.map(\.centers), alongAxis: 0).mean(alongAxes: [0], keepingDimensions: true)
        let baseline = pixelError(meanCenter.broadcast(to: validation.centers.shape), validation.centers)
        print("Pinpoint foundation demo: a \(size)x\(size) localizer trained on \(batches * batch) generated images")
        print("  (the full Oxford-IIIT Pet pipeline replaces this demo as it lands; see Docs/Tutorial.md)")
        print(String(format: "  baseline (always the mean centre): %.2f px mean error", baseline))
        let start = Date()
        for epoch in 1...epochs {
            var total: Float = 0
            for b in train {
                let tape = GradientTape()
                let loss = (predict(b.images, tape: tape) - b.centers).square().mean()
                let grads = tape.gradient(of: loss, wrt: parameters)
                for (p, g) in zip(parameters, grads) { p.value = p.value - g * learningRate }
                total += loss.value.scalar
            }
            if epoch == 1 || epoch % 10 == 0 || epoch == epochs {
                let error = pixelError(predict(validation.images, tape: nil).value, validation.centers)
                print(String(format: "  epoch %3d  train mse %.5f  validation error %.2f px  (%.1f s)",
                             epoch, total / Float(batches), error, Date().timeIntervalSince(start)))
            }
        }
        let final = pixelError(predict(validation.images, tape: nil).value, validation.centers)
        print(String(format: "result: %.2f px mean error against a %.2f px baseline", final, baseline))
        guard final < 0.5 * baseline else {
            throw ValidationError("the network did not learn: \(final) px is not under half the baseline \(baseline) px")
        }
    }
}

/// Noisy grayscale images, each with one bright square of random size and place; the target is
/// its centre, normalized to [0, 1].
private func squares(count: Int, size: Int, using rng: inout SeededGenerator) -> (images: Tensor, centers: Tensor) {
    var images = Tensor.uniform([count, size, size, 1], low: 0, high: 0.3, using: &rng)
    var centers = [Float]()
    images.withUnsafeMutableBufferPointer { pixels in
        for n in 0..<count {
            let side = 3 + Int(rng.nextUnitFloat() * 4)
            let top = Int(rng.nextUnitFloat() * Float(size - side + 1))
            let left = Int(rng.nextUnitFloat() * Float(size - side + 1))
            for y in top..<(top + side) {
                for x in left..<(left + side) { pixels[(n * size + y) * size + x] = 1 }
            }
            centers += [(Float(left) + Float(side) / 2) / Float(size), (Float(top) + Float(side) / 2) / Float(size)]
        }
    }
    return (images, Tensor(shape: [count, 2], scalars: centers))
}
