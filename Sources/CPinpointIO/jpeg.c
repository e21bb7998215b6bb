// libjpeg reports fatal errors by calling error_exit, which must not return: we longjmp back
// here, something Swift cannot do, hence this file.
#include "CPinpointIO.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    size_t message_size;
} error_manager;

static void on_error(j_common_ptr cinfo) {
    error_manager *e = (error_manager *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

// Warnings (msg_level -1) are ignored, as Pillow ignores them: bytes of junk before a marker or a
// segment shorter than its contents ("Corrupt JPEG data: N extraneous bytes before marker") are
// common in photo collections, and Pillow loads such files. The one warning Pillow does not pass
// is the data ending early, where libjpeg would fill the rest of the image with gray and Pillow
// refuses the file as truncated: that one is an error.
static void on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

static void setup_errors(error_manager *e, char *message, size_t size) {
    jpeg_std_error(&e->base);
    e->base.error_exit = on_error;
    e->base.emit_message = on_message;
    e->message = message;
    e->message_size = size;
}

int pinpoint_jpeg_decode(const unsigned char *data, size_t size, size_t max_pixels, int header_only,
                         int draft_width, int draft_height,
                         pinpoint_image_info *info, unsigned char **pixels, char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    error_manager err;
    char message[JMSG_LENGTH_MAX] = {0};
    unsigned char *volatile buffer = NULL;
    *pixels = NULL;
    setup_errors(&err, message, sizeof message);
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        snprintf(error, error_size, "%s", message);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->color = cinfo.num_components;
    info->bit_depth = 8;
    info->flag = cinfo.saw_Adobe_marker;
    info->progressive = cinfo.progressive_mode;
    info->decoded_width = info->width;
    info->decoded_height = info->height;
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(error, error_size, "declared size %ux%u exceeds the limit of %zu pixels", cinfo.image_width,
                 cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    if (draft_width > 0 && draft_height > 0) {
        // Pillow's JpegImageFile.draft: the whole-number reduction both sides allow, rounded
        // down to 8, 4, 2 or 1.
        unsigned int fits_x = cinfo.image_width / (unsigned int)draft_width;
        unsigned int fits_y = cinfo.image_height / (unsigned int)draft_height;
        unsigned int fits = fits_x < fits_y ? fits_x : fits_y;
        unsigned int denominator = fits >= 8 ? 8 : fits >= 4 ? 4 : fits >= 2 ? 2 : 1;
        cinfo.scale_num = 1;
        cinfo.scale_denom = denominator;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    buffer = malloc(stride * cinfo.output_height);
    if (!buffer) {
        snprintf(error, error_size, "out of memory for %ux%u pixels", cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    info->color = cinfo.output_components;
    info->decoded_width = (int)cinfo.output_width;
    info->decoded_height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *pixels = buffer;
    return 0;
}

int pinpoint_jpeg_encode(const unsigned char *pixels, int width, int height, int components, int quality,
                         unsigned char **out, size_t *out_size, char *error, size_t error_size) {
    struct jpeg_compress_struct cinfo;
    error_manager err;
    char message[JMSG_LENGTH_MAX] = {0};
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    setup_errors(&err, message, sizeof message);
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        snprintf(error, error_size, "%s", message);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = length;
    return 0;
}
