import PinpointAutograd

/// The first trainable parameter in `model` that a training step would leave as it is without
/// saying so, as an error naming its layer and property; nil when there is none. A parameter is
/// left alone when its layer stores it but does not list it in `weights` (no optimizer sees it),
/// or when the step recorded on `tape` never read it through `context.read` (it gets no
/// gradient). `checked` limits the second test to the parameters being trained (by default every
/// trainable one in `model.weights`).
///
/// Stored parameters are found by reflection: properties of the model and of the layers it holds
/// (directly, in optionals, arrays, dictionaries and tuples) whose value is a `Parameter`.
public func untrainedParameter(in model: any Layer, tape: GradientTape, checked: [Parameter]? = nil) -> LayerError? {
    let stored = storedParameters(of: model)
    let listed = Set(model.weights.map { ObjectIdentifier($0.parameter) })
    for (layer, property, parameter) in stored where parameter.isTrainable && !listed.contains(ObjectIdentifier(parameter)) {
        return layer.error("parameter '\(property)' is not in the layer's `weights`, so no optimizer updates it; list it there")
    }
    let owners = Dictionary(stored.map { (ObjectIdentifier($0.parameter), ($0.layer, $0.property)) }, uniquingKeysWith: { first, _ in first })
    let names = Dictionary(model.weights.map { (ObjectIdentifier($0.parameter), $0.name) }, uniquingKeysWith: { first, _ in first })
    for parameter in checked ?? model.weights.map(\.parameter) where parameter.isTrainable && !tape.isWatching(parameter) {
        let reason = "was not read with `context.read` in the training step, so it gets no gradient; read it as `context.read(...)`"
        if let (layer, property) = owners[ObjectIdentifier(parameter)] {
            return layer.error("parameter '\(property)' " + reason)
        }
        let name = names[ObjectIdentifier(parameter)] ?? "?"
        return model.error("parameter '\(name)' " + reason)
    }
    return nil
}

/// Every `Parameter` stored in `root` and in the layers it holds, with the layer that stores it
/// and the property's name, each layer visited once.
func storedParameters(of root: any Layer) -> [(layer: any Layer, property: String, parameter: Parameter)] {
    var found: [(layer: any Layer, property: String, parameter: Parameter)] = []
    var visited: Set<ObjectIdentifier> = []
    func visit(_ layer: any Layer) {
        guard visited.insert(ObjectIdentifier(layer)).inserted else { return }
        var mirror: Mirror? = Mirror(reflecting: layer)
        while let m = mirror {
            for child in m.children { walk(child.value, owner: layer, property: child.label ?? "?") }
            mirror = m.superclassMirror
        }
    }
    func walk(_ value: Any, owner: any Layer, property: String) {
        if let parameter = value as? Parameter {
            found.append((owner, property, parameter))
        } else if let layer = value as? any Layer {
            visit(layer)
        } else {
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .optional?, .collection?, .dictionary?, .tuple?, .set?:
                for child in mirror.children { walk(child.value, owner: owner, property: property) }
            default:
                break
            }
        }
    }
    visit(root)
    return found
}
