// SPDX-License-Identifier: BSD-2-Clause
// BSDShim: the Swift API over the kqueue and dmover cores.
@_exported import BSDSystem
