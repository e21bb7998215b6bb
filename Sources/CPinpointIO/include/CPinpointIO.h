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

#ifndef CPINPOINTIO_IMAGE_H
#define CPINPOINTIO_IMAGE_H

/// What a decoder found in a file's header.
typedef struct {
    int width;
    int height;
    /// JPEG: components (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK). PNG: libpng's color type.
    int color;
    /// PNG bit depth (1, 2, 4, 8, 16); 8 for JPEG.
    int bit_depth;
    /// JPEG: 1 when an Adobe marker says CMYK is stored inverted. PNG: 1 when a tRNS chunk exists.
    int flag;
    int progressive;
    /// The decoded pixels' size: the file's own size, or smaller when a JPEG is decoded at a
    /// reduced DCT scale.
    int decoded_width;
    int decoded_height;
} pinpoint_image_info;

/// Decodes a JPEG held in memory to 8-bit samples with libjpeg's default (accurate) settings,
/// `info.color` components per pixel, into a malloc'ed buffer the caller frees with free().
/// Returns 0, or -1 with a message in `error`. Images with more than `max_pixels` pixels are
/// refused before any allocation. As in Pillow, libjpeg's warnings (junk before a marker, a short
/// segment) are not errors, except data that ends early: a truncated file is refused, never
/// decoded to an image whose missing part is gray. With a draft size (both positive), libjpeg's
/// IDCT produces the image at 1/2, 1/4 or 1/8 of its size (rounded up), the smallest of these that
/// stays at least draft_width x draft_height, as Pillow's `Image.draft("RGB", size)` does; with
/// 0 x 0 it decodes at full size.
int pinpoint_jpeg_decode(const unsigned char *data, size_t size, size_t max_pixels, int header_only,
                         int draft_width, int draft_height,
                         pinpoint_image_info *info, unsigned char **pixels, char *error, size_t error_size);

/// Encodes 8-bit samples (1 or 3 components) as a baseline JPEG into a malloc'ed buffer.
int pinpoint_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                         unsigned char **out, size_t *out_size, char *error, size_t error_size);

/// Decodes a PNG held in memory. With `to_rgb` the result is 8-bit RGB (palette expanded, gray
/// replicated, alpha dropped, 16-bit reduced); otherwise only the header is read.
int pinpoint_png_decode(const unsigned char *data, size_t size, size_t max_pixels, int to_rgb,
                        pinpoint_image_info *info, unsigned char **pixels, char *error, size_t error_size);

/// Encodes 8-bit samples (1 gray, 3 RGB or 4 RGBA components) as PNG into a malloc'ed buffer.
/// With `palette` (an RGB table of `palette_size` entries), `pixels` are 1-component indices
/// and the PNG is palette-based (Pillow mode "P").
int pinpoint_png_encode(const unsigned char *pixels, int width, int height, int components,
                        const unsigned char *palette, int palette_size,
                        unsigned char **out, size_t *out_size, char *error, size_t error_size);

#endif
