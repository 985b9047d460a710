/* fuzz_safetensors.c: libFuzzer target for the .safetensors reader. Build and run:
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_safetensors.c \
 *     src/safetensors.c src/error.c src/util.c src/fileio.c $(pkg-config --cflags --libs jansson) \
 *     -lm -o /tmp/fuzz_st && /tmp/fuzz_st -max_total_time=60 tests/fuzz/corpus/safetensors
 * On success it also touches every tensor value and metadata string, so a bad pointer or a short
 * buffer shows up under ASan. */
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mn_st_file f;
    if (mn_st_parse(data, size, "fuzz", &f) != MN_OK)
        return 0;
    volatile float sink = 0;
    for (int i = 0; i < f.num_tensors; i++) {
        const mn_st_tensor *t = &f.tensors[i];
        if (((uintptr_t)t->data & 63) != 0 || strlen(t->name) >= MN_ST_MAX_NAME ||
            mn_st_find(&f, t->name) != t)
            abort();
        for (uint64_t k = 0; k < t->count; k++)
            sink += t->data[k];
    }
    for (int i = 0; i < f.num_meta; i++)
        if (mn_st_meta_get(&f, f.meta[i].key) == NULL || strlen(f.meta[i].value) == (size_t)-1)
            abort();
    (void)sink;
    mn_st_free(&f);
    return 0;
}
