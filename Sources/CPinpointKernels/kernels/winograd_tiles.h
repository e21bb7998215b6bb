// Winograd F(4x4, 3x3) tile transforms for one group of channels, written against the vector
// type V (16 or 4 floats) and suffix W: convolution.h includes this file once per width.
// The transforms and their order of operations are those of Sources/PinpointTensor/Winograd.swift.

#define VLOAD(p) ({ V v_; memcpy(&v_, (p), sizeof v_); v_; })
#define VSTORE(p, v) ({ V s_ = (v); memcpy((p), &s_, sizeof s_); })
#define GROUP_FN(name) PP_CAT(PP_CAT(name, W), PP_SUFFIX)

// U = B^T d B for one 6x6 tile at channels ch..<ch + lanes: pixel (r, c) at
// d + r * row_stride + c * channels, the 36 positions `stride` floats apart.
static inline __attribute__((always_inline)) void GROUP_FN(input_tile)(const float *d, ptrdiff_t row_stride, int channels,
                                                                         float *u, ptrdiff_t stride, int ch) {
#define PIXEL(r, c) VLOAD(d + (r) * row_stride + (ptrdiff_t)(c) * channels + ch)
#define AT(k) (u + (ptrdiff_t)(k) * stride + ch)
#define INPUT_TRANSFORM(d0, d1, d2, d3, d4, d5, k0, k1, k2, k3, k4, k5)              \
    do {                                                                              \
        V a = (d4) - 4 * (d2), b = (d3) - 4 * (d1), c_ = (d4) - (d2), e = 2 * ((d3) - (d1)); \
        V t0 = 4 * (d0) - 5 * (d2) + (d4), t5 = 4 * (d1) - 5 * (d3) + (d5);          \
        VSTORE(AT(k0), t0); VSTORE(AT(k1), a + b); VSTORE(AT(k2), a - b);            \
        VSTORE(AT(k3), c_ + e); VSTORE(AT(k4), c_ - e); VSTORE(AT(k5), t5);          \
    } while (0)
    for (int c = 0; c < 6; c++) {
        V d0 = PIXEL(0, c), d1 = PIXEL(1, c), d2 = PIXEL(2, c), d3 = PIXEL(3, c), d4 = PIXEL(4, c), d5 = PIXEL(5, c);
        INPUT_TRANSFORM(d0, d1, d2, d3, d4, d5, c, 6 + c, 12 + c, 18 + c, 24 + c, 30 + c);
    }
    for (int r = 0; r < 36; r += 6) {
        V d0 = VLOAD(AT(r)), d1 = VLOAD(AT(r + 1)), d2 = VLOAD(AT(r + 2)), d3 = VLOAD(AT(r + 3)), d4 = VLOAD(AT(r + 4)),
          d5 = VLOAD(AT(r + 5));
        INPUT_TRANSFORM(d0, d1, d2, d3, d4, d5, r, r + 1, r + 2, r + 3, r + 4, r + 5);
    }
#undef INPUT_TRANSFORM
#undef AT
#undef PIXEL
}

// A^T x (m0 ... m5), the output transform along one axis, into y0 ... y3.
#define OUTPUT_TRANSFORM(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3)                     \
    do {                                                                              \
        V p_ = (m1) + (m2), q_ = (m1) - (m2), r_ = (m3) + (m4), s_ = (m3) - (m4);     \
        y0 = (m0) + p_ + r_; y1 = q_ + 2 * s_; y2 = p_ + 4 * r_; y3 = q_ + 8 * s_ + (m5); \
    } while (0)

// Y = A^T M A for one tile at channels ch..<ch + lanes: the columns' results go back into M's
// positions, then each of the four output rows is left in rows[r][0..<4].
static inline __attribute__((always_inline)) void GROUP_FN(output_tile)(float *m, ptrdiff_t stride, int ch, V rows[4][4]) {
#define AT(k) (m + (ptrdiff_t)(k) * stride + ch)
    for (int c = 0; c < 6; c++) {
        V y0, y1, y2, y3;
        OUTPUT_TRANSFORM(VLOAD(AT(c)), VLOAD(AT(6 + c)), VLOAD(AT(12 + c)), VLOAD(AT(18 + c)), VLOAD(AT(24 + c)),
                         VLOAD(AT(30 + c)), y0, y1, y2, y3);
        VSTORE(AT(c), y0); VSTORE(AT(6 + c), y1); VSTORE(AT(12 + c), y2); VSTORE(AT(18 + c), y3);
    }
    for (int r = 0; r < 4; r++) {
        OUTPUT_TRANSFORM(VLOAD(AT(6 * r)), VLOAD(AT(6 * r + 1)), VLOAD(AT(6 * r + 2)), VLOAD(AT(6 * r + 3)),
                         VLOAD(AT(6 * r + 4)), VLOAD(AT(6 * r + 5)), rows[r][0], rows[r][1], rows[r][2], rows[r][3]);
    }
#undef AT
}

// Ŷ = A dY A^T for one 4x4 tile of the output gradient at channels ch..<ch + lanes.
static inline __attribute__((always_inline)) void GROUP_FN(output_gradient_tile)(const float *dy, ptrdiff_t row_stride,
                                                                                   int channels, float *out, ptrdiff_t stride,
                                                                                   int ch) {
#define PIXEL(r, c) VLOAD(dy + (r) * row_stride + (ptrdiff_t)(c) * channels + ch)
#define AT(k) (out + (ptrdiff_t)(k) * stride + ch)
#define GRADIENT_TRANSFORM(y0, y1, y2, y3, k0, k1, k2, k3, k4, k5)                    \
    do {                                                                              \
        V p = (y0) + (y2), q = (y1) + (y3), p4 = (y0) + 4 * (y2), q4 = 2 * (y1) + 8 * (y3); \
        VSTORE(AT(k0), (y0)); VSTORE(AT(k1), p + q); VSTORE(AT(k2), p - q);          \
        VSTORE(AT(k3), p4 + q4); VSTORE(AT(k4), p4 - q4); VSTORE(AT(k5), (y3));      \
    } while (0)
    for (int c = 0; c < 4; c++) {
        V y0 = PIXEL(0, c), y1 = PIXEL(1, c), y2 = PIXEL(2, c), y3 = PIXEL(3, c);
        GRADIENT_TRANSFORM(y0, y1, y2, y3, c, 6 + c, 12 + c, 18 + c, 24 + c, 30 + c);
    }
    for (int r = 0; r < 36; r += 6) {
        V y0 = VLOAD(AT(r)), y1 = VLOAD(AT(r + 1)), y2 = VLOAD(AT(r + 2)), y3 = VLOAD(AT(r + 3));
        GRADIENT_TRANSFORM(y0, y1, y2, y3, r, r + 1, r + 2, r + 3, r + 4, r + 5);
    }
#undef GRADIENT_TRANSFORM
#undef AT
#undef PIXEL
}

#undef OUTPUT_TRANSFORM
#undef GROUP_FN
#undef VSTORE
#undef VLOAD
