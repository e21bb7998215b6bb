// Bias and activation epilogues, and the activation's gradient with the bias sums
// (BiasActivation.swift).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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
