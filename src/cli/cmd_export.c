/* cmd_export.c: `mnist export MODEL OUT [--fold-bn]`: writes a model file (or the model of a
 * checkpoint) as a plain model file, optionally with batch normalisation folded into the
 * convolution or dense layer before it, for inference and for other programs. */
#include "cli.h"

#include <string.h>

int cmd_export(int argc, char **argv)
{
    bool fold = false;
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: mnist export MODEL OUT [--fold-bn]\n"
                 "  writes MODEL (a model file or a training checkpoint) to OUT as a model file\n"
                 "  --fold-bn  fold each bn layer that directly follows a conv or dense layer into\n"
                 "             that layer's weights and bias (its running statistics, scale and\n"
                 "             shift); the result predicts the same, its spec lacks those bn layers");
            return 0;
        } else if (!strcmp(argv[i], "--fold-bn"))
            fold = true;
        else if (argv[i][0] == '-' || (in && out))
            return cli_error("export: unexpected argument '%s' (see mnist export --help)",
                             argv[i]), 2;
        else if (!in)
            in = argv[i];
        else
            out = argv[i];
    }
    if (!in || !out)
        return cli_error("export: which files? (usage: mnist export MODEL OUT [--fold-bn])"), 2;
    mn_model *m, *f = NULL;
    if (mn_model_load(&m, in) != MN_OK)
        return cli_lib_error();
    if (fold && mn_model_fold_batchnorm(m, &f) != MN_OK) {
        mn_model_free(m);
        return cli_lib_error();
    }
    const mn_model *w = f ? f : m;
    mn_status st = mn_model_save(w, out);
    if (st == MN_OK)
        printf("wrote %s: %s, %llu parameters\n", out, mn_model_spec(w),
               (unsigned long long)mn_model_param_count(w));
    mn_model_free(f);
    mn_model_free(m);
    return st == MN_OK ? 0 : cli_lib_error();
}
