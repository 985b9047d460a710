/* test_image.c: the image readers (PNG, JPEG, PGM/PPM, written here with libpng and libjpeg or
 * by hand, good and broken), the PNG writer, and the MNIST-like preprocessing, including a round
 * trip of real MNIST digits through "a photo of a digit on paper" and back. */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <jpeglib.h>

static const char *g_tmp;

static const char *tmp_path(const char *name)
{
    static char path[2][1200];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", g_tmp, name);
    return path[which];
}

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Writers of test images in memory                                                            */

typedef struct membuf {
    uint8_t *data;
    size_t size, cap;
} membuf;

static void membuf_put(png_structp png, png_bytep data, size_t n)
{
    membuf *b = png_get_io_ptr(png);
    if (b->size + n > b->cap) {
        size_t cap = (b->size + n) * 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            png_error(png, "out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void membuf_flush(png_structp png) { (void)png; }

/* A PNG of w x h pixels with the given colour type and bit depth. `samples` holds one value
 * per channel (16-bit values when depth is 16), or palette indices for PNG_COLOR_TYPE_PALETTE
 * with `palette`/`trans` (may be NULL) of n_palette entries. interlace: Adam7 if true. */
static membuf make_png(int w, int h, int color_type, int depth, const uint16_t *samples,
                       const png_color *palette, const uint8_t *trans, int n_palette,
                       bool interlace)
{
    membuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "make_png failed\n");
        exit(2);
    }
    png_set_write_fn(png, &b, membuf_put, membuf_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_PLTE(png, info, palette, n_palette);
        if (trans)
            png_set_tRNS(png, info, trans, n_palette, NULL);
    }
    png_write_info(png, info);
    int ch = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
             : color_type == PNG_COLOR_TYPE_GRAY_ALPHA                                  ? 2
             : color_type == PNG_COLOR_TYPE_RGB                                         ? 3
                                                                                        : 4;
    int bytes = depth == 16 ? 2 : 1;
    uint8_t *rows = calloc((size_t)w * ch * bytes * h, 1);
    png_bytep *ptrs = malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; y++) {
        ptrs[y] = rows + (size_t)y * w * ch * bytes;
        for (int k = 0; k < w * ch; k++) {
            uint16_t v = samples[(size_t)y * w * ch + k];
            if (bytes == 2) {
                ptrs[y][2 * k] = (uint8_t)(v >> 8);
                ptrs[y][2 * k + 1] = (uint8_t)v;
            } else {
                ptrs[y][k] = (uint8_t)v;
            }
        }
    }
    png_write_image(png, ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(ptrs);
    return b;
}

/* A baseline (or progressive) JPEG of grey (components 1) or RGB (3) pixels. */
static membuf make_jpeg(int w, int h, int components, const uint8_t *pixels, int quality,
                        bool progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long out_size = 0;
    jpeg_mem_dest(&c, &out, &out_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    membuf b = {out, out_size, out_size};
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoding good files                                                                         */

static uint8_t luma601(int r, int g, int b) { return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000); }

static void check_image(const mn_image *im, uint32_t w, uint32_t h, const uint8_t *want, int tol,
                        const char *what)
{
    CHECK(im->width == w && im->height == h, "%s: size %ux%u, want %ux%u", what,
          (unsigned)im->width, (unsigned)im->height, (unsigned)w, (unsigned)h);
    if (im->width != w || im->height != h || !im->pixels)
        return;
    int worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        int d = abs((int)im->pixels[i] - (int)want[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    CHECK(worst <= tol, "%s: pixel %zu is %d, want %d (tolerance %d)", what, at,
          im->pixels[at], want[at], tol);
}

static void test_png(void)
{
    mn_image im;
    enum { W = 5, H = 3 };
    uint16_t grey[W * H], rgb[W * H * 3], rgba[W * H * 4], ga[W * H * 2], g16[W * H],
        rgb16[W * H * 3];
    uint8_t want[W * H], want_a[W * H], want_ga[W * H], want16[W * H], want_rgb16[W * H];
    for (int i = 0; i < W * H; i++) {
        grey[i] = (uint16_t)(i * 17);
        want[i] = (uint8_t)(i * 17);
        int r = (i * 37) % 256, g = (i * 91 + 13) % 256, b = (i * 53 + 200) % 256;
        int a = (i * 29) % 256;
        rgb[3 * i] = rgba[4 * i] = (uint16_t)r;
        rgb[3 * i + 1] = rgba[4 * i + 1] = (uint16_t)g;
        rgb[3 * i + 2] = rgba[4 * i + 2] = (uint16_t)b;
        rgba[4 * i + 3] = (uint16_t)a;
        int y = luma601(r, g, b);
        want_a[i] = (uint8_t)((y * a + 255 * (255 - a) + 127) / 255);
        ga[2 * i] = (uint16_t)(i * 17);
        ga[2 * i + 1] = (uint16_t)a;
        want_ga[i] = (uint8_t)((i * 17 * a + 255 * (255 - a) + 127) / 255);
        g16[i] = (uint16_t)(i * 4369); /* 4369 = 65535 / 15 */
        want16[i] = (uint8_t)lround(i * 4369 / 257.0);
        rgb16[3 * i] = (uint16_t)(r * 257);
        rgb16[3 * i + 1] = (uint16_t)(g * 257);
        rgb16[3 * i + 2] = (uint16_t)(b * 257);
        want_rgb16[i] = (uint8_t)y;
    }
    uint8_t want_rgb[W * H];
    for (int i = 0; i < W * H; i++)
        want_rgb[i] = luma601(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);

    struct {
        const char *what;
        int type, depth;
        const uint16_t *s;
        const uint8_t *want;
        bool interlace;
    } cases[] = {
        {"grey PNG", PNG_COLOR_TYPE_GRAY, 8, grey, want, false},
        {"interlaced grey PNG", PNG_COLOR_TYPE_GRAY, 8, grey, want, true},
        {"RGB PNG", PNG_COLOR_TYPE_RGB, 8, rgb, want_rgb, false},
        {"RGBA PNG", PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, want_a, false},
        {"interlaced RGBA PNG", PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, want_a, true},
        {"grey+alpha PNG", PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, want_ga, false},
        {"16-bit grey PNG", PNG_COLOR_TYPE_GRAY, 16, g16, want16, false},
        {"16-bit RGB PNG", PNG_COLOR_TYPE_RGB, 16, rgb16, want_rgb16, false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        membuf b = make_png(W, H, cases[k].type, cases[k].depth, cases[k].s, NULL, NULL, 0,
                            cases[k].interlace);
        mn_status s = mn_image_decode(b.data, b.size, cases[k].what, &im);
        CHECK(s == MN_OK, "%s: %s", cases[k].what, mn_error_message());
        if (s == MN_OK) {
            check_image(&im, W, H, cases[k].want, 0, cases[k].what);
            mn_image_free(&im);
            CHECK(im.pixels == NULL && im.width == 0, "mn_image_free clears the image");
        }
        free(b.data);
    }

    /* palette with transparency: entry 2 is half see-through red, entry 3 fully transparent */
    png_color pal[4] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0}, {0, 0, 255}};
    uint8_t trans[4] = {255, 255, 128, 0};
    uint16_t idx[W * H];
    uint8_t want_pal[W * H];
    uint8_t pal_grey[4];
    for (int p = 0; p < 4; p++) {
        int y = luma601(pal[p].red, pal[p].green, pal[p].blue);
        pal_grey[p] = (uint8_t)((y * trans[p] + 255 * (255 - trans[p]) + 127) / 255);
    }
    for (int i = 0; i < W * H; i++) {
        idx[i] = (uint16_t)(i % 4);
        want_pal[i] = pal_grey[i % 4];
    }
    membuf b = make_png(W, H, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, trans, 4, false);
    CHECK(mn_image_decode(b.data, b.size, "palette", &im) == MN_OK, "palette PNG: %s",
          mn_error_message());
    check_image(&im, W, H, want_pal, 0, "palette PNG with tRNS");
    CHECK(pal_grey[3] == 255 && pal_grey[0] == 0, "transparent is white, opaque black is black");
    mn_image_free(&im);
    free(b.data);

    /* 1-bit grey */
    uint16_t bits[W * H];
    uint8_t want_bits[W * H];
    for (int i = 0; i < W * H; i++) {
        bits[i] = (uint16_t)(i & 1);
        want_bits[i] = (uint8_t)((i & 1) * 255);
    }
    /* libpng packs 1-bit rows itself when told the rows are one byte per pixel */
    {
        membuf bb = {0};
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        png_infop info = png_create_info_struct(png);
        if (setjmp(png_jmpbuf(png)))
            exit(2);
        png_set_write_fn(png, &bb, membuf_put, membuf_flush);
        png_set_IHDR(png, info, W, H, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_set_packing(png);
        for (int y = 0; y < H; y++) {
            uint8_t row[W];
            for (int x = 0; x < W; x++)
                row[x] = (uint8_t)bits[y * W + x];
            png_write_row(png, row);
        }
        png_write_end(png, NULL);
        png_destroy_write_struct(&png, &info);
        CHECK(mn_image_decode(bb.data, bb.size, "1bit", &im) == MN_OK, "1-bit PNG: %s",
              mn_error_message());
        check_image(&im, W, H, want_bits, 0, "1-bit grey PNG");
        mn_image_free(&im);
        free(bb.data);
    }
}

static void test_jpeg(void)
{
    enum { W = 32, H = 24 };
    uint8_t grey[W * H], rgb[W * H * 3], want_rgb[W * H];
    /* flat blocks of 8x8 so that JPEG keeps them nearly exact */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int blk = (y / 8) * 4 + x / 8;
            grey[y * W + x] = (uint8_t)(blk * 20);
            int r = (blk * 50) % 256, g = (blk * 90 + 30) % 256, b = (blk * 130 + 60) % 256;
            rgb[3 * (y * W + x)] = (uint8_t)r;
            rgb[3 * (y * W + x) + 1] = (uint8_t)g;
            rgb[3 * (y * W + x) + 2] = (uint8_t)b;
            want_rgb[y * W + x] = luma601(r, g, b);
        }
    mn_image im;
    for (int prog = 0; prog < 2; prog++) {
        membuf b = make_jpeg(W, H, 1, grey, 95, prog);
        CHECK(mn_image_decode(b.data, b.size, "grey.jpg", &im) == MN_OK, "grey JPEG: %s",
              mn_error_message());
        check_image(&im, W, H, grey, 4, prog ? "progressive grey JPEG" : "grey JPEG");
        mn_image_free(&im);

        /* truncated: cut in the middle of the entropy-coded data, and inside the header */
        size_t cuts[] = {b.size / 2, b.size - 40, 100, 20, 3};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            mn_status s = mn_image_decode(b.data, cuts[k], "cut.jpg", &im);
            CHECK(s == MN_ERR_FORMAT && strstr(mn_error_message(), "cut.jpg") &&
                      (strstr(mn_error_message(), "truncated") ||
                       strstr(mn_error_message(), "bad JPEG")),
                  "JPEG cut at %zu of %zu bytes: %s %s", cuts[k], b.size, mn_status_name(s),
                  mn_error_message());
        }
        CHECK_ERR(mn_image_decode(b.data, b.size / 2, "half.jpg", &im), MN_ERR_FORMAT,
                  "half.jpg: truncated JPEG");
        free(b.data);

        b = make_jpeg(W, H, 3, rgb, 95, prog);
        CHECK(mn_image_decode(b.data, b.size, "rgb.jpg", &im) == MN_OK, "RGB JPEG: %s",
              mn_error_message());
        check_image(&im, W, H, want_rgb, 6, "RGB JPEG (Rec. 601 luma)");
        mn_image_free(&im);
        free(b.data);
    }

    /* a JPEG wider than the limit is refused before its pixels are decoded */
    uint8_t *wide = calloc((size_t)(MN_IMAGE_MAX_SIDE + 8) * 8, 1);
    membuf b = make_jpeg(MN_IMAGE_MAX_SIDE + 8, 8, 1, wide, 50, false);
    CHECK_ERR(mn_image_decode(b.data, b.size, "wide.jpg", &im), MN_ERR_LIMIT,
              "wide.jpg: JPEG image is 8200x8");
    free(b.data);
    free(wide);

    /* corrupt marker data */
    uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02, 0xFF, 0xD9};
    CHECK_ERR(mn_image_decode(junk, sizeof junk, "junk.jpg", &im), MN_ERR_FORMAT, "junk.jpg: ");
}

static void test_pnm(void)
{
    mn_image im;
    const char p2[] = "P2\n# a comment\n3 2 # trailing comment\n255\n0 128 255\n# mid\n1 2 3\n";
    uint8_t want_p2[] = {0, 128, 255, 1, 2, 3};
    CHECK(mn_image_decode((const uint8_t *)p2, strlen(p2), "a.pgm", &im) == MN_OK, "P2: %s",
          mn_error_message());
    check_image(&im, 3, 2, want_p2, 0, "P2 with comments");
    mn_image_free(&im);

    const char p2_15[] = "P2 2 2 15 0 15 5 10";
    uint8_t want_15[] = {0, 255, 85, 170};
    CHECK(mn_image_decode((const uint8_t *)p2_15, strlen(p2_15), "b.pgm", &im) == MN_OK,
          "P2 maxval 15: %s", mn_error_message());
    check_image(&im, 2, 2, want_15, 0, "P2 maxval 15 scaled to 0..255");
    mn_image_free(&im);

    uint8_t p5[64];
    int n = snprintf((char *)p5, sizeof p5, "P5\n#c\n2 2\n255\n");
    memcpy(p5 + n, "\x00\x40\x80\xff", 4);
    uint8_t want_p5[] = {0, 0x40, 0x80, 0xff};
    CHECK(mn_image_decode(p5, (size_t)n + 4, "c.pgm", &im) == MN_OK, "P5: %s",
          mn_error_message());
    check_image(&im, 2, 2, want_p5, 0, "P5");
    mn_image_free(&im);

    /* 16-bit big-endian samples, maxval 65535 */
    n = snprintf((char *)p5, sizeof p5, "P5 3 1 65535\n");
    memcpy(p5 + n, "\x00\x00\x80\x00\xff\xff", 6);
    uint8_t want_16[] = {0, 128, 255};
    CHECK(mn_image_decode(p5, (size_t)n + 6, "d.pgm", &im) == MN_OK, "P5 16-bit: %s",
          mn_error_message());
    check_image(&im, 3, 1, want_16, 0, "P5 maxval 65535");
    mn_image_free(&im);

    const char p2_16[] = "P2 2 1 65535 65535 32768";
    uint8_t want_p2_16[] = {255, 128};
    CHECK(mn_image_decode((const uint8_t *)p2_16, strlen(p2_16), "e.pgm", &im) == MN_OK,
          "P2 16-bit: %s", mn_error_message());
    check_image(&im, 2, 1, want_p2_16, 0, "P2 maxval 65535");
    mn_image_free(&im);

    const char p3[] = "P3\n# colour\n2 1\n255\n255 0 0   10 200 30\n";
    uint8_t want_p3[] = {luma601(255, 0, 0), luma601(10, 200, 30)};
    CHECK(mn_image_decode((const uint8_t *)p3, strlen(p3), "f.ppm", &im) == MN_OK, "P3: %s",
          mn_error_message());
    check_image(&im, 2, 1, want_p3, 0, "P3");
    mn_image_free(&im);

    n = snprintf((char *)p5, sizeof p5, "P6 2 1 255\n");
    memcpy(p5 + n, "\xff\x00\x00\x0a\xc8\x1e", 6);
    CHECK(mn_image_decode(p5, (size_t)n + 6, "g.ppm", &im) == MN_OK, "P6: %s",
          mn_error_message());
    check_image(&im, 2, 1, want_p3, 0, "P6");
    mn_image_free(&im);

    n = snprintf((char *)p5, sizeof p5, "P6 1 1 65535\n");
    memcpy(p5 + n, "\xff\xff\x00\x00\x00\x00", 6);
    uint8_t want_p6_16[] = {luma601(255, 0, 0)};
    CHECK(mn_image_decode(p5, (size_t)n + 6, "h.ppm", &im) == MN_OK, "P6 16-bit: %s",
          mn_error_message());
    check_image(&im, 1, 1, want_p6_16, 0, "P6 maxval 65535");
    mn_image_free(&im);

    /* malformed */
    struct {
        const char *text;
        mn_status want;
        const char *needle;
    } bad[] = {
        {"P2 100000 100000 255\n", MN_ERR_LIMIT, "bad.pgm: PGM/PPM width is over the limit"},
        {"P5 8193 1 255\n", MN_ERR_LIMIT, "width is over the limit of 8192"},
        {"P5 1 99999999999999999999 255\n", MN_ERR_LIMIT, "height is over the limit"},
        {"P2 2 2 0\n0 0 0 0\n", MN_ERR_FORMAT, "bad.pgm: bad PGM: maxval is 0"},
        {"P2 2 2 65536\n0 0 0 0\n", MN_ERR_FORMAT, "maxval is over 65535"},
        {"P2 -2 2 255\n0 0 0 0\n", MN_ERR_FORMAT, "bad.pgm: bad PGM/PPM: negative width"},
        {"P2 2 2 255\n0 -1 0 0\n", MN_ERR_FORMAT, "negative sample"},
        {"P2 0 2 255\n", MN_ERR_FORMAT, "zero size"},
        {"P2 2 2 255\n0 1 2\n", MN_ERR_FORMAT, "bad.pgm: truncated PGM: too few pixels"},
        {"P2 4 4 255\n0 1 2\n", MN_ERR_FORMAT, "too few pixels"},
        {"P3 2 1 255\n1 2 3 4 5\n", MN_ERR_FORMAT, "truncated PPM: too few pixels"},
        {"P2 2 1 100\n50 101\n", MN_ERR_FORMAT, "sample is over 100"},
        {"P2 2 1 255\n50 x\n", MN_ERR_FORMAT, "expected the sample"},
        {"P2 2 2", MN_ERR_FORMAT, "ends before the maxval"},
        {"P2 2", MN_ERR_FORMAT, "ends before the height"},
        {"P2 2x 2 255 0 0 0 0", MN_ERR_FORMAT, "width is followed by byte"},
        {"P5 2 2 255\n\x01\x02\x03", MN_ERR_FORMAT, "too few pixels (3 of 4 bytes"},
        {"P5 2 2 65535\n\x01\x02\x03\x04\x05\x06\x07", MN_ERR_FORMAT, "too few pixels (7 of 8"},
        {"P5 2 2 255", MN_ERR_FORMAT, "no pixels after the header"},
        {"P5 1 1 1000\n\x03\xe9", MN_ERR_FORMAT, "sample 0 is 1001, over maxval 1000"},
        {"P6 8000 8000 255\n\x01\x02", MN_ERR_FORMAT, "too few pixels"},
    };
    static uint8_t sentinel[1];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        im.pixels = sentinel;
        CHECK_ERR(mn_image_decode((const uint8_t *)bad[k].text, strlen(bad[k].text), "bad.pgm",
                                  &im),
                  bad[k].want, bad[k].needle);
        CHECK(im.pixels == sentinel, "output untouched on failure (case %zu)", k);
    }
    /* a sample over the 8-bit maxval in P5, with embedded NUL bytes (strlen cannot count them) */
    uint8_t p5bad[] = {'P', '5', ' ', '2', ' ', '1', ' ', '9', '\n', 0, 10};
    CHECK_ERR(mn_image_decode(p5bad, sizeof p5bad, "nine.pgm", &im), MN_ERR_FORMAT,
              "sample 1 is 10, over maxval 9");
}

