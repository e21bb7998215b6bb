// Chooses the kernel set once per process: the best one the CPU and the OS support, or the one
// PINPOINT_CPU names. The AVX sets need the CPU's feature bits and the OS's consent to save
// the wider registers on a context switch (XCR0), as OpenBLAS's dynamic.c and simdjson check.
#include "CPinpointKernels.h"
#include "kernel_sets.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static pp_kernel_set detect(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return PP_KERNEL_SET_GENERIC;
    int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return PP_KERNEL_SET_GENERIC;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return PP_KERNEL_SET_GENERIC;  // SSE and AVX state
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return PP_KERNEL_SET_GENERIC;
    int avx2 = (ebx >> 5) & 1, bmi2 = (ebx >> 8) & 1;
    if (!(avx2 && bmi2)) return PP_KERNEL_SET_GENERIC;
    int avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 28) & 1) && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);
    if (avx512 && (xcr0 & 0xE0) == 0xE0) return PP_KERNEL_SET_AVX512;  // opmask and zmm state
    return PP_KERNEL_SET_AVX2;
}
#else
static pp_kernel_set detect(void) { return PP_KERNEL_SET_GENERIC; }
#endif

static pp_kernel_table tables[3];
static pp_kernel_set best;
static const pp_kernel_table *current;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const names[3] = {"generic", "avx2", "avx512"};

static void initialize(void) {
    best = detect();
    pp_fill_table_generic(&tables[PP_KERNEL_SET_GENERIC]);
#if defined(__x86_64__)
    pp_fill_table_avx2(&tables[PP_KERNEL_SET_AVX2]);
    pp_fill_table_avx512(&tables[PP_KERNEL_SET_AVX512]);
#endif
    for (int s = 0; s < 3; s++) {
        tables[s].set = (pp_kernel_set)s;
        tables[s].name = names[s];
    }
    pp_kernel_set chosen = best;
    const char *forced = getenv("PINPOINT_CPU");
    if (forced && *forced) {
        int found = -1;
        for (int s = 0; s < 3; s++) {
            if (strcmp(forced, names[s]) == 0) found = s;
        }
        if (found < 0) {
            fprintf(stderr, "Pinpoint: PINPOINT_CPU=%s is not a kernel set (generic, avx2 or avx512)\n", forced);
            exit(2);
        }
        if (found > (int)best) {
            fprintf(stderr, "Pinpoint: PINPOINT_CPU=%s asks for kernels this CPU cannot run (its best set is %s)\n", forced,
                    names[best]);
            exit(2);
        }
        chosen = (pp_kernel_set)found;
    }
    current = &tables[chosen];
}

const pp_kernel_table *pp_kernels(void) {
    pthread_once(&once, initialize);
    return current;
}

const pp_kernel_table *pp_kernels_for(pp_kernel_set set) {
    pthread_once(&once, initialize);
    return (int)set <= (int)best && (int)set >= 0 ? &tables[set] : NULL;
}

pp_kernel_set pp_best_kernel_set(void) {
    pthread_once(&once, initialize);
    return best;
}
