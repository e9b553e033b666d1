/* ct_cpu.c — the CPU check that runs before any of ctpipe's Swift code.
 *
 * The Swift targets are compiled for a CPU level (Package.swift: by default
 * `-target-cpu haswell` on x86-64, i.e. AVX2 and FMA, which every x86-64
 * server CPU since 2013-2015 has: Intel Haswell, AMD Zen). On a CPU without
 * those instructions that code would stop with SIGILL somewhere inside a
 * kernel. This constructor runs when the executable loads, before main and
 * before any Swift code, and instead exits with status 69 (EX_UNAVAILABLE) and a message that
 * says what is missing and how to build for that CPU. Builds for the
 * baseline (CTPIPE_TARGET_CPU=x86-64) define no requirement and skip it. */
#define _GNU_SOURCE
#include "ct_cpu.h"

#include <stdio.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(CT_REQUIRE_AVX2)
#define CT_REQUIRED "avx2 fma bmi bmi2 popcnt"
#else
#define CT_REQUIRED ""
#endif

const char *ct_cpu_required_features(void) { return CT_REQUIRED; }

const char *ct_cpu_missing_feature(void) {
#if defined(__x86_64__) && defined(CT_REQUIRE_AVX2)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) return "avx2";
    if (!__builtin_cpu_supports("fma")) return "fma";
    if (!__builtin_cpu_supports("bmi")) return "bmi";
    if (!__builtin_cpu_supports("bmi2")) return "bmi2";
    if (!__builtin_cpu_supports("popcnt")) return "popcnt";
#endif
    return NULL;
}

__attribute__((constructor)) static void ct_cpu_require(void) {
    const char *missing = ct_cpu_missing_feature();
    if (missing == NULL) return;
    fprintf(stderr,
            "error: this ctpipe build needs a CPU with %s (x86-64 with AVX2 and FMA: Intel Haswell or AMD Zen and later); "
            "this CPU lacks %s. Rebuild for this CPU with CTPIPE_TARGET_CPU=x86-64 swift build -c release "
            "(README, \"CPU level\").\n",
            CT_REQUIRED, missing);
    _exit(69);
}
