/* deadlines.c -- see deadlines.h. */
#include "coordinator/deadlines.h"

#include <stdlib.h>

static int before(const deadline_entry *a, const deadline_entry *b)
{
    return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->task_id < b->task_id);
}

static void sift_down(deadlines *d, size_t i)
{
    deadline_entry e = d->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= d->n)
            break;
        if (c + 1 < d->n && before(&d->heap[c + 1], &d->heap[c]))
            c++;
        if (!before(&d->heap[c], &e))
            break;
        d->heap[i] = d->heap[c];
        i = c;
    }
    d->heap[i] = e;
}

int deadlines_push(deadlines *d, deadline_kind kind, int64_t at_ms, int64_t task_id, uint64_t lease)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        deadline_entry *grown = realloc(d->heap, cap * sizeof *grown);
        if (!grown)
            return -1;
        d->heap = grown;
        d->cap = cap;
    }
    size_t i = d->n++;
    deadline_entry e = {at_ms, task_id, lease, kind};
    while (i > 0 && before(&e, &d->heap[(i - 1) / 2])) {
        d->heap[i] = d->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    d->heap[i] = e;
    return 0;
}

int deadlines_pop_due(deadlines *d, int64_t now_ms, deadline_entry *out)
{
    if (d->n == 0 || d->heap[0].at_ms > now_ms)
        return 0;
    *out = d->heap[0];
    d->heap[0] = d->heap[--d->n];
    if (d->n)
        sift_down(d, 0);
    return 1;
}

int64_t deadlines_next_ms(const deadlines *d)
{
    return d->n ? d->heap[0].at_ms : INT64_MAX;
}

int deadlines_filter_due(const deadlines *d, size_t live)
{
    return d->n > 2 * live + 1024;
}

void deadlines_filter(deadlines *d, int (*keep)(void *ctx, const deadline_entry *e), void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->n; i++)
        if (keep(ctx, &d->heap[i]))
            d->heap[kept++] = d->heap[i];
    d->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        sift_down(d, i);
}

void deadlines_free(deadlines *d)
{
    free(d->heap);
    d->heap = NULL;
    d->n = d->cap = 0;
}
