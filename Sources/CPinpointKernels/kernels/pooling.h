// Row max pooling, 2x2 pooling that records each window's maximum cell, and the routing of a
// pooled gradient back to those cells (WindowRouting.swift).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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

// 2x2, stride-2 max pooling that records each window's maximum cell (0 top left, 1 top right,
// 2 bottom left, 3 bottom right) as a float, for `MaxPoolWindows` in
// Sources/PinpointTensor/Ops/Pooling.swift.
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
