// Pinpoint's compute kernels, one build per instruction set in one binary, chosen at run time.
//
// Swift has no per-function target attribute and SwiftPM refuses the -target-cpu flag in a
// package used as a dependency, so Swift code compiles for baseline x86-64 (SSE2, no FMA).
// These kernels are C: kernel_bodies.h is compiled three times under
// `#pragma clang attribute push(__attribute__((target(...))))` (kernels_avx512.c,
// kernels_avx2.c, kernels_generic.c), and pp_kernels() returns the table of the best set the
// CPU and the OS support, picked once. PINPOINT_CPU=generic|avx2|avx512 forces a set (tests run
// each one the machine supports); asking for a set the CPU cannot run stops the process with a
// message rather than dying later on an illegal instruction.
#ifndef CPINPOINT_KERNELS_H
#define CPINPOINT_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma clang assume_nonnull begin

typedef enum {
    PP_KERNEL_SET_GENERIC = 0,  // baseline: SSE2 on x86-64, NEON on arm64; no FMA on x86
    PP_KERNEL_SET_AVX2 = 1,     // AVX2 + FMA (Haswell, Zen 1 and later)
    PP_KERNEL_SET_AVX512 = 2,   // AVX-512 F/CD/BW/DQ/VL + AVX2 + FMA (Skylake-SP, Zen 4 and later)
} pp_kernel_set;

/// The activations the batch-normalization kernels fuse (sigmoid stays in Swift).
typedef enum {
    PP_ACTIVATION_LINEAR = 0,
    PP_ACTIVATION_RELU = 1,
    PP_ACTIVATION_RELU6 = 2,
} pp_activation;

/// How a GEMM block writes its result into C.
typedef enum {
    PP_STORE_WRITE = 0,       // C = the block's product
    PP_STORE_ACCUMULATE = 1,  // C += the block's product
    PP_STORE_STREAM = 2,      // C = the product, by non-temporal stores that bypass the caches
} pp_store;

