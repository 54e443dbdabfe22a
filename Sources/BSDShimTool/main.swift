// SPDX-License-Identifier: BSD-2-Clause
// bsdshim: the command-line tool (crc32c, parity, watch, bench).

import DmoverSIMD

// The AVX2/AVX-512/hardware-CRC kernels, chosen by a CPU check; without this
// dmover runs its baseline kernels.
NativeKernels.install()
BSDShimCommand.runAndExit()
