/* image_io.c: reading PNG (libpng), JPEG (libjpeg-turbo) and PGM/PPM (by hand) into one 8-bit
 * grey image, and writing a grey PNG. The format comes from the magic bytes, never the file name.
 * Every decoder checks width and height against MN_IMAGE_MAX_SIDE before it allocates pixels and
 * turns every library error into a status and a message (no library may print or exit).
 * Left out: gamma and colour profiles (a digit does not need them), GIF, BMP, PBM and PAM. */
#include "internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* Rec. 601 luma, rounded. */
static inline uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

/* Grey `y` seen through alpha `a` over a white page. */
static inline uint8_t over_white(unsigned y, unsigned a)
{
    return (uint8_t)((y * a + 255u * (255u - a) + 127u) / 255u);
}

/* Converts n pixels of 1 (G), 2 (GA), 3 (RGB) or 4 (RGBA) 8-bit channels to grey. */
static void to_grey(uint8_t *dst, const uint8_t *src, size_t n, int channels)
{
    for (size_t i = 0; i < n; i++, src += channels) {
        switch (channels) {
        case 1: dst[i] = src[0]; break;
        case 2: dst[i] = over_white(src[0], src[1]); break;
        case 3: dst[i] = luma(src[0], src[1], src[2]); break;
        default: dst[i] = over_white(luma(src[0], src[1], src[2]), src[3]); break;
        }
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static mn_status check_sides(const char *name, const char *format, uint64_t w, uint64_t h)
{
    if (w == 0 || h == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: %s image has a zero size (%llux%llu)", name, format,
                       (unsigned long long)w, (unsigned long long)h);
    if (w > MN_IMAGE_MAX_SIDE || h > MN_IMAGE_MAX_SIDE)
        return mn_fail(MN_ERR_LIMIT, "%s: %s image is %llux%llu, over the limit of %d pixels a side",
                       name, format, (unsigned long long)w, (unsigned long long)h,
                       MN_IMAGE_MAX_SIDE);
    return MN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                        */

static const uint8_t k_png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Everything the decoder must free after a longjmp lives on the heap, not in locals. */
typedef struct png_ctx {
    jmp_buf jmp;
    char msg[256];
    bool truncated;
    const uint8_t *data;
    size_t size, pos;
    png_structp png;
    png_infop info;
    uint8_t *rows;       /* decoded rows (one row, or all of them when interlaced) */
    png_bytep *row_ptrs; /* for interlaced images */
    uint8_t *grey;
} png_ctx;

static void png_error_cb(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) {
        c->truncated = true;
        png_error(png, "the file ends early");
    }
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static void png_ctx_free(png_ctx *c)
{
    if (c->png)
        png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    free(c->rows);
    free(c->row_ptrs);
    free(c->grey);
    free(c);
}

static mn_status decode_png(const uint8_t *data, size_t size, const char *name, mn_image *out)
{
    /* IHDR is the first chunk: check the size before libpng allocates anything for it. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        mn_status s = check_sides(name, "PNG", be32(data + 16), be32(data + 20));
        if (s == MN_ERR_LIMIT)
            return s;
    }
    png_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", name);
    c->data = data;
    c->size = size;
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_error_cb, png_warning_cb);
    if (!c->png) {
        free(c);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory (libpng)", name);
    }
    if (setjmp(c->jmp)) {
        mn_status s = c->truncated
                          ? mn_fail(MN_ERR_FORMAT, "%s: truncated PNG (the file ends early)", name)
                          : mn_fail(MN_ERR_FORMAT, "%s: bad PNG: %s", name, c->msg);
        png_ctx_free(c);
        return s;
    }
    c->info = png_create_info_struct(c->png);
    if (!c->info)
        png_error(c->png, "out of memory");
    png_set_read_fn(c->png, c, png_read_cb);
    png_read_info(c->png, c->info);

    png_uint_32 w, h;
    int depth, color_type, interlace;
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &color_type, &interlace, NULL, NULL);
    mn_status s = check_sides(name, "PNG", w, h);
    if (s != MN_OK) {
        png_ctx_free(c);
        return s;
    }
    png_set_expand(c->png);   /* palette -> RGB, grey < 8 bits -> 8 bits, tRNS -> alpha */
    png_set_scale_16(c->png); /* 16 -> 8 bits, rounded */
    int passes = png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    int channels = png_get_channels(c->png, c->info);
    size_t rowbytes = png_get_rowbytes(c->png, c->info);
    if (channels < 1 || channels > 4 || png_get_bit_depth(c->png, c->info) != 8 ||
        rowbytes != (size_t)w * (size_t)channels)
        png_error(c->png, "unexpected pixel layout after conversion");

    size_t npix = (size_t)w * h;
    c->grey = malloc(npix);
    size_t nrows = passes > 1 ? h : 1;
    c->rows = malloc(rowbytes * nrows);
    if (!c->grey || !c->rows) {
        png_ctx_free(c);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory for a %ux%u PNG", name, (unsigned)w,
                       (unsigned)h);
    }
    if (passes > 1) {
        c->row_ptrs = malloc(sizeof(png_bytep) * h);
        if (!c->row_ptrs) {
            png_ctx_free(c);
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", name);
        }
        for (png_uint_32 y = 0; y < h; y++)
            c->row_ptrs[y] = c->rows + rowbytes * y;
        png_read_image(c->png, c->row_ptrs);
        to_grey(c->grey, c->rows, npix, channels);
    } else {
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(c->png, c->rows, NULL);
            to_grey(c->grey + (size_t)w * y, c->rows, w, channels);
        }
    }
    /* The chunks after the image data (IEND, text) are not needed, so they are not read. */
    out->width = w;
    out->height = h;
    out->pixels = c->grey;
    c->grey = NULL;
    png_ctx_free(c);
    return MN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                       */

#define MN_JPEG_MAX_SCANS 256                 /* a real progressive file has about ten */
#define MN_JPEG_MAX_MEMORY (512L * 1024 * 1024) /* libjpeg's working memory */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr err; /* first, so a j_common_ptr's err is this struct */
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX + 64];
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    bool created;
    uint8_t *row;
    uint8_t *grey;
} jpeg_ctx;

