/*
 * ct_jpeg.c — JPEG decode/encode through libjpeg(-turbo), with the setjmp
 * kept in this frame. See ct_codecs.h for the contract.
 */
#include "ct_codecs.h"

#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define CT_JPEG_MAX_SIDE 65500u

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char *message;
    int corrupt; /* a warning that means lost pixel data was emitted */
} ct_jpeg_error_mgr;

static void ct_jpeg_error_exit(j_common_ptr cinfo) {
    ct_jpeg_error_mgr *err = (ct_jpeg_error_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(err->message, CT_MESSAGE_CAPACITY, "%s", text);
    longjmp(err->escape, 1);
}

/* libjpeg reports truncated or damaged entropy data as warnings and pads the
 * image with grey; those are failures for ctpipe. Other warnings are ignored. */
static void ct_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level != -1) return; /* trace messages */
    ct_jpeg_error_mgr *err = (ct_jpeg_error_mgr *)cinfo->err;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC ||
        code == JWRN_HUFF_BAD_CODE || code == JWRN_ARITH_BAD_CODE || code == JWRN_BOGUS_PROGRESSION ||
        code == JWRN_NOT_SEQUENTIAL) {
        if (!err->corrupt) {
            char text[JMSG_LENGTH_MAX];
            (*cinfo->err->format_message)(cinfo, text);
            snprintf(err->message, CT_MESSAGE_CAPACITY, "%s", text);
        }
        err->corrupt = 1;
    }
}

/* Sets up the error manager of one libjpeg call: errors write their text to
 * `message` and longjmp to err->escape (set by the caller, in its own frame). */
static struct jpeg_error_mgr *ct_jpeg_errors(ct_jpeg_error_mgr *err, char *message) {
    memset(err, 0, sizeof *err);
    struct jpeg_error_mgr *base = jpeg_std_error(&err->base);
    err->base.error_exit = ct_jpeg_error_exit;
    err->base.emit_message = ct_jpeg_emit_message;
    err->message = message;
    return base;
}

static void ct_set_message(char *message, const char *text) {
    snprintf(message, CT_MESSAGE_CAPACITY, "%s", text);
}

bool ct_jpeg_read(const uint8_t *data, size_t size, bool want_rgb, ct_decode_limits limits,
                  uint8_t *out, size_t capacity, ct_jpeg_info *info) {
    memset(info, 0, sizeof *info);
    if (size == 0) {
        ct_set_message(info->message, "file is empty");
        return false;
    }
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        ct_set_message(info->message, "not a JPEG file (bad signature)");
        return false;
    }
    struct jpeg_decompress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    ct_jpeg_error_mgr err;
    cinfo.err = ct_jpeg_errors(&err, info->message);
    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    /* Every later allocation of the decoder (progressive coefficient buffers
     * above all, which a few hundred bytes can declare at gigabytes) is
     * counted against this; libjpeg-turbo has no backing store here, so a
     * request beyond it fails instead of allocating. */
    if (limits.max_decoder_memory > 0) {
        cinfo.mem->max_memory_to_use = limits.max_decoder_memory > (uint64_t)LONG_MAX
            ? LONG_MAX : (long)limits.max_decoder_memory;
    }
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->components = cinfo.num_components;
    info->color_space = cinfo.jpeg_color_space;
    info->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        ct_set_message(info->message, "CMYK/YCCK JPEG is not supported; convert the file to RGB first");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (info->width > CT_JPEG_MAX_SIDE || info->height > CT_JPEG_MAX_SIDE) {
        ct_set_message(info->message, "declared image dimensions are too large");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        snprintf(info->message, CT_MESSAGE_CAPACITY,
                 "JPEG with %d components is not supported (1 grey or 3 colour)", cinfo.num_components);
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    uint64_t pixels = (uint64_t)info->width * (uint64_t)info->height; /* both <= 65500: no overflow */
    if (limits.max_pixels > 0 && pixels > limits.max_pixels) {
        snprintf(info->message, CT_MESSAGE_CAPACITY,
                 "declared size %ux%u (%llu pixels) exceeds the limit of %llu pixels",
                 (unsigned)info->width, (unsigned)info->height,
                 (unsigned long long)pixels, (unsigned long long)limits.max_pixels);
        info->over_limit = 1;
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE && !want_rgb) {
        cinfo.out_color_space = JCS_GRAYSCALE;
        info->out_channels = 1;
    } else {
        cinfo.out_color_space = JCS_RGB;
        info->out_channels = 3;
    }
    if (!out) {
        jpeg_destroy_decompress(&cinfo);
        return true;
    }
    jpeg_start_decompress(&cinfo);
    size_t row_bytes = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if (cinfo.output_width != info->width || cinfo.output_height != info->height ||
        cinfo.output_components != info->out_channels) {
        ct_set_message(info->message, "internal: unexpected decoded layout");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (cinfo.output_height > 0 && row_bytes > capacity / cinfo.output_height) {
        ct_set_message(info->message, "output buffer too small for the decoded image");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    /* Stops at the first corruption warning: a truncated file would otherwise
     * be padded to its declared height (touching every page of `out`). */
    while (cinfo.output_scanline < cinfo.output_height && !err.corrupt) {
        JSAMPROW rows[4];
        int n = 0;
        for (; n < 4 && cinfo.output_scanline + (JDIMENSION)n < cinfo.output_height; n++) {
            rows[n] = out + (size_t)(cinfo.output_scanline + n) * row_bytes;
        }
        jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
    }
    if (err.corrupt) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return err.corrupt ? false : true;
}

bool ct_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                    int quality, ct_buffer *out, char *message) {
    if (channels != 1 && channels != 3) {
        ct_set_message(message, "JPEG encoding takes 1 (grey) or 3 (RGB) channels");
        return false;
    }
    if (width == 0 || height == 0 || width > CT_JPEG_MAX_SIDE || height > CT_JPEG_MAX_SIDE) {
        ct_set_message(message, "image dimensions must be 1..65500");
        return false;
    }
    if (quality < 1 || quality > 100) {
        ct_set_message(message, "JPEG quality must be 1..100");
        return false;
    }
    struct jpeg_compress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    ct_jpeg_error_mgr err;
    cinfo.err = ct_jpeg_errors(&err, message);
    /* volatile: read after a longjmp */
    unsigned char *volatile bytes = NULL;
    unsigned long length = 0;
    if (setjmp(err.escape)) {
        jpeg_destroy_compress(&cinfo);
        free(bytes);
        return false;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&bytes, &length);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t row_bytes = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * row_bytes);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    out->bytes = bytes;
    out->size = length;
    out->capacity = length;
    return true;
}
