/* The model against a PyTorch reference of the same model:
 * tests/golden/small.bin, written by tests/golden/make_golden.py (see its
 * docstring for the format and how to regenerate).  The fixture holds the
 * config, a batch (B=2, T=24, targets -1 inside and trailing padding), the
 * 21 parameters, and PyTorch's float32 logits, summed loss and gradients.
 *
 * Tolerances (float32 against float32, different summation orders):
 *   logits, every gradient tensor: max |ours - torch| <= 1e-5 * max |torch|
 *   loss: |ours - torch| <= 1e-6 * |torch|
 * The fixture is found at $MIGR_SOURCE_DIR/tests/golden/small.bin, else at
 * tests/golden/small.bin from the working directory (the repository root
 * under `make unit`). */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ml/model.h"

#define GOLDEN_RTOL 1e-5
#define LOSS_RTOL 1e-6

enum { GOLDEN_MAX_ARRAYS = 128 };

typedef struct golden_array {
    char name[64];
    int dtype; /* 0 float32, 1 int32 */
    size_t count;
    void *data; /* float * or int * */
} golden_array;

typedef struct golden {
    int n;
    golden_array a[GOLDEN_MAX_ARRAYS];
} golden;

static void golden_free(golden *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->a[i].data);
    g->n = 0;
}

static int read_exact(FILE *f, void *buf, size_t n)
{
    return fread(buf, 1, n, f) == n ? 0 : -1;
}

/* Loads every array of the fixture at path; -1 with msg on any problem. */
static int golden_load(golden *g, const char *path, char *msg, size_t msglen)
{
    char magic[8];
    uint32_t version, narrays;
    FILE *f = fopen(path, "rb");
    g->n = 0;
    if (!f) {
        snprintf(msg, msglen, "cannot open %s (set MIGR_SOURCE_DIR to the repository root)", path);
        return -1;
    }
    if (read_exact(f, magic, 8) || memcmp(magic, "MIGRGOLD", 8) || read_exact(f, &version, 4) ||
        version != 1 || read_exact(f, &narrays, 4) || narrays > GOLDEN_MAX_ARRAYS) {
        snprintf(msg, msglen, "%s: not a version 1 MIGRGOLD fixture", path);
        fclose(f);
        return -1;
    }
    for (uint32_t i = 0; i < narrays; i++) {
        golden_array *a = &g->a[g->n];
        uint32_t len, dtype;
        uint64_t count;
        if (read_exact(f, &len, 4) || len >= sizeof a->name || read_exact(f, a->name, len) ||
            read_exact(f, &dtype, 4) || dtype > 1 || read_exact(f, &count, 8) ||
            count > (1u << 24)) {
            snprintf(msg, msglen, "%s: array %u has a bad header", path, i);
            break;
        }
        a->name[len] = '\0';
        a->dtype = (int)dtype;
        a->count = (size_t)count;
        a->data = malloc(a->count * 4 + 1);
        if (!a->data || read_exact(f, a->data, a->count * 4)) {
            free(a->data);
            snprintf(msg, msglen, "%s: array %s is truncated", path, a->name);
            break;
        }
        g->n++;
    }
    fclose(f);
    if (g->n != (int)narrays) {
        golden_free(g);
        return -1;
    }
    return 0;
}

static const golden_array *golden_get(const golden *g, const char *name, int dtype, size_t count)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->a[i].name, name) == 0)
            return g->a[i].dtype == dtype && (count == 0 || g->a[i].count == count) ? &g->a[i]
                                                                                   : NULL;
    return NULL;
}

static int golden_int(const golden *g, const char *name)
{
    const golden_array *a = golden_get(g, name, 1, 1);
    return a ? *(const int *)a->data : -1;
}

/* max |x - ref| and max |ref| over n values */
static void compare(const float *x, const float *ref, size_t n, double *maxdiff, double *maxref)
{
    *maxdiff = 0.0;
    *maxref = 0.0;
    for (size_t i = 0; i < n; i++) {
        *maxdiff = fmax(*maxdiff, fabs((double)x[i] - ref[i]));
        *maxref = fmax(*maxref, fabs((double)ref[i]));
    }
}

static const char *param_names[MODEL_NUM_PARAMS] = {
    "wte",  "wpe",  "wtype", "wvis",    "bvis",     "waud", "baud",    "ln1w",    "ln1b",
    "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb",
    "lnfw", "lnfb"};

