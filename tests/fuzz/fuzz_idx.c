/* fuzz_idx.c: libFuzzer target for the IDX decoders. Each input is decoded as an image file and
 * as a label file (raw or gzip); the limit is lowered so that inputs claiming big bodies stay
 * cheap. Not built by CMake; see the build line below.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_idx.c \
 *     src/idx.c src/error.c src/util.c src/fileio.c -lz -lm -o fuzz_idx
 *   ./fuzz_idx tests/fuzz/corpus/idx */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_load_params p = mn_load_default_params();
    p.max_bytes = (uint64_t)1 << 24;
    p.max_classes = size ? (uint32_t)data[size - 1] % 12 : 10; /* vary the range check */

    uint8_t *pixels = NULL, *labels = NULL;
    uint32_t count = 0, rows = 0, cols = 0, n = 0;
    if (mn_idx_decode_images(data, size, "fuzz", &p, &pixels, &count, &rows, &cols) == MN_OK) {
        uint64_t total = (uint64_t)count * rows * cols;
        if (count == 0 || rows == 0 || cols == 0 || total > p.max_bytes)
            abort();
        volatile uint8_t sink = pixels[0] ^ pixels[total - 1]; /* the whole body is there */
        (void)sink;
        free(pixels);
    } else if (strchr(mn_error_message(), '\n') || !strstr(mn_error_message(), "fuzz")) {
        abort(); /* every message is one line and names the file */
    }
    if (mn_idx_decode_labels(data, size, "fuzz", &p, &labels, &n) == MN_OK) {
        if (n == 0 || n > p.max_bytes)
            abort();
        for (uint32_t i = 0; i < n; i++)
            if (labels[i] >= p.max_classes)
                abort();
        free(labels);
    } else if (strchr(mn_error_message(), '\n') || !strstr(mn_error_message(), "fuzz")) {
        abort();
    }
    return 0;
}
