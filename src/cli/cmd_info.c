/* cmd_info.c: `mnist info MODEL`: the spec, layers, parameter count and metadata of a model file. */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv)
{
    bool json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: mnist info MODEL [--json]\n"
                 "  prints the model's spec, layers, parameter count and metadata");
            return 0;
        } else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || path)
            return cli_error("info: unexpected argument '%s' (see mnist info --help)", argv[i]), 2;
        else
            path = argv[i];
    }
    if (!path)
        return cli_error("info: which model file? (usage: mnist info MODEL)"), 2;
    mn_model *m;
    if (mn_model_load(&m, path) != MN_OK)
        return cli_lib_error();
    uint32_t c, h, w;
    float mean, std;
    mn_model_input_shape(m, &c, &h, &w);
    mn_model_get_normalisation(m, &mean, &std);
    static const char *keys[] = {"seed", "recipe", "test_accuracy"};
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:[i,i,i], s:i, s:f, s:f}", "file", path,
                              "spec", mn_model_spec(m), "preset", mn_model_preset(m), "parameters",
                              (json_int_t)mn_model_param_count(m), "input_shape", (int)c, (int)h,
                              (int)w, "num_classes", (int)mn_model_num_classes(m),
                              "normalisation_mean", (double)mean, "normalisation_std", (double)std);
        if (o)
            json_object_set_new(o, "preprocess", json_string(mn_model_preprocess(m)));
        for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++)
            if (mn_model_get_meta(m, keys[i]))
                json_object_set_new(o, keys[i], json_string(mn_model_get_meta(m, keys[i])));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("file         %s\n", path);
        if (*mn_model_preset(m))
            printf("preset       %s\n", mn_model_preset(m));
        printf("spec         %s\n", mn_model_spec(m));
        printf("input        %ux%ux%u, normalised (x/255 - %g) / %g\n", c, h, w, mean, std);
        if (strcmp(mn_model_preprocess(m), "none"))
            printf("preprocess   %s (each image, before normalisation)\n", mn_model_preprocess(m));
        printf("classes      %u\n", mn_model_num_classes(m));
        printf("parameters   %llu\n", (unsigned long long)mn_model_param_count(m));
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (mn_model_get_meta(m, keys[i]))
                printf("%-12s %s\n", keys[i], mn_model_get_meta(m, keys[i]));
        char buf[8192];
        mn_model_describe(m, buf, sizeof buf);
        printf("layers\n%s", buf);
    }
    mn_model_free(m);
    return 0;
}
