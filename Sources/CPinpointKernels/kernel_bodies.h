// The kernels' bodies, compiled once per kernel set: the including file defines PP_SUFFIX (the
// set's name, appended to every function) and PP_FUSED (1 where the set has FMA), and wraps
// this file in `#pragma clang attribute push(__attribute__((target(...))), apply_to = function)`.
//
// Vectors are 16 floats whatever the set: one zmm register with AVX-512, two ymm with AVX2, four
// xmm with SSE2. Register blocks are sized for the AVX-512 file's 32 registers; the narrower
// sets spill a little and stay correct.
#include <stdlib.h>
#include <string.h>

// Each product is rounded once (FMA) or twice (multiply, then add): never left to the
// compiler, so every set gives the same results on every build.
#pragma clang fp contract(off)

#define PP_CAT2(a, b) a##_##b
#define PP_CAT(a, b) PP_CAT2(a, b)
#define PP_FN(name) PP_CAT(name, PP_SUFFIX)

typedef float pp_v16 __attribute__((ext_vector_type(16)));

// Macros rather than inline functions: a 16-float vector passed by value between functions
// compiled for different sets would change the calling convention (clang's -Wpsabi).
#define LOAD(p) ({ pp_v16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE(p, v) ({ pp_v16 s_ = (v); memcpy((p), &s_, sizeof s_); })
#define SPLAT(x) ((pp_v16)(float)(x))
// a * b + c
#if PP_FUSED
#define MADD(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

void PP_FN(pp_gemm_block_5x64)(const float *a, ptrdiff_t row_step, ptrdiff_t depth_step, int rows, const float *b,
                               ptrdiff_t ldb, int depth, float *c, ptrdiff_t ldc, pp_store store) {
    // Rows past `rows` read row 0 again and are not stored: one loop body for every count. Five
    // rows of four vectors: twenty multiply-adds for each four vectors of B loaded (from L2, in
    // the streaming GEMM), where four rows ran at 70% of the peak with B in L2.
    const float *p0 = a, *p1 = rows > 1 ? a + row_step : a, *p2 = rows > 2 ? a + 2 * row_step : a,
                *p3 = rows > 3 ? a + 3 * row_step : a, *p4 = rows > 4 ? a + 4 * row_step : a;
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
#define PUT(p, v) do { \
        if (store == PP_STORE_STREAM) __builtin_nontemporal_store((v), (pp_v16 *)(p)); \
        else STORE((p), store == PP_STORE_ACCUMULATE ? LOAD(p) + (v) : (v)); \
    } while (0)
#define PUT_ROW(r, v0, v1, v2, v3) do { \
        float *q_ = c + (r) * ldc; PUT(q_, v0); PUT(q_ + 16, v1); PUT(q_ + 32, v2); PUT(q_ + 48, v3); \
    } while (0)
    PUT_ROW(0, c00, c01, c02, c03);
    if (rows > 1) PUT_ROW(1, c10, c11, c12, c13);
    if (rows > 2) PUT_ROW(2, c20, c21, c22, c23);
    if (rows > 3) PUT_ROW(3, c30, c31, c32, c33);
    if (rows > 4) PUT_ROW(4, c40, c41, c42, c43);
#undef PUT_ROW
#undef PUT
}

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
    float t[8][48];
    STORE(t[0], a0); STORE(t[0] + 16, a1); STORE(t[0] + 32, a2);
    STORE(t[1], b0); STORE(t[1] + 16, b1); STORE(t[1] + 32, b2);
    STORE(t[2], e0); STORE(t[2] + 16, e1); STORE(t[2] + 32, e2);
    STORE(t[3], f0); STORE(t[3] + 16, f1); STORE(t[3] + 32, f2);
    STORE(t[4], g0); STORE(t[4] + 16, g1); STORE(t[4] + 32, g2);
    STORE(t[5], h0); STORE(t[5] + 16, h1); STORE(t[5] + 32, h2);
    STORE(t[6], i0); STORE(t[6] + 16, i1); STORE(t[6] + 32, i2);
    STORE(t[7], j0); STORE(t[7] + 16, j1); STORE(t[7] + 32, j2);
    for (int i = 0; i < m; i++) {
        float *o = c + i * ldc;
        for (int r = 0; r < rows; r++) o[r] = t[r][i];
    }
}

