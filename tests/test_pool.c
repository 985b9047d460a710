/* test_pool.c: the worker pool under stress. Many short loops with changing task counts, run
 * back to back from one thread: every task of every loop must run exactly once, with the loop's
 * own function and context, and no loop may hang. (A worker that claimed a task of a finished
 * loop with the next loop's task count once ran a task twice and hung the caller.) */
#include "check.h"
#include "pool.h"

#include <stdatomic.h>

typedef struct loop_ctx {
    int id;
    int tasks;
    _Atomic int runs[48];
    _Atomic int wrong; /* tasks run with another loop's context, or out of range */
} loop_ctx;

static void count_task(void *p, int t, int worker)
{
    loop_ctx *c = p;
    if (t < 0 || t >= c->tasks || worker < 0 || worker >= 8)
        atomic_fetch_add(&c->wrong, 1);
    else
        atomic_fetch_add(&c->runs[t], 1);
}

/* A second function, so that a stale worker calling the wrong function is seen too. */
static void count_task_odd(void *p, int t, int worker)
{
    loop_ctx *c = p;
    if (c->id % 2 != 1)
        atomic_fetch_add(&c->wrong, 1);
    count_task(p, t, worker);
}

/* Halves a subnormal float in each task (volatile: computed at run time). */
typedef struct flush_ctx {
    volatile float tiny;
    float out[16];
} flush_ctx;

static void flush_task(void *p, int t, int worker)
{
    (void)worker;
    flush_ctx *c = p;
    c->out[t] = c->tiny * 0.5f;
}

static void nested_task(void *p, int t, int worker)
{
    (void)worker;
    loop_ctx *inner = (loop_ctx *)p + 1 + t;
    mn_pool_run(4, inner->tasks, count_task, inner); /* from inside a task: runs serially */
}

int main(void)
{
    const int loops = check_quick() ? 20000 : 200000;
    int bad_loops = 0;
    loop_ctx *ctx = calloc(2, sizeof *ctx);
    for (int i = 0; i < loops; i++) {
        loop_ctx *c = &ctx[i & 1];
        memset(c, 0, sizeof *c);
        c->id = i;
        c->tasks = 1 + (int)((i * 2654435761u) >> 7) % 40;
        int threads = 2 + i % 3;
        mn_pool_run(threads, c->tasks, i % 2 ? count_task_odd : count_task, c);
        int ok = atomic_load(&c->wrong) == 0;
        for (int t = 0; t < c->tasks; t++)
            ok &= atomic_load(&c->runs[t]) == 1;
        bad_loops += !ok;
    }
    CHECK(bad_loops == 0, "%d of %d loops ran a task twice, never, or with the wrong context",
          bad_loops, loops);
    free(ctx);

    /* Loops started from inside a task run serially and completely. */
    loop_ctx nest[4];
    memset(nest, 0, sizeof nest);
    for (int k = 1; k < 4; k++)
        nest[k].tasks = 5 + k;
    mn_pool_run(3, 3, nested_task, nest);
    int nested_ok = 1;
    for (int k = 1; k < 4; k++)
        for (int t = 0; t < nest[k].tasks; t++)
            nested_ok &= atomic_load(&nest[k].runs[t]) == 1 && atomic_load(&nest[k].wrong) == 0;
    CHECK(nested_ok, "a nested loop did not run each task once");

    /* Jobs run together: each job's tasks exactly once with its own context. */
    int job_ok = 1;
    for (int round = 0; round < (check_quick() ? 500 : 5000); round++) {
        mn_job jobs[3];
        loop_ctx *jc[3];
        for (int j = 0; j < 3; j++) {
            jobs[j].fn = count_task;
            jobs[j].tasks = 1 + (round + 7 * j) % 30;
            jc[j] = (loop_ctx *)jobs[j].ctx;
            _Static_assert(sizeof(loop_ctx) <= sizeof jobs[0].ctx, "job context too small");
            memset(jc[j], 0, sizeof *jc[j]);
            jc[j]->tasks = jobs[j].tasks;
        }
        mn_pool_run_jobs(2 + round % 2, jobs, 3);
        for (int j = 0; j < 3; j++)
            for (int t = 0; t < jobs[j].tasks; t++)
                job_ok &= atomic_load(&jc[j]->runs[t]) == 1 && atomic_load(&jc[j]->wrong) == 0;
    }
    CHECK(job_ok, "a job's task ran twice, never, or with the wrong context");
#if defined(__x86_64__) || defined(__i386__)
    /* Tasks see subnormals as zero on every thread; the caller's own mode is left as it was. */
    flush_ctx fc = {.tiny = 1e-40f};
    CHECK(fc.tiny * 0.5f != 0.0f, "the caller flushes subnormals before any loop");
    mn_pool_run(4, 16, flush_task, &fc);
    int flushed = 0;
    for (int t = 0; t < 16; t++)
        flushed += fc.out[t] == 0.0f;
    CHECK(flushed == 16, "%d of 16 tasks flushed a subnormal to zero", flushed);
    CHECK(fc.tiny * 0.5f != 0.0f, "the caller's floating-point mode changed after a loop");
#endif
    return check_summary();
}
