/* The pool (ml/pool.h): every item runs once, on a slot below the thread
 * count, the work really spreads over the threads, a call from inside an
 * item runs on that item's thread, and the degenerate pools run in order. */
#include "check.h"

#include <stdatomic.h>
#include <time.h>

#include "ml/pool.h"

enum { ITEMS = 1000 };

typedef struct {
    atomic_int runs[ITEMS];
    int slot[ITEMS];
    int order[ITEMS];
    atomic_int next;
    int sleep_us;
} tally;

static void tally_item(void *ctx, int item, int slot)
{
    tally *t = ctx;
    atomic_fetch_add(&t->runs[item], 1);
    t->slot[item] = slot;
    t->order[atomic_fetch_add(&t->next, 1)] = item;
    if (t->sleep_us) {
        struct timespec ts = {0, t->sleep_us * 1000L};
        nanosleep(&ts, NULL);
    }
}

static void tally_reset(tally *t, int sleep_us)
{
    for (int i = 0; i < ITEMS; i++) {
        atomic_init(&t->runs[i], 0);
        t->slot[i] = -1;
    }
    atomic_init(&t->next, 0);
    t->sleep_us = sleep_us;
}

TEST(pool_runs_every_item_once_on_a_slot_below_its_thread_count)
{
    static tally t;
    migr_err err;
    pool *p = pool_new(3, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    CHECK_INT(3, pool_threads(p));
    /* many calls in a row: each must wait for all of its items, and no
     * thread may take an item of a call that has ended */
    for (int call = 0; call < 200; call++) {
        int n = 1 + call * 7 % ITEMS;
        tally_reset(&t, 0);
        pool_for(p, n, tally_item, &t);
        for (int i = 0; i < ITEMS; i++) {
            int runs = atomic_load(&t.runs[i]);
            CHECK_MSG(runs == (i < n ? 1 : 0), "call %d (%d items): item %d ran %d times", call,
                      n, i, runs);
            CHECK_MSG(i >= n || (t.slot[i] >= 0 && t.slot[i] < 3), "item %d on slot %d", i,
                      t.slot[i]);
        }
    }
    pool_free(&p);
    CHECK(p == NULL);
}

TEST(pool_spreads_items_over_its_threads)
{
    static tally t;
    migr_err err;
    pool *p = pool_new(3, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    int used = 0;
    /* items of a millisecond: a thread that wakes up at all gets some */
    for (int call = 0; call < 20 && used < 2; call++) {
        int seen[3] = {0};
        tally_reset(&t, 1000);
        pool_for(p, 12, tally_item, &t);
        used = 0;
        for (int i = 0; i < 12; i++)
            seen[t.slot[i]] = 1;
        for (int s = 0; s < 3; s++)
            used += seen[s];
    }
    pool_free(&p);
    CHECK_MSG(used >= 2, "12 items of 1 ms all ran on %d thread(s) of 3", used);
}

typedef struct {
    pool *p;
    int outer_slot[8];
    int inner_slot[8][4];
} nested;

static void nested_inner(void *ctx, int item, int slot)
{
    int *slots = ctx;
    slots[item] = slot;
}

static void nested_outer(void *ctx, int item, int slot)
{
    nested *n = ctx;
    n->outer_slot[item] = slot;
    pool_for(n->p, 4, nested_inner, n->inner_slot[item]);
}

TEST(pool_for_inside_an_item_runs_on_that_items_thread)
{
    static nested n;
    migr_err err;
    n.p = pool_new(2, &err);
    CHECK_MSG(n.p != NULL, "%s", err.msg);
    pool_for(n.p, 8, nested_outer, &n);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            CHECK_MSG(n.inner_slot[i][j] == n.outer_slot[i],
                      "inner item %d of outer item %d on slot %d, the outer on %d", j, i,
                      n.inner_slot[i][j], n.outer_slot[i]);
    pool_free(&n.p);
}

TEST(pool_null_and_of_one_thread_run_the_items_in_order_on_the_caller)
{
    static tally t;
    migr_err err;
    pool *one = pool_new(1, &err);
    CHECK_MSG(one != NULL, "%s", err.msg);
    pool *pools[2] = {NULL, one};
    for (int k = 0; k < 2; k++) {
        tally_reset(&t, 0);
        pool_for(pools[k], 50, tally_item, &t);
        for (int i = 0; i < 50; i++) {
            CHECK_INT(i, t.order[i]);
            CHECK_INT(0, t.slot[i]);
        }
    }
    CHECK_INT(1, pool_threads(NULL));
    tally_reset(&t, 0);
    pool_for(one, 0, tally_item, &t);
    CHECK_INT(0, atomic_load(&t.next));
    pool_free(&one);
}

TEST(pool_new_refuses_a_thread_count_out_of_range)
{
    migr_err err;
    CHECK(pool_new(0, &err) == NULL);
    CHECK(strstr(err.msg, "1..256") != NULL);
    CHECK(pool_new(POOL_MAX_THREADS + 1, &err) == NULL);
    pool *p = NULL;
    pool_free(&p); /* NULL is fine */
}

/* migr up's workers, and a worker's tasks under --threads auto, share the
 * CPUs: CPUs / N threads each, never 0, never more than a pool takes (auto
 * on a machine of more than 256 CPUs made a pool every task refused). */
TEST(tasks_share_the_cpus_with_one_thread_at_least_and_a_pools_most)
{
    CHECK_INT(2, pool_share(2, 1));
    CHECK_INT(1, pool_share(2, 2));
    CHECK_INT(1, pool_share(2, 3));
    CHECK_INT(2, pool_share(8, 3));
    CHECK_INT(16, pool_share(64, 4));
    CHECK_INT(POOL_MAX_THREADS, pool_share(1024, 1));
}