void PP_FN(pp_direct_conv_row)(const float *padded, ptrdiff_t row_length, int kernel_rows, int span, int step,
                               const float *kernel, int cout, int width, float *out) {
    for (int block = 0; block < cout;) {
        int wide = cout - block >= 32;
        for (int ow = 0; ow < width;) {
            int pixels = width - ow < 4 ? width - ow : 4;
            pp_v16 a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
            for (int r = 0; r < kernel_rows; r++) {
                const float *x = padded + r * row_length + (ptrdiff_t)ow * step;
                const float *k = kernel + (ptrdiff_t)r * span * cout + block;
                if (pixels == 4 && wide) {
                    for (int j = 0; j < span; j++) {
                        pp_v16 w0 = LOAD(k + (ptrdiff_t)j * cout), w1 = LOAD(k + (ptrdiff_t)j * cout + 16);
                        pp_v16 x0 = SPLAT(x[j]), x1 = SPLAT(x[step + j]), x2 = SPLAT(x[2 * step + j]),
                               x3 = SPLAT(x[3 * step + j]);
                        a0 = MADD(x0, w0, a0); b0 = MADD(x0, w1, b0);
                        a1 = MADD(x1, w0, a1); b1 = MADD(x1, w1, b1);
                        a2 = MADD(x2, w0, a2); b2 = MADD(x2, w1, b2);
                        a3 = MADD(x3, w0, a3); b3 = MADD(x3, w1, b3);
                    }
                } else if (pixels == 4) {
                    for (int j = 0; j < span; j++) {
                        pp_v16 w0 = LOAD(k + (ptrdiff_t)j * cout);
                        a0 = MADD(SPLAT(x[j]), w0, a0);
                        a1 = MADD(SPLAT(x[step + j]), w0, a1);
                        a2 = MADD(SPLAT(x[2 * step + j]), w0, a2);
                        a3 = MADD(SPLAT(x[3 * step + j]), w0, a3);
                    }
                } else {
                    // The row's last pixels, one at a time.
                    for (int j = 0; j < span; j++) {
                        pp_v16 w0 = LOAD(k + (ptrdiff_t)j * cout), w1 = wide ? LOAD(k + (ptrdiff_t)j * cout + 16) : 0;
                        pp_v16 x0 = SPLAT(x[j]);
                        a0 = MADD(x0, w0, a0); b0 = MADD(x0, w1, b0);
                        if (pixels > 1) { pp_v16 x1 = SPLAT(x[step + j]); a1 = MADD(x1, w0, a1); b1 = MADD(x1, w1, b1); }
                        if (pixels > 2) { pp_v16 x2 = SPLAT(x[2 * step + j]); a2 = MADD(x2, w0, a2); b2 = MADD(x2, w1, b2); }
                    }
                }
            }
            float *y = out + (ptrdiff_t)ow * cout + block;
            STORE(y, a0);
            if (wide) STORE(y + 16, b0);
            if (pixels > 1) { STORE(y + cout, a1); if (wide) STORE(y + cout + 16, b1); }
            if (pixels > 2) { STORE(y + 2 * cout, a2); if (wide) STORE(y + 2 * cout + 16, b2); }
            if (pixels > 3) { STORE(y + 3 * cout, a3); if (wide) STORE(y + 3 * cout + 16, b3); }
            ow += pixels;
        }
        block += wide ? 32 : 16;
    }
}

