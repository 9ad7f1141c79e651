/*
 * Harness-side support for plugins (not part of the plugin ABI): the
 * crash guard that names a plugin and its entry point when it crashes
 * inside a call, and the dlopen wrappers.
 */
#ifndef CTB_HOST_SUPPORT_H
#define CTB_HOST_SUPPORT_H

#include "conntrack_bench_design.h"

/** Installs the crash handlers (once; later calls do nothing). */
void ctb_guard_install(void);
/** Marks this thread as inside `entry` of plugin `plugin` (static strings). */
void ctb_guard_enter(const char *plugin, const char *entry);
/** Marks this thread as outside any plugin call. */
void ctb_guard_leave(void);

/** dlopen(path, RTLD_NOW | RTLD_LOCAL); NULL with the reason in `err`. */
void *ctb_dlopen(const char *path, char *err, size_t err_len);
/** dlsym of CTB_DESIGN_SYMBOL; NULL when absent. */
ctb_design_entry ctb_dlsym_design(void *handle);
void ctb_dlclose(void *handle);

#endif
