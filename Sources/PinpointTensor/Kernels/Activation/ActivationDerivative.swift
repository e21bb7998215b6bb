import CPinpointKernels
import Foundation

/// dy * activation'(z) at the pre-activation value z, as a type so each backward loop is compiled
/// once per activation: a switch inside the loop stopped it from vectorizing (3x slower). The
/// selects compare values already loaded: a load under the condition compiles to a branch, which
/// mispredicts on ReLU's random signs.
protocol ActivationDerivative {
    static func gradient(_ g: Float, preactivation z: Float) -> Float
    static var activation: FusedActivation { get }
}

extension ActivationDerivative {
    /// The kernel sets' version of this activation, where they have one.
    static var kernelActivation: pp_activation? { activation.kernelActivation }
}

enum LinearDerivative: ActivationDerivative {
    @inline(__always) static func gradient(_ g: Float, preactivation z: Float) -> Float { g }
    static var activation: FusedActivation { .linear }
}

enum ReLUDerivative: ActivationDerivative {
    @inline(__always) static func gradient(_ g: Float, preactivation z: Float) -> Float { z > 0 ? g : 0 }
    static var activation: FusedActivation { .relu }
}

enum ReLU6Derivative: ActivationDerivative {
    @inline(__always) static func gradient(_ g: Float, preactivation z: Float) -> Float { z > 0 && z < 6 ? g : 0 }
    static var activation: FusedActivation { .relu6 }
}

enum SigmoidDerivative: ActivationDerivative {
    static var activation: FusedActivation { .sigmoid }
    @inline(__always) static func gradient(_ g: Float, preactivation z: Float) -> Float {
        let y = stableSigmoid(z)
        return g * y * (1 - y)
    }
}

extension FusedActivation {
    /// The kernel sets' version of this activation; nil for sigmoid, which stays in Swift.
    var kernelActivation: pp_activation? {
        switch self {
        case .linear: PP_ACTIVATION_LINEAR
        case .relu: PP_ACTIVATION_RELU
        case .relu6: PP_ACTIVATION_RELU6
        case .sigmoid: nil
        }
    }
}
