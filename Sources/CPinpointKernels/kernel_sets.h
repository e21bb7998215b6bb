// What each kernel_*.c file exports to dispatch.c.
#ifndef PP_KERNEL_SETS_H
#define PP_KERNEL_SETS_H
#include "CPinpointKernels.h"

void pp_fill_table_generic(pp_kernel_table *table);
#if defined(__x86_64__)
void pp_fill_table_avx2(pp_kernel_table *table);
void pp_fill_table_avx512(pp_kernel_table *table);
#endif
#endif
