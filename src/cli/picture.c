/* picture.c: labelled grids of digits as PNG files (for `sample --png` and `eval --errors`).
 * Captions use a built-in 5x7 pixel font that covers digits and a few signs; nothing else. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* 5x7 glyphs, one byte per row, bit 4 = leftmost column. */
static const struct {
    char ch;
    uint8_t rows[7];
} g_font[] = {
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}}, {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}}, {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}}, {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}}, {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}}, {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}}, {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}}, {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}}, {' ', {0, 0, 0, 0, 0, 0, 0}},
};

static const uint8_t *glyph(char ch)
{
    for (size_t i = 0; i < sizeof g_font / sizeof g_font[0]; i++)
        if (g_font[i].ch == ch)
            return g_font[i].rows;
    return g_font[14].rows; /* '?' */
}

mn_status cli_write_grid_png(const char *path, const uint8_t *const *images, int count, int rows,
                             int cols, const char *const *captions, const bool *highlight,
                             int per_row, int scale)
{
    if (count < 1 || per_row < 1 || scale < 1)
        return MN_ERR_ARG;
    const int pad = 4, text_h = 7 * 2 + 4; /* captions at twice the font size */
    const int cell_w = cols * scale + 2 * pad, cell_h = rows * scale + text_h + 2 * pad;
    const int grid_rows = (count + per_row - 1) / per_row;
    const int ncols = count < per_row ? count : per_row;
    mn_image img = {(uint32_t)(ncols * cell_w), (uint32_t)(grid_rows * cell_h), NULL};
    img.pixels = calloc((size_t)img.width * img.height, 1);
    if (!img.pixels)
        return MN_ERR_NOMEM;
    memset(img.pixels, 40, (size_t)img.width * img.height); /* dark grey background */
    for (int i = 0; i < count; i++) {
        int x0 = (i % per_row) * cell_w + pad, y0 = (i / per_row) * cell_h + pad;
        for (int y = 0; y < rows * scale; y++)
            for (int x = 0; x < cols * scale; x++)
                img.pixels[(size_t)(y0 + y) * img.width + x0 + x] =
                    images[i][(y / scale) * cols + x / scale];
        const char *cap = captions ? captions[i] : "";
        bool inv = highlight && highlight[i];
        int ty = y0 + rows * scale + 2;
        if (inv)
            for (int y = ty - 1; y < ty + text_h - 2 && y < (int)img.height; y++)
                for (int x = x0; x < x0 + cols * scale; x++)
                    img.pixels[(size_t)y * img.width + x] = 230;
        for (int ci = 0; cap[ci]; ci++) {
            int tx = x0 + 1 + ci * 12;
            if (tx + 10 > x0 + cols * scale)
                break;
            const uint8_t *g = glyph(cap[ci]);
            for (int gy = 0; gy < 7; gy++)
                for (int gx = 0; gx < 5; gx++)
                    if (g[gy] & (0x10 >> gx))
                        for (int dy = 0; dy < 2; dy++)
                            for (int dx = 0; dx < 2; dx++)
                                img.pixels[(size_t)(ty + gy * 2 + dy) * img.width + tx + gx * 2 +
                                           dx] = inv ? 0 : 255;
        }
    }
    mn_status st = mn_image_save_png(path, &img);
    free(img.pixels);
    return st;
}