void PP_FN(pp_direct_kernel_gradient_row9)(const float *x, int step, const float *dy, int cout, int width, float *acc) {
    for (int block = 0; block < cout; block += 16) {
        pp_v16 a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0;
        const float *xp = x, *dp = dy + block;
        for (int p = 0; p < width; p++) {
            pp_v16 d = LOAD(dp);
            a0 = MADD(SPLAT(xp[0]), d, a0); a1 = MADD(SPLAT(xp[1]), d, a1); a2 = MADD(SPLAT(xp[2]), d, a2);
            a3 = MADD(SPLAT(xp[3]), d, a3); a4 = MADD(SPLAT(xp[4]), d, a4); a5 = MADD(SPLAT(xp[5]), d, a5);
            a6 = MADD(SPLAT(xp[6]), d, a6); a7 = MADD(SPLAT(xp[7]), d, a7); a8 = MADD(SPLAT(xp[8]), d, a8);
            xp += step;
            dp += cout;
        }
        float *t = acc + block;
        STORE(t, LOAD(t) + a0); t += cout; STORE(t, LOAD(t) + a1); t += cout; STORE(t, LOAD(t) + a2); t += cout;
        STORE(t, LOAD(t) + a3); t += cout; STORE(t, LOAD(t) + a4); t += cout; STORE(t, LOAD(t) + a5); t += cout;
        STORE(t, LOAD(t) + a6); t += cout; STORE(t, LOAD(t) + a7); t += cout; STORE(t, LOAD(t) + a8);
    }
}

void PP_FN(pp_max_pool_row)(const float *input, int rows, int input_width, int window, int stride, int pad_before,
                            int width, int channels, float *out) {
    for (int ow = 0; ow < width; ow++) {
        int start = ow * stride - pad_before;
        int lo = start > 0 ? start : 0, hi = start + window < input_width ? start + window : input_width;
        for (int group = 0; group < channels; group += 16) {
            pp_v16 m = LOAD(input + (ptrdiff_t)lo * channels + group);
            for (int r = 0; r < rows; r++) {
                for (int iw = lo; iw < hi; iw++) {
                    pp_v16 v = LOAD(input + ((ptrdiff_t)r * input_width + iw) * channels + group);
                    m = v > m ? v : m;
                }
            }
            STORE(out + (ptrdiff_t)ow * channels + group, m);
        }
    }
}

void PP_FN(pp_depthwise3x3_row)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels, const float *taps,
                                int kernel_rows, int count, float *out) {
    const ptrdiff_t c = channels;
    for (ptrdiff_t group = 0; group < c; group += 16) {
        const float *x0 = r0 + group, *x1 = x0 + row_stride, *x2 = x1 + row_stride, *t = taps + group;
        pp_v16 t0 = LOAD(t), t1 = LOAD(t + c), t2 = LOAD(t + 2 * c), t3 = LOAD(t + 3 * c), t4 = LOAD(t + 4 * c),
               t5 = LOAD(t + 5 * c);
        float *y = out + group;
        if (kernel_rows == 3) {
            pp_v16 t6 = LOAD(t + 6 * c), t7 = LOAD(t + 7 * c), t8 = LOAD(t + 8 * c);
            for (int i = 0; i < count; i++, y += c) {
                ptrdiff_t o = i * step;
                // Tap by tap, in the per-pixel loop's order: the same sums, bit for bit.
                pp_v16 acc = LOAD(x0 + o) * t0;
                acc += LOAD(x0 + o + c) * t1; acc += LOAD(x0 + o + 2 * c) * t2;
                acc += LOAD(x1 + o) * t3; acc += LOAD(x1 + o + c) * t4; acc += LOAD(x1 + o + 2 * c) * t5;
                acc += LOAD(x2 + o) * t6; acc += LOAD(x2 + o + c) * t7; acc += LOAD(x2 + o + 2 * c) * t8;
                STORE(y, acc);
            }
        } else {
            for (int i = 0; i < count; i++, y += c) {
                ptrdiff_t o = i * step;
                pp_v16 acc = LOAD(x0 + o) * t0;
                acc += LOAD(x0 + o + c) * t1; acc += LOAD(x0 + o + 2 * c) * t2;
                acc += LOAD(x1 + o) * t3; acc += LOAD(x1 + o + c) * t4; acc += LOAD(x1 + o + 2 * c) * t5;
                STORE(y, acc);
            }
        }
    }
}

