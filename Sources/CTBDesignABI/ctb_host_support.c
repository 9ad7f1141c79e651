// The crash guard: while a thread is inside a plugin call, a fatal signal
// prints one line naming the plugin and the entry point, then the process
// dies by the signal's default action, with the culprit named. A fatal
// signal outside plugin calls goes to the handler that was there before.
#define _GNU_SOURCE
#include "ctb_host_support.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <pthread.h>

static _Thread_local const char *current_plugin;
static _Thread_local const char *current_entry;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static struct sigaction previous[sizeof fatal / sizeof fatal[0]];

/// Appends `s` to the line being built (async-signal-safe: no allocation).
static size_t append(char *line, size_t at, size_t cap, const char *s) {
    while (*s != '\0' && at + 1 < cap) line[at++] = *s++;
    return at;
}

/// Set by the first thread to crash inside a plugin call; `written` once
/// its line is out.
static volatile sig_atomic_t reported, written;

static void on_fatal(int sig, siginfo_t *info, void *uc) {
    (void)info; (void)uc;
    // Only the first crashing thread in a plugin call reports: with several
    // workers in the same faulty call, one line, not an interleaving.
    int first = current_entry != NULL && !__atomic_exchange_n(&reported, 1, __ATOMIC_SEQ_CST);
    if (first) {
        char line[256];
        size_t n = 0;
        n = append(line, n, sizeof line, "conntrack-bench: plugin ");
        n = append(line, n, sizeof line, current_plugin ? current_plugin : "?");
        n = append(line, n, sizeof line, " crashed in ");
        n = append(line, n, sizeof line, current_entry);
        n = append(line, n, sizeof line, " (");
        n = append(line, n, sizeof line, sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
                   : sig == SIGFPE ? "SIGFPE" : "SIGABRT");
        n = append(line, n, sizeof line, ")\n");
        // One write(2) call: the line arrives whole.
        ssize_t w = write(2, line, n);
        (void)w;
        __atomic_store_n(&written, 1, __ATOMIC_SEQ_CST);
    } else if (current_entry != NULL) {
        // Another thread crashed in a plugin call first and is writing the
        // line: dying now would kill the process before it is out. Wait
        // for it (at most a second; nanosleep is async-signal-safe).
        for (int i = 0; i < 1000 && !__atomic_load_n(&written, __ATOMIC_SEQ_CST); i++) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    if (current_entry != NULL) {
        // Inside a plugin call: die by the default action at once. The Swift
        // runtime's backtracer would try to stop every thread, another of
        // which may be crashing in the same call, and can hang doing so.
        signal(sig, SIG_DFL);
    } else {
        // Not the plugin's crash: whatever handled it before (the Swift
        // runtime's backtracer, or the default action) gets it again.
        size_t k = 0;
        while (k < sizeof fatal / sizeof fatal[0] && fatal[k] != sig) k++;
        if (k < sizeof fatal / sizeof fatal[0]) sigaction(sig, &previous[k], NULL);
        else signal(sig, SIG_DFL);
    }
    raise(sig);
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; k++) {
        if (sigaction(fatal[k], &sa, &previous[k]) != 0) {
            /* The run goes on; a crash inside the plugin then dies unnamed. */
            char line[160];
            int n = snprintf(line, sizeof line, "conntrack-bench: warning: the plugin crash guard is off for signal %d: %s\n",
                             fatal[k], strerror(errno));
            if (n > 0) (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        }
    }
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
