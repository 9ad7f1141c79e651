/*
 * The example plugin: gVisor's 2020 bucket table with the `fixed` rules,
 * written in C against conntrack_bench_design.h. It exports only
 * `conntrack_bench_design`; this header exists because SwiftPM wants a
 * public header directory for a C target.
 */
#ifndef CTB_EXAMPLE_DESIGN_H
#define CTB_EXAMPLE_DESIGN_H
#include "conntrack_bench_design.h"
#endif
