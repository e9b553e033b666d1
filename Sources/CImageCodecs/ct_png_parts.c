/* ct_png_parts.c — PNG encoding of 8-bit images in independent row ranges that threads compress at
 * the same time, joined into one PNG (the way pigz joins gzip members' deflate data).
 *
 * Each part filters its rows as libpng does by default — no filter for palette images; otherwise, per
 * row, the one of None, Sub, Up, Average and Paeth whose bytes have the smallest sum of |signed byte|
 * (the first on ties) — and deflates them as a raw stream (zlib level `level`, 32 KB window, memLevel 8,
 * Z_FILTERED for filtered rows as libpng; the default strategy otherwise), primed with the last 32 KB of
 * the previous rows' filtered bytes (deflateSetDictionary) so the split costs almost no compression.
 * Every part but the last ends with a sync flush (an empty stored block: byte-aligned, not final), the
 * last with the final block, so the parts concatenate into one deflate stream. ct_png_assemble wraps it
 * in the zlib header and the Adler-32 of all filtered bytes (adler32_combine of the parts'), in IDAT
 * chunks after IHDR (and PLTE), then IEND. The bytes depend on the parts' row ranges, not on which thread
 * compresses which part. */
#include "ct_codecs.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void ct_png_part_free(ct_png_part *part) {
    if (!part) return;
    ct_buffer_free(&part->data);
    part->adler = 1;
    part->length = 0;
}

static void set_message(char *message, const char *text) {
    if (!message) return;
    strncpy(message, text, CT_MESSAGE_CAPACITY - 1);
    message[CT_MESSAGE_CAPACITY - 1] = 0;
}

static int reserve(ct_buffer *b, size_t extra) {
    if (extra > SIZE_MAX - b->size) return 0;
    size_t need = b->size + extra;
    if (need <= b->capacity) return 1;
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < need) capacity = capacity > SIZE_MAX / 2 ? need : capacity * 2;
    uint8_t *grown = (uint8_t *)realloc(b->bytes, capacity);
    if (!grown) return 0;
    b->bytes = grown;
    b->capacity = capacity;
    return 1;
}

static int append(ct_buffer *b, const void *data, size_t n) {
    if (!reserve(b, n)) return 0;
    memcpy(b->bytes + b->size, data, n);
    b->size += n;
    return 1;
}

/* Sum of |signed byte| over a filtered row (the heuristic's cost). */
static unsigned long cost(const uint8_t *v, size_t n) {
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) {
        int x = (int8_t)v[i];
        sum += (unsigned)(x < 0 ? -x : x);
    }
    return sum;
}

/* out[0] = filter type, out[1 ... n] the filtered row; prev is the previous row (zeros for the image's
 * first). cand holds 4 * (n + 1) bytes. Each filter is its own loop (the compiler vectorises them). */
static void filter_row(const uint8_t *row, const uint8_t *prev, size_t n, size_t bpp, int adaptive, uint8_t *out,
                       uint8_t *cand) {
    out[0] = 0;
    memcpy(out + 1, row, n);
    if (!adaptive) return;
    const uint8_t *up_row = prev;
    size_t head = bpp < n ? bpp : n;
    uint8_t *sub = cand + 1, *up = cand + (n + 1) + 1, *avg = cand + 2 * (n + 1) + 1, *pth = cand + 3 * (n + 1) + 1;
    for (size_t i = 0; i < head; i++) { /* a = c = 0 */
        sub[i] = row[i];
        avg[i] = (uint8_t)(row[i] - (up_row[i] >> 1));
        pth[i] = (uint8_t)(row[i] - up_row[i]); /* Paeth(0, b, 0) = b */
    }
    for (size_t i = head; i < n; i++) sub[i] = (uint8_t)(row[i] - row[i - bpp]);
    for (size_t i = 0; i < n; i++) up[i] = (uint8_t)(row[i] - up_row[i]);
    for (size_t i = head; i < n; i++) avg[i] = (uint8_t)(row[i] - ((row[i - bpp] + up_row[i]) >> 1));
    for (size_t i = head; i < n; i++) {
        int a = row[i - bpp], b = up_row[i], c = up_row[i - bpp];
        int p = a + b - c, pa = p - a, pb = p - b, pc = p - c;
        pa = pa < 0 ? -pa : pa;
        pb = pb < 0 ? -pb : pb;
        pc = pc < 0 ? -pc : pc;
        int predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        pth[i] = (uint8_t)(row[i] - predictor);
    }
    unsigned long best = cost(row, n);
    int chosen = -1;
    for (int f = 0; f < 4; f++) {
        unsigned long sum = cost(cand + (size_t)f * (n + 1) + 1, n);
        if (sum < best) { best = sum; chosen = f; }
    }
    if (chosen >= 0) {
        uint8_t *src = cand + (size_t)chosen * (n + 1);
        src[0] = (uint8_t)(chosen + 1);
        memcpy(out, src, n + 1);
    }
}

/* Feeds `n` bytes to the stream (flush as given), appending the output to `out`. */
static int feed(z_stream *z, const uint8_t *data, size_t n, int flush, ct_buffer *out) {
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)n;
    for (;;) {
        if (!reserve(out, 65536)) return 0;
        z->next_out = out->bytes + out->size;
        z->avail_out = 65536;
        int status = deflate(z, flush);
        out->size += 65536 - z->avail_out;
        if (status == Z_STREAM_ERROR) return 0;
        if (flush == Z_FINISH ? status == Z_STREAM_END : (z->avail_in == 0 && z->avail_out != 0)) return 1;
    }
}

