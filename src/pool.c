/* pool.c: the process-wide worker pool behind mn_pool_run (see pool.h). Workers are started on
 * first use and live until the process exits. A loop is published as a generation number;
 * tasks are claimed by compare-and-swap on (generation, next task), so a worker that wakes late
 * can never take a task of a later loop. Idle threads spin for a short while (the next loop of
 * a training step usually follows within microseconds), then sleep on a futex so that a core
 * shared with another process is not burnt on waiting.
 * Every task runs with subnormal floats flushed to zero (x86 FTZ and DAZ): training drifts into
 * tiny gradients and optimiser moments, and arithmetic on subnormals is slow enough that a
 * 3,000-step run had lost a quarter of its speed by its end. Workers keep the mode; the caller
 * has it only during a loop, and code outside the pool's loops (the batcher's distortions, for
 * one) runs in the caller's mode, so its results never depend on the thread that runs it.
 * Left out: priorities, several loops at once (a second caller runs its loop by itself). */
#include "pool.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
/* MXCSR's flush-to-zero (0x8000) and denormals-are-zero (0x0040) bits */
#define FP_FLUSH_BITS 0x8040u
static unsigned fp_flush_enter(void)
{
    unsigned saved = _mm_getcsr();
    if ((saved & FP_FLUSH_BITS) != FP_FLUSH_BITS)
        _mm_setcsr(saved | FP_FLUSH_BITS);
    return saved;
}
static void fp_restore(unsigned saved)
{
    if ((saved & FP_FLUSH_BITS) != FP_FLUSH_BITS)
        _mm_setcsr(saved);
}
#else
#define CPU_RELAX() ((void)0)
static unsigned fp_flush_enter(void) { return 0; } /* left out: other architectures' modes */
static void fp_restore(unsigned saved) { (void)saved; }
#endif

enum { MAX_WORKERS = 63 };
/* How long a worker waits for the next loop, and the caller for the last tasks, before
 * sleeping; MNIST_POOL_SPIN_US="worker,caller" (microseconds) overrides them. */
static double g_worker_spin_ns = 20000, g_caller_spin_ns = 5000;

static struct {
    pthread_mutex_t lock;      /* held by the thread running a parallel loop */
    int started;               /* workers started (ids 1..started), under lock */
    _Atomic uint32_t gen;      /* loop generation; idle workers wait for it to change */
    _Atomic int sleepers;      /* workers asleep, or about to be, on gen */
    _Atomic uint64_t state;    /* (generation << 32) | next unclaimed task */
    _Atomic uint32_t done;     /* tasks of the current loop finished */
    _Atomic int caller_asleep; /* the caller sleeps on `done` */
    /* The loop, written by the caller before it publishes a generation. */
    _Atomic(mn_task_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int tasks, helpers; /* workers 1..helpers take part */
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int t_in_task; /* this thread is inside a task (nested loops run serially) */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)addr, (void)expected;
    sched_yield();
#endif
}

static void futex_wake(_Atomic uint32_t *addr)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)addr;
#endif
}

