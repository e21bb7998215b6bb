import Foundation
import Hummingbird
import Pinpoint

/// The service's limits and batching.
public struct ServeOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Request bodies over this are refused with 413.
    public var maximumBodyBytes = 16 << 20
    /// Images whose header declares more pixels are refused with 413 before they are decoded.
    public var maximumPixels = 40_000_000
    /// Requests decoded and predicted at once; more wait their turn.
    public var concurrency = 32
    /// Images per forward pass, at most.
    public var maximumBatch = 16
    /// How long the first request of a batch waits for others.
    public var batchWait: Duration = .milliseconds(5)
    /// JPEGs are decoded at 1/2, 1/4 or 1/8 scale while they stay at least the model's size
    /// (`ImageCodec.decode(_:draft:)`, Pillow's `Image.draft`): large photos cost a fraction of a
    /// full decode and resize, and the boxes differ slightly from `pinpoint predict`'s unless it
    /// is given `--jpeg-draft` too.
    public var jpegDraft = false
    /// An image served at GET /sample, for the page's `?sample` preload.
    public var sample: [UInt8]?

    public init() {}
}

/// The prediction service's routes (Docs/Serve.md):
/// - `POST /predict`: a JPEG or PNG as the raw body or as the `image` field of
///   `multipart/form-data`; JSON with the box in the image's pixels and normalized, the class and
///   its probability, the model and the time taken; `?draw=1` returns the image with the box
///   drawn, as PNG;
/// - `GET /healthz`, `GET /metadata`, and `GET /`, a page to try the model on.
///
/// ```swift
/// let predictor = Predictor(try LoadedModel(contentsOf: "cnn.safetensors"))
/// try await makeApplication(predictor, options: ServeOptions()).runService()
/// ```
public func makeApplication(_ predictor: Predictor, options: ServeOptions) -> some ApplicationProtocol {
    let router = Router()
    let limiter = Limiter(options.concurrency)
    let model = modelJSON(predictor)
    router.get("healthz") { _, _ in json(["status": "ok"]) }
    router.get("metadata") { _, _ in
        let metadata = predictor.metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ")
        return json(raw: "{\"model\": \(model), \"checkpoint_metadata\": {\(metadata)}}")
    }
    router.get("/") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Page.html)))
    }
    if let sample = options.sample {
        router.get("sample") { _, _ in
            let type = ImageCodec.format(of: sample) == .png ? "image/png" : "image/jpeg"
            return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: sample)))
        }
    }
    router.post("predict") { request, _ -> Response in
        let started = ContinuousClock.now
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > options.maximumBodyBytes {
            return failure(.contentTooLarge, "the body of \(length) bytes exceeds the limit of \(options.maximumBodyBytes) bytes")
        }
        var body: ByteBuffer
        do { body = try await request.body.collect(upTo: options.maximumBodyBytes) } catch {
            return failure(.contentTooLarge, "the body exceeds the limit of \(options.maximumBodyBytes) bytes")
        }
        var bytes = body.readBytes(length: body.readableBytes) ?? []
        if let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data") {
            switch Multipart.field("image", in: bytes, contentType: type) {
            case .success(let field): bytes = field
            case .failure(let problem): return failure(.badRequest, problem.description)
            }
        }
        guard !bytes.isEmpty else { return failure(.badRequest, "the body is empty: send a JPEG or PNG image") }
        guard ImageCodec.format(of: bytes) != nil else { return failure(.badRequest, "the body is not a JPEG or PNG image") }
        let info: ImageInfo
        do { info = try ImageCodec.info(of: bytes) } catch { return failure(.badRequest, "the image cannot be read: \(error)") }
        guard info.width * info.height <= options.maximumPixels else {
            return failure(.contentTooLarge, "the image is \(info.width)x\(info.height) = \(info.width * info.height) pixels, over the limit of \(options.maximumPixels)")
        }
        let encoded = bytes
        return try await limiter.run {
            var image: RGBImage
            let size = predictor.configuration.imageSize
            do {
                image = try ImageCodec.decode(encoded, maximumPixels: options.maximumPixels, draft: options.jpegDraft ? (size, size) : nil).image
            } catch {
                return failure(.badRequest, "the image cannot be decoded: \(error)")
            }
            let p = try await predictor.predict(image, originalSize: (info.width, info.height))
            if request.uri.queryParameters.get("draw") == "1" {
                if image.width != info.width { image = try ImageCodec.decode(encoded, maximumPixels: options.maximumPixels).image }
                let thickness = max(2, min(image.width, image.height) / 150)
                image.drawBox(xmin: p.box[0].rounded(), ymin: p.box[1].rounded(), xmax: p.box[2].rounded() - 1, ymax: p.box[3].rounded() - 1,
                              color: (255, 0, 0), lineWidth: thickness)
                return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: try ImageCodec.encodePNG(image))))
            }
            let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
            let cls = p.className.map(quoted) ?? "null", probability = p.probability.map { "\($0)" } ?? "null"
            return json(raw: "{\"box\": [\(p.box.map { "\($0)" }.joined(separator: ", "))], "
                        + "\"box_normalized\": [\(p.boxNormalized.map { "\($0)" }.joined(separator: ", "))], "
                        + "\"class\": \(cls), \"probability\": \(probability), \"model\": \(model), \"elapsed_ms\": \(elapsed)}")
        }
    }
    // A known path asked with another method is a 405 that names the allowed one, not a 404.
    for (path, allowed) in [("predict", HTTPRequest.Method.post), ("healthz", .get), ("metadata", .get), ("/", .get)] {
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where method != allowed {
            router.on(RouterPath(path), method: method) { _, _ in
                var response = failure(.methodNotAllowed, "\(path == "/" ? "/" : "/" + path) takes \(allowed.rawValue)")
                response.headers[.allow] = allowed.rawValue
                return response
            }
        }
    }
    return Application(router: router, configuration: .init(address: .hostname(options.host, port: options.port), serverName: "pinpoint-serve"))
}

/// At most `capacity` bodies of work at once; the rest wait in arrival order.
actor Limiter {
    private let capacity: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ capacity: Int) { self.capacity = max(1, capacity) }

    func run<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T {
        if running >= capacity { await withCheckedContinuation { waiting.append($0) } } else { running += 1 }
        defer { release() }
        return try await work()
    }

    private func release() {
        if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
    }
}

private func modelJSON(_ predictor: Predictor) -> String {
    let c = predictor.configuration
    return "{\"architecture\": \(quoted(c.architecture)), \"image_size\": \(c.imageSize), \"alpha\": \(c.alpha.map { "\($0)" } ?? "null"), "
        + "\"input_scale\": \(c.inputScale), \"input_offset\": \(c.inputOffset)}"
}

/// A JSON string literal.
func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func json(_ object: [String: String], status: HTTPResponse.Status = .ok) -> Response {
    json(raw: "{" + object.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "}", status: status)
}

func json(raw: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: raw + "\n")))
}

/// An error answer: `{"error": "..."}` with the status.
func failure(_ status: HTTPResponse.Status, _ message: String) -> Response { json(["error": message], status: status) }
