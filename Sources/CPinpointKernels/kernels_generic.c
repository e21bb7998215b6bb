// The baseline kernel set (see kernel_bodies.h): the build's own target, SSE2 on x86-64, where
// a fused multiply-add would be a library call per lane, so products and sums round separately.
// Architectures whose baseline has FMA (arm64) fuse.
#include "CPinpointKernels.h"
#include "kernel_sets.h"

#define PP_REGISTERS 16
#define PP_GEMM 0
#define PP_SUFFIX generic
#if defined(__aarch64__) || defined(__FMA__)
#define PP_FUSED 1
#else
#define PP_FUSED 0
#endif
#include "kernel_bodies.h"
