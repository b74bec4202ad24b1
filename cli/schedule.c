/* schedule.c -- migr schedule add | list | show | rm | pause | resume | run:
 * runs submitted on a cron calendar by migrd (coordinator/schedules.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char *text_or(json_t *v, const char *fallback)
{
    return json_is_string(v) ? json_string_value(v) : fallback;
}

static void print_schedules(json_t *list)
{
    size_t i;
    json_t *s;
    if (json_array_size(list) == 0) {
        printf("no schedules (add one with `migr schedule add NAME --cron \"0 2 * * *\" FILE.yaml`)\n");
        return;
    }
    printf("%-20s %-16s %-18s %-8s %-21s %-8s %s\n", "NAME", "CRON", "TZ", "POLICY", "NEXT (UTC)", "LAST RUN",
           "FIRED/MISSED/SKIPPED");
    json_array_foreach(list, i, s) {
        char last[24] = "-";
        if (json_is_integer(json_object_get(s, "last_run")))
            snprintf(last, sizeof last, "%lld", (long long)json_integer_value(json_object_get(s, "last_run")));
        printf("%-20s %-16s %-18s %-8s %-21s %-8s %lld/%lld/%lld\n", text_or(json_object_get(s, "name"), "?"),
               text_or(json_object_get(s, "cron"), "?"), text_or(json_object_get(s, "tz"), "?"),
               text_or(json_object_get(s, "policy"), "?"),
               json_is_true(json_object_get(s, "paused")) ? "(paused)" : text_or(json_object_get(s, "next"), "never"),
               last, (long long)json_integer_value(json_object_get(s, "fired")),
               (long long)json_integer_value(json_object_get(s, "missed")),
               (long long)json_integer_value(json_object_get(s, "skipped")));
    }
}

static void print_one(json_t *s)
{
    json_t *list = json_pack("[O]", s);
    print_schedules(list);
    json_decref(list);
}

static void print_detail(json_t *s)
{
    size_t i;
    json_t *r;
    json_t *deadline = json_object_get(s, "deadline_s");
    print_one(s);
    if (json_is_integer(deadline))
        printf("starting deadline: %lld s\n", (long long)json_integer_value(deadline));
    if (json_is_string(json_object_get(s, "last_error")))
        printf("last firing failed: %s\n", json_string_value(json_object_get(s, "last_error")));
    json_t *history = json_object_get(s, "history");
    if (json_array_size(history) == 0) {
        printf("no runs yet\n");
        return;
    }
    printf("\n%-6s %-21s %-10s %-8s %-8s %-8s %s\n", "RUN", "SCHEDULED (UTC)", "STATE", "WAR", "UAR", "C_INCONS",
           "NOTE");
    json_array_foreach(history, i, r) {
        json_t *m = json_object_get(r, "metrics");
        char war[16] = "-", uar[16] = "-", ci[16] = "-";
        if (json_is_object(m)) {
            snprintf(war, sizeof war, "%.2f%%", 100 * json_number_value(json_object_get(m, "war")));
            snprintf(uar, sizeof uar, "%.2f%%", 100 * json_number_value(json_object_get(m, "uar")));
            snprintf(ci, sizeof ci, "%.2f%%", 100 * json_number_value(json_object_get(m, "correct_inconsistent")));
        }
        printf("%-6lld %-21s %-10s %-8s %-8s %-8s %s\n", (long long)json_integer_value(json_object_get(r, "run")),
               text_or(json_object_get(r, "scheduled"), "-"), text_or(json_object_get(r, "state"), "?"), war, uar,
               ci, json_is_true(json_object_get(r, "nothing_newer")) ? "nothing newer to evaluate"
                                                                        : text_or(json_object_get(r, "error"), ""));
    }
}

int cmd_schedule_add(const migr_home *home, const cli_args *a)
{
    const char *cron = NULL, *tz = NULL, *policy = NULL;
    long long deadline = 0;
    int code;

    for (int i = 0; i < a->nopts; i++) {
        if (!strcmp(a->opt[i]->name, "--cron"))
            cron = a->value[i];
        else if (!strcmp(a->opt[i]->name, "--tz"))
            tz = a->value[i];
        else if (!strcmp(a->opt[i]->name, "--policy"))
            policy = a->value[i];
    }
    if (cli_int(a, "--deadline", 1, 100LL * 365 * 86400, &deadline) < 0)
        return EXIT_USAGE;
    json_t *cfg = cli_run_config(a, a->operand[1], &code);
    if (!cfg)
        return code;
    json_t *args = json_pack("{s:s, s:s, s:o}", "name", a->operand[0], "cron", cron, "config", cfg);
    if (tz)
        json_object_set_new(args, "tz", json_string(tz));
    if (policy)
        json_object_set_new(args, "policy", json_string(policy));
    if (deadline)
        json_object_set_new(args, "deadline_s", json_integer(deadline));
    return cli_show(home, "schedule.add", args, cli_flag(a, "--json"), print_one);
}

int cmd_schedule_list(const migr_home *home, const cli_args *a)
{
    return cli_show(home, "schedule.list", NULL, cli_flag(a, "--json"), print_schedules);
}

static int by_name(const migr_home *home, const cli_args *a, const char *verb, void (*human)(json_t *))
{
    return cli_show(home, verb, json_pack("{s:s}", "name", a->operand[0]), cli_flag(a, "--json"), human);
}

int cmd_schedule_show(const migr_home *home, const cli_args *a)
{
    return by_name(home, a, "schedule.show", print_detail);
}

static void print_removed(json_t *s)
{
    printf("schedule %s removed; its runs stay\n", text_or(json_object_get(s, "name"), "?"));
}

int cmd_schedule_rm(const migr_home *home, const cli_args *a)
{
    return by_name(home, a, "schedule.rm", print_removed);
}

int cmd_schedule_pause(const migr_home *home, const cli_args *a)
{
    return by_name(home, a, "schedule.pause", print_one);
}

int cmd_schedule_resume(const migr_home *home, const cli_args *a)
{
    return by_name(home, a, "schedule.resume", print_one);
}

static void print_fired(json_t *r)
{
    printf("%lld\n", (long long)json_integer_value(json_object_get(r, "run")));
}

int cmd_schedule_run(const migr_home *home, const cli_args *a)
{
    return by_name(home, a, "schedule.run", print_fired);
}
