// Pinpoint's speed as a dependency gets it: the tutorial CNN's and MobileNetV2's training and
// inference throughput, measured through the public API from a package that builds Pinpoint
// the ordinary way (`swift build -c release`, no flags).
//
//   swift run -c release Throughput [steps]        (make test builds it; Docs/Performance.md has its figures)
import Foundation
import Pinpoint

let steps = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 5
let size = 224
print("kernel set \(KernelSet.current), OpenBLAS \(BLAS.coreName), \(Parallelism.threadCount) threads")
for (name, configuration) in [("seed-cnn", ModelConfiguration.seedCNN(imageSize: size)),
                              ("mobilenetv2", ModelConfiguration.mobileNetV2(alpha: 1.0, imageSize: size))] {
    for mode in ThroughputBenchmark.Mode.allCases {
        let result = try ThroughputBenchmark(configuration: configuration, mode: mode, batchSize: 40, warmupSteps: min(3, steps),
                                             steps: steps).run()
        print(String(format: "%@ %@ at %d: %.2f images/s (min %.2f, max %.2f), peak RSS %.0f MiB", name, mode.rawValue, size,
                     result.imagesPerSecond, result.minimum, result.maximum, result.peakResidentMiB))
    }
}
