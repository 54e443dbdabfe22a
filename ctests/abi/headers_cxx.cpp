// SPDX-License-Identifier: BSD-2-Clause
// headers_cxx.cpp: the public headers compile as C++ (extern "C", no C-only
// constructs) and the functions link with C linkage.
#include <sys/event.h>

#include <cstdio>
#include <unistd.h>

int main() {
    int kq = kqueue();
    if (kq < 0) { std::printf("0 passed, 1 failed\n"); return 1; }
    struct kevent kev, out;
    EV_SET(&kev, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, nullptr);
    struct timespec zero = {0, 0};
    int n = kevent(kq, &kev, 1, &out, 1, &zero);
    close(kq);
    bool ok = n == 1 && out.ident == 1 && out.filter == EVFILT_USER;
    std::printf("ok   test_event_h_compiles_as_cxx_and_works\n%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