TEST(model_matches_the_pytorch_golden_logits_loss_and_every_gradient)
{
    golden g;
    char path[4096], msg[8192] = "", worst[64] = "";
    const char *src = getenv("MIGR_SOURCE_DIR");
    migr_err err;
    model *m = NULL;
    int ok = 0;

    snprintf(path, sizeof path, "%s%stests/golden/small.bin", src ? src : "", src ? "/" : "");
    CHECK_MSG(golden_load(&g, path, msg, sizeof msg) == 0, "%s", msg);
    model_config c = {
        .vocab = golden_int(&g, "cfg.vocab"),       .max_seq = golden_int(&g, "cfg.max_seq"),
        .channels = golden_int(&g, "cfg.channels"), .layers = golden_int(&g, "cfg.layers"),
        .heads = golden_int(&g, "cfg.heads"),       .mlp_ratio = golden_int(&g, "cfg.mlp_ratio"),
        .n_frames = golden_int(&g, "cfg.n_frames"), .frame_pixels = golden_int(&g, "cfg.frame_pixels"),
        .audio_tokens = golden_int(&g, "cfg.audio_tokens"),
        .audio_window = golden_int(&g, "cfg.audio_window"), .n_mel = golden_int(&g, "cfg.n_mel")};
    int B = golden_int(&g, "B"), T = golden_int(&g, "T");
    size_t BT = (size_t)B * T, sizes[MODEL_NUM_PARAMS];
    const golden_array *frames = golden_get(&g, "frames", 0, (size_t)B * c.n_frames * c.frame_pixels);
    const golden_array *mel = golden_get(&g, "mel", 0,
                                         (size_t)B * c.audio_tokens * c.audio_window * c.n_mel);
    const golden_array *tokens = golden_get(&g, "tokens", 1, BT);
    const golden_array *types = golden_get(&g, "types", 1, BT);
    const golden_array *targets = golden_get(&g, "targets", 1, BT);
    const golden_array *logits = golden_get(&g, "logits", 0, BT * (size_t)c.vocab);
    const golden_array *loss_ref = golden_get(&g, "loss", 0, 1);
    if (B < 1 || T < 1 || !frames || !mel || !tokens || !types || !targets || !logits || !loss_ref) {
        snprintf(msg, sizeof msg, "fixture lacks an array or has the wrong sizes");
        goto done;
    }
    if (!(m = model_new(&c, 1, &err))) {
        snprintf(msg, sizeof msg, "model_new: %s", err.msg);
        goto done;
    }
    model_param_sizes(&c, sizes);
    float *flat = model_params_flat(m);
    for (int k = 0; k < MODEL_NUM_PARAMS; k++) {
        char name[64];
        snprintf(name, sizeof name, "param.%s", param_names[k]);
        const golden_array *a = golden_get(&g, name, 0, sizes[k]);
        if (!a) {
            snprintf(msg, sizeof msg, "fixture lacks %s of %zu floats", name, sizes[k]);
            goto done;
        }
        memcpy(flat, a->data, sizes[k] * sizeof(float));
        flat += sizes[k];
    }

    model_batch bt = {.B = B, .T = T, .frames = frames->data, .mel = mel->data,
                      .tokens = tokens->data, .types = types->data, .targets = targets->data,
                      .all_logits = 1};
    double loss;
    int ntok;
    if (model_forward(m, &bt, &loss, &ntok, &err) != 0 || model_backward(m, &err) != 0) {
        snprintf(msg, sizeof msg, "forward/backward: %s", err.msg);
        goto done;
    }
    double d, r, ref = *(const float *)loss_ref->data, worst_ratio = 0.0;
    int verbose = getenv("MIGR_TEST_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "    loss      ours %.6f torch %.6f |diff| %.3g (%d tokens)\n", loss, ref,
                fabs(loss - ref), ntok);
    if (!(fabs(loss - ref) <= LOSS_RTOL * fabs(ref))) {
        snprintf(msg, sizeof msg, "loss %.7g, torch %.7g", loss, ref);
        goto done;
    }
    d = r = 0.0;
    for (size_t i = 0; i < BT; i++) {
        double di, ri;
        compare(model_logits_row(m, (int)(i / T), (int)(i % T)),
                (const float *)logits->data + i * c.vocab, (size_t)c.vocab, &di, &ri);
        d = fmax(d, di);
        r = fmax(r, ri);
    }
    if (verbose)
        fprintf(stderr, "    logits    max |diff| %.3g  max |torch| %.3g  ratio %.3g\n", d, r, d / r);
    if (!(d <= GOLDEN_RTOL * r)) {
        snprintf(msg, sizeof msg, "logits differ by %.3g (max |torch| %.3g)", d, r);
        goto done;
    }
    const float *grad = model_grads_flat(m);
    for (int k = 0; k < MODEL_NUM_PARAMS; k++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", param_names[k]);
        const golden_array *a = golden_get(&g, name, 0, sizes[k]);
        if (!a) {
            snprintf(msg, sizeof msg, "fixture lacks %s of %zu floats", name, sizes[k]);
            goto done;
        }
        compare(grad, a->data, sizes[k], &d, &r);
        if (verbose)
            fprintf(stderr, "    %-13s max |diff| %.3g  max |torch| %.3g  ratio %.3g\n", name, d,
                    r, d / r);
        if (d / r > worst_ratio) {
            worst_ratio = d / r;
            snprintf(worst, sizeof worst, "%s", name);
        }
        if (!(d <= GOLDEN_RTOL * r)) {
            snprintf(msg, sizeof msg, "%s differs by %.3g (max |torch| %.3g)", name, d, r);
            goto done;
        }
        grad += sizes[k];
    }
    if (verbose)
        fprintf(stderr, "    worst gradient ratio %.3g (%s)\n", worst_ratio, worst);
    ok = 1;
done:
    model_free(&m);
    golden_free(&g);
    CHECK_MSG(ok, "%s", msg);
}
