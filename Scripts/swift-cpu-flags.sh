#!/bin/sh
# Prints the swiftc flags that let the compiler use this machine's vector units for Pinpoint's
# own kernels (depthwise and direct convolutions, Winograd transforms, batch normalization,
# pooling, optimizers). Without them Swift targets baseline x86-64: SSE2, so a SIMD16<Float> is
# four 128-bit operations (OpenBLAS dispatches at run time and is unaffected). Like
# -march=native, the binary then runs on CPUs with these features only; build where you run.
#
#   swift build -c release $(sh Scripts/swift-cpu-flags.sh)
#
# PINPOINT_TARGET_CPU overrides the choice (an LLVM CPU name such as haswell, or "generic" for
# no flag).
set -eu

emit() { [ "$1" = generic ] || printf '%s\n' "-Xswiftc -target-cpu -Xswiftc $1"; }

if [ -n "${PINPOINT_TARGET_CPU:-}" ]; then
    emit "$PINPOINT_TARGET_CPU"
    exit 0
fi
[ "$(uname -m)" = x86_64 ] && [ -r /proc/cpuinfo ] || exit 0
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do case "$flags" in *" $f "*) ;; *) return 1 ;; esac; done; }
if has avx512f avx512cd avx512bw avx512dq avx512vl avx2 fma bmi2; then
    emit skylake-avx512
elif has avx2 fma bmi2 movbe f16c; then
    emit haswell
fi
