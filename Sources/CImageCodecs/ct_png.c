/*
 * ct_png.c — PNG decode/encode through libpng's full API, with the setjmp
 * kept in this frame. See ct_codecs.h for the contract.
 */
#include "ct_codecs.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared dimensions beyond this are rejected before any allocation. */
/* Ancillary-chunk bounds (libpng's chunk cache and per-chunk allocation). */
#define CT_PNG_CHUNK_CACHE_MAX 1000u
#define CT_PNG_CHUNK_MALLOC_MAX (8u * 1024u * 1024u)

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} ct_reader;

typedef struct {
    char *message;
    /* What was being read when libpng failed, prefixed to its words so that
     * "IDAT: CRC error" reads as "corrupt image data: IDAT: CRC error". */
    const char *context;
} ct_png_error_state;

static void ct_png_error(png_structp png, png_const_charp text) {
    ct_png_error_state *state = (ct_png_error_state *)png_get_error_ptr(png);
    if (state && state->message) {
        snprintf(state->message, CT_MESSAGE_CAPACITY, "%s%s", state->context ? state->context : "", text);
    }
    png_longjmp(png, 1);
}

static void ct_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text; /* ancillary-chunk warnings do not affect pixels */
}

static void ct_png_read_fn(png_structp png, png_bytep out, png_size_t length) {
    ct_reader *reader = (ct_reader *)png_get_io_ptr(png);
    if (reader->offset + length > reader->size) {
        png_error(png, "file is truncated (unexpected end of data)");
    }
    memcpy(out, reader->data + reader->offset, length);
    reader->offset += length;
}

static void ct_set_message(char *message, const char *text) {
    snprintf(message, CT_MESSAGE_CAPACITY, "%s", text);
}

/* Applies the transformations for `mode` and fills the layout fields of info.
 * Must run after png_read_info. */
static void ct_png_configure(png_structp png, png_infop pinfo, ct_png_mode mode, ct_png_info *info) {
    int color_type = png_get_color_type(png, pinfo);
    int bit_depth = png_get_bit_depth(png, pinfo);

    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    info->bit_depth = bit_depth;
    info->color_type = color_type;
    info->interlace = png_get_interlace_type(png, pinfo) == PNG_INTERLACE_ADAM7 ? 1 : 0;
    info->has_trns = png_get_valid(png, pinfo, PNG_INFO_tRNS) ? 1 : 0;
    info->palette_size = 0;
    memset(info->palette, 0, sizeof info->palette);
    if (png_get_valid(png, pinfo, PNG_INFO_PLTE)) {
        png_colorp palette = NULL;
        int count = 0;
        png_get_PLTE(png, pinfo, &palette, &count);
        info->palette_size = count;
        for (int i = 0; i < count && i < 256; i++) {
            info->palette[3 * i + 0] = palette[i].red;
            info->palette[3 * i + 1] = palette[i].green;
            info->palette[3 * i + 2] = palette[i].blue;
        }
    }

    switch (mode) {
    case CT_PNG_NATIVE:
        if (color_type == PNG_COLOR_TYPE_PALETTE && bit_depth < 8) png_set_packing(png);
        if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (bit_depth == 16) png_set_swap(png); /* to little-endian host order */
        break;
    case CT_PNG_RGB8:
    case CT_PNG_RGBA8:
        if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (bit_depth == 16) png_set_strip_16(png);
        if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        if (mode == CT_PNG_RGB8) {
            /* png_set_palette_to_rgb also expands tRNS to alpha: strip that too. */
            if ((color_type & PNG_COLOR_MASK_ALPHA) || (color_type == PNG_COLOR_TYPE_PALETTE && info->has_trns))
                png_set_strip_alpha(png);
        } else {
            if (info->has_trns) png_set_tRNS_to_alpha(png);
            else if (!(color_type & PNG_COLOR_MASK_ALPHA)) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
        }
        break;
    }
    if (info->interlace) png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    info->out_channels = png_get_channels(png, pinfo);
    info->out_bytes_per_sample = png_get_bit_depth(png, pinfo) == 16 ? 2 : 1;
}

