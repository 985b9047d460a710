/* test_loss.c: softmax cross-entropy with label smoothing. Its gradient against central finite
 * differences of its loss; its loss against the definition -sum q log p computed directly; and
 * smoothing 0 giving the plain loss and gradient bit for bit. */
#include "check.h"
#include "internal.h"
#include "layers.h"

#include <math.h>

int main(void)
{
    enum { N = 5, K = 7 };
    float z[N * K], g[N * K], g0[N * K], p[N * K];
    uint8_t labels[N] = {0, 3, 6, 2, 3};
    mn_rng rng;
    mn_rng_seed(&rng, 11);
    for (int i = 0; i < N * K; i++)
        z[i] = (float)(mn_rng_uniform(&rng) * 6.0 - 3.0);

    const float eps_list[] = {0.05f, 0.1f, 0.3f};
    for (size_t e = 0; e < sizeof eps_list / sizeof eps_list[0]; e++) {
        const float eps = eps_list[e];
        float loss = mn_softmax_xent_smooth(g, p, z, labels, N, K, eps);
        /* the definition: mean over rows of -sum_k q_k log p_k */
        double want = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double q = (k == labels[n] ? 1.0 - eps : 0.0) + eps / K;
                want -= q * log((double)p[n * K + k]);
            }
        want /= N;
        CHECK(fabs(loss - want) < 1e-5, "smoothing %g: loss %.7f, definition %.7f", eps, loss, want);
        double worst = 0;
        for (int i = 0; i < N * K; i++) {
            const float h = 1e-3f, keep = z[i];
            z[i] = keep + h;
            double lp = mn_softmax_xent_smooth(NULL, NULL, z, labels, N, K, eps);
            z[i] = keep - h;
            double lm = mn_softmax_xent_smooth(NULL, NULL, z, labels, N, K, eps);
            z[i] = keep;
            double fd = (lp - lm) / (2.0 * h);
            worst = fmax(worst, fabs(fd - g[i]));
        }
        CHECK(worst < 2e-3, "smoothing %g: gradient differs from finite differences by %.2e", eps,
              worst);
        /* the gradient of each row sums to zero: q and p both sum to one */
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += g[n * K + k];
            CHECK(fabs(s) < 1e-6, "smoothing %g: row %d gradient sums to %g", eps, n, s);
        }
    }
    float l0 = mn_softmax_xent_smooth(g, NULL, z, labels, N, K, 0.0f);
    float l1 = mn_softmax_xent(g0, NULL, z, labels, N, K);
    CHECK(l0 == l1 && !memcmp(g, g0, sizeof g), "smoothing 0 is not the plain loss bit for bit");
    return check_summary();
}
