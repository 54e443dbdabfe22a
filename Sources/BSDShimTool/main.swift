// SPDX-License-Identifier: BSD-2-Clause
// bsdshim: the command-line tool.
import ArgumentParser
import BSDShim
