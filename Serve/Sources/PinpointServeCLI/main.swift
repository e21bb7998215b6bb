import ArgumentParser
import Foundation
import Pinpoint
import PinpointServe

@main
struct PinpointServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinpoint-serve",
        abstract: "Serve a checkpoint's predictions over HTTP: POST /predict, GET /healthz, GET /metadata, and a page at /.",
        discussion: "Requests that arrive together share one forward pass. SIGTERM or SIGINT stops it gracefully: requests in flight finish.")

    @Option(help: "A checkpoint written by pinpoint train.") var model: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Largest request body, in MiB (413 above).") var maxBodyMb = 16
    @Option(help: "Largest image, in pixels, refused with 413 before decoding.") var maxPixels = 40_000_000
    @Option(help: "Requests decoded and predicted at once; more wait their turn.") var concurrency = 32
    @Option(help: "Images per forward pass, at most.") var maxBatch = 16
    @Option(help: "Milliseconds the first request of a batch waits for others.") var batchWaitMs = 5
    @Flag(help: "Decode JPEGs at 1/2, 1/4 or 1/8 scale while they stay at least the model's size, as Pillow's Image.draft does: more requests/s on large photos; boxes equal pinpoint predict --jpeg-draft's.")
    var jpegDraft = false
    @Option(help: "An image served at /sample, which the page at /?sample predicts on load.") var sample: String?

    func validate() throws {
        guard port >= 0 && port < 65536 else { throw ValidationError("--port must be from 0 to 65535") }
        guard maxBodyMb > 0, maxPixels > 0, concurrency > 0, maxBatch > 0, batchWaitMs >= 0 else {
            throw ValidationError("--max-body-mb, --max-pixels, --concurrency and --max-batch must be positive, --batch-wait-ms not negative")
        }
    }

    func run() async throws {
        let loaded = try LoadedModel(contentsOf: model)
        var options = ServeOptions()
        options.host = host
        options.port = port
        options.maximumBodyBytes = maxBodyMb << 20
        options.maximumPixels = maxPixels
        options.concurrency = concurrency
        options.maximumBatch = maxBatch
        options.batchWait = .milliseconds(batchWaitMs)
        options.jpegDraft = jpegDraft
        if let sample {
            guard let data = FileManager.default.contents(atPath: sample) else { throw ValidationError("\(sample): cannot be read") }
            options.sample = [UInt8](data)
        }
        let c = loaded.configuration
        print("serving \(model) (\(c.architecture) at \(c.imageSize)x\(c.imageSize)) on http://\(host):\(port)/, batches of up to \(maxBatch)\(jpegDraft ? ", JPEG draft decoding" : "")")
        fflush(nil)  // the line reaches a log file before the server starts
        try await makeApplication(Predictor(loaded, maximumBatch: maxBatch, wait: options.batchWait), options: options).runService()
    }
}
