import CPinpointIO
import Foundation

/// CRC-32C (Castagnoli), the checksum TFRecord files use, with TensorFlow's masking.
///
/// ```swift
/// CRC32C.checksum(Array("123456789".utf8))   // 0xE3069283
/// ```
public enum CRC32C {
    /// The CRC of `bytes`, continuing from `crc` (0 to start).
    public static func checksum<Bytes: ContiguousBytes>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { pinpoint_crc32c(crc, $0.baseAddress, $0.count) }
    }

    public static func checksum(_ buffer: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        pinpoint_crc32c(crc, buffer.baseAddress, buffer.count)
    }

    /// TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8, so that a CRC stored
    /// inside checksummed data does not checksum to a trivial value.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// True when the SSE4.2 instruction computes it on this CPU.
    public static var usesHardware: Bool { pinpoint_crc32c_is_hardware() != 0 }
}
