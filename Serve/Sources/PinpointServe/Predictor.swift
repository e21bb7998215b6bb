import Dispatch
import Foundation
import Pinpoint

/// One prediction: the numbers `pinpoint predict --json` gives for the same image.
public struct Prediction: Sendable {
    /// Corners in the original image's pixels: xmin, ymin, xmax, ymax.
    public let box: [Double]
    /// x_center, y_center, width, height as fractions of the image.
    public let boxNormalized: [Double]
    public let className: String?
    public let probability: Float?
}

/// A model behind a batching queue: requests that arrive while a forward pass runs, or within
/// `wait` of the first one, go through the model together, up to `maximumBatch` at once.
///
/// The forward pass runs on a thread of its own (it is synchronous and uses every core through
/// the GEMM threads), one batch at a time, so the server's event loops never block on it.
public actor Predictor {
    public let configuration: ModelConfiguration
    public let metadata: [String: String]
    public let maximumBatch: Int
    public let wait: Duration
    private let model: UncheckedModel
    private var pending: [(pixels: [UInt8], continuation: CheckedContinuation<[Float], any Error>)] = []
    private var busy = false
    private var timer: Task<Void, Never>?
    /// Batches run and the images they held, for Docs/Serve.md's measurements.
    public private(set) var batches = 0, images = 0

    /// A LoadedModel is a class graph that is used from one thread at a time here: the queue
    /// below serializes every forward pass.
    private final class UncheckedModel: @unchecked Sendable {
        let loaded: LoadedModel
        let queue = DispatchQueue(label: "pinpoint-serve.forward")
        init(_ loaded: LoadedModel) { self.loaded = loaded }
    }

    public init(_ loaded: LoadedModel, maximumBatch: Int = 16, wait: Duration = .milliseconds(5)) {
        precondition(maximumBatch > 0, "Predictor: the batch must hold at least one image")
        configuration = loaded.configuration
        metadata = loaded.checkpoint.metadata
        self.maximumBatch = maximumBatch
        self.wait = wait
        model = UncheckedModel(loaded)
    }

    /// The model's output row for one image already at the model's size.
    public func output(for pixels: [UInt8]) async throws -> [Float] {
        precondition(pixels.count == configuration.imageSize * configuration.imageSize * 3, "Predictor: the image is not at the model's size")
        return try await withCheckedThrowingContinuation { continuation in
            pending.append((pixels, continuation))
            if !busy && pending.count >= maximumBatch {
                flush()
            } else if !busy && timer == nil {
                timer = Task { [wait] in
                    try? await Task.sleep(for: wait)
                    self.timerFired()
                }
            }
        }
    }

    /// The prediction for a decoded image of any size: resized as `pinpoint predict` resizes it.
    /// `originalSize` is the file's size when `image` is a draft decode of it: the box's pixels
    /// are the file's.
    public func predict(_ image: RGBImage, originalSize: (width: Int, height: Int)? = nil) async throws -> Prediction {
        let size = configuration.imageSize
        let output = try await self.output(for: image.resized(width: size, height: size).pixels)
        let box = configuration.predictedBox(output)
        let corners = box.pixels(width: originalSize?.width ?? image.width, height: originalSize?.height ?? image.height)
        let cls = configuration.predictedClass(output)
        return Prediction(box: [corners.xmin, corners.ymin, corners.xmax, corners.ymax], boxNormalized: [box.x, box.y, box.w, box.h],
                          className: cls?.name, probability: cls?.probability)
    }

    private func timerFired() {
        timer = nil
        if !busy { flush() }
    }

    private func flush() {
        timer?.cancel()
        timer = nil
        guard !pending.isEmpty else { return }
        let batch = Array(pending.prefix(maximumBatch))
        pending.removeFirst(batch.count)
        busy = true
        batches += 1
        images += batch.count
        let model = self.model
        let inputs = batch.map(\.pixels)
        model.queue.async {
            let result = Result { try model.loaded.predict(inputs) }
            Task { await self.finished(batch.map(\.continuation), result) }
        }
    }

    private func finished(_ continuations: [CheckedContinuation<[Float], any Error>], _ result: Result<Tensor, any Error>) {
        switch result {
        case .success(let outputs):
            let width = outputs.shape[1], values = outputs.scalars
            for (row, continuation) in continuations.enumerated() {
                continuation.resume(returning: Array(values[(row * width)..<((row + 1) * width)]))
            }
        case .failure(let error):
            for continuation in continuations { continuation.resume(throwing: error) }
        }
        busy = false
        // What arrived during the pass has waited long enough: it goes next, as one batch.
        if !pending.isEmpty { flush() }
    }
}
