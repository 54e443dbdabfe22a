/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * harness.c: test runner and small process probes for the C tests.
 */
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int harness_passed, harness_failed, harness_current_failed;
const char *harness_current = "";

void harness_run(const char *name, void (*fn)(void)) {
    harness_current = name;
    harness_current_failed = 0;
    fn();
    if (harness_current_failed) {
        harness_failed++;
        printf("FAIL %s\n", name);
    } else {
        harness_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

int harness_finish(void) {
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed == 0 && harness_passed > 0 ? 0 : 1;
}

uint64_t harness_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int harness_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

long harness_rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long pages = 0, rss = 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}
