/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * preload.c: the LD_PRELOAD interposers for /dev/dmover and kqueue (see CBSDShimPreload.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <limits.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/un.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "CBSDShimPreload.h"

#define EXPORT __attribute__((visibility("default")))
#define TRACKED_MAX 65536

/* Descriptors we returned for /dev/dmover (one bit each). */
static uint8_t tracked[TRACKED_MAX / 8];
static uint8_t inherited_bits[TRACKED_MAX / 8];
/* Depth of our interposers on this thread: inner calls pass straight through. */
static __thread int depth;

static int is_tracked(int fd) {
	return fd >= 0 && fd < TRACKED_MAX && (__atomic_load_n(&tracked[fd / 8], __ATOMIC_ACQUIRE) >> (fd % 8)) & 1;
}

static void set_tracked(int fd, int on) {
	if (fd < 0 || fd >= TRACKED_MAX) return;
	uint8_t bit = (uint8_t)(1u << (fd % 8));
	if (on) __atomic_fetch_or(&tracked[fd / 8], bit, __ATOMIC_RELEASE);
	else __atomic_fetch_and(&tracked[fd / 8], (uint8_t)~bit, __ATOMIC_RELEASE);
	if (!on) __atomic_fetch_and(&inherited_bits[fd / 8], (uint8_t)~bit, __ATOMIC_RELEASE);
}

/* The process whose memory the sessions are: a vfork child shares it, and
 * must not end the parent's session when it replaces or closes a copy. */
static pid_t owner_pid;
static void owner_is_child(void) { owner_pid = getpid(); }
__attribute__((constructor)) static void find_owner(void) {
	owner_pid = getpid();
	pthread_atfork(NULL, NULL, owner_is_child);
}

/* A vfork child (or a clone sharing our memory): it must leave the
 * parent's tables and sessions alone (a getpid, asked for tracked descriptors only). */
static int sharing_parent_memory(void) { return owner_pid != 0 && getpid() != owner_pid; }

/* Descriptors inherited across exec that were sessions of the program
 * before (tracked too): the session stayed in that program's memory, so
 * read, write and DMIO_SETFUNC give EBADF instead of reaching the socket
 * (whose queue may hold a copy of that program's responses). */
static int is_inherited(int fd) {
	return fd >= 0 && fd < TRACKED_MAX && (__atomic_load_n(&inherited_bits[fd / 8], __ATOMIC_ACQUIRE) >> (fd % 8)) & 1;
}

static void set_inherited(int fd, int on) {
	if (fd < 0 || fd >= TRACKED_MAX) return;
	uint8_t bit = (uint8_t)(1u << (fd % 8));
	if (on) __atomic_fetch_or(&inherited_bits[fd / 8], bit, __ATOMIC_RELEASE);
	else __atomic_fetch_and(&inherited_bits[fd / 8], (uint8_t)~bit, __ATOMIC_RELEASE);
}

/* A tracked descriptor that is a left-behind session: the call fails (EBADF). */
static int left_behind(int fd) {
	if (!is_inherited(fd)) return 0;
	errno = EBADF;
	return 1;
}

/* libbsdshim names each session's socket "bsdshim-dmover/..." in the
 * abstract namespace (DmoverDevice.nameSession): at start-up every such
 * socket already open was inherited. Needs /proc/self/fd (else none is found). */
#define SESSION_NAME_PREFIX "bsdshim-dmover/"
/* DMIO_SETFUNC in both encodings (dev/dmover/dmover_io.h). */
#define DMIO_SETFUNC_LINUX _IOW('D', 0, char[64])
#define DMIO_SETFUNC_NETBSD 0x80404400UL
__attribute__((constructor)) static void find_inherited_sessions(void) {
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
		int fd = atoi(e->d_name);
		if (fd == dirfd(d) || fd >= TRACKED_MAX) continue;
		struct sockaddr_un a;
		socklen_t len = sizeof a;
		size_t prefix = sizeof SESSION_NAME_PREFIX - 1;
		if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 || a.sun_family != AF_UNIX ||
		    len < offsetof(struct sockaddr_un, sun_path) + 1 + prefix || a.sun_path[0] != '\0' ||
		    memcmp(a.sun_path + 1, SESSION_NAME_PREFIX, prefix) != 0)
			continue;
		set_inherited(fd, 1);
		set_tracked(fd, 1);
	}
	closedir(d);
}

/* True if `path` (relative to `dirfd` as openat takes it) names
 * /dev/dmover or /dev/dmoverio: the exact spellings at once; otherwise a
 * last component "dmover" or "dmoverio" whose directory is /dev itself
 * (the same device and inode), however spelt: "//dev", "/dev/.",
 * "/dev/../dev", a symbolic link to /dev, a path relative to a working
 * directory or a directory descriptor that is /dev. Asked of the kernel,
 * not decided lexically, so a ".." after a symbolic link means what the
 * kernel makes of it. Two stat calls, only for such last components. */