/* True (with the message and over_limit set) when width*height exceeds the pixel limit. */
static bool ct_png_over_limit(uint32_t width, uint32_t height, ct_decode_limits limits, ct_png_info *info) {
    uint64_t pixels = (uint64_t)width * (uint64_t)height; /* 32 x 32 bits: no overflow */
    if (limits.max_pixels == 0 || pixels <= limits.max_pixels) return false;
    info->width = width;
    info->height = height;
    snprintf(info->message, CT_MESSAGE_CAPACITY, "declared size %ux%u (%llu pixels) exceeds the limit of %llu pixels",
             (unsigned)width, (unsigned)height, (unsigned long long)pixels, (unsigned long long)limits.max_pixels);
    info->over_limit = 1;
    return true;
}

bool ct_png_read(const uint8_t *data, size_t size, ct_png_mode mode, ct_decode_limits limits,
                 uint8_t *out, size_t capacity, ct_png_info *info) {
    memset(info, 0, sizeof *info);
    if (size == 0) {
        ct_set_message(info->message, "file is empty");
        return false;
    }
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        ct_set_message(info->message, "not a PNG file (bad signature)");
        return false;
    }
    /* The IHDR must come first (libpng refuses anything else): its declared
     * size is checked against the pixel limit here, before libpng exists. */
    if (limits.max_pixels > 0 && size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = ((uint32_t)data[16] << 24) | ((uint32_t)data[17] << 16) | ((uint32_t)data[18] << 8) | data[19];
        uint32_t h = ((uint32_t)data[20] << 24) | ((uint32_t)data[21] << 16) | ((uint32_t)data[22] << 8) | data[23];
        if (ct_png_over_limit(w, h, limits, info)) return false;
    }
    ct_png_error_state state = {info->message, "invalid PNG header: "};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, ct_png_error, ct_png_warning);
    if (!png) {
        ct_set_message(info->message, "libpng: out of memory");
        return false;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        ct_set_message(info->message, "libpng: out of memory");
        return false;
    }
    /* Row pointers are allocated inside the protected region; volatile so the
     * value survives the longjmp and can be freed. */
    png_bytep *volatile rows = NULL;
    ct_reader reader = {data, size, 0};
    if (setjmp(png_jmpbuf(png))) {
        free((void *)rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return false;
    }
    /* No side can exceed the pixel limit either; libpng refuses a larger
     * IHDR itself, before it allocates anything for the image. */
    uint32_t side = CT_PNG_MAX_SIDE;
    if (limits.max_pixels > 0 && limits.max_pixels < side) side = (uint32_t)limits.max_pixels;
    png_set_user_limits(png, side, side);
    /* Ancillary chunks: at most this many kept (text, unknown, sPLT), and no
     * chunk (or decompressed iCCP/zTXt/iTXt payload) larger than this. */
    png_set_chunk_cache_max(png, CT_PNG_CHUNK_CACHE_MAX);
    png_set_chunk_malloc_max(png, CT_PNG_CHUNK_MALLOC_MAX);
    png_set_read_fn(png, &reader, ct_png_read_fn);
    png_read_info(png, pinfo);
    if (ct_png_over_limit(png_get_image_width(png, pinfo), png_get_image_height(png, pinfo), limits, info)) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return false;
    }
    ct_png_configure(png, pinfo, mode, info);
    state.context = "corrupt image data: ";

    if (out) {
        size_t row_bytes = (size_t)info->width * (size_t)info->out_channels * (size_t)info->out_bytes_per_sample;
        if (png_get_rowbytes(png, pinfo) != row_bytes) {
            png_error(png, "internal: unexpected decoded row size");
        }
        if ((size_t)info->height > 0 && row_bytes > capacity / (size_t)info->height) {
            png_error(png, "output buffer too small for the decoded image");
        }
        rows = (png_bytep *)malloc(sizeof(png_bytep) * info->height);
        if (!rows) png_error(png, "out of memory for row pointers");
        for (uint32_t y = 0; y < info->height; y++) rows[y] = out + (size_t)y * row_bytes;
        png_read_image(png, rows);
        state.context = "corrupt data after the image: ";
        png_read_end(png, NULL); /* checks the trailing chunks' CRCs and IEND */
        free((void *)rows);
        rows = NULL;
    }
    png_destroy_read_struct(&png, &pinfo, NULL);
    return true;
}

