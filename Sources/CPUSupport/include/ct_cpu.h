/* ct_cpu.h — the CPU features ctpipe's Swift code was compiled for, checked before it runs. */
#ifndef CT_CPU_H
#define CT_CPU_H

/* The features the build requires (e.g. "avx2 fma bmi bmi2 popcnt"), "" for a portable build. */
const char *ct_cpu_required_features(void);

/* The first required feature this CPU lacks, or NULL when it has them all. */
const char *ct_cpu_missing_feature(void);

#endif