/// One kernel set. Every entry but `sgemm` is non-null; the same arguments give results equal
/// to float rounding (AVX2 and AVX-512 fuse multiply-adds, so they agree with each other bit for
/// bit; the generic set on x86 multiplies then adds).
typedef struct {
    pp_kernel_set set;
    const char *name;  // "generic", "avx2", "avx512"

    /// C = alpha op(A) op(B) + beta C, row-major (op(A) m x k, op(B) k x n, transposed when
    /// trans_a / trans_b), on the calling thread: Pinpoint's own packed SGEMM, in the AVX-512
    /// set only (NULL in the others). Where it exists it runs the products OpenBLAS would (unless
    /// PINPOINT_GEMM=openblas), which then do not depend on the kernels OpenBLAS chose.
    void (*_Nullable sgemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, ptrdiff_t lda,
                            const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

    /// The machine's multiply-add peak, for benchmarks: `iterations` rounds of `peak_chains`
    /// independent 16-lane multiply-adds in registers (16 x peak_chains x iterations in all);
    /// returns their sum so that none is optimized away.
    float (*peak_multiply_adds)(long iterations);
    int peak_chains;

    /// C[r, 0..<64] = (or += with PP_STORE_ACCUMULATE) sum over d < depth of A[r, d] B[d, 0..<64]
    /// for `rows` (1 to 5) rows; A[r, d] at a[r * row_step + d * depth_step], B's rows ldb apart.
    /// PP_STORE_STREAM writes C with non-temporal stores (c 64-byte aligned, ldc a multiple of 16).
    void (*gemm_block_5x64)(const float *a, ptrdiff_t row_step, ptrdiff_t depth_step, int rows, const float *b,
                            ptrdiff_t ldb, int depth, float *c, ptrdiff_t ldc, pp_store store);

    /// Orders this thread's PP_STORE_STREAM stores before its later stores (x86's sfence), so that
    /// the thread that waits for it reads the streamed results.
    void (*stream_fence)(void);

    /// C[i, r] = sum over d < depth of W[r, d] P[d, i] for r < rows (1 to 8) and i < m (up to 48):
    /// eight rows of W (ldw apart) against a packed panel P (depth x 48, row d at panel + 48 d),
    /// written transposed into C (ldc apart). C = A W^T for a few rows of A, with P = A^T.
    void (*gemm_transposed_block_8x48)(const float *w, ptrdiff_t ldw, int rows, const float *panel, int depth, int m,
                                       float *c, ptrdiff_t ldc);

    /// One output row of a direct convolution: `kernel_rows` zero-padded input rows
    /// `row_length` floats apart, each pixel's `span` inputs (kernel width x channels)
    /// contiguous and `step` floats after the previous pixel's; HWIO kernel with `cout`
    /// (a multiple of 16) output channels; `width` output pixels written to out.
    void (*direct_conv_row)(const float *padded, ptrdiff_t row_length, int kernel_rows, int span, int step,
                            const float *kernel, int cout, int width, float *out);

    /// The direct convolution's kernel gradient for one kernel row whose taps are nine values
    /// (3 wide x 3 channels): acc[t * cout + o] += sum over the row's `width` pixels of
    /// x[p * step + t] dy[p * cout + o], for t < 9 and o < cout (a multiple of 16).
    void (*direct_kernel_gradient_row9)(const float *x, int step, const float *dy, int cout, int width, float *acc);

    /// Max pooling of one output row from `rows` input rows of `input_width` pixels held
    /// contiguously (channels a multiple of 16): output pixel p takes the maximum over the rows
    /// and the valid columns of [p * stride - pad_before, + window). A later cell replaces the
    /// maximum only when greater, so the first maximum wins ties and NaN never replaces a value.
    void (*max_pool_row)(const float *input, int rows, int input_width, int window, int stride, int pad_before,
                         int width, int channels, float *out);

    // Depthwise 3x3 convolution, multiplier 1, channels a multiple of 16, for the pixels of an
    // output row whose window lies inside the image: r0 is the first valid input row under the
    // first such pixel, the next rows `row_stride` floats on, the next pixel `step` floats on;
    // `kernel_rows` (2 or 3) of the taps' rows are inside the image.

    /// out[i * channels + ch] = the window's sum of x * tap, tap by tap (each product rounded,
    /// then added), for `count` pixels; taps [kernel_rows, 3, channels].
    void (*depthwise3x3_row)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels, const float *taps,
                             int kernel_rows, int count, float *out);
    /// The same values, bit for bit, computed pixel by pixel (each pixel's channel groups
    /// together) so the input rows stream in address order: for activations read from memory.
    void (*depthwise3x3_row_streaming)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels, const float *taps,
                                       int kernel_rows, int count, float *out);
    /// dk[(kh * 3 + kw) * channels + ch] += the sum over the `count` pixels of x * dy.
    void (*depthwise3x3_kernel_gradient_row)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels,
                                             const float *dy, int kernel_rows, int count, float *dk);
    /// The same sums, bit for bit, pixel by pixel as depthwise3x3_row_streaming reads them.
    void (*depthwise3x3_kernel_gradient_row_streaming)(const float *r0, ptrdiff_t row_stride, ptrdiff_t step, int channels,
                                                       const float *dy, int kernel_rows, int count, float *dk);

    // 2x2, stride-2 max pooling with its windows' maximum cells (MaxPoolWindows in
    // Sources/PinpointTensor/ConvolutionPooling.swift); channels in multiples of 16.

    /// One pooled row from `rows` (1 or 2) rows of `width` pixels held contiguously: pooled pixel
    /// pw takes columns 2pw and 2pw + 1 where they exist, compared in window order (row, then
    /// column), the first of equal values winning; its cell (0 to 3, as a float) goes to cells
    /// unless cells is NULL (plain 2x2 pooling, the same maxima as max_pool_row's).
    void (*max_pool_windows_row)(const float *input, int rows, int width, int pooled_width, int channels, float *out,
                                 float *_Nullable cells);
    /// `count` pixels of a row of the gradient the windows route back, from column
    /// `first_column`: each the pooled gradient where the pixel (cell 2 row_parity + column % 2
    /// of window column / 2) is its window's maximum cell, else zero; zero outside [0, covered).
    /// cells and gradient point at the pooled row.
    void (*route_windows)(const float *cells, const float *gradient, int row_parity, int first_column, int count,
                          int covered, int channels, float *out);
    /// dz = dy through the activation at its output y (linear, ReLU or ReLU6) into out, unless
    /// out is NULL (linear: dz is dy); then, unless bias_sums is NULL, bias_sums[c] += dz[r, c]
    /// in double, row by row.
    void (*activation_gradient_rows)(const float *dy, const float *y, ptrdiff_t rows, int channels,
                                     pp_activation activation, float *_Nullable out, double *_Nullable bias_sums);

    /// Keras's RMSprop (not centered) over n weights in place: v = rho v + (1 - rho) g^2,
    /// increment = g lr / sqrt(v + epsilon), then m = momentum m + increment and w -= m, or
    /// w -= increment when m is NULL; each operation rounded as written.
    void (*rmsprop_update)(float *w, float *v, float *_Nullable m, const float *g, ptrdiff_t n, float learning_rate,
                           float rho, float momentum, float epsilon);

    /// One input row of a depthwise convolution's input gradient (channel multiplier 1, channels
    /// in multiples of 16), written once: dx[iw * channels + ch] = the sum, over the `row_count`
    /// output rows that see this input row (dy_rows, each with its kernel row tap_rows[r][kw *
    /// channels + ch], in ascending output row order) and over the kernel columns kw whose output
    /// pixel ow exists (iw = ow * stride - pad_before + kw * dilation, ow in [0, output_width)),
    /// of dy[ow] * tap, each product rounded, then added from zero in that order: what scattering
    /// each output row into a zeroed dx gives (at most 16 kernel columns).
    void (*depthwise_gather_row)(const float *_Nonnull const *_Nonnull dy_rows, const float *_Nonnull const *_Nonnull tap_rows,
                                 int row_count, int window, int stride, int pad_before, int dilation, int output_width,
                                 int input_width, int channels, float *dx);

    /// p = activation(p + bias) in place for `rows` rows of `columns` values; bias (columns
    /// values) may be NULL. Each operation is rounded as written, max and min as Swift's
    /// (NaN passes through ReLU).
    void (*bias_activation_rows)(float *p, ptrdiff_t rows, int columns, const float *_Nullable bias, pp_activation activation);

    // Batch normalization over rows of `channels` values (Sources/PinpointTensor/BatchNormalization.swift).

    /// sum[c] += d and squares[c] += d * d, d = x[r, c] - x[0, c] in double, for rows [row_begin, row_end).
    void (*batch_norm_moments)(const float *src, ptrdiff_t row_begin, ptrdiff_t row_end, int channels, double *sum,
                               double *squares);
    /// out = activation((x - mean) * scale + beta), each operation rounded as written.
    void (*batch_norm_rows)(const float *src, ptrdiff_t rows, int channels, const float *mean, const float *scale,
                            const float *beta, pp_activation activation, float *out);
    /// With d = dy through the activation at z = (x - mean) * scale + shift: sum_dy[c] += sum of d
    /// and sum_dyx[c] += sum of d (x - mean), in float over blocks of 8 rows added into double;
    /// `block` is scratch for 2 x channels floats.
    void (*batch_norm_gradient_sums)(const float *x, const float *dy, ptrdiff_t row_begin, ptrdiff_t row_end, int channels,
                                     const float *mean, const float *scale, const float *shift, pp_activation activation,
                                     float *block, double *sum_dy, double *sum_dyx);
    /// out = a (d - b - (x - mean) k), d as above, per channel coefficients a, b, k.
    void (*batch_norm_input_gradient)(const float *x, const float *dy, ptrdiff_t rows, int channels, const float *mean,
                                      const float *scale, const float *shift, pp_activation activation, const float *a,
                                      const float *b, const float *k, float *out);

    // Winograd F(4x4, 3x3) tiles (Sources/PinpointTensor/Winograd.swift): a tile's 36
    // transformed positions are `stride` floats apart; pixel (r, c) of a tile in NHWC memory is
    // at r * row_stride + c * channels. Channels are a multiple of 4 (of 16 for pooled tiles).

    /// U = B^T d B of one 6x6 input tile.
    void (*winograd_input_tile)(const float *d, ptrdiff_t row_stride, int channels, float *u, ptrdiff_t stride);
    /// Y = A^T M A of one tile, its first `rows` x `columns` outputs stored to y (M is overwritten).
    void (*winograd_output_tile)(float *m, ptrdiff_t stride, int channels, float *y, ptrdiff_t row_stride, int rows,
                                 int columns);
    /// Y = A^T M A of one tile, max-pooled by its 2x2 windows: window (a, b), for a < pooled_rows
    /// and b < pooled_columns, goes to y + a * row_stride + b * channels and takes the valid
    /// outputs (`rows` x `columns` of the 4x4) in window order, the first maximum winning.
    void (*winograd_pooled_tile)(float *m, ptrdiff_t stride, int channels, float *y, ptrdiff_t row_stride, int rows,
                                 int columns, int pooled_rows, int pooled_columns);
    /// Ŷ = A dY A^T of one 4x4 tile of an output gradient.
    void (*winograd_output_gradient_tile)(const float *dy, ptrdiff_t row_stride, int channels, float *out,
                                          ptrdiff_t stride);
} pp_kernel_table;

/// The kernel table in use: chosen on the first call (thread-safe), then fixed for the process.
const pp_kernel_table *pp_kernels(void);

/// The table of one set, or NULL when this CPU (or this build's architecture) cannot run it.
const pp_kernel_table *_Nullable pp_kernels_for(pp_kernel_set set);

/// The best set this CPU and OS support, ignoring PINPOINT_CPU.
pp_kernel_set pp_best_kernel_set(void);

#pragma clang assume_nonnull end

#ifdef __cplusplus
}
#endif

#endif
