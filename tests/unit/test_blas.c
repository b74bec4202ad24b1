/* test_blas.c -- the programs that compute run on the OpenBLAS kernels
 * pinned for their CPU (ml/blas.h), not on whatever the library guessed. */
#include "check.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>

#include "ml/blas.h"

/* The runner pins as the worker does; the library then reports the kernel
 * family asked for.  (On a CPU newer than Debian's OpenBLAS it reported
 * "Prescott", and gradients changed bits with the thread count.) */
TEST(blas_the_loaded_kernels_are_the_ones_pinned_for_this_cpu)
{
    const char *want = blas_kernel_for_cpu();
    const char *env = getenv("OPENBLAS_CORETYPE");
    const char *got = openblas_get_corename();
    if (!want && !env)
        return; /* no family to pin: the library's own choice stands */
    CHECK_MSG(env != NULL, "OPENBLAS_CORETYPE is unset although this CPU has kernel family %s",
              want);
    CHECK_MSG(got && strcasecmp(got, env) == 0,
              "OpenBLAS runs kernel family \"%s\", OPENBLAS_CORETYPE asks for \"%s\"",
              got ? got : "(none)", env);
}
