/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * abi_layout.c: compile-time proof that the public structs keep libkqueue's
 * (and NetBSD's) layout. Compiled into libbsdshim; defines nothing.
 */
#include <stddef.h>
#include "sys/event.h"

_Static_assert(sizeof(struct kevent) == 32, "struct kevent must be 32 bytes (libkqueue ABI)");
_Static_assert(_Alignof(struct kevent) == 8, "struct kevent must be 8-byte aligned");
_Static_assert(offsetof(struct kevent, ident) == 0, "ident offset");
_Static_assert(offsetof(struct kevent, filter) == 8, "filter offset");
_Static_assert(offsetof(struct kevent, flags) == 10, "flags offset");
_Static_assert(offsetof(struct kevent, fflags) == 12, "fflags offset");
_Static_assert(offsetof(struct kevent, data) == 16, "data offset");
_Static_assert(offsetof(struct kevent, udata) == 24, "udata offset");
