/* main.c: `mnist <command> ...`, dispatching to one file per command. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} g_commands[] = {
    {"train", cmd_train, "train a model (softmax regression, the tutorial CNN, or any spec)"},
    {"eval", cmd_eval, "test accuracy, loss, per-class precision/recall, confusion matrix"},
    {"predict", cmd_predict, "predict the digit in image files (PNG, JPEG, PGM/PPM)"},
    {"sample", cmd_sample, "predict random test images and draw them"},
    {"plot", cmd_plot, "draw the loss and accuracy curves of a training log as SVG"},
    {"info", cmd_info, "describe a model file"},
    {"export", cmd_export, "write a model file, with batch normalisation folded (--fold-bn)"},
    {"data", cmd_data, "download (fetch) or check (verify) the MNIST files"},
    {"serve", cmd_serve, "serve a web page to draw a digit, and a JSON prediction API"},
};

static void usage(FILE *out)
{
    fprintf(out, "mnist %s: train, evaluate and run MNIST-style image classifiers\n\n"
                 "usage: mnist <command> [options]   (mnist <command> --help for its options)\n\n"
                 "commands:\n", MN_VERSION);
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        fprintf(out, "  %-8s %s\n", g_commands[i].name, g_commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mnist %s\n", MN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (!strcmp(argv[1], g_commands[i].name))
            return g_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mnist: unknown command '%s' (try mnist --help)\n", argv[1]);
    return 2;
}