void PP_FN(pp_depthwise3x3_kernel_gradient_row)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels,
                                                const float *dy, int kernel_rows, int count, float *dk) {
    const ptrdiff_t c = channels;
    for (ptrdiff_t group = 0; group < c; group += 16) {
        const float *x0 = r0 + group, *x1 = x0 + row_stride, *x2 = x1 + row_stride, *y = dy + group;
        pp_v16 a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0;
        for (int i = 0; i < count; i++, y += c) {
            ptrdiff_t o = i * step;
            pp_v16 d = LOAD(y);
            a0 += LOAD(x0 + o) * d; a1 += LOAD(x0 + o + c) * d; a2 += LOAD(x0 + o + 2 * c) * d;
            a3 += LOAD(x1 + o) * d; a4 += LOAD(x1 + o + c) * d; a5 += LOAD(x1 + o + 2 * c) * d;
            if (kernel_rows == 3) { a6 += LOAD(x2 + o) * d; a7 += LOAD(x2 + o + c) * d; a8 += LOAD(x2 + o + 2 * c) * d; }
        }
        float *t = dk + group;
        STORE(t, LOAD(t) + a0); STORE(t + c, LOAD(t + c) + a1); STORE(t + 2 * c, LOAD(t + 2 * c) + a2);
        STORE(t + 3 * c, LOAD(t + 3 * c) + a3); STORE(t + 4 * c, LOAD(t + 4 * c) + a4); STORE(t + 5 * c, LOAD(t + 5 * c) + a5);
        if (kernel_rows == 3) {
            STORE(t + 6 * c, LOAD(t + 6 * c) + a6); STORE(t + 7 * c, LOAD(t + 7 * c) + a7); STORE(t + 8 * c, LOAD(t + 8 * c) + a8);
        }
    }
}

typedef float pp_v8 __attribute__((ext_vector_type(8)));
typedef double pp_d8 __attribute__((ext_vector_type(8)));

void PP_FN(pp_batch_norm_moments)(const float *restrict src, ptrdiff_t row_begin, ptrdiff_t row_end, int channels,
                                  double *restrict sum, double *restrict squares) {
    const int vector_channels = channels - channels % 8;
    for (ptrdiff_t r = row_begin; r < row_end; r++) {
        const float *row = src + r * channels;
        for (int c = 0; c < vector_channels; c += 8) {
            pp_v8 x, x0;
            memcpy(&x, row + c, sizeof x);
            memcpy(&x0, src + c, sizeof x0);
            pp_d8 d = __builtin_convertvector(x, pp_d8) - __builtin_convertvector(x0, pp_d8), s, q;
            memcpy(&s, sum + c, sizeof s);
            memcpy(&q, squares + c, sizeof q);
            s += d;
            q += d * d;
            memcpy(sum + c, &s, sizeof s);
            memcpy(squares + c, &q, sizeof q);
        }
        for (int c = vector_channels; c < channels; c++) {
            double d = (double)row[c] - (double)src[c];
            sum[c] += d;
            squares[c] += d * d;
        }
    }
}

// The activations as Swift computes them, NaN included: max(v, 0) is 0 >= v ? 0 : v, and
// min(m, 6) is 6 < m ? 6 : m. Each kernel's loop is written once and instantiated per activation
// (a switch inside the loop would stop it from vectorizing), as FOR_EACH_DERIVATIVE does below.
#define ACTIVATE_LINEAR(v) (v)
#define ACTIVATE_RELU(v) (0.0f >= (v) ? 0.0f : (v))
#define ACTIVATE_RELU6(v) ({ float m_ = ACTIVATE_RELU(v); 6.0f < m_ ? 6.0f : m_; })
#define FOR_EACH_ACTIVATION(activation, body)                \
    switch (activation) {                                   \
    case PP_ACTIVATION_RELU: body(ACTIVATE_RELU); break;    \
    case PP_ACTIVATION_RELU6: body(ACTIVATE_RELU6); break;  \
    default: body(ACTIVATE_LINEAR); break;                  \
    }

