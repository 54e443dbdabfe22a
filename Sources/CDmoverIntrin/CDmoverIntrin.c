/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * CDmoverIntrin.c: empty; the target is header-only (SwiftPM needs one source file).
 */
#include "CDmoverIntrin.h"
