// SPDX-License-Identifier: BSD-2-Clause
import BSDShim
import Testing

@Test func apiModuleLinks() {
    #expect(Errno(rawValue: 9) == .badFileDescriptor)
}
