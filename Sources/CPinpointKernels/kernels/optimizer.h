// RMSprop's update (PinpointOptimizers).
// Included by kernel_bodies.h, once per kernel set, after its vector macros.

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