/* Claims and runs tasks of loop `gen` until none are left (or a later loop has begun). */
static void run_tasks(int worker, uint32_t gen)
{
    t_in_task = 1;
    for (;;) {
        uint64_t s = atomic_load_explicit(&g.state, memory_order_acquire);
        if ((uint32_t)(s >> 32) != gen)
            break;
        /* These belong to `gen` if the claim below succeeds: the caller rewrites them only
         * after every task of `gen` has been claimed and finished. */
        mn_task_fn fn = atomic_load_explicit(&g.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&g.ctx, memory_order_relaxed);
        uint32_t tasks = (uint32_t)atomic_load_explicit(&g.tasks, memory_order_relaxed);
        uint32_t t = (uint32_t)s;
        if (t >= tasks)
            break;
        /* Pairs with the caller's fence: if any of the loads above saw the next loop's
         * values, the state has already been closed and the claim below fails. */
        atomic_thread_fence(memory_order_acquire);
        if (!atomic_compare_exchange_weak_explicit(&g.state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(ctx, (int)t, worker);
        if (atomic_fetch_add(&g.done, 1) + 1 == tasks && atomic_load(&g.caller_asleep))
            futex_wake(&g.done);
    }
    t_in_task = 0;
}

static void *worker_main(void *arg)
{
    int id = (int)((intptr_t)arg & 0xff);
    uint32_t seen = (uint32_t)((uintptr_t)arg >> 8);
    fp_flush_enter();
    for (;;) {
        double t0 = now_ns();
        uint32_t cur;
        for (int i = 0; (cur = atomic_load(&g.gen)) == seen; i++) {
            CPU_RELAX();
            if ((i & 63) == 63 && now_ns() - t0 > g_worker_spin_ns) {
                atomic_fetch_add(&g.sleepers, 1);
                while ((cur = atomic_load(&g.gen)) == seen)
                    futex_wait(&g.gen, seen);
                atomic_fetch_sub(&g.sleepers, 1);
                break;
            }
        }
        seen = cur;
        if (id <= atomic_load_explicit(&g.helpers, memory_order_relaxed))
            run_tasks(id, cur);
    }
    return NULL;
}

/* Starts workers up to `want` (under the lock); returns how many there are. */
static int ensure_workers(int want)
{
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    if (g.started >= want)
        return g.started;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the application's threads */
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        uint32_t gen = atomic_load(&g.gen);
        while (g.started < want) {
            pthread_t th;
            uintptr_t arg = ((uintptr_t)gen << 8) | (uintptr_t)(g.started + 1);
            if (pthread_create(&th, &attr, worker_main, (void *)arg) != 0)
                break;
            g.started++;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return g.started;
}

static void run_serial(int tasks, mn_task_fn fn, void *ctx)
{
    int saved = t_in_task;
    t_in_task = 1;
    for (int t = 0; t < tasks; t++)
        fn(ctx, t, 0);
    t_in_task = saved;
}

/* A child process has none of the parent's workers. */
static void after_fork_child(void)
{
    pthread_mutex_init(&g.lock, NULL);
    g.started = 0;
    atomic_store(&g.sleepers, 0);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void pool_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
    const char *e = getenv("MNIST_POOL_SPIN_US");
    double w, c;
    if (e && sscanf(e, "%lf,%lf", &w, &c) == 2 && w >= 0 && c >= 0 && w < 1e6 && c < 1e6)
        g_worker_spin_ns = w * 1e3, g_caller_spin_ns = c * 1e3;
}

static void pool_run(int threads, int tasks, mn_task_fn fn, void *ctx)
{
    if (threads <= 1 || tasks == 1 || t_in_task) {
        run_serial(tasks, fn, ctx);
        return;
    }
    pthread_once(&g_once, pool_init);
    if (pthread_mutex_trylock(&g.lock) != 0) {
        run_serial(tasks, fn, ctx);
        return;
    }
    int helpers = threads - 1 < tasks - 1 ? threads - 1 : tasks - 1;
    int have = ensure_workers(helpers);
    helpers = helpers < have ? helpers : have;
    if (helpers <= 0) {
        pthread_mutex_unlock(&g.lock);
        run_serial(tasks, fn, ctx);
        return;
    }
    /* Close the previous loop before rewriting its fields: a worker that read its state
     * (gen - 1, tasks) late must not claim "task tasks" against this loop's larger count; that
     * ran a task twice and pushed `done` past `tasks`, so the caller waited for ever. */
    uint32_t gen = atomic_load(&g.gen) + 1;
    atomic_store(&g.state, ((uint64_t)gen << 32) | UINT32_MAX);
    atomic_thread_fence(memory_order_seq_cst);
    atomic_store_explicit(&g.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&g.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&g.tasks, tasks, memory_order_relaxed);
    atomic_store_explicit(&g.helpers, helpers, memory_order_relaxed);
    atomic_store(&g.done, 0);
    atomic_store_explicit(&g.state, (uint64_t)gen << 32, memory_order_release);
    atomic_store(&g.gen, gen);
    if (atomic_load(&g.sleepers) > 0)
        futex_wake(&g.gen);

    run_tasks(0, gen);

    double t0 = now_ns();
    uint32_t d;
    for (int i = 0; (d = atomic_load(&g.done)) < (uint32_t)tasks; i++) {
        CPU_RELAX();
        if ((i & 63) == 63 && now_ns() - t0 > g_caller_spin_ns) {
            atomic_store(&g.caller_asleep, 1);
            while ((d = atomic_load(&g.done)) < (uint32_t)tasks)
                futex_wait(&g.done, d);
            atomic_store(&g.caller_asleep, 0);
            break;
        }
    }
    pthread_mutex_unlock(&g.lock);
}

void mn_pool_run(int threads, int tasks, mn_task_fn fn, void *ctx)
{
    if (tasks <= 0)
        return;
    unsigned saved = fp_flush_enter();
    pool_run(threads, tasks, fn, ctx);
    fp_restore(saved);
}

typedef struct jobs_ctx {
    mn_job *jobs;
    const uint16_t *order; /* (job << 12) | task, or NULL: tasks in job order */
    int njobs;
} jobs_ctx;

static void jobs_task(void *ctx, int t, int worker)
{
    const jobs_ctx *c = ctx;
    int j = 0;
    if (c->order) {
        j = c->order[t] >> 12;
        t = c->order[t] & 0xfff;
    } else {
        for (;; j++) {
            int n = c->jobs[j].tasks > 0 ? c->jobs[j].tasks : 0;
            if (t < n)
                break;
            t -= n;
        }
    }
    c->jobs[j].fn(c->jobs[j].ctx, t, worker);
}

void mn_pool_run_jobs(int threads, mn_job *jobs, int njobs)
{
    int total = 0;
    for (int j = 0; j < njobs; j++)
        total += jobs[j].tasks > 0 ? jobs[j].tasks : 0;
    if (total <= 0)
        return;
    uint16_t order[1024];
    jobs_ctx c = {jobs, NULL, njobs};
    bool small = njobs <= 15 && total <= 1024;
    for (int j = 0; j < njobs && small; j++)
        small = jobs[j].tasks < 4096;
    if (small) {
        /* merge by the position (i + 1/2) / tasks of task i within its job */
        int next[16] = {0};
        for (int t = 0; t < total; t++) {
            int best = -1;
            double key = 2.0;
            for (int j = 0; j < njobs; j++) {
                if (jobs[j].tasks <= 0 || next[j] >= jobs[j].tasks)
                    continue;
                double k = (next[j] + 0.5) / jobs[j].tasks;
                if (k < key)
                    key = k, best = j;
            }
            order[t] = (uint16_t)((best << 12) | next[best]++);
        }
        c.order = order;
    }
    mn_pool_run(threads, total, jobs_task, &c);
}
