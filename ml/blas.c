/* blas.c -- see blas.h. */
#include "ml/blas.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *blas_kernel_for_cpu(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
#endif
    return NULL;
}

void blas_pin_kernel(char **argv)
{
    const char *kernel = blas_kernel_for_cpu();
    if (!kernel || getenv("OPENBLAS_CORETYPE"))
        return;
    if (setenv("OPENBLAS_CORETYPE", kernel, 1) != 0) {
        fprintf(stderr, "warning: cannot set OPENBLAS_CORETYPE=%s: %s\n", kernel, strerror(errno));
        return;
    }
    execv("/proc/self/exe", argv);
    fprintf(stderr,
            "warning: cannot re-execute with OPENBLAS_CORETYPE=%s (%s); OpenBLAS keeps the "
            "kernels it chose, so results may differ from other machines'. Set "
            "OPENBLAS_CORETYPE=%s in the environment to pin them.\n",
            kernel, strerror(errno), kernel);
}
