/* test_fleet.c -- migrd's table of connected workers (coordinator/fleet.c). */
#include "check.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coordinator/fleet.h"

static wire_peer peer_of(int i)
{
    wire_peer p = {.len = 5};
    p.id[0] = 0;
    memcpy(p.id + 1, &i, sizeof i);
    return p;
}

/* n workers "w0".."w(n-1)", each with one slot, heard from at i ms. */
static int add_workers(fleet *f, int n)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        wire_peer p = peer_of(i);
        snprintf(id, sizeof id, "w%d", i);
        coord_worker *w = fleet_add(f, id, &p, i);
        if (!w)
            return -1;
        w->concurrency = w->slots = 1;
    }
    return 0;
}

TEST(fleet_finds_each_of_a_thousand_workers_by_peer_and_by_id)
{
    fleet f = {0};
    int found = 0;
    CHECK(add_workers(&f, 1000) == 0);
    for (int i = 0; i < 1000; i++) {
        char id[32];
        wire_peer p = peer_of(i);
        snprintf(id, sizeof id, "w%d", i);
        coord_worker *a = fleet_by_peer(&f, &p), *b = fleet_by_id(&f, id);
        found += a && a == b && strcmp(a->id, id) == 0;
    }
    wire_peer stranger = peer_of(5000);
    CHECK(fleet_by_peer(&f, &stranger) == NULL);
    CHECK(fleet_by_id(&f, "w1000") == NULL);
    CHECK_INT(1000, f.n);
    fleet_free(&f);
    CHECK_INT(1000, found);
}

TEST(fleet_keeps_workers_oldest_heard_from_first)
{
    fleet f = {0};
    CHECK(add_workers(&f, 4) == 0);
    fleet_touch(&f, fleet_by_id(&f, "w1"), 10);
    fleet_touch(&f, fleet_by_id(&f, "w0"), 11);
    char order[512] = "";
    for (coord_worker *w = f.oldest; w; w = w->newer)
        snprintf(order + strlen(order), sizeof order - strlen(order), "%s ", w->id);
    char back[512] = "";
    for (coord_worker *w = f.newest; w; w = w->older)
        snprintf(back + strlen(back), sizeof back - strlen(back), "%s ", w->id);
    fleet_free(&f);
    CHECK_MSG(strcmp(order, "w2 w3 w1 w0 ") == 0, "oldest first: %s", order);
    CHECK_MSG(strcmp(back, "w0 w1 w3 w2 ") == 0, "newest first: %s", back);
}

TEST(fleet_hands_out_free_workers_in_turn_and_forgets_removed_ones)
{
    fleet f = {0};
    CHECK(add_workers(&f, 3) == 0);
    for (coord_worker *w = f.oldest; w; w = w->newer)
        fleet_offer(&f, w);
    fleet_offer(&f, fleet_by_id(&f, "w0"));  /* already queued: no second place */
    coord_worker *busy = fleet_by_id(&f, "w2");
    fleet_remove(&f, fleet_by_id(&f, "w1"));
    coord_worker *a = fleet_take_free(&f);
    a->nheld = 1;                            /* now busy: offering it queues nothing */
    fleet_offer(&f, a);
    coord_worker *b = fleet_take_free(&f), *none = fleet_take_free(&f);
    fleet_return_free(&f, b);                /* nothing was ready for it */
    coord_worker *again = fleet_take_free(&f);
    int n = f.n;
    wire_peer p1 = peer_of(1);
    int gone = fleet_by_peer(&f, &p1) == NULL && fleet_by_id(&f, "w1") == NULL;
    CHECK_MSG(strcmp(a->id, "w0") == 0, "first free: %s", a->id);
    CHECK(b == busy);
    CHECK(none == NULL);
    CHECK(again == busy);
    CHECK_INT(2, n);
    CHECK(gone);
    fleet_free(&f);
}

TEST(fleet_follows_a_worker_that_reconnects_under_a_new_peer)
{
    fleet f = {0};
    CHECK(add_workers(&f, 2) == 0);
    wire_peer old = peer_of(0), fresh = peer_of(77);
    coord_worker *w = fleet_by_id(&f, "w0");
    fleet_set_peer(&f, w, &fresh);
    int moved = fleet_by_peer(&f, &fresh) == w && fleet_by_peer(&f, &old) == NULL;
    fleet_free(&f);
    CHECK(moved);
}

/* The free FIFO as the ids dispatch would take them in, emptying it. */
static void take_all(fleet *f, char *out, size_t cap)
{
    out[0] = '\0';
    for (coord_worker *w; (w = fleet_take_free(f));)
        snprintf(out + strlen(out), cap - strlen(out), "%s ", w->id);
}

TEST(fleet_removes_a_worker_from_the_head_middle_or_tail_of_the_free_fifo)
{
    fleet f = {0};
    CHECK(add_workers(&f, 6) == 0);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "w%d", i);
        fleet_offer(&f, fleet_by_id(&f, id));
    }
    fleet_remove(&f, fleet_by_id(&f, "w0"));  /* head */
    int head = f.free_head && strcmp(f.free_head->id, "w1") == 0;
    fleet_remove(&f, fleet_by_id(&f, "w2"));  /* middle */
    fleet_remove(&f, fleet_by_id(&f, "w4"));  /* tail */
    int tail = f.free_tail && strcmp(f.free_tail->id, "w3") == 0;
    fleet_offer(&f, fleet_by_id(&f, "w5"));   /* queued after the new tail */
    char order[256];
    take_all(&f, order, sizeof order);
    /* The only one queued, removed: the FIFO is empty, and takes the next. */
    fleet_offer(&f, fleet_by_id(&f, "w1"));
    fleet_remove(&f, fleet_by_id(&f, "w1"));
    int emptied = f.free_head == NULL && f.free_tail == NULL;
    fleet_offer(&f, fleet_by_id(&f, "w3"));
    char after[256];
    take_all(&f, after, sizeof after);
    int n = f.n;
    fleet_free(&f);
    CHECK_MSG(head, "removing the head did not make w1 the head");
    CHECK_MSG(tail, "removing the tail did not make w3 the tail");
    CHECK_MSG(strcmp(order, "w1 w3 w5 ") == 0, "taken in order: %s", order);
    CHECK(emptied);
    CHECK_MSG(strcmp(after, "w3 ") == 0, "taken after emptying: %s", after);
    CHECK_INT(2, n);
}

/* migrd removes a worker when it dies or says goodbye, wherever it waits
 * in the free FIFO: the cost must not grow with the workers queued.  Here
 * each of 50,000 free workers is removed from the tail, where walking the
 * FIFO from its head would take 1.25e9 steps in all; the thread's CPU
 * time, not the wall clock, so that other processes do not count. */
TEST(fleet_removes_a_free_worker_without_walking_the_free_fifo)
{
    enum { N = 50000 };
    fleet f = {0};
    CHECK(add_workers(&f, N) == 0);
    for (coord_worker *w = f.oldest; w; w = w->newer)
        fleet_offer(&f, w);
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    while (f.free_tail)
        fleet_remove(&f, f.free_tail);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int n = f.n;
    fleet_free(&f);
    CHECK_INT(0, n);
    CHECK_MSG(s < 0.5, "removing %d free workers from the tail took %.2f s of CPU", N, s);
}
