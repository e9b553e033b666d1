/* ct_versions.h — versions of the C libraries ctpipe was built and runs with. */
#ifndef CT_VERSIONS_H
#define CT_VERSIONS_H

/* libpng version string of the loaded library, e.g. "1.6.39". */
const char *ct_libpng_version(void);
/* zlib version string of the loaded library. */
const char *ct_zlib_version(void);
/* libjpeg API version the shim was compiled against, e.g. 62. */
int ct_libjpeg_version(void);

#endif
