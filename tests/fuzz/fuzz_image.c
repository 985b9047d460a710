/* fuzz_image.c: libFuzzer target for the image readers (PNG, JPEG, PGM/PPM) and for the MNIST
 * preprocessing of whatever they decode. Build and run:
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_image.c \
 *     src/image_io.c src/image_prep.c src/error.c src/util.c src/fileio.c -lpng -ljpeg -lz -lm \
 *     -o /tmp/fuzz_image && /tmp/fuzz_image -max_total_time=90 tests/fuzz/corpus/image
 * A decoded image must have a sane size and every pixel readable; the 28x28 result must exist
 * whenever preprocessing succeeds. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_image im;
    if (mn_image_decode(data, size, "fuzz", &im) != MN_OK) {
        if (mn_error_message()[0] == '\0')
            abort(); /* every failure says why */
        return 0;
    }
    if (im.width == 0 || im.height == 0 || im.width > MN_IMAGE_MAX_SIDE ||
        im.height > MN_IMAGE_MAX_SIDE || !im.pixels)
        abort();
    volatile unsigned sink = 0;
    for (size_t i = 0; i < (size_t)im.width * im.height; i++)
        sink += im.pixels[i];
    uint8_t out[784];
    mn_status s = mn_image_to_mnist(&im, out);
    if (s == MN_OK) {
        for (int i = 0; i < 784; i++)
            sink += out[i];
    } else if (s != MN_ERR_FORMAT) {
        abort(); /* only "no ink" may fail for a decoded image */
    }
    (void)sink;
    mn_image_free(&im);
    return 0;
}
