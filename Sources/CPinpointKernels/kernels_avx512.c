// The AVX-512 kernel set (see kernel_bodies.h).
#include "CPinpointKernels.h"
#include "kernel_sets.h"

#if defined(__x86_64__)
#define PP_REGISTERS 32
#define PP_GEMM 1
#define PP_SUFFIX avx512
#define PP_FUSED 1
#pragma clang attribute push(__attribute__((target("avx512f,avx512cd,avx512bw,avx512dq,avx512vl,avx2,fma,bmi2"))), \
                             apply_to = function)
#include "kernel_bodies.h"
#pragma clang attribute pop
#endif
