/* test_fleet.c -- migrd's table of connected workers (coordinator/fleet.c). */
#include "check.h"

#include <stdio.h>
#include <string.h>

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
