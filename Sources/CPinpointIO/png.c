// libpng reports errors by longjmp too; see jpeg.c.
#include "CPinpointIO.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t position;
} memory_source;

static void read_memory(png_structp png, png_bytep out, png_size_t count) {
    memory_source *source = png_get_io_ptr(png);
    if (source->size - source->position < count) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, source->data + source->position, count);
    source->position += count;
}

typedef struct {
    char *message;
    size_t size;
} error_sink;

static void on_error(png_structp png, png_const_charp message) {
    error_sink *sink = png_get_error_ptr(png);
    snprintf(sink->message, sink->size, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;  // benign: an unknown chunk, a questionable ICC profile
}

int pinpoint_png_decode(const unsigned char *data, size_t size, size_t max_pixels, int to_rgb,
                        pinpoint_image_info *info, unsigned char **pixels, char *error, size_t error_size) {
    error_sink sink = {error, error_size};
    memory_source source = {data, size, 0};
    unsigned char *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    *pixels = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_size, "not a PNG signature");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!png || !pinfo) {
        snprintf(error, error_size, "out of memory");
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(buffer);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &source, read_memory);
    png_read_info(png, pinfo);
    png_uint_32 width = png_get_image_width(png, pinfo), height = png_get_image_height(png, pinfo);
    info->width = (int)width;
    info->height = (int)height;
    info->decoded_width = (int)width;
    info->decoded_height = (int)height;
    info->color = png_get_color_type(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->flag = png_get_valid(png, pinfo, PNG_INFO_tRNS) ? 1 : 0;
    info->progressive = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;
    if ((size_t)width * height > max_pixels) {
        snprintf(error, error_size, "declared size %ux%u exceeds the limit of %zu pixels", width, height, max_pixels);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return -1;
    }
    if (!to_rgb) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return 0;
    }
    // To 8-bit RGB as Pillow's convert("RGB") does: palette looked up (transparency ignored),
    // gray replicated, alpha dropped, 16-bit samples reduced to their high byte.
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_packing(png);
    if (info->color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (info->color == PNG_COLOR_TYPE_GRAY || info->color == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t stride = png_get_rowbytes(png, pinfo);
    if (stride != (size_t)width * 3) png_error(png, "unexpected row size after conversion to RGB");
    buffer = malloc(stride * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!buffer || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = buffer + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rows);
    *pixels = buffer;
    return 0;
}

typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
} memory_sink;

static void write_memory(png_structp png, png_bytep data, png_size_t count) {
    memory_sink *sink = png_get_io_ptr(png);
    if (sink->size + count > sink->capacity) {
        size_t capacity = (sink->capacity ? sink->capacity * 2 : 65536);
        while (capacity < sink->size + count) capacity *= 2;
        unsigned char *grown = realloc(sink->data, capacity);
        if (!grown) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, data, count);
    sink->size += count;
}

static void flush_memory(png_structp png) { (void)png; }

int pinpoint_png_encode(const unsigned char *pixels, int width, int height, int components,
                        const unsigned char *palette, int palette_size,
                        unsigned char **out, size_t *out_size, char *error, size_t error_size) {
    error_sink sink = {error, error_size};
    memory_sink memory = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!png || !pinfo) {
        snprintf(error, error_size, "out of memory");
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        free(memory.data);
        return -1;
    }
    int type = palette ? PNG_COLOR_TYPE_PALETTE
             : components == 1 ? PNG_COLOR_TYPE_GRAY : components == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_write_fn(png, &memory, write_memory, flush_memory);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color entries[256];
        for (int i = 0; i < palette_size && i < 256; i++) {
            entries[i].red = palette[3 * i];
            entries[i].green = palette[3 * i + 1];
            entries[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, pinfo, entries, palette_size);
    }
    png_write_info(png, pinfo);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * components));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    *out = memory.data;
    *out_size = memory.size;
    return 0;
}