static int names_dmover(int dirfd, const char *path) {
	if (path == NULL) return 0;
	if (strcmp(path, "/dev/dmover") == 0 || strcmp(path, "/dev/dmoverio") == 0) return 1;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (strcmp(base, "dmover") != 0 && strcmp(base, "dmoverio") != 0) return 0;
	char dir[PATH_MAX];
	size_t n = slash ? (size_t)(slash - path) + 1 : 0;   /* with its slash: "/dmover" is in "/" */
	if (n + 2 > sizeof dir) return 0;
	if (n == 0) dir[n++] = '.';
	else memcpy(dir, path, n);
	dir[n] = '\0';
	struct stat d, dev;
	if (fstatat(dirfd, dir, &d, 0) != 0 || stat("/dev", &dev) != 0) return 0;
	return S_ISDIR(d.st_mode) && d.st_dev == dev.st_dev && d.st_ino == dev.st_ino;
}

/* --- socket errors kqueue reported (EV_EOF's fflags) ------------------------
 * Linux reads a socket's pending error only by clearing it (SO_ERROR, recv,
 * send...). When kqueue reads it to put it in fflags as BSD does, it is kept
 * here, and the program's next call that would have returned it returns it
 * (once), so the program sees the error it would have seen without kqueue.
 * The socket's inode is kept with it: a number closed behind our back and
 * reused is not given another socket's error. */
#define ERROR_BEING_READ 0xff
static uint8_t pending_error[TRACKED_MAX];
static uint64_t pending_inode[TRACKED_MAX];

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

