/* gemm_internal.h: what the GEMM driver (gemm.c) needs from each instruction-set file. Private
 * to src/kernels/gemm*.c.
 *
 * Packed layouts (BLIS-style):
 * - A block [mc,kc] is cut into row panels of mr <= MR rows each (sizes given by the driver);
 *   panel p holds kc columns of mr consecutive floats: dst[k*mr + r] = op(A)[r0+r, k0+k].
 * - B block [kc,nc] is cut into column panels of NR columns (the last one is NR/2 wide when
 *   at most NR/2 columns remain); a panel of width w holds dst[k*w + j], zero padded. An
 *   untransposed B is often read in place by the kernel instead (row stride ldb). */
#ifndef MN_GEMM_INTERNAL_H
#define MN_GEMM_INTERNAL_H

/* Micro-kernel: C[mr,nr] = alpha * a[mr,kc] @ b[kc,nr] + beta * C (beta == 0: C not read).
 * a is a packed A panel (row stride 1, column stride mr); b has row stride ldb floats and
 * nr <= NR valid columns (only those are read); C has row stride ldc. */
typedef void (*mn_gemm_kernel_fn)(int mr, int nr, int kc, const float *a, const float *b,
                                  long ldb, float *c, long ldc, float alpha, float beta);

/* Packs rows [0,mc) x columns [0,kc) of op(A) (A points at op(A)[0,0]'s storage) into
 * panels whose heights are given by `heights` (np entries summing to mc). */
typedef void (*mn_gemm_pack_a_fn)(int trans_a, int mc, int kc, const float *A, long lda,
                                  const int *heights, int np, float *dst);

/* Packs rows [0,kc) x columns [0,nc) of op(B) (B points at op(B)[0,0]'s storage) into NR-wide
 * panels (see above). */
typedef void (*mn_gemm_pack_b_fn)(int trans_b, int kc, int nc, const float *B, long ldb,
                                  float *dst);

/* Dot-product kernel for C = alpha * A @ B^T + beta * C with A [mi,kc] (row stride lda) and B
 * [nj,kc] (row stride ldb) both read in place along K, for small M where transposing B while
 * packing would cost more than it saves. mi <= dmi, nj <= dnj. Each element keeps 16 partial
 * sums (lane l sums k = l mod 16) in `acc` (dmi * dnj * 16 floats) from one K block to the
 * next: `first` starts them at zero, `last` adds them up and writes C. */
typedef void (*mn_gemm_dot_fn)(int mi, int nj, int kc, const float *a, long lda, const float *b,
                               long ldb, float *acc, int first, int last, float *c, long ldc,
                               float alpha, float beta);

typedef struct mn_gemm_impl {
    const char *name;
    int mr;     /* most rows of a micro-tile */
    int nr;     /* most columns of a micro-tile: the packed B panel width */
    int kc;     /* depth of a K block */
    int mc;     /* rows of an A block (a multiple of mr) */
    int nc;     /* columns of a B block (a multiple of nr) */
    mn_gemm_kernel_fn kernel;
    mn_gemm_pack_a_fn pack_a;
    mn_gemm_pack_b_fn pack_b;
    mn_gemm_dot_fn dot; /* NULL if this implementation has none */
    int dmi, dnj;       /* most rows and columns of a dot tile */
    int dkc, dmc;       /* K block depth and rows per block of the dot path */
} mn_gemm_impl;

extern const mn_gemm_impl mn_gemm_impl_portable;
#if defined(__x86_64__)
extern const mn_gemm_impl mn_gemm_impl_avx2;
extern const mn_gemm_impl mn_gemm_impl_avx512;
#endif

/* Width of the packed B panel that holds `cnt` (<= nr) columns. */
static inline int mn_gemm_panel_width(int nr, int cnt) { return cnt > nr / 2 || nr < 2 ? nr : nr / 2; }

/* Generic packers in plain C (gemm_ref.c), usable by any implementation. */
void mn_gemm_pack_a_c(int trans_a, int mc, int kc, const float *A, long lda, const int *heights,
                      int np, float *dst);
void mn_gemm_pack_b_c(int nr, int trans_b, int kc, int nc, const float *B, long ldb,
                      float *dst);

#endif
