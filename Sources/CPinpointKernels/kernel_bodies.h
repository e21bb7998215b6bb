// The kernels' bodies, compiled once per kernel set: the including file defines PP_SUFFIX (the
// set's name, appended to every function) and PP_FUSED (1 where the set has FMA), and wraps
// this file in `#pragma clang attribute push(__attribute__((target(...))), apply_to = function)`.
//
// Vectors are 16 floats whatever the set: one zmm register with AVX-512, two ymm with AVX2, four
// xmm with SSE2. Register blocks are sized for the AVX-512 file's 32 registers (PP_REGISTERS);
// the GEMM blocks that stream a large operand have a 16-register form as well, since spilling
// their accumulators halved the AVX2 set's speed there. Elsewhere the narrower sets spill a
// little and stay correct.
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

typedef float pp_v8 __attribute__((ext_vector_type(8)));
typedef double pp_d8 __attribute__((ext_vector_type(8)));

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

typedef float pp_v4 __attribute__((ext_vector_type(4)));

// One header per op family.
#include "kernels/matmul.h"
#include "kernels/convolution.h"
#include "kernels/depthwise_convolution.h"
#include "kernels/pooling.h"
#include "kernels/normalization.h"
#include "kernels/activation.h"
#include "kernels/optimizer.h"

#undef FOR_EACH_DERIVATIVE
#undef GRAD_LINEAR
#undef GRAD_RELU
#undef GRAD_RELU6
#undef FOR_EACH_ACTIVATION
#undef ACTIVATE_LINEAR
#undef ACTIVATE_RELU
#undef ACTIVATE_RELU6

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
    t->depthwise3x3_row_streaming = PP_FN(pp_depthwise3x3_row_streaming);
    t->depthwise3x3_kernel_gradient_row = PP_FN(pp_depthwise3x3_kernel_gradient_row);
    t->depthwise3x3_kernel_gradient_row_streaming = PP_FN(pp_depthwise3x3_kernel_gradient_row_streaming);
    t->depthwise_gather_row = PP_FN(pp_depthwise_gather_row);
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