static void jpeg_error_exit_cb(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(c->msg, sizeof c->msg, "bad JPEG: %s", buf);
    longjmp(c->jmp, 1);
}

/* Warnings are not printed. Running out of data is an error here, although libjpeg would
 * carry on and fill the rest of the picture with grey. */
static void jpeg_emit_message_cb(j_common_ptr cinfo, int level)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (level < 0) {
        c->err.num_warnings++;
        if (c->err.msg_code == JWRN_JPEG_EOF) {
            snprintf(c->msg, sizeof c->msg, "truncated JPEG (the file ends early)");
            longjmp(c->jmp, 1);
        }
    }
}

static void jpeg_output_message_cb(j_common_ptr cinfo) { (void)cinfo; }

static void jpeg_progress_cb(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (c->cinfo.input_scan_number > MN_JPEG_MAX_SCANS) {
        snprintf(c->msg, sizeof c->msg, "bad JPEG: more than %d scans", MN_JPEG_MAX_SCANS);
        longjmp(c->jmp, 1);
    }
}

static void jpeg_ctx_free(jpeg_ctx *c)
{
    if (c->created)
        jpeg_destroy_decompress(&c->cinfo);
    free(c->row);
    free(c->grey);
    free(c);
}

static mn_status decode_jpeg(const uint8_t *data, size_t size, const char *name, mn_image *out)
{
    jpeg_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", name);
    c->cinfo.err = jpeg_std_error(&c->err);
    c->err.error_exit = jpeg_error_exit_cb;
    c->err.emit_message = jpeg_emit_message_cb;
    c->err.output_message = jpeg_output_message_cb;
    if (setjmp(c->jmp)) {
        mn_status s = mn_fail(MN_ERR_FORMAT, "%s: %s", name, c->msg);
        jpeg_ctx_free(c);
        return s;
    }
    jpeg_create_decompress(&c->cinfo);
    c->created = true;
    c->cinfo.mem->max_memory_to_use = MN_JPEG_MAX_MEMORY;
    c->progress.progress_monitor = jpeg_progress_cb;
    c->cinfo.progress = &c->progress;
    jpeg_mem_src(&c->cinfo, data, (unsigned long)size);
    jpeg_read_header(&c->cinfo, TRUE);
    mn_status s = check_sides(name, "JPEG", c->cinfo.image_width, c->cinfo.image_height);
    if (s != MN_OK) {
        jpeg_ctx_free(c);
        return s;
    }
    bool cmyk = false;
    switch (c->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr: /* JPEG's Y is Rec. 601 luma already */
    case JCS_RGB: c->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK:
        c->cinfo.out_color_space = JCS_CMYK;
        cmyk = true;
        break;
    default: {
        s = mn_fail(MN_ERR_FORMAT, "%s: JPEG with an unsupported colour space (%d components)",
                    name, c->cinfo.num_components);
        jpeg_ctx_free(c);
        return s;
    }
    }
    jpeg_start_decompress(&c->cinfo);
    uint32_t w = c->cinfo.output_width, h = c->cinfo.output_height;
    int comps = c->cinfo.output_components;
    s = check_sides(name, "JPEG", w, h);
    if (s == MN_OK && comps != (cmyk ? 4 : 1))
        s = mn_fail(MN_ERR_FORMAT, "%s: JPEG decodes to %d components", name, comps);
    if (s != MN_OK) {
        jpeg_ctx_free(c);
        return s;
    }
    c->grey = malloc((size_t)w * h);
    c->row = malloc((size_t)w * (size_t)comps);
    if (!c->grey || !c->row) {
        jpeg_ctx_free(c);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory for a %ux%u JPEG", name, (unsigned)w,
                       (unsigned)h);
    }
    /* Adobe writes CMYK inverted (0 = full ink); others write it plainly. */
    bool inverted = c->cinfo.saw_Adobe_marker;
    while (c->cinfo.output_scanline < h) {
        uint32_t y = c->cinfo.output_scanline;
        JSAMPROW rowp = c->row;
        if (jpeg_read_scanlines(&c->cinfo, &rowp, 1) != 1) {
            snprintf(c->msg, sizeof c->msg, "bad JPEG: no progress at row %u", (unsigned)y);
            longjmp(c->jmp, 1);
        }
        uint8_t *dst = c->grey + (size_t)w * y;
        if (!cmyk) {
            memcpy(dst, c->row, w);
            continue;
        }
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *p = c->row + 4 * (size_t)x;
            unsigned cc = p[0], m = p[1], yy = p[2], k = p[3];
            if (!inverted) {
                cc = 255 - cc, m = 255 - m, yy = 255 - yy, k = 255 - k;
            }
            /* now 255 = no ink: r = (1 - C)(1 - K) */
            dst[x] = luma(cc * k / 255, m * k / 255, yy * k / 255);
        }
    }
    /* The trailer after the last scan line is not needed, so it is not read. */
    out->width = w;
    out->height = h;
    out->pixels = c->grey;
    c->grey = NULL;
    jpeg_ctx_free(c);
    return MN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PGM / PPM (Netpbm P2, P3, P5, P6)                                                         */

