// GEMM blocks for a few rows against a large matrix read in place (StreamingGEMM.swift), and
// Pinpoint's packed SGEMM where the set has it (gemm_body.h).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

#define PUT(p, v) do { \
        if (store == PP_STORE_STREAM) __builtin_nontemporal_store((v), (pp_v16 *)(p)); \
        else STORE((p), store == PP_STORE_ACCUMULATE ? LOAD(p) + (v) : (v)); \
    } while (0)

void PP_FN(pp_gemm_block_5x64)(const float *a, ptrdiff_t row_step, ptrdiff_t depth_step, int rows, const float *b,
                               ptrdiff_t ldb, int depth, float *c, ptrdiff_t ldc, pp_store store) {
    // Rows past `rows` read row 0 again and are not stored: one loop body for every count.
    const float *p0 = a, *p1 = rows > 1 ? a + row_step : a, *p2 = rows > 2 ? a + 2 * row_step : a,
                *p3 = rows > 3 ? a + 3 * row_step : a, *p4 = rows > 4 ? a + 4 * row_step : a;
#if PP_REGISTERS >= 32
    // Five rows of four vectors: twenty multiply-adds for each four vectors of B loaded (from L2,
    // in the streaming GEMM), where four rows ran at 70% of the peak with B in L2.
    pp_v16 c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0, c20 = 0, c21 = 0;
    pp_v16 c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0, c40 = 0, c41 = 0, c42 = 0, c43 = 0;
    const float *bp = b;
    for (int d = 0; d < depth; d++) {
        pp_v16 b0 = LOAD(bp), b1 = LOAD(bp + 16), b2 = LOAD(bp + 32), b3 = LOAD(bp + 48);
        pp_v16 x0 = SPLAT(*p0), x1 = SPLAT(*p1), x2 = SPLAT(*p2), x3 = SPLAT(*p3), x4 = SPLAT(*p4);
        c00 = MADD(x0, b0, c00); c01 = MADD(x0, b1, c01); c02 = MADD(x0, b2, c02); c03 = MADD(x0, b3, c03);
        c10 = MADD(x1, b0, c10); c11 = MADD(x1, b1, c11); c12 = MADD(x1, b2, c12); c13 = MADD(x1, b3, c13);
        c20 = MADD(x2, b0, c20); c21 = MADD(x2, b1, c21); c22 = MADD(x2, b2, c22); c23 = MADD(x2, b3, c23);
        c30 = MADD(x3, b0, c30); c31 = MADD(x3, b1, c31); c32 = MADD(x3, b2, c32); c33 = MADD(x3, b3, c33);
        c40 = MADD(x4, b0, c40); c41 = MADD(x4, b1, c41); c42 = MADD(x4, b2, c42); c43 = MADD(x4, b3, c43);
        bp += ldb;
        p0 += depth_step; p1 += depth_step; p2 += depth_step; p3 += depth_step; p4 += depth_step;
    }
#define PUT_ROW(r, v0, v1, v2, v3) do { \
        float *q_ = c + (r) * ldc; PUT(q_, v0); PUT(q_ + 16, v1); PUT(q_ + 32, v2); PUT(q_ + 48, v3); \
    } while (0)
    PUT_ROW(0, c00, c01, c02, c03);
    if (rows > 1) PUT_ROW(1, c10, c11, c12, c13);
    if (rows > 2) PUT_ROW(2, c20, c21, c22, c23);
    if (rows > 3) PUT_ROW(3, c30, c31, c32, c33);
    if (rows > 4) PUT_ROW(4, c40, c41, c42, c43);
#undef PUT_ROW
#else
    // Sixteen registers: twenty accumulators (forty AVX2 registers) would live on the stack, a
    // load and a store around every multiply-add. Instead the 64 columns go as four strips of 16,
    // five accumulators each, A's rows read again per strip from L1: each element of C sums the
    // same products in the same order, so the results are those of the 32-register form.
    for (int s = 0; s < 64; s += 16) {
        const float *q0 = p0, *q1 = p1, *q2 = p2, *q3 = p3, *q4 = p4, *bp = b + s;
        pp_v16 c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0;
        for (int d = 0; d < depth; d++) {
            pp_v16 v = LOAD(bp);
            c0 = MADD(SPLAT(*q0), v, c0); c1 = MADD(SPLAT(*q1), v, c1); c2 = MADD(SPLAT(*q2), v, c2);
            c3 = MADD(SPLAT(*q3), v, c3); c4 = MADD(SPLAT(*q4), v, c4);
            bp += ldb;
            q0 += depth_step; q1 += depth_step; q2 += depth_step; q3 += depth_step; q4 += depth_step;
        }
        PUT(c + s, c0);
        if (rows > 1) PUT(c + ldc + s, c1);
        if (rows > 2) PUT(c + 2 * ldc + s, c2);
        if (rows > 3) PUT(c + 3 * ldc + s, c3);
        if (rows > 4) PUT(c + 4 * ldc + s, c4);
    }
#endif
}
#undef PUT

