// Depthwise 3x3 rows, their kernel gradient (DepthwiseRows.swift), and the input gradient's
// gather (DepthwiseConvolution.swift).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

void PP_FN(pp_depthwise3x3_row)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels, const float *taps,
                                int kernel_rows, int count, float *out) {
    const ptrdiff_t c = channels;
    // Group by group across the row, the group's nine taps in registers: for rows in cache.
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

void PP_FN(pp_depthwise3x3_row_streaming)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels, const float *taps,
                                          int kernel_rows, int count, float *out) {
    const ptrdiff_t c = channels;
    // Pixel by pixel, every channel group of a pixel before the next pixel, so each input row is
    // read in address order; the taps come from L1. Group by group across the row (the taps in
    // registers) reads each pixel's lines a row's stride apart, which the hardware prefetcher
    // does not follow: 1.5x slower where the activation comes from memory, faster in cache.
    const float *x0 = r0, *x1 = x0 + row_stride, *x2 = x1 + row_stride;
    for (int i = 0; i < count; i++) {
        const ptrdiff_t o = i * step;
        float *y = out + i * c;
        for (ptrdiff_t group = 0; group < c; group += 16) {
            const float *t = taps + group, *a = x0 + o + group, *b = x1 + o + group, *d = x2 + o + group;
            // Tap by tap, in the per-pixel loop's order: the same sums, bit for bit.
            pp_v16 acc = LOAD(a) * LOAD(t);
            acc += LOAD(a + c) * LOAD(t + c); acc += LOAD(a + 2 * c) * LOAD(t + 2 * c);
            acc += LOAD(b) * LOAD(t + 3 * c); acc += LOAD(b + c) * LOAD(t + 4 * c); acc += LOAD(b + 2 * c) * LOAD(t + 5 * c);
            if (kernel_rows == 3) {
                acc += LOAD(d) * LOAD(t + 6 * c); acc += LOAD(d + c) * LOAD(t + 7 * c); acc += LOAD(d + 2 * c) * LOAD(t + 8 * c);
            }
            STORE(y + group, acc);
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

void PP_FN(pp_depthwise3x3_kernel_gradient_row_streaming)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step,
                                                          int channels, const float *dy, int kernel_rows, int count, float *dk) {
    const ptrdiff_t c = channels, taps = (ptrdiff_t)kernel_rows * 3 * c;
    // Pixel by pixel, every channel group of a pixel before the next (the input rows read in
    // address order, as in pp_depthwise3x3_row_streaming), into the row's sums per tap in L1,
    // added to dk at the end of the row: the same sums in the same order as accumulating each
    // group across the row in registers.
    float local[4608];
    float *sums = taps <= 4608 ? local : malloc(taps * sizeof(float));
    memset(sums, 0, taps * sizeof(float));
    const float *x0 = r0, *x1 = x0 + row_stride, *x2 = x1 + row_stride;
    for (int i = 0; i < count; i++) {
        const ptrdiff_t o = i * step;
        const float *y = dy + i * c;
        for (ptrdiff_t group = 0; group < c; group += 16) {
            const float *a = x0 + o + group, *b = x1 + o + group, *e = x2 + o + group;
            float *t = sums + group;
            const pp_v16 d = LOAD(y + group);
            STORE(t, LOAD(t) + LOAD(a) * d); STORE(t + c, LOAD(t + c) + LOAD(a + c) * d);
            STORE(t + 2 * c, LOAD(t + 2 * c) + LOAD(a + 2 * c) * d);
            STORE(t + 3 * c, LOAD(t + 3 * c) + LOAD(b) * d); STORE(t + 4 * c, LOAD(t + 4 * c) + LOAD(b + c) * d);
            STORE(t + 5 * c, LOAD(t + 5 * c) + LOAD(b + 2 * c) * d);
            if (kernel_rows == 3) {
                STORE(t + 6 * c, LOAD(t + 6 * c) + LOAD(e) * d); STORE(t + 7 * c, LOAD(t + 7 * c) + LOAD(e + c) * d);
                STORE(t + 8 * c, LOAD(t + 8 * c) + LOAD(e + 2 * c) * d);
            }
        }
    }
    for (ptrdiff_t j = 0; j < taps; j += 16) STORE(dk + j, LOAD(dk + j) + LOAD(sums + j));
    if (sums != local) free(sums);
}

void PP_FN(pp_depthwise_gather_row)(const float *const *dy_rows, const float *const *tap_rows, int row_count, int window,
                                    int stride, int pad_before, int dilation, int output_width, int input_width, int channels,
                                    float *restrict dx) {
    const ptrdiff_t c = channels;
    int columns[16], taps[16];
    for (int iw = 0; iw < input_width; iw++) {
        // The kernel columns whose output pixel exists: iw = ow * stride - pad_before + kw * dilation.
        int n = 0;
        for (int kw = 0; kw < window && n < 16; kw++) {
            int u = iw + pad_before - kw * dilation;
            if (u < 0 || u % stride != 0 || u / stride >= output_width) continue;
            columns[n] = u / stride;
            taps[n++] = kw;
        }
        float *x = dx + iw * c;
        for (ptrdiff_t group = 0; group < c; group += 16) {
            pp_v16 acc = 0;
            for (int r = 0; r < row_count; r++) {
                const float *g = dy_rows[r] + group, *t = tap_rows[r] + group;
                for (int j = 0; j < n; j++) acc += LOAD(g + columns[j] * c) * LOAD(t + taps[j] * c);
            }
            STORE(x + group, acc);
        }
    }
}
