import CPinpointHDF5
import PinpointTensor

/// What went wrong reading an HDF5 file: the file, and what in it.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// A read-only HDF5 file, through libhdf5: its objects by path, string attributes and float
/// datasets, which is what Keras weight files need. HDF5's own error stack is never printed;
/// failures are `HDF5Error`s naming the file and the object.
///
/// ```swift
/// let file = try HDF5File(path: "weights.h5")
/// let names = try file.strings("layer_names", of: "/")     // Keras 2's save_weights layout
/// let kernel = try file.tensor("Conv1/Conv1/kernel:0")      // [3, 3, 3, 32]
/// ```
public final class HDF5File {
    public let path: String
    private let handle: Int64

    public enum Kind: Sendable { case group, dataset, other }

    public init(path: String) throws(HDF5Error) {
        self.path = path
        switch pp_h5_is_hdf5(path) {
        case 1: break
        case 0: throw HDF5Error(file: path, reason: "not an HDF5 file")
        default: throw HDF5Error(file: path, reason: "cannot be read (no such file, or no permission)")
        }
        handle = pp_h5_open(path)
        guard handle >= 0 else { throw HDF5Error(file: path, reason: "has an HDF5 signature but cannot be opened (truncated or damaged)") }
    }

    deinit { pp_h5_close(handle) }

    /// Every object's path (from the root, no leading slash) and kind, in name order.
    public func objects() throws(HDF5Error) -> [(path: String, kind: Kind)] {
        final class Box { var items: [(path: String, kind: Kind)] = [] }
        let box = Box()
        let status = withExtendedLifetime(box) {
            pp_h5_visit(handle, { context, path, kind in
                let box = Unmanaged<Box>.fromOpaque(context!).takeUnretainedValue()
                box.items.append((String(cString: path!), kind == PP_H5_GROUP ? .group : kind == PP_H5_DATASET ? .dataset : .other))
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        guard status >= 0 else { throw HDF5Error(file: path, reason: "its object tree cannot be read (truncated or damaged)") }
        return box.items
    }

    /// The kind of the object at `path`, or nil when there is none.
    public func kind(of path: String) -> Kind? {
        switch Int(pp_h5_kind(handle, path)) {
        case Int(PP_H5_GROUP): return .group
        case Int(PP_H5_DATASET): return .dataset
        case Int(PP_H5_MISSING): return nil
        default: return .other
        }
    }

    /// The strings of attribute `name` on the object at `object` ("/" for the root), or nil
    /// when there is no such attribute.
    public func strings(_ name: String, of object: String) throws(HDF5Error) -> [String]? {
        final class Box { var items: [String] = [] }
        let box = Box()
        let count = withExtendedLifetime(box) {
            pp_h5_string_attribute(handle, object, name, { context, string, length in
                let box = Unmanaged<Box>.fromOpaque(context!).takeUnretainedValue()
                let bytes = UnsafeRawBufferPointer(start: string, count: length)
                box.items.append(String(decoding: bytes, as: UTF8.self))
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        if count == PP_H5_NO_ATTRIBUTE { return nil }
        guard count >= 0 else { throw HDF5Error(file: path, reason: "attribute '\(name)' of \(object) is not text, or cannot be read") }
        return box.items
    }

    /// The dataset's shape, or nil when `dataset` is not a dataset.
    public func shape(_ dataset: String) -> [Int]? {
        guard kind(of: dataset) == .dataset else { return nil }
        var dims = [Int64](repeating: 0, count: 8)
        let rank = pp_h5_dataset_shape(handle, dataset, &dims, 8)
        return rank < 0 ? nil : dims.prefix(Int(rank)).map { Int($0) }
    }

    /// The dataset's values as a float32 tensor of its shape.
    public func tensor(_ dataset: String) throws(HDF5Error) -> Tensor {
        guard let shape = shape(dataset) else { throw HDF5Error(file: path, reason: "has no dataset \(dataset)") }
        guard pp_h5_dataset_is_float(handle, dataset) == 1 else {
            throw HDF5Error(file: path, reason: "dataset \(dataset) does not hold floating-point numbers")
        }
        var status: Int32 = 0
        let result = Tensor(shape: shape) { out, count in status = pp_h5_read_floats(handle, dataset, out, Int64(count)) }
        guard status == 0 else { throw HDF5Error(file: path, reason: "dataset \(dataset) cannot be read (truncated or damaged)") }
        return result
    }
}
