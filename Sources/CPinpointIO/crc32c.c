// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.
// Swift has no intrinsic for the SSE4.2 crc32 instruction, so it lives here.
#include "CPinpointIO.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define PINPOINT_X86 1
#endif

static uint32_t table[8][256];
static int table_ready;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    }
    table_ready = 1;
}

uint32_t pinpoint_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    if (!table_ready) build_table();  // idempotent: a race writes the same values
    const uint8_t *p = data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= crc;  // little-endian: the CRC lines up with the first four bytes
        crc = table[7][word & 0xFF] ^ table[6][(word >> 8) & 0xFF] ^ table[5][(word >> 16) & 0xFF] ^
              table[4][(word >> 24) & 0xFF] ^ table[3][(word >> 32) & 0xFF] ^ table[2][(word >> 40) & 0xFF] ^
              table[1][(word >> 48) & 0xFF] ^ table[0][word >> 56];
        p += 8;
        length -= 8;
    }
    while (length--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

#ifdef PINPOINT_X86
__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}
#endif

int pinpoint_crc32c_is_hardware(void) {
#ifdef PINPOINT_X86
    return __builtin_cpu_supports("sse4.2");
#else
    return 0;
#endif
}

uint32_t pinpoint_crc32c(uint32_t crc, const void *data, size_t length) {
#ifdef PINPOINT_X86
    static int hardware = -1;
    if (hardware < 0) hardware = pinpoint_crc32c_is_hardware();
    if (hardware) return crc32c_hardware(crc, data, length);
#endif
    return pinpoint_crc32c_portable(crc, data, length);
}
