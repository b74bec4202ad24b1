/* fleet.c -- see fleet.h. */
#include "coordinator/fleet.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_bytes(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return (size_t)h;
}

static size_t peer_slot(const fleet *f, const wire_peer *p)
{
    return hash_bytes(p->id, p->len) & (f->nbuckets - 1);
}

static size_t id_slot(const fleet *f, const char *id)
{
    return hash_bytes(id, strlen(id)) & (f->nbuckets - 1);
}

static void chain_unlink(coord_worker **head, coord_worker *w, size_t link_offset)
{
    for (coord_worker **pp = head; *pp; pp = (coord_worker **)((char *)*pp + link_offset))
        if (*pp == w) {
            *pp = *(coord_worker **)((char *)w + link_offset);
            return;
        }
}

/* Keep at least a bucket per worker, so chains stay O(1) long. */
static int grow(fleet *f)
{
    size_t nb = f->nbuckets ? 2 * f->nbuckets : 64;
    coord_worker **bp = calloc(nb, sizeof *bp), **bi = calloc(nb, sizeof *bi);
    if (!bp || !bi) {
        free(bp);
        free(bi);
        return -1;
    }
    free(f->by_peer);
    free(f->by_id);
    f->by_peer = bp;
    f->by_id = bi;
    f->nbuckets = nb;
    for (coord_worker *w = f->oldest; w; w = w->newer) {
        size_t s = peer_slot(f, &w->peer), t = id_slot(f, w->id);
        w->next_by_peer = bp[s];
        bp[s] = w;
        w->next_by_id = bi[t];
        bi[t] = w;
    }
    return 0;
}

static void list_append(fleet *f, coord_worker *w)
{
    w->newer = NULL;
    w->older = f->newest;
    if (f->newest)
        f->newest->newer = w;
    else
        f->oldest = w;
    f->newest = w;
}

static void list_unlink(fleet *f, coord_worker *w)
{
    if (w->older)
        w->older->newer = w->newer;
    else
        f->oldest = w->newer;
    if (w->newer)
        w->newer->older = w->older;
    else
        f->newest = w->older;
}

coord_worker *fleet_add(fleet *f, const char *id, const wire_peer *peer, int64_t now_ms)
{
    if ((size_t)f->n >= f->nbuckets && grow(f) < 0)
        return NULL;
    coord_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    w->peer = *peer;
    w->last_heard_ms = now_ms;
    size_t s = peer_slot(f, peer), t = id_slot(f, w->id);
    w->next_by_peer = f->by_peer[s];
    f->by_peer[s] = w;
    w->next_by_id = f->by_id[t];
    f->by_id[t] = w;
    list_append(f, w);
    f->n++;
    return w;
}

coord_worker *fleet_by_peer(const fleet *f, const wire_peer *peer)
{
    if (!f->nbuckets)
        return NULL;
    for (coord_worker *w = f->by_peer[peer_slot(f, peer)]; w; w = w->next_by_peer)
        if (w->peer.len == peer->len && memcmp(w->peer.id, peer->id, peer->len) == 0)
            return w;
    return NULL;
}

coord_worker *fleet_by_id(const fleet *f, const char *id)
{
    if (!f->nbuckets)
        return NULL;
    for (coord_worker *w = f->by_id[id_slot(f, id)]; w; w = w->next_by_id)
        if (strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

void fleet_set_peer(fleet *f, coord_worker *w, const wire_peer *peer)
{
    chain_unlink(&f->by_peer[peer_slot(f, &w->peer)], w, offsetof(coord_worker, next_by_peer));
    w->peer = *peer;
    size_t s = peer_slot(f, peer);
    w->next_by_peer = f->by_peer[s];
    f->by_peer[s] = w;
}

void fleet_touch(fleet *f, coord_worker *w, int64_t now_ms)
{
    w->last_heard_ms = now_ms;
    if (f->newest == w)
        return;
    list_unlink(f, w);
    list_append(f, w);
}

/* Take w, queued, off the free FIFO. */
static void free_unlink(fleet *f, coord_worker *w)
{
    if (w->prev_free)
        w->prev_free->next_free = w->next_free;
    else
        f->free_head = w->next_free;
    if (w->next_free)
        w->next_free->prev_free = w->prev_free;
    else
        f->free_tail = w->prev_free;
    w->next_free = w->prev_free = NULL;
    w->queued_free = 0;
}

void fleet_remove(fleet *f, coord_worker *w)
{
    chain_unlink(&f->by_peer[peer_slot(f, &w->peer)], w, offsetof(coord_worker, next_by_peer));
    chain_unlink(&f->by_id[id_slot(f, w->id)], w, offsetof(coord_worker, next_by_id));
    list_unlink(f, w);
    if (w->queued_free)
        free_unlink(f, w);
    free(w->held);
    free(w);
    f->n--;
}

void fleet_offer(fleet *f, coord_worker *w)
{
    if (w->queued_free || w->nheld >= w->slots)
        return;
    w->queued_free = 1;
    w->next_free = NULL;
    w->prev_free = f->free_tail;
    if (f->free_tail)
        f->free_tail->next_free = w;
    else
        f->free_head = w;
    f->free_tail = w;
}

coord_worker *fleet_take_free(fleet *f)
{
    coord_worker *w = f->free_head;
    if (w)
        free_unlink(f, w);
    return w;
}

void fleet_return_free(fleet *f, coord_worker *w)
{
    w->queued_free = 1;
    w->prev_free = NULL;
    w->next_free = f->free_head;
    if (f->free_head)
        f->free_head->prev_free = w;
    else
        f->free_tail = w;
    f->free_head = w;
}

void fleet_free(fleet *f)
{
    while (f->oldest)
        fleet_remove(f, f->oldest);
    free(f->by_peer);
    free(f->by_id);
    memset(f, 0, sizeof *f);
}
