/* layers.c -- see layers.h. */
#include "ml/layers.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- encoder ---------------------------------------------------------- */

void encoder_forward(float *out, const int *tokens, const int *types, const float *frames,
                     const float *mel, const model_params *p, int B, int T,
                     const model_config *cfg)
{
    int C = cfg->channels, F = cfg->n_frames, NA = cfg->audio_tokens;
    int FPIX = cfg->frame_pixels, AIN = cfg->audio_window * cfg->n_mel;
    int nv = T < F ? T : F;                         /* visual positions present */
    int na = T - F < 0 ? 0 : (T - F < NA ? T - F : NA); /* audio positions present */

    assert(B >= 1 && T >= 1 && T <= cfg->max_seq);
    for (int b = 0; b < B; b++) {
        float *out_b = out + (size_t)b * T * C;
        const int *tok_b = tokens + (size_t)b * T, *type_b = types + (size_t)b * T;
        if (nv > 0)
            matmul_forward(out_b, frames + (size_t)b * F * FPIX, p->wvis, p->bvis, (size_t)nv,
                           FPIX, C);
        if (na > 0)
            matmul_forward(out_b + (size_t)F * C, mel + (size_t)b * NA * AIN, p->waud, p->baud,
                           (size_t)na, AIN, C);
        for (int t = F + NA; t < T; t++)
            memcpy(out_b + (size_t)t * C, p->wte + (size_t)tok_b[t] * C, (size_t)C * sizeof(float));
        /* token + wpe[t] + wtype[type], added in that order (sample.c relies on it). */
        for (int t = 0; t < T; t++) {
            float *o = out_b + (size_t)t * C;
            const float *pos = p->wpe + (size_t)t * C, *ty = p->wtype + (size_t)type_b[t] * C;
            for (int i = 0; i < C; i++)
                o[i] = (o[i] + pos[i]) + ty[i];
        }
    }
}

void encoder_backward(const model_params *dp, const float *dout, const int *tokens,
                      const int *types, const float *frames, const float *mel, int B, int T,
                      const model_config *cfg)
{
    int C = cfg->channels, F = cfg->n_frames, NA = cfg->audio_tokens;
    int FPIX = cfg->frame_pixels, AIN = cfg->audio_window * cfg->n_mel;
    int nv = T < F ? T : F;
    int na = T - F < 0 ? 0 : (T - F < NA ? T - F : NA);

    for (int b = 0; b < B; b++) {
        const float *dout_b = dout + (size_t)b * T * C;
        const int *tok_b = tokens + (size_t)b * T, *type_b = types + (size_t)b * T;
        if (nv > 0)
            matmul_backward(NULL, dp->wvis, dp->bvis, dout_b, frames + (size_t)b * F * FPIX,
                            NULL, (size_t)nv, FPIX, C);
        if (na > 0)
            matmul_backward(NULL, dp->waud, dp->baud, dout_b + (size_t)F * C,
                            mel + (size_t)b * NA * AIN, NULL, (size_t)na, AIN, C);
        for (int t = 0; t < T; t++) {
            const float *d = dout_b + (size_t)t * C;
            float *dpos = dp->wpe + (size_t)t * C, *dty = dp->wtype + (size_t)type_b[t] * C;
            float *dtok = t >= F + NA ? dp->wte + (size_t)tok_b[t] * C : NULL;
            for (int i = 0; i < C; i++) {
                dpos[i] += d[i];
                dty[i] += d[i];
                if (dtok)
                    dtok[i] += d[i];
            }
        }
    }
}