/* ------------------------------------------------------------ encoding ---- */

void ct_buffer_free(ct_buffer *buffer) {
    if (!buffer) return;
    free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}

static void ct_png_write_fn(png_structp png, png_bytep data, png_size_t length) {
    ct_buffer *buffer = (ct_buffer *)png_get_io_ptr(png);
    if (buffer->size + length > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->size + length) capacity *= 2;
        uint8_t *grown = (uint8_t *)realloc(buffer->bytes, capacity);
        if (!grown) png_error(png, "out of memory while writing PNG");
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->size, data, length);
    buffer->size += length;
}

static void ct_png_flush_fn(png_structp png) { (void)png; }

bool ct_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height,
                   int color_type, int bit_depth,
                   const uint8_t *palette_rgb, int palette_size,
                   int level, ct_buffer *out, char *message) {
    int channels;
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: channels = 1; break;
    case PNG_COLOR_TYPE_RGB: channels = 3; break;
    case PNG_COLOR_TYPE_PALETTE: channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
    default: ct_set_message(message, "unsupported PNG colour type for encoding"); return false;
    }
    if (bit_depth != 8 && !(bit_depth == 16 && color_type != PNG_COLOR_TYPE_PALETTE)) {
        ct_set_message(message, "unsupported bit depth for encoding (8, or 16 for non-palette images)");
        return false;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE && (palette_size < 1 || palette_size > 256 || !palette_rgb)) {
        ct_set_message(message, "a palette PNG needs 1 to 256 palette colours");
        return false;
    }
    if (width == 0 || height == 0 || width > CT_PNG_MAX_SIDE || height > CT_PNG_MAX_SIDE) {
        ct_set_message(message, "image dimensions must be 1..65535");
        return false;
    }
    if (level < 0 || level > 9) {
        ct_set_message(message, "compression level must be 0..9");
        return false;
    }
    ct_png_error_state state = {message, ""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, ct_png_error, ct_png_warning);
    if (!png) { ct_set_message(message, "libpng: out of memory"); return false; }
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_write_struct(&png, NULL);
        ct_set_message(message, "libpng: out of memory");
        return false;
    }
    out->bytes = NULL; out->size = 0; out->capacity = 0;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        ct_buffer_free(out);
        return false;
    }
    png_set_write_fn(png, out, ct_png_write_fn, ct_png_flush_fn);
    png_set_compression_level(png, level);
    /* libpng's zlib defaults for filtered rows (Z_FILTERED, memLevel 8) are
     * kept: measured against Z_DEFAULT_STRATEGY they give ~10% smaller files
     * of photos at about the same speed as Pillow's encoder (BENCHMARKS.md). */
    png_set_IHDR(png, pinfo, width, height, bit_depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color colors[256];
        for (int i = 0; i < palette_size; i++) {
            colors[i].red = palette_rgb[3 * i];
            colors[i].green = palette_rgb[3 * i + 1];
            colors[i].blue = palette_rgb[3 * i + 2];
        }
        png_set_PLTE(png, pinfo, colors, palette_size);
    }
    png_write_info(png, pinfo);
    if (bit_depth == 16) png_set_swap(png);
    size_t row_bytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    for (uint32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * row_bytes));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    return true;
}
