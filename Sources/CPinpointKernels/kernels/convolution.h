// The direct convolution's row and kernel gradient (DirectConvolution.swift), and Winograd
// F(4x4, 3x3)'s tile transforms (Winograd.swift, winograd_tiles.h).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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
