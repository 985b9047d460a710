/* pool.h: the library's worker threads. One process-wide pool of persistent threads runs the
 * fast kernels' parallel loops: tasks are claimed one at a time from a shared counter, so a
 * thread that another process slows down simply takes fewer of them; waiting threads spin
 * briefly, then sleep (futex), so they give their core back. Which thread runs a task never
 * changes its result: callers give each task a fixed piece of work and its own output slot.
 * Tasks run with subnormal floats flushed to zero, on every thread. */
#ifndef MN_POOL_H
#define MN_POOL_H

/* One task: `task` in [0, tasks), `worker` in [0, threads) names the thread running it (the
 * caller is worker 0), for per-thread scratch memory. */
typedef void (*mn_task_fn)(void *ctx, int task, int worker);

/* Runs fn(ctx, t, w) for every t in [0, tasks) on up to `threads` threads, the calling one
 * included, and returns when all have finished. Tasks are started in increasing order. With
 * threads <= 1, one task, a call from inside a task, or the pool busy with another caller's
 * loop, the caller runs them all itself (as worker 0). Never fails: if threads cannot be
 * started, the caller does the work. */
void mn_pool_run(int threads, int tasks, mn_task_fn fn, void *ctx);

/* A loop to run later, possibly together with others: its context is copied in by value. */
typedef struct mn_job {
    mn_task_fn fn;
    int tasks;
    _Alignas(16) unsigned char ctx[256];
} mn_job;

/* Runs the tasks of `njobs` jobs (those with tasks > 0) as one parallel loop, interleaved in
 * proportion to their counts, so that jobs of different kinds (one bound by memory, one by
 * arithmetic) run side by side. fn receives the job's own context and task index. */
void mn_pool_run_jobs(int threads, mn_job *jobs, int njobs);

#endif
