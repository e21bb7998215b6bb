// Depthwise 3x3 rows, their kernel gradient, and the input gradient's scatter
// (DepthwiseRows.swift).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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
