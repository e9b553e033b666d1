/*
 * ct_codecs.h — the only C code ctpipe owns.
 *
 * libpng and libjpeg report fatal errors by longjmp, which Swift cannot
 * survive. Every function here keeps its setjmp inside its own C frame,
 * never calls back into Swift, and returns false with a human-readable
 * message (the codec's own words) in `message` on failure. No partial
 * output is ever reported as success.
 */
#ifndef CT_CODECS_H
#define CT_CODECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_versions.h"

#define CT_MESSAGE_CAPACITY 256
/* The largest width or height ctpipe encodes or decodes as PNG. */
#define CT_PNG_MAX_SIDE 65535u

/* Bounds on what one decode may use, checked from the header before any
 * pixel or coefficient buffer exists. A zero field means "no bound". */
typedef struct {
    /* Largest accepted width*height. A larger declared size fails with
     * `over_limit` set in the info struct. */
    uint64_t max_pixels;
    /* Largest total the JPEG decoder's memory manager may hand out
     * (libjpeg's max_memory_to_use: progressive coefficient buffers, row
     * buffers); a request beyond it fails ("Insufficient memory" or
     * "Backing store not supported"). Unused by PNG, whose only large buffer
     * is the caller's output. */
    uint64_t max_decoder_memory;
} ct_decode_limits;

/* ---------------------------------------------------------------- PNG ---- */

/* How a PNG is decoded. */
typedef enum {
    /* Samples as stored: palette files give their index plane, grey stays grey,
     * alpha stays, 16-bit stays 16-bit (native byte order), 1/2/4-bit grey is
     * scaled to 8 bit, 1/2/4-bit palette indices are unpacked to one byte. */
    CT_PNG_NATIVE = 0,
    /* 8-bit RGB: palette expanded, grey replicated, alpha and tRNS dropped,
     * 16-bit reduced to its high byte. */
    CT_PNG_RGB8 = 1,
    /* 8-bit RGBA: like RGB8 but tRNS becomes alpha and opaque images get 255. */
    CT_PNG_RGBA8 = 2,
} ct_png_mode;

typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;          /* as stored: 1, 2, 4, 8 or 16 */
    int color_type;         /* PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA */
    int interlace;          /* 0 none, 1 Adam7 */
    int palette_size;       /* entries in PLTE (0 when absent) */
    int has_trns;           /* a tRNS chunk is present */
    int out_channels;       /* channels of the decoded buffer for the requested mode */
    int out_bytes_per_sample; /* 1 or 2 */
    int over_limit;         /* 1 when the declared size exceeds limits.max_pixels */
    uint8_t palette[256 * 3];
    char message[CT_MESSAGE_CAPACITY];
} ct_png_info;

/* Reads the header and works out the decoded layout for `mode`; refuses a
 * declared size beyond `limits` (over_limit set) before any pixel buffer; with
 * `out` not NULL, then decodes the whole image into it (row-major, interleaved, no
 * padding). `capacity` must be at least width*height*out_channels*out_bytes_per_sample.
 * Decoding fails on truncation, CRC errors, bad zlib streams and a missing IEND. */
bool ct_png_read(const uint8_t *data, size_t size, ct_png_mode mode, ct_decode_limits limits,
                 uint8_t *out, size_t capacity, ct_png_info *info);

/* A growable byte buffer owned by C; release with ct_buffer_free. */
typedef struct {
    uint8_t *bytes;
    size_t size;
    size_t capacity;
} ct_buffer;

void ct_buffer_free(ct_buffer *buffer);

/* Encodes one image. color_type: 0 grey (bit_depth 8 or 16), 2 RGB (8),
 * 3 palette (8; palette_rgb holds palette_size RGB triples), 4 grey+alpha,
 * 6 RGBA. 16-bit samples are read in native byte order. level: zlib 0..9. */
bool ct_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height,
                   int color_type, int bit_depth,
                   const uint8_t *palette_rgb, int palette_size,
                   int level, ct_buffer *out, char *message);

/* One row range of an 8-bit image compressed as a piece of a PNG's zlib stream
 * (ct_png_parts.c): its raw deflate bytes, the Adler-32 and count of the
 * filtered bytes it covers. Release with ct_png_part_free. */
typedef struct {
    ct_buffer data;
    uint32_t adler;
    uint64_t length;
} ct_png_part;

void ct_png_part_free(ct_png_part *part);

/* Filters rows [row0, row1) of an 8-bit image (channels interleaved; adaptive:
 * libpng's default choice per row, else no filter as for palette images) and
 * deflates them at `level`, primed with the preceding rows; `last` (row1 ==
 * height) ends the stream, otherwise it ends with a sync flush. Parts of one
 * image may be compressed on different threads at the same time. */
bool ct_png_part_compress(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int adaptive,
                          int level, uint32_t row0, uint32_t row1, int last, ct_png_part *part, char *message);

/* The PNG of an 8-bit image (color_type 0, 2, 3 with its palette, 4, 6) from
 * the compressed parts of all its rows in order. */
bool ct_png_assemble(uint32_t width, uint32_t height, int color_type, const uint8_t *palette_rgb, int palette_size,
                     int level, const ct_png_part *parts, int count, ct_buffer *out, char *message);

/* --------------------------------------------------------------- JPEG ---- */

typedef struct {
    uint32_t width;
    uint32_t height;
    int components;       /* in the file: 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK */
    int color_space;      /* libjpeg J_COLOR_SPACE of the file */
    int progressive;      /* 1 for progressive (SOF2) files */
    int out_channels;     /* 1 or 3 */
    int over_limit;       /* 1 when the declared size exceeds limits.max_pixels */
    char message[CT_MESSAGE_CAPACITY];
} ct_jpeg_info;

/* Reads the header, rejecting CMYK/YCCK files and files of other than 1 or 3
 * components with a clear message, and a declared size beyond `limits`
 * (over_limit set); the decoder's memory manager is capped at
 * limits.max_decoder_memory. With
 * `out` not NULL, then decodes to 8-bit grey (native grey files, want_rgb
 * false) or RGB. Premature end of data and other corruption warnings are failures. */
bool ct_jpeg_read(const uint8_t *data, size_t size, bool want_rgb, ct_decode_limits limits,
                  uint8_t *out, size_t capacity, ct_jpeg_info *info);

/* Encodes 8-bit grey (channels 1) or RGB (channels 3) at quality 1..100. */
bool ct_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                    int quality, ct_buffer *out, char *message);

#endif