void PP_FN(pp_depthwise_scatter_row)(const float *restrict dy, const float *restrict taps, int window, int width,
                                     int stride, int pad_before, int dilation, int input_width, int channels,
                                     float *restrict dx) {
    for (int kw = 0; kw < window; kw++) {
        const float *tap = taps + (ptrdiff_t)kw * channels;
        for (int ow = 0; ow < width; ow++) {
            int iw = ow * stride - pad_before + kw * dilation;
            if (iw < 0 || iw >= input_width) continue;
            float *x = dx + (ptrdiff_t)iw * channels;
            const float *g = dy + (ptrdiff_t)ow * channels;
            for (int group = 0; group < channels; group += 16) {
                STORE(x + group, LOAD(x + group) + LOAD(g + group) * LOAD(tap + group));
            }
        }
    }
}

void PP_FN(pp_bias_activation_rows)(float *restrict p, ptrdiff_t rows, int columns, const float *restrict bias,
                                    pp_activation activation) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = p + r * columns;
        if (bias) {
#define BIASED(ACTIVATE) \
    _Pragma("clang loop vectorize(enable)") for (int c = 0; c < columns; c++) { float v = row[c] + bias[c]; row[c] = ACTIVATE(v); }
            FOR_EACH_ACTIVATION(activation, BIASED)
#undef BIASED
        } else {
            if (activation == PP_ACTIVATION_LINEAR) return;
#define UNBIASED(ACTIVATE) \
    _Pragma("clang loop vectorize(enable)") for (int c = 0; c < columns; c++) { float v = row[c]; row[c] = ACTIVATE(v); }
            FOR_EACH_ACTIVATION(activation, UNBIASED)
#undef UNBIASED
        }
    }
}

void PP_FN(pp_batch_norm_rows)(const float *restrict src, ptrdiff_t rows, int channels, const float *restrict mean,
                               const float *restrict scale, const float *restrict beta, pp_activation activation,
                               float *restrict out) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *x = src + r * channels;
        float *o = out + r * channels;
#define NORMALIZE(ACTIVATE)                                                           \
    _Pragma("clang loop vectorize(enable)") for (int c = 0; c < channels; c++) {     \
        float v = (x[c] - mean[c]) * scale[c] + beta[c];                              \
        o[c] = ACTIVATE(v);                                                           \
    }
        FOR_EACH_ACTIVATION(activation, NORMALIZE)
#undef NORMALIZE
    }
}

// dy taken back through the activation at the pre-activation value z.
#define GRAD_LINEAR(g, z) ((void)(z), (g))
#define GRAD_RELU(g, z) ((z) > 0 ? (g) : 0.0f)
#define GRAD_RELU6(g, z) ((z) > 0 && (z) < 6 ? (g) : 0.0f)
#define FOR_EACH_DERIVATIVE(activation, body) \
    switch (activation) {                    \
    case PP_ACTIVATION_RELU: body(GRAD_RELU); break; \
    case PP_ACTIVATION_RELU6: body(GRAD_RELU6); break; \
    default: body(GRAD_LINEAR); break;       \
    }

// 2x2, stride-2 max pooling that records each window's maximum cell (0 top left, 1 top right,
// 2 bottom left, 3 bottom right) as a float, for `MaxPoolWindows` in
// Sources/PinpointTensor/ConvolutionPooling.swift.
void PP_FN(pp_max_pool_windows_row)(const float *restrict input, int rows, int width, int pooled_width, int channels,
                                    float *restrict out, float *restrict cells) {
    for (int pw = 0; pw < pooled_width; pw++) {
        int has_column = 2 * pw + 1 < width, has_row = rows > 1;
        const float *x = input + (ptrdiff_t)2 * pw * channels, *below = x + (ptrdiff_t)width * channels;
        for (int group = 0; group < channels; group += 16) {
            pp_v16 best = LOAD(x + group), cell = 0;
            // Window order, strictly greater: the first of equal values wins.
#define CONSIDER(p, index) { pp_v16 v_ = LOAD(p); __typeof__(v_ > best) wins_ = v_ > best; \
                             best = wins_ ? v_ : best; cell = wins_ ? SPLAT(index) : cell; }
            if (has_column) CONSIDER(x + channels + group, 1)
            if (has_row) CONSIDER(below + group, 2)
            if (has_row && has_column) CONSIDER(below + channels + group, 3)
#undef CONSIDER
            STORE(out + (ptrdiff_t)pw * channels + group, best);
            if (cells) STORE(cells + (ptrdiff_t)pw * channels + group, cell);
        }
    }
}