static void test_malformed_files(void)
{
    mn_image im = {0};
    uint16_t s[16 * 16];
    for (int i = 0; i < 256; i++)
        s[i] = (uint16_t)i;
    membuf b = make_png(16, 16, PNG_COLOR_TYPE_GRAY, 8, s, NULL, NULL, 0, false);

    /* truncated PNG, at every length */
    int bad = 0, worded = 0;
    for (size_t cut = 0; cut < b.size; cut++) {
        mn_status st = mn_image_decode(b.data, cut, "cut.png", &im);
        if (st == MN_OK) {
            /* only the trailer (IEND) may be missing */
            CHECK(cut >= b.size - 12, "PNG cut at %zu of %zu decoded", cut, b.size);
            mn_image_free(&im);
            continue;
        }
        bad += st == MN_ERR_FORMAT;
        worded += strstr(mn_error_message(), "cut.png: ") != NULL &&
                  (cut == 0 || strstr(mn_error_message(), "PNG") != NULL);
    }
    CHECK(bad >= (int)b.size - 12 && worded == bad, "truncated PNGs: %d format errors, %d worded",
          bad, worded);
    CHECK_ERR(mn_image_decode(b.data, b.size / 2, "half.png", &im), MN_ERR_FORMAT,
              "half.png: truncated PNG");
    CHECK_ERR(mn_image_decode(b.data, 5, "five.png", &im), MN_ERR_FORMAT,
              "five.png: truncated PNG");

    /* a flipped byte in the image data: CRC error */
    uint8_t *flip = malloc(b.size);
    memcpy(flip, b.data, b.size);
    flip[b.size - 20] ^= 0x55;
    CHECK_ERR(mn_image_decode(flip, b.size, "crc.png", &im), MN_ERR_FORMAT, "crc.png: bad PNG: ");
    free(flip);

    /* IHDR over the side limit, and an absurd one: refused before libpng allocates */
    uint8_t *big = malloc(b.size);
    memcpy(big, b.data, b.size);
    big[16] = 0x00, big[17] = 0x00, big[18] = 0x20, big[19] = 0x01; /* width 8193 */
    CHECK_ERR(mn_image_decode(big, b.size, "big.png", &im), MN_ERR_LIMIT,
              "big.png: PNG image is 8193x16, over the limit of 8192");
    big[16] = 0x7f, big[17] = 0xff, big[18] = 0xff, big[19] = 0xff;
    CHECK_ERR(mn_image_decode(big, b.size, "huge.png", &im), MN_ERR_LIMIT, "huge.png: PNG image");
    free(big);
    uint16_t *zeros = calloc(MN_IMAGE_MAX_SIDE + 1, sizeof *zeros);
    membuf wide = make_png(MN_IMAGE_MAX_SIDE + 1, 1, PNG_COLOR_TYPE_GRAY, 8, zeros, NULL, NULL,
                           0, false);
    free(zeros);
    CHECK_ERR(mn_image_decode(wide.data, wide.size, "wide.png", &im), MN_ERR_LIMIT,
              "over the limit of 8192 pixels a side");
    free(wide.data);

    /* the format comes from the bytes: a PNG named .jpg decodes, text named .png does not */
    write_bytes(tmp_path("really_png.jpg"), b.data, b.size);
    CHECK(mn_image_load(tmp_path("really_png.jpg"), &im) == MN_OK && im.width == 16,
          "PNG named .jpg: %s", mn_error_message());
    mn_image_free(&im);
    free(b.data);

    const char *text = "hello, this is not a picture\n";
    write_bytes(tmp_path("text.png"), text, strlen(text));
    CHECK_ERR(mn_image_load(tmp_path("text.png"), &im), MN_ERR_FORMAT,
              "text.png: not a PNG, JPEG or PGM/PPM image");
    write_bytes(tmp_path("empty.png"), "", 0);
    CHECK_ERR(mn_image_load(tmp_path("empty.png"), &im), MN_ERR_FORMAT, "empty.png: empty file");
    CHECK_ERR(mn_image_load(g_tmp, &im), MN_ERR_IO, "is a directory");
    CHECK(strstr(mn_error_message(), g_tmp) != NULL, "directory message names it: %s",
          mn_error_message());
    CHECK_ERR(mn_image_load(tmp_path("missing.png"), &im), MN_ERR_IO, "missing.png: cannot open");
    write_bytes(tmp_path("bad.pgm"), "P2 3 3 0\n", 9);
    CHECK_ERR(mn_image_load(tmp_path("bad.pgm"), &im), MN_ERR_FORMAT, "bad.pgm: bad PGM: maxval");
    CHECK_ERR(mn_image_decode((const uint8_t *)"P7 1 1", 6, "p7", &im), MN_ERR_FORMAT,
              "p7: not a PNG, JPEG or PGM/PPM image");
    CHECK_ERR(mn_image_decode(NULL, 0, "nothing", &im), MN_ERR_FORMAT, "nothing: empty file");
    CHECK_ERR(mn_image_decode((const uint8_t *)"x", 1, "noout", NULL), MN_ERR_ARG, "noout");
    mn_image_free(NULL);
}

