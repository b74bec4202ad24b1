/* rewards.c -- see rewards.h. */
#include "spec/rewards.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define REWARD_NAME_(name, description) #name,
static const char *const reward_table_names[] = {REWARD_TABLE(REWARD_NAME_) NULL};
#undef REWARD_NAME_
#define REWARD_COUNT ((int)(sizeof reward_table_names / sizeof reward_table_names[0]) - 1)

_Static_assert(REWARD_COUNT <= (int)REWARD_SET_MAX, "a set can hold every reward");

const char *const *reward_names(void)
{
    return reward_table_names;
}

int reward_index(const char *name)
{
    assert(name);
    for (int i = 0; i < REWARD_COUNT; i++)
        if (strcmp(reward_table_names[i], name) == 0)
            return i;
    return -1;
}

/* "accuracy, format, ..." for error messages. */
static void known_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < REWARD_COUNT && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", reward_table_names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

int reward_list_check(const reward_weight *list, int n, migr_err *err)
{
    int index[REWARD_SET_MAX];
    char known[256];

    assert(list || n == 0);
    known_names(known, sizeof known);
    if (n <= 0)
        return migr_errf(err, "rewards: the list is empty; name at least one of %s", known);
    if (n > REWARD_SET_MAX)
        return migr_errf(err, "rewards: %d entries, more than the %d a set holds", n,
                         REWARD_SET_MAX);
    for (int i = 0; i < n; i++) {
        const char *name = list[i].name ? list[i].name : "";
        index[i] = reward_index(name);
        if (index[i] < 0)
            return migr_errf(err, "rewards[%d]: unknown reward \"%s\"; known rewards: %s", i, name,
                             known);
        for (int j = 0; j < i; j++)
            if (index[j] == index[i])
                return migr_errf(err, "rewards[%d]: \"%s\" is already rewards[%d]; name each "
                                      "reward once", i, name, j);
        if (!isfinite(list[i].weight))
            return migr_errf(err, "rewards[%d]: the weight of \"%s\" is not a finite number", i,
                             name);
    }
    return 0;
}
