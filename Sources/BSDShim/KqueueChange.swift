// SPDX-License-Identifier: BSD-2-Clause
// KqueueChange.swift: one change of a kqueue's registrations, for Kqueue.apply(_:).

import CBSDShimABI

extension Kqueue {
    /// One change for ``Kqueue/apply(_:)``: add, modify, delete, enable or disable a registration.
    ///
    /// ```swift
    /// try kq.apply([.add(.read(fd), userData: 1), .delete(.timer(3, interval: .zero))])
    /// ```
    public struct Change: Sendable {
        let identifier: UInt
        let filter: Int16
        let flags: UInt16
        let filterFlags: UInt32
        let data: Int
        let userData: UInt

        init(identifier: UInt, filter: Int16, flags: UInt16, filterFlags: UInt32, data: Int, userData: UInt) {
            self.identifier = identifier
            self.filter = filter
            self.flags = flags
            self.filterFlags = filterFlags
            self.data = data
            self.userData = userData
        }

        init(_ filter: Filter, action: Int32, flags: Flags = [], userData: UInt = 0) {
            let (fflags, data) = filter.arguments
            self.init(identifier: filter.identifier, filter: filter.code, flags: UInt16(action) | flags.rawValue,
                      filterFlags: fflags, data: data, userData: userData)
        }

        /// The C change (`struct kevent`).
        var raw: kevent {
            kevent(ident: identifier, filter: filter, flags: flags, fflags: filterFlags, data: data,
                   udata: UnsafeMutableRawPointer(bitPattern: userData))
        }

        /// Adds (or modifies) a registration. The corresponding C flag is `EV_ADD`.
        ///
        /// ```swift
        /// try kq.apply([.add(.read(fd), flags: .clear, userData: 1)])
        /// ```
        public static func add(_ filter: Filter, flags: Flags = [], userData: UInt = 0) -> Change {
            Change(filter, action: EV_ADD, flags: flags, userData: userData)
        }

        /// Sets an existing registration's user data (ENOENT if there is none). As in
        /// libkqueue, new filter arguments take effect only through ``add(_:flags:userData:)``;
        /// ``Kqueue/modify(_:userData:)`` does both.
        ///
        /// ```swift
        /// try kq.apply([.modify(.read(fd, lowWater: 128))])
        /// ```
        public static func modify(_ filter: Filter, userData: UInt = 0) -> Change {
            Change(filter, action: 0, userData: userData)
        }

        /// Deletes a registration. The corresponding C flag is `EV_DELETE`.
        ///
        /// ```swift
        /// try kq.apply([.delete(.read(fd)), .delete(.write(fd))])
        /// ```
        public static func delete(_ filter: Filter) -> Change {
            Change(filter, action: EV_DELETE)
        }

        /// Enables a registration. The corresponding C flag is `EV_ENABLE`.
        ///
        /// ```swift
        /// try kq.apply([.enable(.user(1))])
        /// ```
        public static func enable(_ filter: Filter) -> Change {
            Change(filter, action: EV_ENABLE)
        }

        /// Disables a registration. The corresponding C flag is `EV_DISABLE`.
        ///
        /// ```swift
        /// try kq.apply([.disable(.user(1))])
        /// ```
        public static func disable(_ filter: Filter) -> Change {
            Change(filter, action: EV_DISABLE)
        }
    }
}
