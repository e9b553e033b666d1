/* ct_pool.c — the helper threads behind Threading.forEachWorker.
 *
 * Dispatch's concurrentPerform wakes a pool thread for every parallel region; on the 2-core virtual
 * machines ctpipe is measured on that costs ~45 us per region, and a forward pass of a ViT-S window
 * has ~130 regions (LayerNorms, GEMM row blocks, attention, element-wise passes). Here a helper stays
 * awake for SPIN_NS after each job, polling its job counter, so the next region reaches it in well
 * under a microsecond; only after that does it sleep on a condition variable.
 *
 * Helpers are claimed per call from a free list (made when the list is empty) and returned when the
 * call ends, so concurrent callers (the runner's workers) never share one and the pool grows to the
 * largest number of helpers ever in use at once, which the thread plan bounds by the core count.
 * A call made from inside a job runs its workers inline (nested parallelism would oversubscribe). */
#include "ct_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CT_PAUSE() __asm__ __volatile__("" ::: "memory")
#elif defined(__aarch64__)
#define CT_PAUSE() __asm__ __volatile__("yield")
#else
#define CT_PAUSE() ((void)0)
#endif

#define SPIN_NS 500000L /* how long a helper polls for its next job before it sleeps */

struct helper {
    _Atomic unsigned long posted; /* jobs posted so far */
    _Atomic int done;             /* the last posted job has returned */
    _Atomic int sleeping;
    ct_pool_fn fn;
    void *context;
    long worker;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct helper *next; /* in the free list */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct helper *free_list;
static long made;
static _Thread_local int inside_job;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *helper_main(void *arg) {
    struct helper *h = arg;
    unsigned long seen = 0;
    inside_job = 1;
    for (;;) {
        unsigned long now = atomic_load_explicit(&h->posted, memory_order_acquire);
        if (now == seen) {
            long end = now_ns() + SPIN_NS;
            for (unsigned spins = 1;; spins++) {
                CT_PAUSE();
                now = atomic_load_explicit(&h->posted, memory_order_acquire);
                if (now != seen) break;
                if ((spins & 255) == 0 && now_ns() > end) break;
            }
        }
        if (now == seen) {
            pthread_mutex_lock(&h->lock);
            atomic_store(&h->sleeping, 1);
            while ((now = atomic_load(&h->posted)) == seen) pthread_cond_wait(&h->wake, &h->lock);
            atomic_store(&h->sleeping, 0);
            pthread_mutex_unlock(&h->lock);
        }
        seen = now;
        h->fn(h->context, h->worker);
        atomic_store_explicit(&h->done, 1, memory_order_release);
    }
    return NULL;
}

static struct helper *make_helper(void) {
    struct helper *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    atomic_init(&h->posted, 0);
    atomic_init(&h->done, 1);
    atomic_init(&h->sleeping, 0);
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        return NULL;
    }
    if (pthread_cond_init(&h->wake, NULL) != 0) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    pthread_attr_t attr;
    pthread_t thread;
    int ok = pthread_attr_init(&attr) == 0;
    ok = ok && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
    ok = ok && pthread_create(&thread, &attr, helper_main, h) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    made++;
    return h;
}

long ct_pool_helpers(void) {
    pthread_mutex_lock(&pool_lock);
    long n = made;
    pthread_mutex_unlock(&pool_lock);
    return n;
}

#define MAX_HELPERS 255

void ct_pool_run(long workers, ct_pool_fn fn, void *context) {
    if (workers <= 0) return;
    struct helper *claimed[MAX_HELPERS];
    long count = 0;
    if (workers > 1 && !inside_job) {
        long wanted = workers - 1 < MAX_HELPERS ? workers - 1 : MAX_HELPERS;
        pthread_mutex_lock(&pool_lock);
        while (count < wanted) {
            struct helper *h = free_list;
            if (h) free_list = h->next;
            else if (!(h = make_helper())) break;
            claimed[count++] = h;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    for (long i = 0; i < count; i++) { /* helper i runs worker i + 1 */
        struct helper *h = claimed[i];
        h->fn = fn;
        h->context = context;
        h->worker = i + 1;
        atomic_store_explicit(&h->done, 0, memory_order_relaxed);
        atomic_fetch_add(&h->posted, 1);
        if (atomic_load(&h->sleeping)) {
            pthread_mutex_lock(&h->lock);
            pthread_cond_signal(&h->wake);
            pthread_mutex_unlock(&h->lock);
        }
    }
    int outer = inside_job;
    inside_job = 1;
    fn(context, 0);
    for (long w = count + 1; w < workers; w++) fn(context, w); /* workers no helper took */
    inside_job = outer;
    for (long i = 0; i < count; i++) {
        for (unsigned long spins = 1; !atomic_load_explicit(&claimed[i]->done, memory_order_acquire); spins++) {
            CT_PAUSE();
            if ((spins & 4095) == 0) sched_yield();
        }
    }
    if (count > 0) {
        pthread_mutex_lock(&pool_lock);
        for (long i = 0; i < count; i++) {
            claimed[i]->next = free_list;
            free_list = claimed[i];
        }
        pthread_mutex_unlock(&pool_lock);
    }
}