void PP_FN(pp_route_windows)(const float *restrict cells, const float *restrict gradient, int row_parity, int first_column,
                             int count, int covered, int channels, float *restrict out) {
    for (int i = 0; i < count; i++) {
        int column = first_column + i;
        float *o = out + (ptrdiff_t)i * channels;
        if (column < 0 || column >= covered) {
            memset(o, 0, (size_t)channels * sizeof(float));
            continue;
        }
        const ptrdiff_t offset = (ptrdiff_t)(column / 2) * channels;
        const pp_v16 here = SPLAT(2 * row_parity + column % 2);
        for (int group = 0; group < channels; group += 16) {
            pp_v16 g = LOAD(gradient + offset + group);
            STORE(o + group, LOAD(cells + offset + group) == here ? g : 0);
        }
    }
}

void PP_FN(pp_activation_gradient_rows)(const float *restrict g, const float *restrict y, ptrdiff_t rows, int channels,
                                        pp_activation activation, float *restrict out, double *restrict bias_sums) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *gr = g + r * channels, *yr = y + r * channels;
        const float *sum_from = gr;
        if (out) {
            float *o = out + r * channels;
#define GRADIENT(GRAD) _Pragma("clang loop vectorize(enable)") for (int c = 0; c < channels; c++) o[c] = GRAD(gr[c], yr[c]);
            FOR_EACH_DERIVATIVE(activation, GRADIENT)
#undef GRADIENT
            sum_from = o;
        }
        if (bias_sums) {
#pragma clang loop vectorize(enable)
            for (int c = 0; c < channels; c++) bias_sums[c] += (double)sum_from[c];
        }
    }
}

void PP_FN(pp_batch_norm_gradient_sums)(const float *restrict x, const float *restrict dy, ptrdiff_t row_begin,
                                        ptrdiff_t row_end, int channels, const float *restrict mean,
                                        const float *restrict scale, const float *restrict shift,
                                        pp_activation activation, float *restrict block, double *restrict sum_dy,
                                        double *restrict sum_dyx) {
    float *block_dy = block, *block_dyx = block + channels;
    for (ptrdiff_t r = row_begin; r < row_end;) {
        ptrdiff_t count = row_end - r < 8 ? row_end - r : 8;
        memset(block, 0, 2 * (size_t)channels * sizeof(float));
        for (ptrdiff_t i = 0; i < count; i++) {
            const float *row = x + (r + i) * channels, *g = dy + (r + i) * channels;
#define SUMS(GRAD)                                                                    \
    _Pragma("clang loop vectorize(enable)") for (int c = 0; c < channels; c++) {     \
        float z = (row[c] - mean[c]) * scale[c] + shift[c], d = GRAD(g[c], z);        \
        block_dy[c] += d;                                                             \
        block_dyx[c] += d * (row[c] - mean[c]);                                       \
    }
            FOR_EACH_DERIVATIVE(activation, SUMS)
#undef SUMS
        }
        for (int c = 0; c < channels; c++) {
            sum_dy[c] += (double)block_dy[c];
            sum_dyx[c] += (double)block_dyx[c];
        }
        r += count;
    }
}

void PP_FN(pp_batch_norm_input_gradient)(const float *restrict x, const float *restrict dy, ptrdiff_t rows, int channels,
                                         const float *restrict mean, const float *restrict scale,
                                         const float *restrict shift, pp_activation activation, const float *restrict a,
                                         const float *restrict b, const float *restrict k, float *restrict out) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = x + r * channels, *g = dy + r * channels;
        float *o = out + r * channels;
#define INPUT(GRAD)                                                                   \
    _Pragma("clang loop vectorize(enable)") for (int c = 0; c < channels; c++) {     \
        float z = (row[c] - mean[c]) * scale[c] + shift[c], gc = GRAD(g[c], z);       \
        o[c] = a[c] * (gc - b[c] - (row[c] - mean[c]) * k[c]);                        \
    }
        FOR_EACH_DERIVATIVE(activation, INPUT)
