/* test_deadlines.c -- the lease-deadline heap: due entries come out soonest
 * first and only once due; filtering keeps exactly the kept ones, in order. */
#include "check.h"

#include <stdlib.h>

#include "coordinator/deadlines.h"

TEST(deadlines_pop_only_due_entries_soonest_first)
{
    deadlines d = {0};
    unsigned x = 7;
    for (int i = 0; i < 1000; i++) {
        x = x * 1103515245u + 12345u;
        CHECK(deadlines_push(&d, DEADLINE_LEASE, (int64_t)(x % 5000), i, (uint64_t)i * 3) == 0);
    }
    deadline_entry e, prev = {-1, -1, 0};
    int popped = 0;
    while (deadlines_pop_due(&d, 2499, &e)) {
        CHECK_MSG(e.at_ms >= prev.at_ms, "entry at %lld after one at %lld", (long long)e.at_ms,
                  (long long)prev.at_ms);
        CHECK(e.at_ms <= 2499);
        CHECK_INT(e.task_id * 3, (long long)e.lease);
        prev = e;
        popped++;
    }
    CHECK(popped > 0 && (size_t)popped < 1000);
    CHECK_INT(1000 - popped, d.n);
    CHECK(d.heap[0].at_ms >= 2500);
    deadlines_free(&d);
}

static int keep_even(void *ctx, const deadline_entry *e)
{
    (void)ctx;
    return e->task_id % 2 == 0;
}

TEST(deadlines_filter_keeps_the_kept_entries_as_a_heap)
{
    deadlines d = {0};
    for (int i = 0; i < 3000; i++)
        CHECK(deadlines_push(&d, DEADLINE_LEASE, 3000 - i, i, 0) == 0);
    CHECK(deadlines_filter_due(&d, 100));
    CHECK(!deadlines_filter_due(&d, 1500));
    deadlines_filter(&d, keep_even, NULL);
    CHECK_INT(1500, d.n);
    deadline_entry e;
    int64_t last = -1;
    int n = 0;
    while (deadlines_pop_due(&d, 1 << 30, &e)) {
        CHECK(e.task_id % 2 == 0);
        CHECK(e.at_ms > last);
        last = e.at_ms;
        n++;
    }
    CHECK_INT(1500, n);
    deadlines_free(&d);
}