/* ---- layernorm -------------------------------------------------------- */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, size_t N, int C)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *o = out + n * C;
        double m = 0.0, v = 0.0;
        for (int i = 0; i < C; i++)
            m += x[i];
        m /= C;
        for (int i = 0; i < C; i++)
            v += ((double)x[i] - m) * ((double)x[i] - m);
        v /= C;
        float s = (float)(1.0 / sqrt(v + 1e-5));
        float mf = (float)m;
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - mf) * s * weight[i] + bias[i];
        mean[n] = mf;
        rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, size_t N, int C)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *d = dout + n * C;
        float *dx = dinp + n * C;
        float m = mean[n], s = rstd[n];
        /* dnorm = weight * dout; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) */
        double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = weight[i] * d[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += (double)dnorm * norm;
        }
        float dm = (float)(dnorm_mean / C), dnm = (float)(dnorm_norm_mean / C);
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = weight[i] * d[i];
            dbias[i] += d[i];
            dweight[i] += norm * d[i];
            dx[i] += (dnorm - dm - norm * dnm) * s;
        }
    }
}

/* ---- matmul ------------------------------------------------------------ */

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    size_t N, int C, int OC)
{
    assert(N <= INT_MAX && C > 0 && OC > 0);
    if (N == 0)
        return;
    if (bias)
        for (size_t n = 0; n < N; n++)
            memcpy(out + n * OC, bias, (size_t)OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, C, 1.0f, inp, C, weight, C,
                bias ? 1.0f : 0.0f, out, OC);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, size_t N, int C, int OC)
{
    assert(N <= INT_MAX && C > 0 && OC > 0);
    if (N == 0)
        return;
    if (dinp) /* dinp (N, C) += dout (N, OC) @ weight (OC, C) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, C, OC, 1.0f, dout, OC,
                    weight, C, 1.0f, dinp, C);
    /* dweight (OC, C) += dout^T (OC, N) @ inp (N, C) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, (int)N, 1.0f, dout, OC, inp, C,
                1.0f, dweight, C);
    if (dbias)
        for (size_t n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
                dbias[o] += dout[n * OC + o];
}

/* ---- attention --------------------------------------------------------- */

/* One query against nkeys keys: row (nkeys) gets the softmax of the scaled
 * scores, out (hs) the weighted sum of the values.  k and v step by stride.
 * The full and the cached attention both go through here, so a position's
 * output is the same bits either way. */
static void attention_row(float *out, float *row, const float *q, const float *k,
                          const float *v, size_t stride, int nkeys, int hs, float scale)
{
    float maxv = -INFINITY, sum = 0.0f;
    for (int t2 = 0; t2 < nkeys; t2++) {
        const float *kt = k + (size_t)t2 * stride;
        float dot = 0.0f;
        for (int i = 0; i < hs; i++)
            dot += q[i] * kt[i];
        dot *= scale;
        row[t2] = dot;
        if (dot > maxv)
            maxv = dot;
    }
    for (int t2 = 0; t2 < nkeys; t2++) {
        float e = expf(row[t2] - maxv);
        row[t2] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int t2 = 0; t2 < nkeys; t2++)
        row[t2] *= inv;
    for (int i = 0; i < hs; i++)
        out[i] = 0.0f;
    for (int t2 = 0; t2 < nkeys; t2++) {
        const float *vt = v + (size_t)t2 * stride;
        float a = row[t2];
        for (int i = 0; i < hs; i++)
            out[i] += a * vt[i];
    }
}

void attention_forward(float *out, float *att, const float *inp, int B, int T, int C, int NH)
{
    size_t C3 = (size_t)3 * C;
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);

    assert(C % NH == 0);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *base = inp + (size_t)b * T * C3;
                const float *q = base + t * C3 + (size_t)h * hs;
                float *row = att + (((size_t)b * NH + h) * T + t) * T;
                attention_row(out + ((size_t)b * T + t) * C + (size_t)h * hs, row, q,
                              base + C + (size_t)h * hs, base + 2 * (size_t)C + (size_t)h * hs,
                              C3, t + 1, hs, scale);
                for (int t2 = t + 1; t2 < T; t2++)
                    row[t2] = 0.0f;
            }
}

