import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import Pinpoint
@testable import PinpointServe
import XCTest

/// The service over real HTTP on a loopback port: answers equal to the library's predictions,
/// every bad input refused with its status and a JSON error, and many concurrent clients each
/// answered correctly.
final class ServeTests: XCTestCase {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pinpoint-serve-\(UUID())").path
    static let checkpoint: String = {
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configuration = ModelConfiguration.seedCNN(imageSize: 32)
        let model = try! configuration.makeModel(seed: 3)
        var checkpoint = Checkpoint(metadata: configuration.metadata)
        checkpoint.add(model.weights)
        try! checkpoint.write(to: directory + "/cnn.safetensors")
        return directory + "/cnn.safetensors"
    }()

    override class func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A test picture: a gradient with a bright rectangle whose place depends on `seed`.
    static func picture(_ seed: Int, width: Int = 64, height: Int = 48) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                image.pixels[i] = UInt8((x * 4 + seed * 40) % 256); image.pixels[i + 1] = UInt8((y * 5) % 256); image.pixels[i + 2] = UInt8((seed * 70) % 256)
            }
        }
        image.fillRectangle(5 + seed * 7, 6 + seed * 3, 25 + seed * 7, 30 + seed * 3, color: (250, 250, 250))
        return image
    }

    /// What the library predicts for these bytes: `pinpoint predict`'s computation (with
    /// `--jpeg-draft` when `draft`).
    static func expected(_ bytes: [UInt8], draft: Bool = false) throws -> [Double] {
        let loaded = try LoadedModel(contentsOf: checkpoint)
        let size = loaded.configuration.imageSize
        let (info, image) = try ImageCodec.decode(bytes, draft: draft ? (size, size) : nil)
        let output = try loaded.predict([image.resized(width: size, height: size).pixels]).scalars
        let box = loaded.configuration.predictedBox(output).pixels(width: info.width, height: info.height)
        return [box.xmin, box.ymin, box.xmax, box.ymax]
    }

    func application(_ configure: (inout ServeOptions) -> Void = { _ in }) throws -> (some ApplicationProtocol, Predictor) {
        var options = ServeOptions()
        options.port = 0
        configure(&options)
        let predictor = Predictor(try LoadedModel(contentsOf: Self.checkpoint), maximumBatch: options.maximumBatch, wait: options.batchWait)
        return (makeApplication(predictor, options: options), predictor)
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any], String(buffer: response.body))
    }

    static func assertBox(_ response: TestResponse, _ bytes: [UInt8], draft: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, .ok, String(buffer: response.body), file: file, line: line)
        let answer = try Self.object(response)
        let box = try XCTUnwrap(answer["box"] as? [Double], file: file, line: line)
        for (got, want) in zip(box, try Self.expected(bytes, draft: draft)) { XCTAssertEqual(got, want, accuracy: 1e-6 * max(1, abs(want)), file: file, line: line) }
        XCTAssertEqual((answer["box_normalized"] as? [Double])?.count, 4, file: file, line: line)
        XCTAssertTrue(answer["class"] is NSNull, "the CNN has no class head", file: file, line: line)
        XCTAssertEqual((answer["model"] as? [String: Any])?["architecture"] as? String, "seed-cnn", file: file, line: line)
        XCTAssertNotNil(answer["elapsed_ms"] as? Double, file: file, line: line)
    }

    func testEndpointsAnswerAsTheLibraryDoes() async throws {
        let png = try ImageCodec.encodePNG(Self.picture(1)), jpeg = try ImageCodec.encodeJPEG(Self.picture(2))
        let (app, _) = try application()
        try await app.test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { XCTAssertEqual(String(buffer: $0.body), "{\"status\": \"ok\"}\n") }
            try await client.execute(uri: "/metadata", method: .get) { response in
                let metadata = try Self.object(response)
                XCTAssertEqual((metadata["model"] as? [String: Any])?["image_size"] as? Int, 32)
                XCTAssertEqual((metadata["checkpoint_metadata"] as? [String: String])?["architecture"], "seed-cnn")
            }
            try await client.execute(uri: "/", method: .get) { response in
                let page = String(buffer: response.body)
                XCTAssertEqual(response.headers[.contentType], "text/html; charset=utf-8")
                XCTAssertTrue(page.contains("<canvas"))
                XCTAssertFalse(page.contains("http://") || page.contains("https://") || page.contains("src=\"/") || page.contains("<link"),
                               "the page fetches nothing from anywhere else")
            }
            try await client.execute(uri: "/predict", method: .post, body: ByteBuffer(bytes: png)) { try Self.assertBox($0, png) }
            try await client.execute(uri: "/predict", method: .post, body: ByteBuffer(bytes: jpeg)) { try Self.assertBox($0, jpeg) }
            let boundary = "pinpoint-test-boundary"
            var form = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
            form += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            form += png + Array("\r\n--\(boundary)--\r\n".utf8)
            try await client.execute(uri: "/predict", method: .post, headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                                     body: ByteBuffer(bytes: form)) { try Self.assertBox($0, png) }
            try await client.execute(uri: "/predict?draw=1", method: .post, body: ByteBuffer(bytes: png)) { response in
                XCTAssertEqual(response.headers[.contentType], "image/png")
                let drawn = try ImageCodec.decode(Array(buffer: response.body)).image
                XCTAssertEqual([drawn.width, drawn.height], [64, 48])
                XCTAssertNotEqual(drawn.pixels, Self.picture(1).pixels, "the box is drawn")
            }
        }
    }

    /// With `jpegDraft` a JPEG four times the model's size is decoded at 1/4 scale: the answer is
    /// the library's for that decode, in the file's pixels, and `?draw=1` draws on the full image.
    func testJPEGDraftAnswersAsTheLibrarysDraftDecode() async throws {
        let jpeg = try ImageCodec.encodeJPEG(Self.picture(3, width: 160, height: 136))
        XCTAssertEqual(try ImageCodec.decode(jpeg, draft: (32, 32)).image.width, 40, "a quarter-scale decode")
        let full = try Self.expected(jpeg), draft = try Self.expected(jpeg, draft: true)
        XCTAssertGreaterThan(zip(full, draft).map { abs($0 - $1) }.max()!, 1e-3, "the two decodes give boxes the test can tell apart")
        let (app, _) = try application { $0.jpegDraft = true }
        try await app.test(.live) { client in
            try await client.execute(uri: "/predict", method: .post, body: ByteBuffer(bytes: jpeg)) { try Self.assertBox($0, jpeg, draft: true) }
            try await client.execute(uri: "/predict?draw=1", method: .post, body: ByteBuffer(bytes: jpeg)) { response in
                let drawn = try ImageCodec.decode(Array(buffer: response.body)).image
                XCTAssertEqual([drawn.width, drawn.height], [160, 136])
            }
        }
    }

    func testBadInputIsRefusedWithItsStatusAndAReason() async throws {
        let png = try ImageCodec.encodePNG(Self.picture(1)), small = try ImageCodec.encodeJPEG(Self.picture(2))
        let jpeg = try ImageCodec.encodeJPEG(Self.picture(3, width: 200, height: 150))
        let (app, _) = try application { $0.maximumBodyBytes = 20_000; $0.maximumPixels = 10_000 }
        try await app.test(.live) { client in
            func refused(_ body: [UInt8], headers: HTTPFields = [:], _ status: HTTPResponse.Status, _ reason: String,
                         file: StaticString = #filePath, line: UInt = #line) async throws {
                try await client.execute(uri: "/predict", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
                    XCTAssertEqual(response.status, status, String(buffer: response.body), file: file, line: line)
                    let error = try Self.object(response)["error"] as? String ?? ""
                    XCTAssertTrue(error.contains(reason), error, file: file, line: line)
                }
            }
            try await refused(Array("hello, not an image".utf8), .badRequest, "not a JPEG or PNG image")
            try await refused([], .badRequest, "the body is empty")
            try await refused(Array(small.prefix(small.count / 2)), .badRequest, "cannot be decoded")
            try await refused(Array(png.prefix(40)), .badRequest, "the image cannot be read")
            try await refused(Array("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n".utf8),
                              headers: [.contentType: "multipart/form-data; boundary=x"], .badRequest, "no field named 'image'")
            try await refused(Array(repeating: 7, count: 30_000), .contentTooLarge, "exceeds the limit of 20000 bytes")
            try await refused(jpeg, .contentTooLarge, "200x150 = 30000 pixels, over the limit of 10000")
            try await client.execute(uri: "/predict", method: .get) { response in
                XCTAssertEqual(response.status, .methodNotAllowed)
                XCTAssertEqual(response.headers[.allow], "POST")
            }
            try await client.execute(uri: "/healthz", method: .delete) { XCTAssertEqual($0.status, .methodNotAllowed) }
            try await client.execute(uri: "/nothing-here", method: .get) { XCTAssertEqual($0.status, .notFound) }
            // After all of that the service still answers.
            try await client.execute(uri: "/predict", method: .post, body: ByteBuffer(bytes: png)) { try Self.assertBox($0, png) }
        }
    }

    /// 200 requests from 16 concurrent clients, each over its own connection: every answer is
    /// the library's for the image that client sent, and requests share forward passes.
    func testConcurrentClientsEachGetTheirOwnAnswer() async throws {
        let images = try (0..<4).map { try ImageCodec.encodePNG(Self.picture($0)) }
        let expected = try images.map { try Self.expected($0) }
        let (app, predictor) = try application { $0.maximumBatch = 8; $0.batchWait = .milliseconds(5) }
        try await app.test(.live) { client in
            let port = try XCTUnwrap(client.port)
            let session = URLSession(configuration: .ephemeral)
            let correct = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var correct = 0
                        for k in stride(from: worker, to: 200, by: 16) {
                            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/predict")!)
                            request.httpMethod = "POST"
                            request.httpBody = Data(images[k % 4])
                            let (data, response) = try await session.data(for: request)
                            let box = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["box"] as? [Double] ?? []
                            let right = (response as? HTTPURLResponse)?.statusCode == 200 && box.count == 4
                                && zip(box, expected[k % 4]).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }
                            correct += right ? 1 : 0
                        }
                        return correct
                    }
                }
                return try await group.reduce(0, +)
            }
            XCTAssertEqual(correct, 200, "every client got the answer for its own image")
        }
        let (batches, served) = await (predictor.batches, predictor.images)
        XCTAssertEqual(served, 200)
        XCTAssertLessThan(batches, 200, "concurrent requests share forward passes")
        print("200 requests from 16 clients in \(batches) forward passes")
    }

    /// SIGTERM while a request waits in the batcher: the request is answered, then the process
    /// exits cleanly and the port stops answering.
    func testSIGTERMLetsTheRequestInFlightFinish() async throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pinpoint-serve")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: executable.path), "pinpoint-serve not built next to the tests")
        let port = 20_000 + Int(getpid() % 20_000)
        let process = Process()
        process.executableURL = executable
        // A batch wait of 1.5 s keeps the request in flight while the signal arrives.
        process.arguments = ["--model", Self.checkpoint, "--port", String(port), "--batch-wait-ms", "1500", "--max-batch", "4"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let session = URLSession(configuration: .ephemeral)
        let health = URL(string: "http://127.0.0.1:\(port)/healthz")!
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await session.data(from: health)).map { ($0.1 as? HTTPURLResponse)?.statusCode == 200 } ?? false
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(up, "the service started")
        let png = try ImageCodec.encodePNG(Self.picture(2))
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/predict")!)
        request.httpMethod = "POST"
        request.httpBody = Data(png)
        let inFlight = Task { try await session.data(for: request) }
        try await Task.sleep(for: .milliseconds(400))
        kill(process.processIdentifier, SIGTERM)
        let (data, response) = try await inFlight.value
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200, String(decoding: data, as: UTF8.self))
        let box = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["box"] as? [Double] ?? []
        for (got, want) in zip(box, try Self.expected(png)) { XCTAssertEqual(got, want, accuracy: 1e-6 * max(1, abs(want))) }
        for _ in 0..<50 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertFalse(process.isRunning, "the process exits after the signal")
        XCTAssertEqual(process.terminationStatus, 0)
        let after = try? await session.data(from: health)
        XCTAssertNil(after, "nothing answers on the port any more")
    }
}
