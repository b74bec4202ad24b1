/* blas.h -- which OpenBLAS kernels compute our matrix products.
 *
 * Debian's OpenBLAS picks its kernels by CPU model when it is loaded, and
 * falls back to a generic SSE3 family ("Prescott") on a model newer than
 * itself: several times slower, and with products whose bits change with
 * the thread count.  Bit-identical training needs every worker on one
 * kernel family per CPU class, so the programs that compute pin it. */
#ifndef MIGR_BLAS_H
#define MIGR_BLAS_H

/* The OpenBLAS core type for this CPU's features: "SkylakeX" with AVX-512
 * (F, CD, BW, DQ, VL), "Haswell" with AVX2 and FMA, NULL otherwise (the
 * library's own choice stands). */
const char *blas_kernel_for_cpu(void);

/* Call first in main.  When OPENBLAS_CORETYPE is unset and this CPU has a
 * kernel family above, sets it and re-executes the program (same pid,
 * same argv), since OpenBLAS reads it only when it is loaded.  Returns
 * when nothing had to change or the re-execution failed (the library's
 * own choice then stands; a warning says so on stderr). */
void blas_pin_kernel(char **argv);

#endif