static uint64_t inode_of(int fd) {
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Non-zero when an error is kept for `fd` (one load: the common path). */
static inline int error_kept(int fd) {
	return fd >= 0 && fd < TRACKED_MAX && __atomic_load_n(&pending_error[fd], __ATOMIC_ACQUIRE) != 0;
}

/* Takes the error kept for `fd` (0 if none), waiting out a read in progress. */
static int take_error(int fd) {
	if (fd < 0 || fd >= TRACKED_MAX) return 0;
	for (;;) {
		uint8_t e = __atomic_load_n(&pending_error[fd], __ATOMIC_ACQUIRE);
		if (e == 0) return 0;
		if (e == ERROR_BEING_READ) { sched_yield(); continue; }
		uint64_t ino = pending_inode[fd];
		if (__atomic_compare_exchange_n(&pending_error[fd], &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return inode_of(fd) == ino ? e : 0;
	}
}

static void forget_error(int fd) {
	if (fd >= 0 && fd < TRACKED_MAX) __atomic_store_n(&pending_error[fd], 0, __ATOMIC_RELEASE);
}

static int real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);

/* For libbsdshim's EVFILT_READ/EVFILT_WRITE (preload_link.c): the pending
 * error of stream socket `fd` as the program will still see it. Read with
 * SO_ERROR only when `may_read` (epoll said EPOLLERR) and kept; 0 for
 * anything else (a datagram socket's error is not end-of-file on BSD). */
EXPORT int bsdshim_preload_socket_error(int fd, int may_read) {
	if (fd < 0 || fd >= TRACKED_MAX) return 0;
	for (;;) {
		uint8_t e = __atomic_load_n(&pending_error[fd], __ATOMIC_ACQUIRE);
		if (e == ERROR_BEING_READ) { sched_yield(); continue; }
		if (e != 0) {
			if (inode_of(fd) == pending_inode[fd]) return e;
			if (__atomic_compare_exchange_n(&pending_error[fd], &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				e = 0;
			continue;
		}
		if (!may_read) return 0;
		int type = 0;
		socklen_t len = sizeof type;
		if (real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return 0;
		if (!__atomic_compare_exchange_n(&pending_error[fd], &e, ERROR_BEING_READ, 0, __ATOMIC_ACQ_REL,
		                                 __ATOMIC_ACQUIRE))
			continue;
		int err = 0;
		len = sizeof err;
		if (real_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err <= 0 || err >= ERROR_BEING_READ)
			err = 0;
		if (err != 0) pending_inode[fd] = inode_of(fd);
		__atomic_store_n(&pending_error[fd], (uint8_t)err, __ATOMIC_RELEASE);
		return err;
	}
}

/* --- libbsdshim entry points, resolved once ---------------------------------- */

struct bsdshim_fns {
	int (*open)(int);
	int (*ioctl)(int, unsigned long, void *);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	int (*close)(int);
	/* Optional (older libbsdshim lack them): copies join the session. */
	int (*duplicated)(int, int);
	void (*forget)(int);
};
static struct bsdshim_fns fns;
static int fns_state; /* 0 unresolved, 1 ready, -1 unavailable */
/* kqueue's close hook (include/sys/event.h), when libbsdshim is loaded; looked up at the first close. */
static void (*fd_closing)(int);
static int fd_closing_state; /* 0 not looked up, 1 looked up */

static void *open_bsdshim(void) {
	/* Next to this library first (…/libbsdshim-preload.so → …/libbsdshim.so.0), then the search path. */
	static const char *const names[] = {"libbsdshim.so.0", "libbsdshim.so"};
	Dl_info info;
	char path[4096];
	if (dladdr((void *)open_bsdshim, &info) && info.dli_fname != NULL) {
		const char *slash = strrchr(info.dli_fname, '/');
		size_t dir = slash ? (size_t)(slash - info.dli_fname) + 1 : 0;
		for (size_t i = 0; i < 2; i++) {
			size_t n = strlen(names[i]);
			if (dir + n + 1 > sizeof path) continue;
			memcpy(path, info.dli_fname, dir);
			memcpy(path + dir, names[i], n + 1);
			void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
			if (h) return h;
		}
	}
	for (size_t i = 0; i < 2; i++) {
		void *h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
		if (h) return h;
	}
	return NULL;
}

static int resolve(void) {
	int s = __atomic_load_n(&fns_state, __ATOMIC_ACQUIRE);
	if (s != 0) return s;
	/* RTLD_DEFAULT is a null handle: whether one was found is kept apart. */
	int loaded = dlsym(RTLD_DEFAULT, "dmover_open") != NULL;
	void *h = loaded ? RTLD_DEFAULT : open_bsdshim();
	int have = loaded || h != NULL;
	struct bsdshim_fns f;
	memset(&f, 0, sizeof f);
	if (have) {
		f.open = (int (*)(int))dlsym(h, "dmover_open");
		f.ioctl = (int (*)(int, unsigned long, void *))dlsym(h, "dmover_ioctl");
		/* The _tracked entry points skip the descriptor's identity check (an
		 * fstat each): only numbers we returned reach them, and we see the
		 * program's close, dup2, dup3, close_range and closefrom (for the
		 * closes we cannot see, see closefrom below). */
		f.read = (ssize_t (*)(int, void *, size_t))dlsym(h, "bsdshim_dmover_read_tracked");
		f.write = (ssize_t (*)(int, const void *, size_t))dlsym(h, "bsdshim_dmover_write_tracked");
		if (f.read == NULL) f.read = (ssize_t (*)(int, void *, size_t))dlsym(h, "dmover_read");
		if (f.write == NULL) f.write = (ssize_t (*)(int, const void *, size_t))dlsym(h, "dmover_write");
		f.close = (int (*)(int))dlsym(h, "dmover_close");
		f.duplicated = (int (*)(int, int))dlsym(h, "bsdshim_dmover_duplicated");
		f.forget = (void (*)(int))dlsym(h, "bsdshim_dmover_forget");
	}
	s = (f.open && f.ioctl && f.read && f.write && f.close) ? 1 : -1;
	if (have) {
		__atomic_store_n(&fd_closing, (void (*)(int))dlsym(h, "bsdshim_fd_closing"), __ATOMIC_RELEASE);
		__atomic_store_n(&fd_closing_state, 1, __ATOMIC_RELEASE);
	}
	if (s == 1) fns = f;
	__atomic_store_n(&fns_state, s, __ATOMIC_RELEASE);
	return s;
}

static int dmover_device_open(int flags) {
	if (resolve() != 1) {
		errno = ENXIO;
		return -1;
	}
	int fd = fns.open(flags);
	if (fd >= 0) {
		set_inherited(fd, 0);
		set_tracked(fd, 1);
	}
	return fd;
}

/* --- the next definitions ------------------------------------------------------ */

typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*close_fn)(int);

/* Resolved on first use (a benign race: every thread stores the same value). */
#define NEXT(name, type) \
	static type next_##name; \
	if (next_##name == NULL) next_##name = (type)dlsym(RTLD_NEXT, #name)

static int mode_needed(int flags) {
	return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

/* --- open family ----------------------------------------------------------------- */

static int do_open(const char *name, const char *path, int dirfd, int flags, mode_t mode, int at) {
	int r;
	if (depth == 0 && names_dmover(at ? dirfd : AT_FDCWD, path)) {
		depth++;
		r = dmover_device_open(flags);
		depth--;
		return r;
	}
	depth++;
	if (at) {
		int (*next)(int, const char *, int, ...) = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, name);
		r = next ? next(dirfd, path, flags, mode) : (errno = ENOSYS, -1);
	} else {
		int (*next)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
		r = next ? next(path, flags, mode) : (errno = ENOSYS, -1);
	}
	depth--;
	return r;
}

EXPORT int open(const char *path, int flags, ...) {
	mode_t mode = 0;
	if (mode_needed(flags)) { va_list ap; va_start(ap, flags); mode = (mode_t)va_arg(ap, int); va_end(ap); }
	return do_open("open", path, AT_FDCWD, flags, mode, 0);
}

EXPORT int open64(const char *path, int flags, ...) {
	mode_t mode = 0;
	if (mode_needed(flags)) { va_list ap; va_start(ap, flags); mode = (mode_t)va_arg(ap, int); va_end(ap); }
	return do_open("open64", path, AT_FDCWD, flags, mode, 0);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...) {
	mode_t mode = 0;
	if (mode_needed(flags)) { va_list ap; va_start(ap, flags); mode = (mode_t)va_arg(ap, int); va_end(ap); }
	return do_open("openat", path, dirfd, flags, mode, 1);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
	mode_t mode = 0;
	if (mode_needed(flags)) { va_list ap; va_start(ap, flags); mode = (mode_t)va_arg(ap, int); va_end(ap); }
	return do_open("openat64", path, dirfd, flags, mode, 1);
}

/* _FORTIFY_SOURCE entry points (no mode). */
EXPORT int __open_2(const char *path, int flags) { return do_open("__open_2", path, AT_FDCWD, flags, 0, 0); }
EXPORT int __open64_2(const char *path, int flags) { return do_open("__open64_2", path, AT_FDCWD, flags, 0, 0); }
EXPORT int __openat_2(int dirfd, const char *path, int flags) {
	return do_open("__openat_2", path, dirfd, flags, 0, 1);
}

/* --- ioctl, read, write, close ------------------------------------------------- */

EXPORT int ioctl(int fd, unsigned long request, ...) {
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int r;
	depth++;
	if (depth == 1 && is_tracked(fd) && is_inherited(fd) && (request == DMIO_SETFUNC_LINUX || request == DMIO_SETFUNC_NETBSD)) {
		errno = EBADF;
		r = -1;
	} else if (depth == 1 && is_tracked(fd) && !is_inherited(fd) && fns_state == 1) {
		r = fns.ioctl(fd, request, arg);
	} else {
		NEXT(ioctl, ioctl_fn);
		r = next_ioctl ? next_ioctl(fd, request, arg) : (errno = ENOSYS, -1);
	}
	depth--;
	return r;
}

static int read_kept_error(int fd, void *buf, size_t n, ssize_t *r);
static int readv_kept_error(int fd, const struct iovec *iov, int cnt, ssize_t *r);
static int send_kept_error(int fd, ssize_t *r);

EXPORT ssize_t read(int fd, void *buf, size_t n) {
	ssize_t r;
	depth++;
	if (depth == 1 && is_tracked(fd) && left_behind(fd)) {
		r = -1;
	} else if (depth == 1 && is_tracked(fd) && fns_state == 1) {
		r = fns.read(fd, buf, n);
	} else if (depth == 1 && n > 0 && error_kept(fd) && read_kept_error(fd, buf, n, &r)) {
		/* r: data that came before kqueue's kept socket error, or that error */
	} else {
		NEXT(read, read_fn);
		r = next_read(fd, buf, n);
	}
	depth--;
	return r;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n) {
	ssize_t r;
	depth++;
	if (depth == 1 && is_tracked(fd) && left_behind(fd)) {
		r = -1;
	} else if (depth == 1 && is_tracked(fd) && fns_state == 1) {
		r = fns.write(fd, buf, n);
	} else if (depth == 1 && error_kept(fd) && send_kept_error(fd, &r)) {
		/* r: -1 with kqueue's kept socket error */
	} else {
		NEXT(write, write_fn);
		r = next_write(fd, buf, n);
	}
	depth--;
	return r;
}

/* readv/writev on a dmover descriptor: one read/write of the records,
 * gathered or scattered through one buffer (a record may straddle iovecs,
 * as NetBSD's uiomove allows). Without them the records would go to the
 * socket behind our back and the in-flight count would never drop. */
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);

/* Sum of the lengths, or -1 (EINVAL) for a bad count or a sum over SSIZE_MAX. */
static ssize_t iov_total(const struct iovec *iov, int cnt) {
	if (cnt < 0 || cnt > 1024 || (cnt > 0 && iov == NULL)) { errno = EINVAL; return -1; }
	size_t total = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total) { errno = EINVAL; return -1; }
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

/* Copies between the caller's iovecs and buf as the kernel would: an
 * unreadable (or, with `check_write`, unwritable) iovec is EFAULT, never a
 * fault in the program. Through process_vm_readv/writev on this process;
 * where those are refused (seccomp, ENOSYS) the iovecs are copied directly. */
static int gather(const struct iovec *iov, int cnt, char *buf, size_t total, int check_write) {
	struct iovec local = {buf, total};
	ssize_t r = process_vm_readv(getpid(), &local, 1, iov, (unsigned long)cnt, 0);
	if (r >= 0 && (size_t)r == total) {
		/* The same bytes written back prove every page writable. */
		if (!check_write) return 0;
		r = process_vm_writev(getpid(), &local, 1, iov, (unsigned long)cnt, 0);
		if (r >= 0 && (size_t)r == total) return 0;
	}
	if (r >= 0 || errno == EFAULT) { errno = EFAULT; return -1; }
	if (!check_write)
		for (size_t off = 0, i = 0; off < total; i++) {
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
	return 0;
}

static ssize_t dmover_readv(int fd, const struct iovec *iov, int cnt) {
	ssize_t total = iov_total(iov, cnt);
	if (total <= 0) return total;
	if (cnt == 1) return fns.read(fd, iov[0].iov_base, (size_t)total);   /* the library checks it */
	char stackbuf[4096];
	char *buf = (size_t)total <= sizeof stackbuf ? stackbuf : malloc((size_t)total);
	if (buf == NULL) { errno = ENOMEM; return -1; }
	/* Every iovec proven writable first: a response read is never lost to a bad one. */
	ssize_t r = gather(iov, cnt, buf, (size_t)total, 1) == 0 ? fns.read(fd, buf, (size_t)total) : -1;
	for (ssize_t off = 0, i = 0; r > 0 && off < r; i++) {
		size_t k = iov[i].iov_len < (size_t)(r - off) ? iov[i].iov_len : (size_t)(r - off);
		memcpy(iov[i].iov_base, buf + off, k);
		off += (ssize_t)k;
	}
	if (buf != stackbuf) free(buf);
	return r;
}

static ssize_t dmover_writev(int fd, const struct iovec *iov, int cnt) {
	ssize_t total = iov_total(iov, cnt);
	if (total <= 0) return total;
	if (cnt == 1) return fns.write(fd, iov[0].iov_base, (size_t)total);   /* the library checks it */
	char stackbuf[4096];
	char *buf = (size_t)total <= sizeof stackbuf ? stackbuf : malloc((size_t)total);
	if (buf == NULL) { errno = ENOMEM; return -1; }
	ssize_t r = gather(iov, cnt, buf, (size_t)total, 0) == 0 ? fns.write(fd, buf, (size_t)total) : -1;
	if (buf != stackbuf) free(buf);
	return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
	ssize_t r;
	depth++;
	if (depth == 1 && is_tracked(fd) && left_behind(fd)) {
		r = -1;
	} else if (depth == 1 && is_tracked(fd) && fns_state == 1) {
		r = dmover_readv(fd, iov, cnt);
	} else if (depth == 1 && error_kept(fd) && readv_kept_error(fd, iov, cnt, &r)) {
		/* r: data that came before kqueue's kept socket error, or that error */
	} else {
		NEXT(readv, readv_fn);
		r = next_readv(fd, iov, cnt);
	}
	depth--;
	return r;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
	ssize_t r;
	depth++;
	if (depth == 1 && is_tracked(fd) && left_behind(fd)) {
		r = -1;
	} else if (depth == 1 && is_tracked(fd) && fns_state == 1) {
		r = dmover_writev(fd, iov, cnt);
	} else if (depth == 1 && error_kept(fd) && send_kept_error(fd, &r)) {
		/* r: -1 with kqueue's kept socket error */
	} else {
		NEXT(writev, writev_fn);
		r = next_writev(fd, iov, cnt);
	}
	depth--;
	return r;
}

/* Tells kqueue that `fd` is about to be closed or replaced (looked up at first use). */
static void notify_closing(int fd) {
	if (!__atomic_load_n(&fd_closing_state, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&fd_closing, (void (*)(int))dlsym(RTLD_DEFAULT, "bsdshim_fd_closing"), __ATOMIC_RELEASE);
		__atomic_store_n(&fd_closing_state, 1, __ATOMIC_RELEASE);
	}
	void (*hook)(int) = __atomic_load_n(&fd_closing, __ATOMIC_ACQUIRE);
	if (hook && fd >= 0) hook(fd);
}

EXPORT int close(int fd) {
	int r;
	depth++;
	/* kqueue hears of every close (BSD semantics for watched descriptors). */
	if (depth == 1) notify_closing(fd);
	forget_error(fd);
	if (depth == 1 && is_tracked(fd) && !is_inherited(fd) && fns_state == 1 && !sharing_parent_memory()) {
		set_tracked(fd, 0);
		r = fns.close(fd);
	} else if (depth == 1 && is_tracked(fd) && sharing_parent_memory()) {
		/* A vfork child closes its own descriptor only. */
		NEXT(close, close_fn);
		r = next_close(fd);
	} else {
		/* A tracked number closed from inside (never ours then) is forgotten too. */
		set_tracked(fd, 0);
		NEXT(close, close_fn);
		r = next_close(fd);
	}
	depth--;
	return r;
}

/* Tracked descriptor `fd` goes (replaced by dup2/dup3, closed by close_range):
 * its session ends if it was the file's last descriptor. */
static void forget_tracked(int fd) {
	if (!is_tracked(fd) || sharing_parent_memory()) return;
	int session = !is_inherited(fd);
	set_tracked(fd, 0);
	if (session && fns_state == 1 && fns.forget != NULL) fns.forget(fd);
}

/* dup2/dup3 close `newfd` first when it is open and differs from a valid `oldfd`. */
static void replacing(int oldfd, int newfd) {
	if (oldfd == newfd || fcntl(oldfd, F_GETFD) < 0 || fcntl(newfd, F_GETFD) < 0) return;
	notify_closing(newfd);
	forget_error(newfd);
	forget_tracked(newfd);
}

/* `copy` (>= 0: a dup, dup2, dup3 or F_DUPFD of tracked `fd` just made) is
 * the same open file, so the same session, as on BSD: it is tracked too.
 * A copy the library cannot take (out of its table) is closed: EMFILE. */
static int copied(int fd, int copy) {
	if (copy < 0 || copy == fd || !is_tracked(fd) || sharing_parent_memory()) return copy;
	if (is_inherited(fd)) {
		set_tracked(copy, 1);          /* a copy of a left-behind session is one too */
		set_inherited(copy, 1);
		return copy;
	}
	if (fns_state != 1 || fns.duplicated == NULL) return copy;
	if (copy < TRACKED_MAX && fns.duplicated(fd, copy) == 0) {
		set_tracked(copy, 1);
		return copy;
	}
	NEXT(close, close_fn);
	next_close(copy);
	errno = EMFILE;
	return -1;
}

typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*close_range_fn)(unsigned int, unsigned int, int);

EXPORT int dup(int fd) {
	depth++;
	NEXT(dup, dup_fn);
	int r = next_dup(fd);
	if (depth == 1) r = copied(fd, r);
	depth--;
	return r;
}

EXPORT int dup2(int oldfd, int newfd) {
	depth++;
	if (depth == 1) replacing(oldfd, newfd);
	NEXT(dup2, dup2_fn);
	int r = next_dup2(oldfd, newfd);
	if (depth == 1) r = copied(oldfd, r);
	depth--;
	return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags) {
	depth++;
	if (depth == 1) replacing(oldfd, newfd);
	NEXT(dup3, dup3_fn);
	int r = next_dup3(oldfd, newfd, flags);
	if (depth == 1) r = copied(oldfd, r);
	depth--;
	return r;
}

/* fcntl and fcntl64: F_DUPFD and F_DUPFD_CLOEXEC of a session are copies
 * of it; every other command passes straight through. */
static int do_fcntl(fcntl_fn next, int fd, int cmd, void *arg) {
	depth++;
	int r = next ? next(fd, cmd, arg) : (errno = ENOSYS, -1);
	if (depth == 1 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) r = copied(fd, r);
	depth--;
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...) {
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	NEXT(fcntl, fcntl_fn);
	return do_fcntl(next_fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...) {
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	NEXT(fcntl64, fcntl_fn);
	if (next_fcntl64 == NULL) next_fcntl64 = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl");
	return do_fcntl(next_fcntl64, fd, cmd, arg);
}

/* Every open descriptor in [first, last] is about to close: open ones below
 * TRACKED_MAX are found by probing (no allocation, safe in a child after
 * vfork-style use). */
static void closing_range(unsigned int first, unsigned int last) {
	unsigned int end = last < TRACKED_MAX ? last : TRACKED_MAX - 1;
	for (unsigned int fd = first; fd <= end && fd < TRACKED_MAX; fd++) {
		if (fcntl((int)fd, F_GETFD) < 0) continue;
		notify_closing((int)fd);
		forget_error((int)fd);
		forget_tracked((int)fd);
	}
}

/* close_range(2): unless it only marks close-on-exec. */
EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
	depth++;
	if (depth == 1 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */) && first <= last) closing_range(first, last);
	NEXT(close_range, close_range_fn);
	int r = next_close_range ? next_close_range(first, last, flags) : (errno = ENOSYS, -1);
	depth--;
	return r;
}

/* closefrom(3): glibc makes it of its own close_range, past the interposer
 * above. A /dev/dmover number it closed and left tracked would take a
 * regular file's write() that reuses the number as dmover records (read and
 * write trust this table: see resolve). Closes made by raw system calls
 * (syscall(SYS_close)) stay unseen: the program must close a session with
 * close(), dup2, dup3, close_range, closefrom, fclose or closedir. */
typedef void (*closefrom_fn)(int);

EXPORT void closefrom(int lowfd) {
	depth++;
	if (depth == 1) closing_range(lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u);
	NEXT(closefrom, closefrom_fn);
	if (next_closefrom) next_closefrom(lowfd);
	else {
		NEXT(close_range, close_range_fn);
		if (next_close_range) next_close_range(lowfd < 0 ? 0u : (unsigned int)lowfd, ~0u, 0);
	}
	depth--;
}

/* fclose(3) and closedir(3): glibc closes the stream's or directory's
 * descriptor with its own internal close, past the interposer above, so
 * kqueue hears of it (and a session's copy is let go) here, just before. */
typedef int (*fclose_fn)(FILE *);
typedef int (*closedir_fn)(DIR *);

static void closing_inside_libc(int fd) {
	if (fd < 0) return;
	notify_closing(fd);
	forget_error(fd);
	forget_tracked(fd);
}

EXPORT int fclose(FILE *stream) {
	depth++;
	if (depth == 1 && stream != NULL) closing_inside_libc(fileno(stream));
	NEXT(fclose, fclose_fn);
	int r = next_fclose ? next_fclose(stream) : (errno = ENOSYS, EOF);
	depth--;
	return r;
}

EXPORT int closedir(DIR *dir) {
	depth++;
	/* The prototype says non-null, but glibc answers a null with EINVAL: the
	 * check is kept out of the optimiser's sight. */
	DIR *d = dir;
	__asm__("" : "+r"(d));
	if (depth == 1 && d != NULL) closing_inside_libc(dirfd(d));
	NEXT(closedir, closedir_fn);
	int r = next_closedir ? next_closedir(dir) : (errno = ENOSYS, -1);
	depth--;
	return r;
}

/* poll, ppoll, select, pselect and epoll are not interposed: the kernel
 * itself reports a dmover descriptor readable while responses wait and
 * writable while fewer than DMIO_NREQS_MAX requests are in flight (see
 * BSDSystem's ReadinessSocket). */

/* --- socket calls that report a socket's pending error -------------------------
 * Where the kernel would have returned the error that kqueue read for EV_EOF's
 * fflags (see bsdshim_preload_socket_error), these return the kept one, once. */

typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static int real_getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
	NEXT(getsockopt, getsockopt_fn);
	return next_getsockopt ? next_getsockopt(fd, level, name, val, len) : (errno = ENOSYS, -1);
}

/* The kept error as the call's answer; 0 if another thread took it first. */
static int answer_kept_error(int fd, ssize_t *r) {
	int e = take_error(fd);
	if (e == 0) return 0;
	errno = e;
	*r = -1;
	return 1;
}

/* Reading: data still queued comes first, as from the kernel; where the read
 * would bring nothing (end of file, ENOTCONN, EAGAIN) the error comes. Returns
 * 1 when *r is the answer, 0 to make the call as asked. */
static int received_or_kept_error(int fd, ssize_t got, ssize_t *r) {
	if (got > 0) {
		*r = got;
		return 1;
	}
	return answer_kept_error(fd, r);
}

static int read_kept_error(int fd, void *buf, size_t n, ssize_t *r) {
	NEXT(recv, recv_fn);
	return received_or_kept_error(fd, next_recv(fd, buf, n, MSG_DONTWAIT), r);
}

static int readv_kept_error(int fd, const struct iovec *iov, int cnt, ssize_t *r) {
	NEXT(recvmsg, recvmsg_fn);
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = cnt > 0 ? (size_t)cnt : 0;
	return received_or_kept_error(fd, next_recvmsg(fd, &m, MSG_DONTWAIT), r);
}

/* Sending: the kernel checks the error first (with it gone, a reset socket
 * would give EPIPE and SIGPIPE instead). */
static int send_kept_error(int fd, ssize_t *r) { return answer_kept_error(fd, r); }

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
	if (level != SOL_SOCKET || name != SO_ERROR || val == NULL || len == NULL || *len < (socklen_t)sizeof(int))
		return real_getsockopt(fd, level, name, val, len);
	int e = take_error(fd);
	if (e == 0) {
		int r = real_getsockopt(fd, level, name, val, len);
		if (r != 0 || *(int *)val != 0) return r;
		e = take_error(fd); /* kqueue may have read it just before us */
		if (e == 0) return 0;
	}
	*(int *)val = e;
	*len = sizeof(int);
	return 0;
}

/* With an error kept, the call is first made as the program asked (its
 * flags: MSG_PEEK, MSG_OOB...; its address and control buffers) but without
 * blocking. */

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
	ssize_t r;
	NEXT(recv, recv_fn);
	if (n > 0 && error_kept(fd) && received_or_kept_error(fd, next_recv(fd, buf, n, flags | MSG_DONTWAIT), &r))
		return r;
	return next_recv(fd, buf, n, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen) {
	ssize_t r;
	NEXT(recvfrom, recvfrom_fn);
	if (n > 0 && error_kept(fd) &&
	    received_or_kept_error(fd, next_recvfrom(fd, buf, n, flags | MSG_DONTWAIT, addr, alen), &r))
		return r;
	return next_recvfrom(fd, buf, n, flags, addr, alen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
	ssize_t r;
	NEXT(recvmsg, recvmsg_fn);
	if (!(flags & MSG_ERRQUEUE) && msg != NULL && error_kept(fd) &&
	    received_or_kept_error(fd, next_recvmsg(fd, msg, flags | MSG_DONTWAIT), &r))
		return r;
	return next_recvmsg(fd, msg, flags);
}

/* _FORTIFY_SOURCE programs call these for reads into buffers of known size;
 * glibc's own go straight to its internal read/recv, past the interposers
 * above (a /dev/dmover read or a kept socket error would be missed). */
extern void __chk_fail(void) __attribute__((noreturn));

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
	if (n > buflen) __chk_fail();
	return read(fd, buf, n);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
	if (n > buflen) __chk_fail();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
                              socklen_t *alen) {
	if (n > buflen) __chk_fail();
	return recvfrom(fd, buf, n, flags, addr, alen);
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
	ssize_t r;
	if (error_kept(fd) && send_kept_error(fd, &r)) return r;
	NEXT(send, send_fn);
	return next_send(fd, buf, n, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t alen) {
	ssize_t r;
	if (error_kept(fd) && send_kept_error(fd, &r)) return r;
	NEXT(sendto, sendto_fn);
	return next_sendto(fd, buf, n, flags, addr, alen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
	ssize_t r;
	if (error_kept(fd) && send_kept_error(fd, &r)) return r;
	NEXT(sendmsg, sendmsg_fn);
	return next_sendmsg(fd, msg, flags);
}

/* connect() again on a refused socket says the error; with it gone, ECONNABORTED. */
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t alen) {
	NEXT(connect, connect_fn);
	int r = next_connect(fd, addr, alen);
	if (r != 0 && errno == ECONNABORTED && error_kept(fd)) {
		int e = take_error(fd);
		if (e != 0) errno = e;
	}
	return r;
}

/* --- signal dispositions (EVFILT_SIGNAL) -------------------------------------
 * Once libbsdshim watches a signal it takes the program's sigaction() calls
 * (bsdshim_preload_take_sigaction): for a watched signal they read and change
 * the disposition its counting handler applies, so the handler stays
 * installed and a SIG_IGN or SIG_DFL set by the program cannot make the
 * kernel discard a delivery before it is counted. signal(), bsd_signal(),
 * sysv_signal(), siginterrupt() and sigignore() are made of sigaction() here,
 * since libc's call its internal one. */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn signal_hook;
static sigaction_fn next_sigaction_fn;
/* Signals siginterrupt() made interrupting: signal() sets no SA_RESTART for them. */
static uint64_t interrupting;

/* Resolved before main, so never first from inside a signal handler. */
__attribute__((constructor)) static void find_next_sigaction(void) {
	__atomic_store_n(&next_sigaction_fn, (sigaction_fn)dlsym(RTLD_NEXT, "sigaction"), __ATOMIC_RELEASE);
}

static sigaction_fn next_sigaction(void) {
	sigaction_fn f = __atomic_load_n(&next_sigaction_fn, __ATOMIC_ACQUIRE);
	if (f == NULL) find_next_sigaction();
	return __atomic_load_n(&next_sigaction_fn, __ATOMIC_ACQUIRE);
}

/* libbsdshim (signals.c) hands in its hook; it gets the kernel's sigaction. */
EXPORT sigaction_fn bsdshim_preload_take_sigaction(sigaction_fn hook) {
	sigaction_fn real = next_sigaction();
	if (real != NULL) __atomic_store_n(&signal_hook, hook, __ATOMIC_RELEASE);
	return real;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
	sigaction_fn hook = __atomic_load_n(&signal_hook, __ATOMIC_ACQUIRE);
	if (hook != NULL) return hook(sig, act, old);
	sigaction_fn real = next_sigaction();
	return real ? real(sig, act, old) : (errno = ENOSYS, -1);
}

static sighandler_t set_handler(int sig, sighandler_t h, int flags, int mask_self) {
	if (h == SIG_ERR || sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = h;
	sigemptyset(&act.sa_mask);
	if (mask_self) sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics, as glibc's signal(): the handler stays, calls restart. */
EXPORT sighandler_t signal(int sig, sighandler_t h) {
	int restart = sig <= 0 || sig >= 64 || !((__atomic_load_n(&interrupting, __ATOMIC_RELAXED) >> sig) & 1);
	return set_handler(sig, h, restart ? SA_RESTART : 0, 1);
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) { return signal(sig, h); }

/* System V semantics: the handler runs once, unmasked. */
EXPORT sighandler_t sysv_signal(int sig, sighandler_t h) { return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, 0); }
EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h) { return sysv_signal(sig, h); }

EXPORT int siginterrupt(int sig, int flag) {
	struct sigaction act;
	if (sig <= 0 || sig >= 64 || sigaction(sig, NULL, &act) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (flag) {
		__atomic_fetch_or(&interrupting, (uint64_t)1 << sig, __ATOMIC_RELAXED);
		act.sa_flags &= ~SA_RESTART;
	} else {
		__atomic_fetch_and(&interrupting, ~((uint64_t)1 << sig), __ATOMIC_RELAXED);
		act.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &act, NULL);
}

EXPORT int sigignore(int sig) { return set_handler(sig, SIG_IGN, 0, 0) == SIG_ERR ? -1 : 0; }
