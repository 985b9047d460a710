/* draw.c: shows a small grey image (a digit) in the terminal. With colour: Unicode upper half
 * blocks, the top pixel as the foreground and the bottom one as the background (24-bit), so
 * one text line holds two pixel rows and the picture keeps its shape. Without: an ASCII ramp,
 * two characters per pixel (a character cell is about twice as tall as wide) inside a frame. */
#include "cli.h"

static void put_frame_line(FILE *out, int cols)
{
    fputc('+', out);
    for (int x = 0; x < 2 * cols; x++)
        fputc('-', out);
    fputs("+\n", out);
}

void cli_draw_image(FILE *out, const uint8_t *pixels, int rows, int cols, bool colour)
{
    if (!out || !pixels || rows <= 0 || cols <= 0)
        return;
    if (!colour) {
        static const char ramp[] = " .:-=+*#%@";
        put_frame_line(out, cols);
        for (int y = 0; y < rows; y++) {
            fputc('|', out);
            for (int x = 0; x < cols; x++) {
                char ch = ramp[pixels[(size_t)y * cols + x] * 10 / 256];
                fputc(ch, out);
                fputc(ch, out);
            }
            fputs("|\n", out);
        }
        put_frame_line(out, cols);
        return;
    }
    for (int y = 0; y < rows; y += 2) {
        int fg = -1, bg = -1; /* the colours in effect, to skip repeating escapes */
        for (int x = 0; x < cols; x++) {
            int top = pixels[(size_t)y * cols + x];
            int bottom = y + 1 < rows ? pixels[(size_t)(y + 1) * cols + x] : -1;
            if (top != fg) {
                fprintf(out, "\x1b[38;2;%d;%d;%dm", top, top, top);
                fg = top;
            }
            if (bottom != bg) {
                if (bottom < 0)
                    fputs("\x1b[49m", out); /* odd last row: the terminal's own background */
                else
                    fprintf(out, "\x1b[48;2;%d;%d;%dm", bottom, bottom, bottom);
                bg = bottom;
            }
            fputs("\xe2\x96\x80", out); /* U+2580 UPPER HALF BLOCK */
        }
        fputs("\x1b[0m\n", out);
    }
}