typedef struct pnm_reader {
    const uint8_t *p;
    size_t size, pos;
    const char *name;
} pnm_reader;

static bool pnm_is_space(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Skips white space and comments ('#' to the end of the line). */
static void pnm_skip(pnm_reader *r)
{
    while (r->pos < r->size) {
        uint8_t ch = r->p[r->pos];
        if (pnm_is_space(ch)) {
            r->pos++;
        } else if (ch == '#') {
            while (r->pos < r->size && r->p[r->pos] != '\n' && r->p[r->pos] != '\r')
                r->pos++;
        } else {
            break;
        }
    }
}

/* Reads one decimal number in 0..max. `what` names it in messages. Numbers over `max` fail
 * with `over` (MN_ERR_LIMIT for the sides, MN_ERR_FORMAT otherwise). */
static mn_status pnm_number(pnm_reader *r, const char *what, uint32_t max, mn_status over,
                            uint32_t *out)
{
    pnm_skip(r);
    if (r->pos >= r->size)
        return mn_fail(MN_ERR_FORMAT, "%s: truncated PGM/PPM: the file ends before the %s",
                       r->name, what);
    uint8_t ch = r->p[r->pos];
    if (ch == '-')
        return mn_fail(MN_ERR_FORMAT, "%s: bad PGM/PPM: negative %s", r->name, what);
    if (ch < '0' || ch > '9')
        return mn_fail(MN_ERR_FORMAT, "%s: bad PGM/PPM: expected the %s, found byte 0x%02x",
                       r->name, what, ch);
    uint64_t v = 0;
    while (r->pos < r->size && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
        v = v * 10 + (uint64_t)(r->p[r->pos] - '0');
        if (v > max) {
            if (over == MN_ERR_LIMIT)
                return mn_fail(MN_ERR_LIMIT, "%s: PGM/PPM %s is over the limit of %u", r->name,
                               what, (unsigned)max);
            return mn_fail(MN_ERR_FORMAT, "%s: bad PGM/PPM: %s is over %u", r->name, what,
                           (unsigned)max);
        }
        r->pos++;
    }
    if (r->pos < r->size && !pnm_is_space(r->p[r->pos]) && r->p[r->pos] != '#')
        return mn_fail(MN_ERR_FORMAT, "%s: bad PGM/PPM: the %s is followed by byte 0x%02x",
                       r->name, what, r->p[r->pos]);
    *out = (uint32_t)v;
    return MN_OK;
}

static mn_status decode_pnm(const uint8_t *data, size_t size, const char *name, mn_image *out)
{
    pnm_reader r = {data, size, 2, name};
    char kind = (char)data[1];
    bool ascii = kind == '2' || kind == '3';
    int channels = (kind == '3' || kind == '6') ? 3 : 1;
    const char *fmt = channels == 3 ? "PPM" : "PGM";
    uint32_t w, h, maxval;
    mn_status s;
    if ((s = pnm_number(&r, "width", MN_IMAGE_MAX_SIDE, MN_ERR_LIMIT, &w)) != MN_OK ||
        (s = pnm_number(&r, "height", MN_IMAGE_MAX_SIDE, MN_ERR_LIMIT, &h)) != MN_OK ||
        (s = pnm_number(&r, "maxval", 65535, MN_ERR_FORMAT, &maxval)) != MN_OK)
        return s;
    if (w == 0 || h == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: bad %s: zero size (%ux%u)", name, fmt, (unsigned)w,
                       (unsigned)h);
    if (maxval == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: bad %s: maxval is 0 (must be 1 to 65535)", name, fmt);

    size_t npix = (size_t)w * h, nsamples = npix * (size_t)channels;
    size_t bps = maxval > 255 ? 2 : 1;
    if (!ascii) {
        /* exactly one white-space byte separates the header from the raster */
        if (r.pos >= size || !pnm_is_space(data[r.pos]))
            return mn_fail(MN_ERR_FORMAT, "%s: truncated %s: no pixels after the header", name,
                           fmt);
        r.pos++;
        if (size - r.pos < nsamples * bps)
            return mn_fail(MN_ERR_FORMAT,
                           "%s: truncated %s: too few pixels (%zu of %zu bytes for %ux%u)", name,
                           fmt, size - r.pos, nsamples * bps, (unsigned)w, (unsigned)h);
    } else if ((size - r.pos) / 2 + 1 < nsamples) {
        /* each sample takes a digit and a separator: refuse before allocating */
        return mn_fail(MN_ERR_FORMAT, "%s: truncated %s: too few pixels for %ux%u", name, fmt,
                       (unsigned)w, (unsigned)h);
    }

    uint8_t *grey = malloc(npix);
    if (!grey)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory for a %ux%u %s", name, (unsigned)w,
                       (unsigned)h, fmt);
    const uint8_t *raster = data + r.pos;
    uint32_t half = maxval / 2;
    for (size_t i = 0; i < npix; i++) {
        unsigned rgb[3];
        for (int c = 0; c < channels; c++) {
            uint32_t v;
            if (ascii) {
                pnm_skip(&r);
                if (r.pos >= size) {
                    free(grey);
                    return mn_fail(MN_ERR_FORMAT,
                                   "%s: truncated %s: too few pixels (%zu of %zu samples)", name,
                                   fmt, i * (size_t)channels + (size_t)c, nsamples);
                }
                s = pnm_number(&r, "sample", maxval, MN_ERR_FORMAT, &v);
                if (s != MN_OK) {
                    free(grey);
                    return s;
                }
            } else {
                size_t k = i * (size_t)channels + (size_t)c;
                v = bps == 1 ? raster[k] : (uint32_t)raster[2 * k] << 8 | raster[2 * k + 1];
                if (v > maxval) {
                    free(grey);
                    return mn_fail(MN_ERR_FORMAT, "%s: bad %s: sample %zu is %u, over maxval %u",
                                   name, fmt, k, (unsigned)v, (unsigned)maxval);
                }
            }
            rgb[c] = (unsigned)(((uint64_t)v * 255 + half) / maxval);
        }
        grey[i] = channels == 1 ? (uint8_t)rgb[0] : luma(rgb[0], rgb[1], rgb[2]);
    }
    out->width = w;
    out->height = h;
    out->pixels = grey;
    return MN_OK;
}

/* ------------------------------------------------------------------------------------------ */

mn_status mn_image_decode(const uint8_t *data, size_t size, const char *name, mn_image *out)
{
    if (!name)
        name = "image";
    if (!out || (!data && size))
        return mn_fail(MN_ERR_ARG, "%s: mn_image_decode needs data and an output image", name);
    if (size == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: empty file, not an image", name);
    if (size >= 8 && memcmp(data, k_png_sig, 8) == 0)
        return decode_png(data, size, name, out);
    if (size < 8 && memcmp(data, k_png_sig, size) == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: truncated PNG (the file ends early)", name);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, size, name, out);
    if (size >= 3 && data[0] == 'P' &&
        (data[1] == '2' || data[1] == '3' || data[1] == '5' || data[1] == '6') &&
        (pnm_is_space(data[2]) || data[2] == '#'))
        return decode_pnm(data, size, name, out);
    return mn_fail(MN_ERR_FORMAT, "%s: not a PNG, JPEG or PGM/PPM image", name);
}

mn_status mn_image_load(const char *path, mn_image *out)
{
    if (!path || !out)
        return mn_fail(MN_ERR_ARG, "mn_image_load needs a path and an output image");
    uint8_t *data;
    size_t size;
    mn_status s = mn_read_file(path, MN_DEFAULT_MAX_BYTES, &data, &size);
    if (s != MN_OK)
        return s;
    s = mn_image_decode(data, size, path, out);
    free(data);
    return s;
}

void mn_image_free(mn_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                    */

typedef struct png_wctx {
    jmp_buf jmp;
    char msg[256];
    png_structp png;
    png_infop info;
} png_wctx;

static void png_werror_cb(png_structp png, png_const_charp msg)
{
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

mn_status mn_image_save_png(const char *path, const mn_image *image)
{
    if (!path || !image || !image->pixels || image->width == 0 || image->height == 0 ||
        image->width > PNG_UINT_31_MAX || image->height > PNG_UINT_31_MAX)
        return mn_fail(MN_ERR_ARG, "%s: cannot save an empty image", path ? path : "(null)");
    mn_atomic_file af;
    mn_status s = mn_atomic_open(&af, path);
    if (s != MN_OK)
        return s;
    png_wctx *c = calloc(1, sizeof *c);
    if (!c) {
        mn_atomic_abort(&af);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    }
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_werror_cb, png_warning_cb);
    if (c->png)
        c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info) {
        png_destroy_write_struct(&c->png, c->info ? &c->info : NULL);
        free(c);
        mn_atomic_abort(&af);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory (libpng)", path);
    }
    if (setjmp(c->jmp)) {
        s = mn_fail(MN_ERR_IO, "%s: cannot write PNG: %s", path, c->msg);
        png_destroy_write_struct(&c->png, &c->info);
        free(c);
        mn_atomic_abort(&af);
        return s;
    }
    png_init_io(c->png, af.fp);
    png_set_IHDR(c->png, c->info, image->width, image->height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->info);
    for (uint32_t y = 0; y < image->height; y++)
        png_write_row(c->png, image->pixels + (size_t)image->width * y);
    png_write_end(c->png, NULL);
    png_destroy_write_struct(&c->png, &c->info);
    free(c);
    return mn_atomic_commit(&af);
}
