/* pool.c -- see pool.h.
 *
 * One mutex guards the current call (fn, ctx, n, next); a thread takes an
 * item under it, runs the item without it, and takes it again to count the
 * item done and take the next.  A call bumps gen; a waiting thread watches
 * gen, first spinning for POOL_SPIN_NS (a step's kernels follow each other
 * microseconds apart, and a wake-up from a condition variable takes tens of
 * them), then asleep on `wake`.  The caller, out of items, waits for the
 * stragglers the same way on `left` and `done`. */
#include "ml/pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a thread out of work spins before it sleeps. */
#define POOL_SPIN_NS 100000

typedef struct pool_thread {
    pool *p;
    int slot;
    pthread_t tid;
} pool_thread;

struct pool {
    int threads;
    pool_thread *th;           /* (threads - 1) threads beside the caller */
    int started;
    pthread_mutex_t mu;
    pthread_cond_t wake;       /* a new call, or stop */
    pthread_cond_t done;       /* the last item of a call returned */
    /* the current call, under mu */
    pool_fn fn;
    void *ctx;
    int n, next;
    int stop;
    atomic_uint gen;           /* calls so far (written under mu) */
    atomic_int left;           /* items of the current call not yet returned (under mu) */
    atomic_int busy;           /* a pool_for is running */
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spins while *gen == seen, for at most POOL_SPIN_NS. */
static void spin_on_gen(const atomic_uint *gen, unsigned seen)
{
    long long deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(gen, memory_order_acquire) == seen; i++) {
        cpu_relax();
        if (i % 64 == 0) {
            long long t = now_ns();
            if (!deadline)
                deadline = t + POOL_SPIN_NS;
            else if (t > deadline)
                return;
        }
    }
}

/* Spins while *left > 0, for at most POOL_SPIN_NS. */
static void spin_on_left(const atomic_int *left)
{
    long long deadline = 0;
    for (unsigned i = 1; atomic_load_explicit(left, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0) {
            long long t = now_ns();
            if (!deadline)
                deadline = t + POOL_SPIN_NS;
            else if (t > deadline)
                return;
        }
    }
}

/* Runs the current call's items until none is left to take; mu is held on
 * entry and on return. */
static void run_items(pool *p, int slot)
{
    while (p->next < p->n) {
        int item = p->next++;
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, item, slot);
        pthread_mutex_lock(&p->mu);
        if (atomic_fetch_sub_explicit(&p->left, 1, memory_order_release) == 1)
            pthread_cond_signal(&p->done);
    }
}

static void *pool_main(void *arg)
{
    pool_thread *t = arg;
    pool *p = t->p;
    unsigned seen = 0;

    for (;;) {
        spin_on_gen(&p->gen, seen);
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->gen, memory_order_relaxed) == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed);
        run_items(p, t->slot);
        pthread_mutex_unlock(&p->mu);
    }
}

pool *pool_new(int threads, migr_err *err)
{
    if (threads < 1 || threads > POOL_MAX_THREADS) {
        migr_errf(err, "a pool needs 1..%d threads, not %d", POOL_MAX_THREADS, threads);
        return NULL;
    }
    pool *p = calloc(1, sizeof *p);
    if (!p || !(p->th = calloc((size_t)threads, sizeof *p->th))) {
        free(p);
        migr_errf(err, "out of memory for a pool of %d threads", threads);
        return NULL;
    }
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->left, 0);
    atomic_init(&p->busy, 0);
    /* Signals stay with the process's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < threads - 1; i++) {
        p->th[i] = (pool_thread){.p = p, .slot = i + 1};
        int rc = pthread_create(&p->th[i].tid, NULL, pool_main, &p->th[i]);
        if (rc != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            migr_errf(err, "cannot start thread %d of a pool of %d: %s", i + 1, threads,
                      strerror(rc));
            pool_free(&p);
            return NULL;
        }
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p;
}

void pool_free(pool **pp)
{
    if (!pp || !*pp)
        return;
    pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->th[i].tid, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
    *pp = NULL;
}

int pool_threads(const pool *p) { return p ? p->threads : 1; }

/* The slot of the calling thread inside a running pool_for. */
static int slot_of_self(const pool *p)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < p->started; i++)
        if (pthread_equal(self, p->th[i].tid))
            return p->th[i].slot;
    return 0; /* the caller */
}

void pool_for(pool *p, int n, pool_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || p->threads == 1 || n == 1 || atomic_load(&p->busy)) {
        int slot = p && atomic_load(&p->busy) ? slot_of_self(p) : 0;
        for (int i = 0; i < n; i++)
            fn(ctx, i, slot);
        return;
    }
    atomic_store(&p->busy, 1);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next = 0;
    atomic_store_explicit(&p->left, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    run_items(p, 0);
    if (atomic_load_explicit(&p->left, memory_order_acquire) > 0) {
        pthread_mutex_unlock(&p->mu);
        spin_on_left(&p->left);
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->left, memory_order_acquire) > 0)
            pthread_cond_wait(&p->done, &p->mu);
    }
    p->n = 0;
    pthread_mutex_unlock(&p->mu);
    atomic_store(&p->busy, 0);
}

int pool_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int pool_share(int cpus, long tasks)
{
    long share = tasks > 0 ? cpus / tasks : cpus;
    return share < 1 ? 1 : share > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)share;
}
