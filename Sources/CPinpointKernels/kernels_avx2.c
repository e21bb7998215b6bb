// The AVX2 + FMA kernel set (see kernel_bodies.h).
#include "CPinpointKernels.h"
#include "kernel_sets.h"

#if defined(__x86_64__)
#define PP_REGISTERS 16
#define PP_GEMM 0
#define PP_SUFFIX avx2
#define PP_FUSED 1
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2"))), apply_to = function)
#include "kernel_bodies.h"
#pragma clang attribute pop
#endif
