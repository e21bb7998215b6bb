// A packed SGEMM (the BLIS loop structure) for the AVX-512 set, included by kernel_bodies.h:
// for each block of NC columns of op(B) and KC of depth, B is packed into KC x 32 micro-panels
// (one stays in L1 while the micro-kernel walks down A); for each block of MC rows, A is packed
// into 12 x KC micro-panels (the block stays in L2); a 12 x 32 micro-kernel keeps its 24 vector
// accumulators in registers over KC. Packing applies the transposes and alpha; edge panels are
// zero-padded, and edge tiles go through a small buffer.

#define GEMM_MR 12
#define GEMM_NR 32
#define GEMM_KC 256
#define GEMM_MC 144
#define GEMM_NC 1024

// C tile (12 x 32) = (or +=) the packed A panel times the packed B panel over kc.
static inline __attribute__((always_inline)) void PP_FN(gemm_micro)(int kc, const float *restrict a,
                                                                   const float *restrict b, float *restrict c,
                                                                   ptrdiff_t ldc, int accumulate) {
    pp_v16 acc[GEMM_MR][2];
    _Pragma("clang loop unroll(full)") for (int i = 0; i < GEMM_MR; i++) acc[i][0] = acc[i][1] = 0;
    for (int p = 0; p < kc; p++) {
        pp_v16 b0 = LOAD(b), b1 = LOAD(b + 16);
        _Pragma("clang loop unroll(full)") for (int i = 0; i < GEMM_MR; i++) {
            pp_v16 x = SPLAT(a[i]);
            acc[i][0] = MADD(x, b0, acc[i][0]);
            acc[i][1] = MADD(x, b1, acc[i][1]);
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
    _Pragma("clang loop unroll(full)") for (int i = 0; i < GEMM_MR; i++) {
        float *row = c + i * ldc;
        if (accumulate) {
            STORE(row, LOAD(row) + acc[i][0]);
            STORE(row + 16, LOAD(row + 16) + acc[i][1]);
        } else {
            STORE(row, acc[i][0]);
            STORE(row + 16, acc[i][1]);
        }
    }
}

// Rows [i0, i0 + mc) and depth [p0, p0 + kc) of alpha op(A) into 12-row panels, p-major.
static void PP_FN(gemm_pack_a)(const float *a, ptrdiff_t lda, int trans, int i0, int mc, int p0, int kc, float alpha,
                               float *restrict packed) {
    for (int r = 0; r < mc; r += GEMM_MR) {
        int rows = mc - r < GEMM_MR ? mc - r : GEMM_MR;
        for (int p = 0; p < kc; p++) {
            for (int i = 0; i < GEMM_MR; i++) {
                float v = 0;
                if (i < rows) {
                    ptrdiff_t row = i0 + r + i, depth = p0 + p;
                    v = trans ? a[depth * lda + row] : a[row * lda + depth];
                    if (alpha != 1) v *= alpha;
                }
                *packed++ = v;
            }
        }
    }
}

// Depth [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) into 32-column panels, p-major.
static void PP_FN(gemm_pack_b)(const float *b, ptrdiff_t ldb, int trans, int p0, int kc, int j0, int nc,
                               float *restrict packed) {
    for (int j = 0; j < nc; j += GEMM_NR) {
        int columns = nc - j < GEMM_NR ? nc - j : GEMM_NR;
        for (int p = 0; p < kc; p++) {
            ptrdiff_t depth = p0 + p;
            if (!trans && columns == GEMM_NR) {
                memcpy(packed, b + depth * ldb + j0 + j, GEMM_NR * sizeof(float));
                packed += GEMM_NR;
                continue;
            }
            for (int q = 0; q < GEMM_NR; q++) {
                ptrdiff_t column = j0 + j + q;
                *packed++ = q < columns ? (trans ? b[column * ldb + depth] : b[depth * ldb + column]) : 0;
            }
        }
    }
}

void PP_FN(pp_sgemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, ptrdiff_t lda,
                     const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (beta != 0 && beta != 1) {
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) c[i * ldc + j] *= beta;
    }
    if (k <= 0) {
        if (beta == 0) for (int i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    // Per thread, kept for the thread's life: Pinpoint's workers call this many times per step.
    static _Thread_local float *packed_a, *packed_b;
    if (!packed_a) {
        packed_a = aligned_alloc(64, sizeof(float) * GEMM_MC * GEMM_KC);
        packed_b = aligned_alloc(64, sizeof(float) * GEMM_KC * GEMM_NC);
        if (!packed_a || !packed_b) abort();
    }
    float edge[GEMM_MR * GEMM_NR];
    for (int j0 = 0; j0 < n; j0 += GEMM_NC) {
        int nc = n - j0 < GEMM_NC ? n - j0 : GEMM_NC;
        for (int p0 = 0; p0 < k; p0 += GEMM_KC) {
            int kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
            int accumulate = p0 > 0 || beta != 0;
            PP_FN(gemm_pack_b)(b, ldb, trans_b, p0, kc, j0, nc, packed_b);
            for (int i0 = 0; i0 < m; i0 += GEMM_MC) {
                int mc = m - i0 < GEMM_MC ? m - i0 : GEMM_MC;
                PP_FN(gemm_pack_a)(a, lda, trans_a, i0, mc, p0, kc, alpha, packed_a);
                for (int j = 0; j < nc; j += GEMM_NR) {
                    int columns = nc - j < GEMM_NR ? nc - j : GEMM_NR;
                    const float *bp = packed_b + (ptrdiff_t)j * kc;
                    for (int i = 0; i < mc; i += GEMM_MR) {
                        int rows = mc - i < GEMM_MR ? mc - i : GEMM_MR;
                        const float *ap = packed_a + (ptrdiff_t)i * kc;
                        float *ct = c + (ptrdiff_t)(i0 + i) * ldc + j0 + j;
                        if (rows == GEMM_MR && columns == GEMM_NR) {
                            PP_FN(gemm_micro)(kc, ap, bp, ct, ldc, accumulate);
                            continue;
                        }
                        PP_FN(gemm_micro)(kc, ap, bp, edge, GEMM_NR, 0);
                        for (int r = 0; r < rows; r++) {
                            for (int q = 0; q < columns; q++) {
                                float v = edge[r * GEMM_NR + q];
                                ct[r * ldc + q] = accumulate ? ct[r * ldc + q] + v : v;
                            }
                        }
                    }
                }
            }
        }
    }
}

#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_KC
#undef GEMM_MC
#undef GEMM_NC
