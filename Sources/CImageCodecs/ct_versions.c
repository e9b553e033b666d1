/* ct_versions.c — library versions for run records (environment.json). */
#include "ct_versions.h"

#include <stdio.h>
#include <png.h>
#include <jpeglib.h>
#include <zlib.h>

const char *ct_libpng_version(void) { return png_get_libpng_ver(NULL); }
const char *ct_zlib_version(void) { return zlibVersion(); }
int ct_libjpeg_version(void) { return JPEG_LIB_VERSION; }
