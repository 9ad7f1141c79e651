// The crash guard: while a thread is inside a plugin call, a fatal signal
// prints one line naming the plugin and the entry point, then the default
// action runs (the signal is re-raised), so the process dies as it would
// have, with the culprit named.
#define _GNU_SOURCE
#include "ctb_host_support.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

static _Thread_local const char *current_plugin;
static _Thread_local const char *current_entry;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static struct sigaction previous[sizeof fatal / sizeof fatal[0]];

static void put(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w; n -= (size_t)w;
    }
}

static void on_fatal(int sig, siginfo_t *info, void *uc) {
    (void)info; (void)uc;
    size_t k = 0;
    while (k < sizeof fatal / sizeof fatal[0] && fatal[k] != sig) k++;
    if (current_entry != NULL) {
        // Async-signal-safe: write(2) only.
        put("conntrack-bench: plugin ");
        put(current_plugin ? current_plugin : "?");
        put(" crashed in ");
        put(current_entry);
        put(" (");
        put(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
            : sig == SIGFPE ? "SIGFPE" : "SIGABRT");
        put(")\n");
        current_entry = NULL;
    }
    // Whatever handled it before (the Swift runtime's backtracer, or the
    // default action) gets the signal again.
    if (k < sizeof fatal / sizeof fatal[0]) sigaction(sig, &previous[k], NULL);
    else signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; k++) sigaction(fatal[k], &sa, &previous[k]);
}

void ctb_guard_install(void) { pthread_once(&installed, install); }
void ctb_guard_enter(const char *plugin, const char *entry) { current_plugin = plugin; current_entry = entry; }
void ctb_guard_leave(void) { current_entry = NULL; }

void *ctb_dlopen(const char *path, char *err, size_t err_len) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL && err_len > 0) {
        const char *e = dlerror();
        snprintf(err, err_len, "%s", e ? e : "dlopen failed");
    }
    return h;
}

ctb_design_entry ctb_dlsym_design(void *handle) {
    void *s = dlsym(handle, CTB_DESIGN_SYMBOL);
    ctb_design_entry f;
    memcpy(&f, &s, sizeof f);
    return f;
}

void ctb_dlclose(void *handle) { dlclose(handle); }