static void test_save_png(void)
{
    enum { W = 7, H = 5 };
    uint8_t px[W * H];
    for (int i = 0; i < W * H; i++)
        px[i] = (uint8_t)(i * 7);
    mn_image im = {W, H, px}, back;
    const char *path = tmp_path("saved.png");
    CHECK(mn_image_save_png(path, &im) == MN_OK, "save: %s", mn_error_message());
    CHECK(mn_image_load(path, &back) == MN_OK, "load saved: %s", mn_error_message());
    check_image(&back, W, H, px, 0, "PNG round trip");
    mn_image_free(&back);
    /* no temporary file is left next to it */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", g_tmp);
    CHECK(system(cmd) != 0, "no temporary file left in %s", g_tmp);

    CHECK_ERR(mn_image_save_png(tmp_path("no/such/dir/x.png"), &im), MN_ERR_IO, "cannot create");
    mn_image empty = {0, 0, NULL};
    CHECK_ERR(mn_image_save_png(path, &empty), MN_ERR_ARG, "empty image");
}

/* ------------------------------------------------------------------------------------------ */
/* Preprocessing                                                                               */

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs((double)a[i] - b[i]);
    return s / n;
}

static double correlation(const uint8_t *a, const uint8_t *b, int n)
{
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* `in` moved by (sx, sy) pixels, with zeros shifted in. */
static void shift28(const uint8_t *in, int sx, int sy, uint8_t *out)
{
    memset(out, 0, 784);
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            if (y + sy >= 0 && y + sy < 28 && x + sx >= 0 && x + sx < 28)
                out[(y + sy) * 28 + x + sx] = in[y * 28 + x];
}

/* The best correlation of `out` with `ref` over shifts of up to one pixel each way: a digit
 * one pixel off is the same digit (MNIST itself rounds its centring). */
static double correlation_near(const uint8_t *ref, const uint8_t *out)
{
    double best = -1;
    uint8_t moved[784];
    for (int sy = -1; sy <= 1; sy++)
        for (int sx = -1; sx <= 1; sx++) {
            shift28(out, sx, sy, moved);
            double c = correlation(ref, moved, 784);
            best = c > best ? c : best;
        }
    return best;
}

static void centre_of_mass(const uint8_t *p, double *cx, double *cy)
{
    double m = 0, x = 0, y = 0;
    for (int i = 0; i < 784; i++) {
        m += p[i];
        x += p[i] * (double)(i % 28);
        y += p[i] * (double)(i / 28);
    }
    *cx = m > 0 ? x / m : -1;
    *cy = m > 0 ? y / m : -1;
}

static void ink_box(const uint8_t *p, int *w, int *h)
{
    int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
    for (int i = 0; i < 784; i++)
        if (p[i]) {
            int x = i % 28, y = i / 28;
            x0 = x < x0 ? x : x0;
            x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0;
            y1 = y > y1 ? y : y1;
        }
    *w = x1 - x0 + 1;
    *h = y1 - y0 + 1;
}

/* For the tests of the whole pipeline (and the integrator's model test): draws a 28x28 MNIST
 * digit as a picture of dark ink on white paper, `scale` times larger (nearest neighbour when
 * smooth is false, bilinear otherwise), at (ox, oy) on a canvas_w x canvas_h page of grey
 * level `paper`. The caller frees the returned image. */
static mn_image paper_digit(const uint8_t d28[784], int scale, bool smooth, int canvas_w,
                            int canvas_h, int ox, int oy, uint8_t paper)
{
    mn_image im = {(uint32_t)canvas_w, (uint32_t)canvas_h, malloc((size_t)canvas_w * canvas_h)};
    memset(im.pixels, paper, (size_t)canvas_w * canvas_h);
    for (int y = 0; y < 28 * scale; y++)
        for (int x = 0; x < 28 * scale; x++) {
            double v;
            if (!smooth) {
                v = d28[(y / scale) * 28 + x / scale];
            } else {
                double u = (x + 0.5) / scale - 0.5, w = (y + 0.5) / scale - 0.5;
                int i0 = (int)floor(u), j0 = (int)floor(w);
                double fu = u - i0, fw = w - j0;
                v = 0;
                for (int dj = 0; dj < 2; dj++)
                    for (int di = 0; di < 2; di++) {
                        int i = i0 + di, j = j0 + dj;
                        if (i < 0 || j < 0 || i > 27 || j > 27)
                            continue;
                        v += d28[j * 28 + i] * (di ? fu : 1 - fu) * (dj ? fw : 1 - fw);
                    }
            }
            int cx = ox + x, cy = oy + y;
            if (cx >= 0 && cy >= 0 && cx < canvas_w && cy < canvas_h)
                im.pixels[(size_t)cy * canvas_w + cx] = (uint8_t)lround(paper * (1 - v / 255));
        }
    return im;
}

/* Makes a page look photographed: light falling off by `falloff` (0..1) from left to right and
 * from top to bottom, Gaussian noise of `sigma` grey levels, seeded. */
static void photo_effects(mn_image *im, double falloff, double sigma, uint64_t seed)
{
    mn_rng rng;
    mn_rng_seed(&rng, seed);
    for (uint32_t y = 0; y < im->height; y++)
        for (uint32_t x = 0; x < im->width; x++) {
            uint8_t *p = im->pixels + (size_t)y * im->width + x;
            double light = 1 - falloff * (0.7 * x / im->width + 0.3 * y / im->height);
            double v = *p * light + sigma * mn_rng_normal(&rng);
            *p = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
}

/* MNIST's test set, read here with zlib so this test does not depend on the IDX module. */
static uint8_t *load_mnist_test_images(const char *dir, int want)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t head[16];
    uint8_t *px = malloc((size_t)want * 784);
    bool ok = gzread(f, head, 16) == 16 && head[2] == 8 && head[3] == 3 && head[11] == 28 &&
              head[15] == 28 && gzread(f, px, (unsigned)want * 784) == want * 784;
    gzclose(f);
    if (!ok) {
        free(px);
        return NULL;
    }
    return px;
}

static void test_prep_synthetic(void)
{
    uint8_t out[784];
    /* blank and uniform images hold no ink */
    uint8_t *px = malloc(300 * 200);
    for (int level = 0; level <= 255; level += 85) {
        memset(px, level, 300 * 200);
        mn_image im = {300, 200, px};
        CHECK_ERR(mn_image_to_mnist(&im, out), MN_ERR_FORMAT, "no ink found (the image is blank)");
    }
    /* paper noise alone is not ink */
    mn_rng rng;
    mn_rng_seed(&rng, 7);
    for (int i = 0; i < 300 * 200; i++)
        px[i] = (uint8_t)(220 + mn_rng_below(&rng, 12));
    mn_image noisy = {300, 200, px};
    CHECK_ERR(mn_image_to_mnist(&noisy, out), MN_ERR_FORMAT, "no ink found");

    /* a dark bar on noisy paper, off-centre: box scaled to 20 px tall, centred by mass */
    for (int y = 30; y < 130; y++)
        for (int x = 200; x < 240; x++)
            px[y * 300 + x] = (uint8_t)(40 + mn_rng_below(&rng, 10));
    CHECK(mn_image_to_mnist(&noisy, out) == MN_OK, "bar: %s", mn_error_message());
    int bw, bh;
    ink_box(out, &bw, &bh);
    double cx, cy;
    centre_of_mass(out, &cx, &cy);
    CHECK(bh == 20 && bw == 8, "bar box %dx%d, want 8x20", bw, bh);
    CHECK(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5, "bar centre of mass (%.2f, %.2f)", cx,
          cy);
    int top = 0;
    for (int i = 0; i < 784; i++)
        top = out[i] > top ? out[i] : top;
    CHECK(top == 255, "the brightest ink is 255 (got %d)", top);

    /* light ink on a dark page is not inverted */
    for (int i = 0; i < 300 * 200; i++)
        px[i] = (uint8_t)(255 - px[i]);
    uint8_t out2[784];
    CHECK(mn_image_to_mnist(&noisy, out2) == MN_OK, "light bar: %s", mn_error_message());
    CHECK(mean_abs_diff(out, out2, 784) < 1.0, "dark-on-light and light-on-dark agree (%.2f)",
          mean_abs_diff(out, out2, 784));
    free(px);

    /* no aliasing: 1-px stripes over a 280x280 box become an even grey, not a moire */
    px = malloc(300 * 300);
    memset(px, 255, 300 * 300);
    for (int y = 10; y < 290; y++)
        for (int x = 10; x < 290; x++)
            if (x % 2 == 0)
                px[y * 300 + x] = 0;
    mn_image stripes = {300, 300, px};
    CHECK(mn_image_to_mnist(&stripes, out) == MN_OK, "stripes: %s", mn_error_message());
    int lo = 255, hi = 0;
    for (int y = 5; y < 23; y++) /* the inner 18x18 of the 20x20 box at 4..23 */
        for (int x = 5; x < 23; x++) {
            lo = out[y * 28 + x] < lo ? out[y * 28 + x] : lo;
            hi = out[y * 28 + x] > hi ? out[y * 28 + x] : hi;
        }
    CHECK(hi - lo <= 8, "area-averaged stripes are even: %d..%d", lo, hi);
    free(px);

    /* a tiny digit is scaled up; a 1x1 dot works; a wide bar keeps its aspect */
    px = malloc(50 * 50);
    memset(px, 255, 2500);
    px[20 * 50 + 30] = 0;
    mn_image dot = {50, 50, px};
    CHECK(mn_image_to_mnist(&dot, out) == MN_OK, "dot: %s", mn_error_message());
    ink_box(out, &bw, &bh);
    CHECK(bw == 20 && bh == 20 && out[14 * 28 + 14] == 255, "dot grows to 20x20 (%dx%d)", bw, bh);
    memset(px, 255, 2500);
    for (int x = 5; x < 45; x++)
        for (int y = 20; y < 24; y++)
            px[y * 50 + x] = 0;
    CHECK(mn_image_to_mnist(&dot, out) == MN_OK, "dash: %s", mn_error_message());
    ink_box(out, &bw, &bh);
    CHECK(bw == 20 && bh == 2, "dash 40x4 -> %dx%d, want 20x2", bw, bh);
    free(px);

    /* 1x1 and 1xN images */
    uint8_t one = 200;
    mn_image single = {1, 1, &one};
    CHECK_ERR(mn_image_to_mnist(&single, out), MN_ERR_FORMAT, "no ink");
    CHECK_ERR(mn_image_to_mnist(NULL, out), MN_ERR_ARG, "mn_image_to_mnist");
}

static void test_prep_mnist(void)
{
    const char *dir = check_data_dir();
    uint8_t *digits = dir ? load_mnist_test_images(dir, 1000) : NULL;
    if (!digits) {
        printf("skipping the MNIST round trips: no data in $MNIST_DATA\n");
        return;
    }
    /* A 28x28 MNIST digit goes through almost unchanged: the same box and levels, and the same
     * place but for ties of the centre of mass, which MNIST breaks both ways (measured: 0.3% of
     * the test set moves by one pixel). */
    double worst_same = 0;
    int moved = 0;
    for (int k = 0; k < 1000; k++) {
        const uint8_t *d = digits + k * 784;
        mn_image im = {28, 28, (uint8_t *)d};
        uint8_t out[784];
        CHECK(mn_image_to_mnist(&im, out) == MN_OK, "digit %d: %s", k, mn_error_message());
        double mad = mean_abs_diff(d, out, 784), best = mad;
        for (int sy = -1; sy <= 1; sy++)
            for (int sx = -1; sx <= 1; sx++) {
                uint8_t shifted[784];
                shift28(out, sx, sy, shifted);
                double m = mean_abs_diff(d, shifted, 784);
                best = m < best ? m : best;
            }
        worst_same = best > worst_same ? best : worst_same;
        moved += mad > 2.0;
    }
    printf("already MNIST (1000 digits): %d moved by a pixel; worst mean |diff| after the best "
           "shift %.2f\n", moved, worst_same);
    CHECK(moved <= 10 && worst_same < 2.0, "%d of 1000 MNIST digits moved, worst %.2f", moved,
          worst_same);

    /* The photo round trip: 10x larger, dark on white, off-centre on a bigger page, as PNG. */
    const struct {
        const char *what;
        int scale;
        bool smooth, jpeg;
        uint8_t paper;
        double max_mad, min_corr, mean_mad, mean_corr;
    } ways[] = {
        /* nearest neighbour is undone exactly by area averaging, up to the paper margin */
        {"10x nearest PNG", 10, false, false, 255, 1.0, 0.995, 0.5, 0.999},
        /* bilinear blurs the edges, so the ink box grows and a digit can land one pixel off:
         * measured mean |diff| about 7-8 (worst 13), correlation about 0.96 (worst 0.91) */
        {"7x bilinear PNG", 7, true, false, 235, 16.0, 0.88, 10.0, 0.94},
        {"10x bilinear JPEG", 10, true, true, 240, 16.0, 0.88, 10.0, 0.94},
    };
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        double sum_mad = 0, worst_mad = 0, worst_corr = 1, sum_corr = 0;
        for (int k = 0; k < 20; k++) {
            const uint8_t *d = digits + k * 784;
            int s = ways[w].scale;
            mn_image page = paper_digit(d, s, ways[w].smooth, 28 * s + 137, 28 * s + 61,
                                        17 + 5 * k, 40 - k, ways[w].paper);
            const char *path = tmp_path(ways[w].jpeg ? "digit.jpg" : "digit.png");
            if (ways[w].jpeg) {
                membuf b = make_jpeg((int)page.width, (int)page.height, 1, page.pixels, 90,
                                     false);
                write_bytes(path, b.data, b.size);
                free(b.data);
            } else {
                CHECK(mn_image_save_png(path, &page) == MN_OK, "save: %s", mn_error_message());
            }
            mn_image_free(&page);
            mn_image back;
            uint8_t out[784];
            mn_status st = mn_image_load(path, &back);
            CHECK(st == MN_OK, "load %s: %s", path, mn_error_message());
            if (st != MN_OK)
                continue;
            st = mn_image_to_mnist(&back, out);
            mn_image_free(&back);
            CHECK(st == MN_OK, "%s digit %d: %s", ways[w].what, k, mn_error_message());
            double mad = mean_abs_diff(d, out, 784), corr = correlation(d, out, 784);
            sum_mad += mad;
            sum_corr += corr;
            worst_mad = mad > worst_mad ? mad : worst_mad;
            worst_corr = corr < worst_corr ? corr : worst_corr;
            CHECK(mad < ways[w].max_mad && corr > ways[w].min_corr,
                  "%s digit %d: mean |diff| %.2f, correlation %.3f", ways[w].what, k, mad, corr);
        }
        printf("%s: mean |diff| %.2f (worst %.2f), correlation %.3f (worst %.3f)\n",
               ways[w].what, sum_mad / 20, worst_mad, sum_corr / 20, worst_corr);
        CHECK(sum_mad / 20 < ways[w].mean_mad && sum_corr / 20 > ways[w].mean_corr,
              "%s: mean |diff| %.2f, mean correlation %.3f", ways[w].what, sum_mad / 20,
              sum_corr / 20);
    }

    /* A photo: 25x larger (700 px), grey pencil on unevenly lit paper with camera noise, JPEG. */
    int n_photo = check_quick() ? 4 : 12;
    double sum_corr = 0, worst_corr = 1, worst_near = 1, sum_mad = 0;
    for (int k = 0; k < n_photo; k++) {
        const uint8_t *d = digits + k * 784;
        mn_image page = paper_digit(d, 25, true, 1280, 960, 100 + 30 * k, 60 + 10 * k, 230);
        /* pencil: the ink only darkens the paper by 65% */
        for (size_t i = 0; i < (size_t)page.width * page.height; i++)
            page.pixels[i] = (uint8_t)(230 - (230 - page.pixels[i]) * 0.65);
        photo_effects(&page, 0.25, 6.0, (uint64_t)k);
        membuf b = make_jpeg((int)page.width, (int)page.height, 1, page.pixels, 85, false);
        mn_image_free(&page);
        mn_image back;
        uint8_t out[784];
        CHECK(mn_image_decode(b.data, b.size, "photo.jpg", &back) == MN_OK, "photo: %s",
              mn_error_message());
        free(b.data);
        mn_status st = mn_image_to_mnist(&back, out);
        mn_image_free(&back);
        CHECK(st == MN_OK, "photo %d: %s", k, mn_error_message());
        double corr = correlation(d, out, 784), mad = mean_abs_diff(d, out, 784);
        sum_corr += corr;
        sum_mad += mad;
        double near = correlation_near(d, out);
        worst_corr = corr < worst_corr ? corr : worst_corr;
        worst_near = near < worst_near ? near : worst_near;
        int bw, bh;
        ink_box(out, &bw, &bh);
        CHECK(near > 0.85 && (bw == 20 || bh == 20),
              "photo %d: correlation %.3f (%.3f within a pixel), box %dx%d", k, corr, near, bw,
              bh);
    }
    printf("noisy photo: mean |diff| %.2f, correlation %.3f (worst %.3f, %.3f within a pixel)\n",
           sum_mad / n_photo, sum_corr / n_photo, worst_corr, worst_near);
    CHECK(sum_corr / n_photo > 0.85, "photos: mean correlation %.3f", sum_corr / n_photo);
    free(digits);
}

