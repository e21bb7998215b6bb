// Batch normalization's four passes: moments, normalize (with the activation), the gradient's
// sums, the input gradient (Normalization.swift, BatchMoments.swift).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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
