/* ct_pool.h — the helper threads behind Threading.forEachWorker (ct_pool.c). */
#ifndef CT_POOL_H
#define CT_POOL_H

typedef void (*ct_pool_fn)(void *context, long worker);

/* Runs fn(context, w) for w = 0 ..< workers: w = 0 on the calling thread, the others on helper threads
 * (made on first need, then kept), and returns when all have returned. A helper spins for a short while
 * after its job before it sleeps, so the next job of a pass (the next layer's kernel, microseconds
 * later) starts without a wake-up. Called from inside a job, or when helpers cannot be made, the
 * remaining workers run one after another on the calling thread: jobs must not wait for each other. */
void ct_pool_run(long workers, ct_pool_fn fn, void *context);

/* Helper threads made so far (tests). */
long ct_pool_helpers(void);

#endif