/* ------------------------------------------------------------------------------------------ */
/* The CLI's terminal drawing (compiled in here: the tests link the library only)              */

#include "cli/draw.c"

static char *draw_to_string(const uint8_t *px, int rows, int cols, bool colour, size_t *len)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, len);
    cli_draw_image(fp, px, rows, cols, colour);
    fclose(fp);
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_draw(void)
{
    uint8_t px[5 * 4];
    for (int i = 0; i < 20; i++)
        px[i] = (uint8_t)(i * 13);
    px[0] = 0;
    px[19] = 255;
    size_t len;
    char *s = draw_to_string(px, 5, 4, false, &len);
    /* a frame, then one line per row of two characters per pixel */
    CHECK(count_lines(s) == 7 && len == 7 * 11, "ASCII drawing: %zu lines, %zu bytes:\n%s",
          count_lines(s), len, s);
    CHECK(strncmp(s, "+--------+\n|  ", 14) == 0, "ASCII starts with a frame and blank ink: %s", s);
    CHECK(strstr(s, "@@|\n+--------+\n") != NULL, "full ink is '@@': %s", s);
    free(s);
    s = draw_to_string(px, 5, 4, true, &len);
    size_t blocks = 0;
    for (const char *p = s; (p = strstr(p, "\xe2\x96\x80")) != NULL; p++)
        blocks++;
    CHECK(count_lines(s) == 3 && blocks == 12, "colour: %zu lines, %zu half blocks",
          count_lines(s), blocks);
    const char *last = strrchr(s, '\n');
    while (last > s && last[-1] != '\n')
        last--;
    static const char first[] = "\x1b[38;2;0;0;0m\x1b[48;2;52;52;52m\xe2\x96\x80";
    CHECK(strncmp(s, first, sizeof first - 1) == 0 &&
              strstr(s, "\x1b[0m\n") && !strstr(last, "\x1b[48;"),
          "colour escapes: top 0, bottom 52, odd last row on the default background");
    free(s);
    s = draw_to_string(px, 0, 4, false, &len);
    CHECK(len == 0, "nothing drawn for an empty image");
    free(s);
}

int main(void)
{
    g_tmp = check_tmp_dir("test_image");
    test_png();
    test_jpeg();
    test_pnm();
    test_malformed_files();
    test_save_png();
    test_prep_synthetic();
    test_prep_mnist();
    test_draw();
    return check_summary();
}
