#ifndef CPINPOINTIO_H
#define CPINPOINTIO_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli), continuing from `crc` (0 to start). Uses the SSE4.2 crc32 instruction
/// when the CPU has it, slicing-by-8 tables otherwise.
uint32_t pinpoint_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable slicing-by-8 path alone (for tests that compare the two).
uint32_t pinpoint_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when `pinpoint_crc32c` uses the SSE4.2 instruction on this CPU.
int pinpoint_crc32c_is_hardware(void);

#endif
