/* fuzz_features.c -- the MIGRFEAT feature format (media/features.h) on any
 * bytes, as a worker reads a clip's feature object.
 *
 * features_decode either refuses the bytes with a message or gives arrays
 * of the sizes its header says; such features encode back to the very same
 * bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/features.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    media_features f;
    migr_err err = {{0}};

    if (features_decode(data, size, &f, &err) < 0) {
        if (!err.msg[0] || f.frames || f.mel)
            abort();
        return 0;
    }
    size_t n_pix = (size_t)f.n_frames * f.height * f.width, n_mel = (size_t)f.n_audio * f.n_mel;
    if (f.n_frames < 0 || f.height < 0 || f.width < 0 || f.n_audio < 0 || f.n_mel < 0 ||
        (f.has_audio != 0 && f.has_audio != 1) || !f.frames || (n_mel && !f.mel) ||
        (!n_mel && f.mel))
        abort();
    /* Touch every value, so ASan sees an array shorter than its header. */
    volatile float sink = 0;
    for (size_t i = 0; i < n_pix; i++)
        sink += f.frames[i];
    for (size_t i = 0; i < n_mel; i++)
        sink += f.mel[i];
    (void)sink;

    uint8_t *again;
    size_t len;
    if (features_encode(&f, &again, &len, &err) < 0) {
        fprintf(stderr, "fuzz_features: decoded features do not encode: %s\n", err.msg);
        abort();
    }
    if (len != size || memcmp(again, data, size) != 0) {
        fprintf(stderr, "fuzz_features: decode then encode changed the bytes\n");
        abort();
    }
    free(again);
    media_features_free(&f);
    return 0;
}