#undef INPUT
    }
}
#undef FOR_EACH_DERIVATIVE
#undef GRAD_LINEAR
#undef GRAD_RELU
#undef GRAD_RELU6
#undef FOR_EACH_ACTIVATION
#undef ACTIVATE_LINEAR
#undef ACTIVATE_RELU
#undef ACTIVATE_RELU6

typedef float pp_v4 __attribute__((ext_vector_type(4)));

#define V pp_v16
#define W 16
#include "winograd_tiles.h"
#undef V
#undef W
#define V pp_v4
#define W 4
#include "winograd_tiles.h"
#undef V
#undef W

// Channels go in groups of 16, then of 4 (Winograd's layers have channels % 4 == 0).
#define FOR_EACH_CHANNEL_GROUP(channels, wide, narrow) \
    do {                                              \
        int ch = 0;                                   \
        for (; ch + 16 <= (channels); ch += 16) wide; \
        for (; ch < (channels); ch += 4) narrow;      \
    } while (0)

void PP_FN(pp_winograd_input_tile)(const float *d, ptrdiff_t row_stride, int channels, float *u, ptrdiff_t stride) {
    FOR_EACH_CHANNEL_GROUP(channels, PP_FN(input_tile_16)(d, row_stride, channels, u, stride, ch),
                           PP_FN(input_tile_4)(d, row_stride, channels, u, stride, ch));
}

void PP_FN(pp_winograd_output_gradient_tile)(const float *dy, ptrdiff_t row_stride, int channels, float *out,
                                             ptrdiff_t stride) {
    FOR_EACH_CHANNEL_GROUP(channels, PP_FN(output_gradient_tile_16)(dy, row_stride, channels, out, stride, ch),
                           PP_FN(output_gradient_tile_4)(dy, row_stride, channels, out, stride, ch));
}

