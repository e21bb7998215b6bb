// A packed SGEMM (the BLIS loop structure) for the AVX-512 set, included by matmul.h:
// for each block of NC columns of op(B) and KC of depth, B is packed into KC x 32 micro-panels
// (one stays in L1 while the micro-kernel walks down A); a 12 x 32 micro-kernel (16 columns
// for the last 16 or fewer, 8 or 4 rows for the last 8 or 4) keeps its vector accumulators in
// registers over KC.
// A is read in place, broadcast element by element from its rows (or, transposed, its
// columns): at the depths of these models (16-576) packing it cost more than it saved.
// Packing applies B's transpose; edge panels are zero-padded, and tiles short of columns go
// through a small buffer. With few rows of A, a plain B is read in place instead of packed, and a
// transposed B with many columns swaps the operands' roles (C^T = B A^T) so that it is read in place.

#define GEMM_MR 12
#define GEMM_NR 32
#define GEMM_KC 256
#define GEMM_MC 144
#define GEMM_NC 1024

// C tile (rows x W, rows <= MR, W = 32 or 16) = alpha (A rows x packed B panel over kc) (+ C
// with accumulate): A[i, p] at a[i * row_step + p * depth_step]; rows past `rows` read row 0
// again and are not stored.
#define GEMM_MICRO(MR, W, VECTORS)                                                                               \
    static inline __attribute__((always_inline)) void PP_FN(gemm_micro_##MR##x##W)(                             \
        int kc, const float *a, ptrdiff_t row_step, ptrdiff_t depth_step, int rows, const float *restrict b,     \
        ptrdiff_t b_step, float alpha, float *restrict c, ptrdiff_t ldc, int accumulate) {                      \
        const float *row[MR];                                                                                    \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) row[i] = i < rows ? a + i * row_step : a; \
        pp_v16 acc[MR][VECTORS];                                                                                 \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++)                                          \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) acc[i][v] = 0;                  \
        for (ptrdiff_t p = 0; p < kc; p++) {                                                                     \
            pp_v16 bv[VECTORS];                                                                                  \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) bv[v] = LOAD(b + 16 * v);      \
            ptrdiff_t offset = p * depth_step;                                                                   \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {                                    \
                pp_v16 x = SPLAT(row[i][offset]);                                                                \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) acc[i][v] = MADD(x, bv[v], acc[i][v]); \
            }                                                                                                    \
            b += b_step;                                                                                         \
        }                                                                                                        \
        pp_v16 scale = SPLAT(alpha);                                                                             \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {                                        \
            float *out = c + i * ldc;                                                                            \
            if (i < rows) {                                                                                      \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < VECTORS; v++) {                           \
                    pp_v16 value = alpha == 1 ? acc[i][v] : acc[i][v] * scale;                                   \
                    STORE(out + 16 * v, accumulate ? LOAD(out + 16 * v) + value : value);                        \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }
GEMM_MICRO(12, 32, 2)
GEMM_MICRO(12, 16, 1)
GEMM_MICRO(8, 32, 2)
GEMM_MICRO(8, 16, 1)
GEMM_MICRO(4, 32, 2)
GEMM_MICRO(4, 16, 1)
#undef GEMM_MICRO

// One tile of up to 12 rows: the smallest of the 4-, 8- and 12-row kernels that covers them.
static inline void PP_FN(gemm_tile)(int kc, const float *a, ptrdiff_t row_step, ptrdiff_t depth_step, int rows, int width,
                                    const float *restrict b, ptrdiff_t b_step, float alpha, float *restrict c, ptrdiff_t ldc,
                                    int accumulate) {
#define GEMM_CALL(MR)                                                                                            \
    (width == GEMM_NR ? PP_FN(gemm_micro_##MR##x32) : PP_FN(gemm_micro_##MR##x16))(kc, a, row_step, depth_step, rows, b, \
                                                                                  b_step, alpha, c, ldc, accumulate)
    if (rows > 8) GEMM_CALL(12);
    else if (rows > 4) GEMM_CALL(8);
    else GEMM_CALL(4);
#undef GEMM_CALL
}

// Depth [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) into panels of `width` (32, or 16 for
// the last ones when 16 or fewer columns are left), p-major.
static void PP_FN(gemm_pack_b)(const float *b, ptrdiff_t ldb, int trans, int p0, int kc, int j0, int nc,
                               float *restrict packed) {
    for (int j = 0; j < nc;) {
        int width = nc - j <= 16 ? 16 : GEMM_NR;
        int columns = nc - j < width ? nc - j : width;
        if (trans) {
            // Column by column of the panel: each is a contiguous row of the stored B^T.
            for (int q = 0; q < width; q++) {
                const float *source = b + (ptrdiff_t)(j0 + j + q) * ldb + p0;
                float *target = packed + q;
                if (q < columns) {
                    for (int p = 0; p < kc; p++) target[(ptrdiff_t)p * width] = source[p];
                } else {
                    for (int p = 0; p < kc; p++) target[(ptrdiff_t)p * width] = 0;
                }
            }
            packed += (ptrdiff_t)kc * width;
            j += width;
            continue;
        }
        for (int p = 0; p < kc; p++) {
            ptrdiff_t depth = p0 + p;
            if (columns == width) {
                memcpy(packed, b + depth * ldb + j0 + j, (size_t)width * sizeof(float));
            } else {
                for (int q = 0; q < width; q++) packed[q] = q < columns ? b[depth * ldb + j0 + j + q] : 0;
            }
            packed += width;
        }
        j += width;
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
    // Few rows of A against a transposed B with many columns (a Dense layer's input gradient, dY
    // W^T: 40 x 50176 x 1024): packing B would copy all of W for 40 rows' use, so the product runs
    // as C^T = op(B)^T op(A)^T, where W is read in place and only the small A is packed. Each
    // element's sum is the same, product by product; C^T goes through a per-thread buffer.
    if (trans_b && m <= 4 * GEMM_MR && n >= 16 * m) {
        static _Thread_local float *transposed;
        static _Thread_local size_t transposed_count;
        size_t count = (size_t)m * (size_t)n;
        if (count > transposed_count) {
            free(transposed);
            transposed = aligned_alloc(64, sizeof(float) * ((count + 15) / 16 * 16));
            if (!transposed) abort();
            transposed_count = count;
        }
        PP_FN(pp_sgemm)(0, !trans_a, n, m, k, alpha, b, ldb, a, lda, 0, transposed, m);
        // By blocks of 64 columns, whose rows of C^T stay in L1 while each row of C takes them.
        for (int j0 = 0; j0 < n; j0 += 64) {
            int end = n - j0 < 64 ? n : j0 + 64;
            for (int i = 0; i < m; i++) {
                float *row = c + (ptrdiff_t)i * ldc;
                const float *column = transposed + i;
                if (beta == 0) for (int j = j0; j < end; j++) row[j] = column[(ptrdiff_t)j * m];
                else for (int j = j0; j < end; j++) row[j] += column[(ptrdiff_t)j * m];
            }
        }
        return;
    }
    // Per thread, kept for the thread's life: Pinpoint's workers call this many times per step.
    static _Thread_local float *packed_b;
    if (!packed_b) {
        packed_b = aligned_alloc(64, sizeof(float) * GEMM_KC * GEMM_NC);
        if (!packed_b) abort();
    }
    // A[i, p] = a[i * row_step + p * depth_step].
    const ptrdiff_t row_step = trans_a ? 1 : lda, depth_step = trans_a ? lda : 1;
    // With few rows of A, packing B would cost as much as the product (Winograd's 28-tile blocks:
    // a quarter of it): a plain B whose columns fill whole 16-column panels is read in place.
    const int direct = !trans_b && n % 16 == 0 && m <= 4 * GEMM_MR;
    float edge[GEMM_MR * GEMM_NR];
    for (int j0 = 0; j0 < n; j0 += GEMM_NC) {
        int nc = n - j0 < GEMM_NC ? n - j0 : GEMM_NC;
        for (int p0 = 0; p0 < k; p0 += GEMM_KC) {
            int kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
            int accumulate = p0 > 0 || beta != 0;
            if (!direct) PP_FN(gemm_pack_b)(b, ldb, trans_b, p0, kc, j0, nc, packed_b);
            for (int i0 = 0; i0 < m; i0 += GEMM_MC) {
                int mc = m - i0 < GEMM_MC ? m - i0 : GEMM_MC;
                for (int j = 0; j < nc;) {
                    int width = nc - j <= 16 ? 16 : GEMM_NR;
                    int columns = nc - j < width ? nc - j : width;
                    const float *bp = direct ? b + (ptrdiff_t)p0 * ldb + j0 + j : packed_b + (ptrdiff_t)j * kc;
                    const ptrdiff_t b_step = direct ? ldb : width;
                    for (int i = 0, rows; i < mc; i += rows) {
                        // 13-16 rows left go as two 8-row tiles, not 12 then the 4-row kernel,
                        // whose 8 accumulators leave it bound by loads (Winograd's 28-tile blocks).
                        int left = mc - i;
                        rows = left <= GEMM_MR ? left : left <= 16 ? 8 : GEMM_MR;
                        const float *ap = a + (ptrdiff_t)(i0 + i) * row_step + (ptrdiff_t)p0 * depth_step;
                        float *ct = c + (ptrdiff_t)(i0 + i) * ldc + j0 + j;
                        // A tile stores only its `rows` rows; one short of columns goes through `edge`.
                        int full = columns == width;
                        float *target = full ? ct : edge;
                        ptrdiff_t ldt = full ? ldc : GEMM_NR;
                        int add = full ? accumulate : 0;
                        PP_FN(gemm_tile)(kc, ap, row_step, depth_step, rows, width, bp, b_step, alpha, target, ldt, add);
                        if (full) continue;
                        for (int r = 0; r < rows; r++) {
                            for (int q = 0; q < columns; q++) {
                                float v = edge[r * GEMM_NR + q];
                                ct[r * ldc + q] = accumulate ? ct[r * ldc + q] + v : v;
                            }
                        }
                    }
                    j += width;
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