void PP_FN(pp_stream_fence)(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

void PP_FN(pp_gemm_transposed_block_8x48)(const float *w, ptrdiff_t ldw, int rows, const float *panel, int depth, int m,
                                         float *c, ptrdiff_t ldc) {
    // Rows past `rows` read row 0 again and are not stored. Each W row is read front to back
    // once (eight streams the prefetchers follow); the panel (depth x 48, in L2) is reused by
    // every group of rows.
    const float *w0 = w, *w1 = rows > 1 ? w + ldw : w, *w2 = rows > 2 ? w + 2 * ldw : w, *w3 = rows > 3 ? w + 3 * ldw : w;
    const float *w4 = rows > 4 ? w + 4 * ldw : w, *w5 = rows > 5 ? w + 5 * ldw : w, *w6 = rows > 6 ? w + 6 * ldw : w,
                *w7 = rows > 7 ? w + 7 * ldw : w;
    float t[8][48];
#if PP_REGISTERS >= 32
    pp_v16 a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0, e0 = 0, e1 = 0, e2 = 0, f0 = 0, f1 = 0, f2 = 0;
    pp_v16 g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0, h2 = 0, i0 = 0, i1 = 0, i2 = 0, j0 = 0, j1 = 0, j2 = 0;
    const float *pp = panel;
    for (int d = 0; d < depth; d++) {
        pp_v16 p0 = LOAD(pp), p1 = LOAD(pp + 16), p2 = LOAD(pp + 32);
        pp_v16 x;
        x = SPLAT(w0[d]); a0 = MADD(x, p0, a0); a1 = MADD(x, p1, a1); a2 = MADD(x, p2, a2);
        x = SPLAT(w1[d]); b0 = MADD(x, p0, b0); b1 = MADD(x, p1, b1); b2 = MADD(x, p2, b2);
        x = SPLAT(w2[d]); e0 = MADD(x, p0, e0); e1 = MADD(x, p1, e1); e2 = MADD(x, p2, e2);
        x = SPLAT(w3[d]); f0 = MADD(x, p0, f0); f1 = MADD(x, p1, f1); f2 = MADD(x, p2, f2);
        x = SPLAT(w4[d]); g0 = MADD(x, p0, g0); g1 = MADD(x, p1, g1); g2 = MADD(x, p2, g2);
        x = SPLAT(w5[d]); h0 = MADD(x, p0, h0); h1 = MADD(x, p1, h1); h2 = MADD(x, p2, h2);
        x = SPLAT(w6[d]); i0 = MADD(x, p0, i0); i1 = MADD(x, p1, i1); i2 = MADD(x, p2, i2);
        x = SPLAT(w7[d]); j0 = MADD(x, p0, j0); j1 = MADD(x, p1, j1); j2 = MADD(x, p2, j2);
        pp += 48;
    }
    // Row r of the block is column r of C: through a small buffer, one 8-float run per row of C.
    STORE(t[0], a0); STORE(t[0] + 16, a1); STORE(t[0] + 32, a2);
    STORE(t[1], b0); STORE(t[1] + 16, b1); STORE(t[1] + 32, b2);
    STORE(t[2], e0); STORE(t[2] + 16, e1); STORE(t[2] + 32, e2);
    STORE(t[3], f0); STORE(t[3] + 16, f1); STORE(t[3] + 32, f2);
    STORE(t[4], g0); STORE(t[4] + 16, g1); STORE(t[4] + 32, g2);
    STORE(t[5], h0); STORE(t[5] + 16, h1); STORE(t[5] + 32, h2);
    STORE(t[6], i0); STORE(t[6] + 16, i1); STORE(t[6] + 32, i2);
    STORE(t[7], j0); STORE(t[7] + 16, j1); STORE(t[7] + 32, j2);
#else
    // Sixteen registers: 24 accumulators would live on the stack. Four rows by one 16-column
    // strip of the panel at a time instead (four accumulators), the rows read again per strip
    // from L1: the same products summed in the same order as the 32-register form.
    const float *rows_w[8] = {w0, w1, w2, w3, w4, w5, w6, w7};
    for (int half = 0; half < 8; half += 4) {
        const float *u0 = rows_w[half], *u1 = rows_w[half + 1], *u2 = rows_w[half + 2], *u3 = rows_w[half + 3];
        for (int s = 0; s < 48; s += 16) {
            pp_v16 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            const float *pp = panel + s;
            for (int d = 0; d < depth; d++) {
                pp_v16 v = LOAD(pp);
                s0 = MADD(SPLAT(u0[d]), v, s0); s1 = MADD(SPLAT(u1[d]), v, s1);
                s2 = MADD(SPLAT(u2[d]), v, s2); s3 = MADD(SPLAT(u3[d]), v, s3);
                pp += 48;
            }
            STORE(t[half] + s, s0); STORE(t[half + 1] + s, s1); STORE(t[half + 2] + s, s2); STORE(t[half + 3] + s, s3);
        }
    }
    // Row r of the block is column r of C: through the buffer, one 8-float run per row of C.
#endif
    for (int i = 0; i < m; i++) {
        float *o = c + i * ldc;
        for (int r = 0; r < rows; r++) o[r] = t[r][i];
    }
}

#if PP_GEMM
#include "gemm_body.h"
#endif