bool ct_png_part_compress(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int adaptive, int level,
                          uint32_t row0, uint32_t row1, int last, ct_png_part *part, char *message) {
    part->data.bytes = NULL;
    part->data.size = 0;
    part->data.capacity = 0;
    part->adler = 1;
    part->length = 0;
    if (width == 0 || height == 0 || width > CT_PNG_MAX_SIDE || height > CT_PNG_MAX_SIDE || channels < 1 ||
        channels > 4 || level < 0 || level > 9 || row0 >= row1 || row1 > height || (last && row1 != height)) {
        set_message(message, "PNG part: bad size, channels, level or row range");
        return false;
    }
    size_t n = (size_t)width * (size_t)channels, stride = n + 1;
    uint8_t *work = (uint8_t *)calloc(6, stride); /* the row, 4 candidates, a zero row */
    size_t dictionary_rows = (32768 + stride - 1) / stride, first = row0 > dictionary_rows ? row0 - dictionary_rows : 0;
    uint8_t *dictionary = row0 > 0 ? (uint8_t *)malloc((row0 - first) * stride) : NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    int ok = work && (row0 == 0 || dictionary) &&
             deflateInit2(&z, level, Z_DEFLATED, -15, 8, adaptive ? Z_FILTERED : Z_DEFAULT_STRATEGY) == Z_OK;
    int initialised = ok;
    uint8_t *line = work, *cand = work + stride, *zero = work + 5 * stride;
    if (ok && row0 > 0) { /* the previous rows' filtered bytes, the last 32 KB of them */
        size_t size = 0;
        for (size_t y = first; y < row0; y++) {
            filter_row(pixels + y * n, y > 0 ? pixels + (y - 1) * n : zero, n, (size_t)channels, adaptive,
                       dictionary + size, cand);
            size += stride;
        }
        size_t keep = size < 32768 ? size : 32768;
        ok = deflateSetDictionary(&z, dictionary + size - keep, (uInt)keep) == Z_OK;
    }
    for (size_t y = row0; ok && y < row1; y++) {
        filter_row(pixels + y * n, y > 0 ? pixels + (y - 1) * n : zero, n, (size_t)channels, adaptive, line, cand);
        part->adler = (uint32_t)adler32(part->adler, line, (uInt)stride);
        part->length += stride;
        ok = feed(&z, line, stride, Z_NO_FLUSH, &part->data);
    }
    if (ok) ok = feed(&z, NULL, 0, last ? Z_FINISH : Z_SYNC_FLUSH, &part->data);
    if (initialised) deflateEnd(&z);
    free(work);
    free(dictionary);
    if (!ok) {
        ct_png_part_free(part);
        set_message(message, "PNG part: out of memory or zlib error while compressing");
        return false;
    }
    return true;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static int chunk(ct_buffer *out, const char *type, const uint8_t *data, size_t n) {
    if (n > 0x7FFFFFFFu) return 0;
    uint8_t head[8];
    put32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, data, (uInt)n);
    uint8_t tail[4];
    put32(tail, (uint32_t)crc);
    return append(out, head, 8) && (n == 0 || append(out, data, n)) && append(out, tail, 4);
}

bool ct_png_assemble(uint32_t width, uint32_t height, int color_type, const uint8_t *palette_rgb, int palette_size,
                     int level, const ct_png_part *parts, int count, ct_buffer *out, char *message) {
    out->bytes = NULL;
    out->size = 0;
    out->capacity = 0;
    if (width == 0 || height == 0 || width > CT_PNG_MAX_SIDE || height > CT_PNG_MAX_SIDE || count < 1 ||
        !(color_type == 0 || color_type == 2 || color_type == 3 || color_type == 4 || color_type == 6) ||
        (color_type == 3 && (palette_size < 1 || palette_size > 256 || !palette_rgb)) || level < 0 || level > 9) {
        set_message(message, "PNG assembly: bad size, colour type, palette, level or part count");
        return false;
    }
    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    uint8_t ihdr[13];
    put32(ihdr, width);
    put32(ihdr + 4, height);
    ihdr[8] = 8;
    ihdr[9] = (uint8_t)color_type;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    /* zlib header: deflate with a 32 KB window, FLEVEL as zlib writes it for `level`, no dictionary. */
    unsigned flevel = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
    unsigned cmf = 0x78, flg = flevel << 6;
    flg += 31 - (cmf * 256 + flg) % 31;
    uint8_t header[2] = {(uint8_t)cmf, (uint8_t)flg};
    uLong adler = 1;
    for (int i = 0; i < count; i++) adler = i == 0 ? parts[0].adler : adler32_combine(adler, parts[i].adler, (z_off_t)parts[i].length);
    uint8_t trailer[4];
    put32(trailer, (uint32_t)adler);
    int ok = append(out, signature, 8) && chunk(out, "IHDR", ihdr, 13) &&
             (color_type != 3 || chunk(out, "PLTE", palette_rgb, (size_t)palette_size * 3)) &&
             chunk(out, "IDAT", header, 2);
    for (int i = 0; ok && i < count; i++) /* one IDAT per part, in pieces of at most 1 MB */
        for (size_t at = 0; ok && at < parts[i].data.size; at += 1u << 20) {
            size_t n = parts[i].data.size - at < (1u << 20) ? parts[i].data.size - at : (1u << 20);
            ok = chunk(out, "IDAT", parts[i].data.bytes + at, n);
        }
    ok = ok && chunk(out, "IDAT", trailer, 4) && chunk(out, "IEND", NULL, 0);
    if (!ok) {
        ct_buffer_free(out);
        set_message(message, "PNG assembly: out of memory");
        return false;
    }
    return true;
}
