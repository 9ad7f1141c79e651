/* The functions are static inline in include/ct_prefetch.h; SwiftPM needs
   one source file for a C target. */
#include "ct_prefetch.h"