#define STORE_ROWS(V, W)                                                                                      \
    do {                                                                                                      \
        V y_[4][4];                                                                                           \
        PP_FN(output_tile_##W)(m, stride, ch, y_);                                                            \
        for (int r = 0; r < rows; r++) {                                                                      \
            for (int c = 0; c < columns; c++) memcpy(y + r * row_stride + (ptrdiff_t)c * channels + ch, &y_[r][c], sizeof(V)); \
        }                                                                                                     \
    } while (0)

void PP_FN(pp_winograd_output_tile)(float *m, ptrdiff_t stride, int channels, float *y, ptrdiff_t row_stride, int rows,
                                    int columns) {
    FOR_EACH_CHANNEL_GROUP(channels, STORE_ROWS(pp_v16, 16), STORE_ROWS(pp_v4, 4));
}
#undef STORE_ROWS

void PP_FN(pp_winograd_pooled_tile)(float *m, ptrdiff_t stride, int channels, float *y, ptrdiff_t row_stride, int rows,
                                    int columns, int pooled_rows, int pooled_columns) {
    for (int ch = 0; ch < channels; ch += 16) {
        pp_v16 t[4][4];
        PP_FN(output_tile_16)(m, stride, ch, t);
        for (int a = 0; a < 2 && a < pooled_rows; a++) {
            int has_row = 2 * a + 1 < rows;
            for (int b = 0; b < 2 && b < pooled_columns; b++) {
                int has_column = 2 * b + 1 < columns;
                pp_v16 c00 = t[2 * a][2 * b], c01 = t[2 * a][2 * b + 1], c10 = t[2 * a + 1][2 * b], c11 = t[2 * a + 1][2 * b + 1];
                pp_v16 best = c00;
                if (has_column) best = c01 > best ? c01 : best;
                if (has_row) best = c10 > best ? c10 : best;
                if (has_row && has_column) best = c11 > best ? c11 : best;
                STORE(y + a * row_stride + (ptrdiff_t)b * channels + ch, best);
            }
        }
    }
}
#undef FOR_EACH_CHANNEL_GROUP

float PP_FN(pp_peak_multiply_adds)(long iterations) {
    // Independent chains enough to cover the FMA latency on every port: 12 vectors with
    // AVX-512's 32 registers, 6 (12 ymm) with AVX2's 16.
#if PP_REGISTERS >= 32
#define CHAINS 12
#else
#define CHAINS 6
#endif
    pp_v16 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (pp_v16)(float)i;
    pp_v16 m = (pp_v16)0.999999f, a = (pp_v16)1e-7f;
    for (long n = 0; n < iterations; n++) {
        _Pragma("clang loop unroll(full)") for (int i = 0; i < CHAINS; i++) acc[i] = MADD(acc[i], m, a);
    }
    float sum = 0;
    for (int i = 0; i < CHAINS; i++) for (int j = 0; j < 16; j++) sum += acc[i][j];
    return sum;
#undef CHAINS
}

void PP_FN(pp_rmsprop_update)(float *restrict w, float *restrict v, float *restrict m, const float *restrict g, ptrdiff_t n,
                              float learning_rate, float rho, float momentum, float epsilon) {
    const float take = 1 - rho;
    if (m) {
#pragma clang loop vectorize(enable)
        for (ptrdiff_t j = 0; j < n; j++) {
            float gj = g[j], vj = v[j] * rho + gj * gj * take;
            float mj = m[j] * momentum + gj * learning_rate / __builtin_elementwise_sqrt(vj + epsilon);
            v[j] = vj;
            m[j] = mj;
            w[j] = w[j] - mj;
        }
    } else {
#pragma clang loop vectorize(enable)
        for (ptrdiff_t j = 0; j < n; j++) {
            float gj = g[j], vj = v[j] * rho + gj * gj * take;
            v[j] = vj;
            w[j] = w[j] - gj * learning_rate / __builtin_elementwise_sqrt(vj + epsilon);
        }
    }
}

#if PP_GEMM
#include "gemm_body.h"
#endif

void PP_FN(pp_fill_table)(pp_kernel_table *t) {
#if PP_GEMM
    t->sgemm = PP_FN(pp_sgemm);
#else
    t->sgemm = NULL;
#endif
    t->peak_multiply_adds = PP_FN(pp_peak_multiply_adds);
    t->peak_chains = PP_REGISTERS >= 32 ? 12 : 6;
    t->gemm_block_5x64 = PP_FN(pp_gemm_block_5x64);
    t->stream_fence = PP_FN(pp_stream_fence);
    t->gemm_transposed_block_8x48 = PP_FN(pp_gemm_transposed_block_8x48);
    t->direct_conv_row = PP_FN(pp_direct_conv_row);
    t->direct_kernel_gradient_row9 = PP_FN(pp_direct_kernel_gradient_row9);
    t->max_pool_row = PP_FN(pp_max_pool_row);
    t->max_pool_windows_row = PP_FN(pp_max_pool_windows_row);
    t->route_windows = PP_FN(pp_route_windows);
    t->activation_gradient_rows = PP_FN(pp_activation_gradient_rows);
    t->rmsprop_update = PP_FN(pp_rmsprop_update);
    t->depthwise3x3_row = PP_FN(pp_depthwise3x3_row);
    t->depthwise3x3_kernel_gradient_row = PP_FN(pp_depthwise3x3_kernel_gradient_row);
    t->depthwise_scatter_row = PP_FN(pp_depthwise_scatter_row);
    t->bias_activation_rows = PP_FN(pp_bias_activation_rows);
    t->batch_norm_moments = PP_FN(pp_batch_norm_moments);
    t->batch_norm_rows = PP_FN(pp_batch_norm_rows);
    t->batch_norm_gradient_sums = PP_FN(pp_batch_norm_gradient_sums);
    t->batch_norm_input_gradient = PP_FN(pp_batch_norm_input_gradient);
    t->winograd_input_tile = PP_FN(pp_winograd_input_tile);
    t->winograd_output_tile = PP_FN(pp_winograd_output_tile);
    t->winograd_pooled_tile = PP_FN(pp_winograd_pooled_tile);
    t->winograd_output_gradient_tile = PP_FN(pp_winograd_output_gradient_tile);
}

#undef LOAD
#undef STORE
#undef SPLAT
#undef MADD