void attention_backward(float *dinp, float *scratch, const float *dout, const float *inp,
                        const float *att, int B, int T, int C, int NH)
{
    size_t C3 = (size_t)3 * C;
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    float *datt = scratch, *dpre = scratch + T; /* (T) each, one row at a time */

    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *base = inp + (size_t)b * T * C3;
                float *dbase = dinp + (size_t)b * T * C3;
                const float *q = base + t * C3 + (size_t)h * hs;
                float *dq = dbase + t * C3 + (size_t)h * hs;
                const float *row = att + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
                float s = 0.0f;
                /* out = sum_t2 row[t2] * v[t2] */
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = base + t2 * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float *dv = dbase + t2 * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float dot = 0.0f;
                    for (int i = 0; i < hs; i++) {
                        dot += v[i] * d[i];
                        dv[i] += row[t2] * d[i];
                    }
                    datt[t2] = dot;
                    s += row[t2] * dot;
                }
                /* softmax: dpre = row * (datt - sum(row * datt)), times the score scale */
                for (int t2 = 0; t2 <= t; t2++)
                    dpre[t2] = row[t2] * (datt[t2] - s) * scale;
                /* score[t2] = q . k[t2] */
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = base + t2 * C3 + C + (size_t)h * hs;
                    float *dk = dbase + t2 * C3 + C + (size_t)h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * dpre[t2];
                        dk[i] += q[i] * dpre[t2];
                    }
                }
            }
}

void attention_forward_cached(float *out, float *scratch, const float *q, const float *kcache,
                              const float *vcache, int t0, int n, int C, int NH)
{
    size_t C3 = (size_t)3 * C;
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);

    assert(C % NH == 0);
    for (int j = 0; j < n; j++)
        for (int h = 0; h < NH; h++)
            attention_row(out + (size_t)j * C + (size_t)h * hs, scratch,
                          q + j * C3 + (size_t)h * hs, kcache + (size_t)h * hs,
                          vcache + (size_t)h * hs, (size_t)C, t0 + j + 1, hs, scale);
}

/* ---- gelu, residual ----------------------------------------------------- */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

void gelu_forward(float *out, const float *inp, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + cube)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        float th = tanhf(GELU_SCALE * (x + cube));
        float sech2 = 1.0f - th * th;
        float local = 0.5f * (1.0f + th) +
                      x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += local * dout[i];
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t N)
{
    for (size_t i = 0; i < N; i++)
        out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* ---- softmax cross-entropy ---------------------------------------------- */

/* log sum exp of row (V), in double; *maxv gets the row's maximum. */
static double row_logsumexp(const float *row, int V, float *maxv)
{
    float m = row[0];
    double sum = 0.0;
    for (int v = 1; v < V; v++)
        if (row[v] > m)
            m = row[v];
    for (int v = 0; v < V; v++)
        sum += exp((double)row[v] - m);
    *maxv = m;
    return log(sum) + m;
}

void crossentropy_forward(float *losses, const float *logits, const int *targets, size_t N,
                          int V)
{
    for (size_t n = 0; n < N; n++) {
        const float *row = logits + n * V;
        float m;
        if (targets[n] < 0) {
            losses[n] = 0.0f;
            continue;
        }
        assert(targets[n] < V);
        losses[n] = (float)(row_logsumexp(row, V, &m) - row[targets[n]]);
    }
}

void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *logits,
                                   const int *targets, size_t N, int V)
{
    for (size_t n = 0; n < N; n++) {
        const float *row = logits + n * V;
        float *drow = dlogits + n * V;
        float m;
        if (targets[n] < 0)
            continue;
        double lse = row_logsumexp(row, V, &m);
        float d = dlosses ? dlosses[n] : 1.0f;
        for (int v = 0; v < V; v++) {
            float p = (float)exp((double)row[v] - lse);
            drow[v] += d * (p - (v == targets[n] ? 1.0f : 0.0f));
        }
    }
}
